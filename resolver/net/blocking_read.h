// BlockingRead: the SIGURG blocking-read mode of one EventLoop (UdpWait kAuto/kEager).
//
// While one socket is the only one with work, the loop's thread (the reader) may block in a read
// on that socket instead of in epoll_wait(): the same two syscalls per wake-up as a plain
// blocking UDP server, instead of three. A watcher thread waits in epoll_wait() for the rest (the
// loop's other fds, post(), the next active tick) and interrupts the read with a signal.
//
// Protocol
// --------
// Two threads: the reader (the loop's own thread: run(), enterRead(), leaveRead()) and the
// watcher (this object's thread). A spell is one run() call. Spell state, under mutex_:
//
//   kIdle ──run() starts: ++generation_, interrupt_ = false──▶ kBlocking
//   kBlocking ──run() returns──▶ kIdle
//   kIdle ──~BlockingRead()──▶ kShutdown (the watcher exits)
//
// Only the reader moves between kIdle and kBlocking; only the destructor (the owner, while no
// spell runs) sets kShutdown. The watcher never changes the state: in kIdle it waits on cv_; in
// kBlocking it waits in epoll_wait() on {the loop's epoll fd (nested), kick_} until the spell's
// tick deadline. When anything but a lone kick wakes it (a fd of the loop is ready, a task was
// posted, the deadline passed), it sets interrupt_ and, while the reader is inside
// enterRead()..leaveRead() (in_read_), sends the signal to the reader thread alone (tgkill). It
// re-sends every millisecond until the spell it saw ends (state or generation changed): a signal
// that lands after enterRead() but before the read syscall sleeps runs the handler and is gone,
// and the read then sleeps. A kick (the reader started a new spell while the watcher was still
// waiting for the previous one, maybe with a later deadline) makes it re-read the state.
//
// Per read, lock-free: in_read_ (reader: true in enterRead(), false in leaveRead()) and
// interrupt_ (watcher: true; reader: false when a spell starts, before the watcher can see the
// new generation). enterRead() stores in_read_ then loads interrupt_; the watcher stores
// interrupt_ then loads in_read_; all four seq_cst (Dekker). So at least one side sees the other's
// store: the reader skips the read (enterRead() returns false), or the watcher signals it, or
// both. Neither can miss the other, so a read never sleeps past an interrupt for more than one
// re-send period. The reader also checks interrupt_ (acquire) between reads, and leaves on its
// own when a tick falls due or one became active with an earlier deadline (e.g. the forwarder's,
// after a cache miss inside read()).
//
// Why only between enterRead() and leaveRead(): elsewhere the reader makes other syscalls that
// an EINTR would cut short or break (a log line written to a full pipe, a test's sleep). The
// watcher's in_read_ load and its tgkill() are both under mutex_, and a spell cannot end without
// taking it, so every signal is sent during the spell it belongs to.
//
// A signal that lands after leaveRead() (the watcher loaded in_read_ == true just before the
// reader left the read): the handler is empty (async-signal-safe, leaves errno alone); at most
// one interruptible syscall the reader makes before the kernel delivers it returns EINTR. The
// worker's are sendmmsg(MSG_DONTWAIT) (retried on EINTR) and, after the spell, epoll_wait()
// (an empty round). interrupt_ is already set, so that spell ends at its next check; and since
// starting a spell makes a syscall (epoll_ctl) on whose return a pending signal is handled, a late
// signal never reaches a later spell's read.
//
// The process: the handler (no SA_RESTART) is installed by the first create() in the process, not
// before, and create() fails (the caller stays in epoll mode) when the program has a SIGURG
// handler of its own. The signal is only ever sent to reader threads, each of which unblocks it
// for itself; the watcher blocks it. A program that also blocks it in its other threads (the
// daemon does) is immune to a process-directed SIGURG (e.g. out-of-band TCP data on a socket with
// an owner); one that does not still gets none from us.
//
// Threading: run(), enterRead(), leaveRead() on the loop's thread; create() and the destructor on
// any one thread while no spell runs. The loop must outlive this object.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "base/fd.h"
#include "base/result.h"
#include "resolver/net/event_loop.h"

namespace nld::resolver::net {

class BlockingRead {
 public:
  /// Starts the watcher thread for `loop` (allocates: call off the hot path) and, the first time
  /// in the process, installs the signal handler. Fails when either is impossible.
  static Result<std::unique_ptr<BlockingRead>> create(EventLoop& loop);
  ~BlockingRead();
  BlockingRead(const BlockingRead&) = delete;
  BlockingRead& operator=(const BlockingRead&) = delete;

  /// Calls `read` (a blocking read on `fd`, e.g. recvmmsg() without MSG_DONTWAIT on a blocking
  /// socket, bracketed by enterRead()/leaveRead(); it returns false when the read failed or was
  /// interrupted, and refreshes the loop's now() after a successful one) until another fd
  /// registered with the loop becomes ready, a task is posted, an active tick falls due (also one
  /// that became active during a read), or read() returns false. `fd` is registered with the
  /// loop with `handler`; it is taken out of the watched set meanwhile and put back (`events`)
  /// before returning. Returns false at once (nothing read) when this thread cannot take the
  /// signal. Nothing is dispatched here: the caller's next runOnce() handles what interrupted it.
  template <typename Read>
  bool run(int fd, uint32_t events, IoHandler* handler, Read&& read) noexcept {
    MonoTime due;
    if (!enterSpell(fd, handler, due)) {
      return false;
    }
    while (!interrupt_.load(std::memory_order_acquire) && read()) {
      if (loop_.now() >= due || loop_.nextDue() < due) {
        break;
      }
    }
    leaveSpell(fd, events, handler);
    return true;
  }
  /// Inside run()'s read(): call right before the blocking syscall; false = do not enter it (the
  /// spell is over). leaveRead() right after it returns.
  bool enterRead() noexcept {
    in_read_.store(true);  // seq_cst with interrupt_: the watcher sees this, or we see its flag
    if (interrupt_.load()) {
      in_read_.store(false, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void leaveRead() noexcept { in_read_.store(false, std::memory_order_release); }

  /// The signal that interrupts a read (SIGURG: ignored by default, unused otherwise).
  static int wakeSignal() noexcept;

 private:
  BlockingRead(EventLoop& loop, Fd watch_epoll, Fd kick);
  bool enterSpell(int fd, IoHandler* handler, MonoTime& due) noexcept;
  void leaveSpell(int fd, uint32_t events, IoHandler* handler) noexcept;
  void watch() noexcept;
  void kick() noexcept;

  EventLoop& loop_;
  const Fd watch_epoll_;  ///< the watcher's: the loop's epoll fd (nested) + kick_
  const Fd kick_;         ///< eventfd: "state changed, wait again"

  enum class State : uint8_t { kIdle, kBlocking, kShutdown };
  std::mutex mutex_;
  std::condition_variable cv_;
  State state_ = State::kIdle;
  uint64_t generation_ = 0;
  MonoTime due_ = MonoTime::max();  ///< the spell's tick deadline
  int reader_tid_ = 0;
  bool watcher_waiting_ = false;  ///< the watcher is in epoll_wait() (kick it to re-read state)

  std::atomic<bool> interrupt_{false};
  std::atomic<bool> in_read_{false};  ///< the reader is between enterRead() and leaveRead()

  std::thread watcher_;  ///< last: started once everything above is set up
};

}  // namespace nld::resolver::net
