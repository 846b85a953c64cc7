// EventLoop: one epoll instance per worker thread, level-triggered, plus periodic ticks and a
// cross-thread post() (eventfd). The loop is driven by its owner: runOnce() waits at most until
// the next tick is due, dispatches ready handlers, then runs due ticks and posted tasks.
//
// The SIGURG blocking-read mode (BlockingRead, blocking_read.h) is built on the hooks below the
// dispatch API: epollFd(), nextDue(), waitMs().
//
// Threading: everything except post() must be called on the loop's own thread.
// Handlers are borrowed, and there is one rule for ending one: remove() its fd, and destroy it
// only where no event of the current epoll_wait() batch can still reach it — which
// deferDelete() guarantees from anywhere. A round is one runOnce(): the batch's events, then
// posted tasks, then due ticks; what is deferred anywhere in a round is destroyed at the end of
// that round, and an event of the same batch for a deferred handler is not dispatched. (Code
// outside the dispatch — a posted task, a tick, the owner between rounds — may also destroy a
// removed handler at once when its fd must be closed now, e.g. stopAccepting()'s listeners.)
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "resolver/net/clock.h"

namespace nld::resolver::net {

/// Something that owns an fd registered with the loop.
class IoHandler {
 public:
  virtual void onIo(uint32_t events) noexcept = 0;

 protected:
  ~IoHandler() = default;
};

class EventLoop {
 public:
  /// Time (now(), ticks, the epoll timeout) comes from `clock`, which must outlive the loop.
  static Result<std::unique_ptr<EventLoop>> create(Clock& clock = systemClock());
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Registers fd for `events` (EPOLLIN/EPOLLOUT...). Returns false (errno set) on failure.
  bool add(int fd, uint32_t events, IoHandler* handler) noexcept;
  bool modify(int fd, uint32_t events, IoHandler* handler) noexcept;
  void remove(int fd) noexcept;

  /// Calls `fn` every `period` (first call one period from now), on the loop thread. With
  /// `active`, the tick only runs (and only bounds the wait) while active() is true, so an idle
  /// loop sleeps instead of waking for work it does not have; active() is asked before each wait.
  void addTick(std::chrono::milliseconds period, std::function<void()> fn,
               std::function<bool()> active = {});

  /// Runs `fn` on the loop thread at the next iteration. Thread-safe.
  void post(std::function<void()> fn);

  /// Takes ownership of `object` (a handler or anything a handler may still point to) and
  /// destroys it at the end of the current round: after the rest of this epoll_wait() batch, the
  /// posted tasks and the ticks — so the code that deferred it may go on using it, and one clear
  /// point serves objects deferred from a handler, a task or a tick alike (deferring only until
  /// the batch ends would make what tasks and ticks defer wait a round, a second rule). If
  /// `object` is an IoHandler, its events still pending in this batch are dropped. Outside
  /// runOnce() (e.g. in runBlocking()'s read) the next round's end destroys it, ~EventLoop at the
  /// latest. Allocation-free once the queue has grown to the largest round.
  template <typename T>
  void deferDelete(std::unique_ptr<T> object) {
    if (!object) {
      return;
    }
    if constexpr (std::is_base_of_v<IoHandler, T>) {
      forgetEvents(static_cast<IoHandler*>(object.get()));
    }
    deferred_.push_back(
        Deferred{object.get(), +[](void* p) noexcept { delete static_cast<T*>(p); }});
    (void)object.release();
  }
  /// Destroys what deferDelete() holds now. Never from inside a round (that is what deferring
  /// avoids); for an owner that goes away before the loop while deferred objects' destructors
  /// still use it (e.g. a worker's TCP buffer budget).
  void destroyDeferred() noexcept;

  /// Waits for events (at most until the next active tick, or `max_wait`; kForever = no limit
  /// of its own), dispatches them. Blocking without a timeout spares the kernel a timer per sleep.
  void runOnce(std::chrono::milliseconds max_wait) noexcept;
  static constexpr std::chrono::milliseconds kForever = std::chrono::milliseconds::max();

  /// Events dispatched by the last runOnce() (0 after a timeout or an interrupted wait).
  int lastEvents() const noexcept { return last_events_; }
  /// runOnce() calls so far (lets the owner tell whether a handler ran in the last round).
  uint64_t rounds() const noexcept { return rounds_; }

  /// Time cached at the start of the current iteration (cheap; no syscall per query).
  MonoTime now() const noexcept { return now_; }
  MonoTime refreshNow() noexcept { return now_ = clock_.now(); }
  Clock& clock() const noexcept { return clock_; }

  /// For a nested epoll (BlockingRead's watcher): readable while an event is pending here.
  int epollFd() const noexcept { return epoll_.get(); }
  /// The earliest due time of an active tick (MonoTime::max() when none is active).
  MonoTime nextDue() const;
  /// An epoll_wait() timeout in ms until `due` (rounded up; -1 for MonoTime::max()).
  static int waitMs(MonoTime due, MonoTime now) noexcept;

 private:
  EventLoop(Fd epoll, Fd event, Clock& clock);
  void drainPosted() noexcept;
  /// Drops the events of `handler` not yet dispatched in this batch (deferDelete()).
  void forgetEvents(IoHandler* handler) noexcept;

  struct Tick {
    std::chrono::milliseconds period;
    MonoTime next;
    std::function<void()> fn;
    std::function<bool()> active;
    bool isActive() const { return !active || active(); }
  };
  class Waker final : public IoHandler {
   public:
    explicit Waker(EventLoop* loop) : loop_(loop) {}
    void onIo(uint32_t) noexcept override;

   private:
    EventLoop* loop_;
  };

  Clock& clock_;
  Fd epoll_;
  Fd event_;
  Waker waker_{this};
  std::vector<Tick> ticks_;
  bool posted_pending_ = false;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;
  MonoTime now_;
  static constexpr int kMaxEvents = 64;
  epoll_event events_[kMaxEvents];
  int last_events_ = 0;
  int dispatching_ = -1;  ///< index into events_ of the event being dispatched, -1 outside
  uint64_t rounds_ = 0;
  struct Deferred {
    void* object;
    void (*destroy)(void*) noexcept;
  };
  std::vector<Deferred> deferred_;    ///< deferDelete(): destroyed at the end of the round
  std::vector<Deferred> destroying_;  ///< being destroyed (their destructors may defer more)
};

}  // namespace nld::resolver::net
