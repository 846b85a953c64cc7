#include "resolver/net/blocking_read.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>

namespace nld::resolver::net {
namespace {

void onWakeSignal(int) {}  // only there so the signal interrupts a blocking read (EINTR)

/// 0 once the handler is installed (by this call or an earlier one), else an errno value: EBUSY
/// when the program has a SIGURG handler of its own (left alone; a later call looks again).
int installWakeHandler() noexcept {
  static std::mutex mutex;
  static bool installed = false;
  std::lock_guard lock(mutex);
  if (installed) {
    return 0;
  }
  struct sigaction old {};
  if (::sigaction(BlockingRead::wakeSignal(), nullptr, &old) != 0) {
    return errno;
  }
  if ((old.sa_flags & SA_SIGINFO) != 0 ||
      (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)) {
    return EBUSY;
  }
  struct sigaction sa {};
  sa.sa_handler = onWakeSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the interrupted read must return
  if (::sigaction(BlockingRead::wakeSignal(), &sa, nullptr) != 0) {
    return errno;
  }
  installed = true;
  return 0;
}

bool setWakeSignalMask(int how) noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, BlockingRead::wakeSignal());
  return ::pthread_sigmask(how, &set, nullptr) == 0;
}

}  // namespace

int BlockingRead::wakeSignal() noexcept { return SIGURG; }

Result<std::unique_ptr<BlockingRead>> BlockingRead::create(EventLoop& loop) {
  if (int e = installWakeHandler(); e != 0) {
    return failSys(e,
                   e == EBUSY ? "SIGURG has a handler of the program's own" : "sigaction SIGURG");
  }
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    return failSys(errno, "epoll_create1");
  }
  Fd kick(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!kick) {
    return failSys(errno, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = loop.epollFd();
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, loop.epollFd(), &ev) != 0) {
    return failSys(errno, "epoll_ctl loop");
  }
  ev.data.fd = kick.get();
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, kick.get(), &ev) != 0) {
    return failSys(errno, "epoll_ctl eventfd");
  }
  std::unique_ptr<BlockingRead> b(new BlockingRead(loop, std::move(ep), std::move(kick)));
  try {
    b->watcher_ = std::thread([p = b.get()] { p->watch(); });
  } catch (const std::system_error& e) {  // no thread, so no blocking mode
    return failSys(e.code().value(), "watcher thread");
  }
  return b;
}

BlockingRead::BlockingRead(EventLoop& loop, Fd watch_epoll, Fd kick)
    : loop_(loop), watch_epoll_(std::move(watch_epoll)), kick_(std::move(kick)) {}

BlockingRead::~BlockingRead() {
  if (watcher_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      state_ = State::kShutdown;
    }
    cv_.notify_all();
    kick();
    watcher_.join();
  }
}

void BlockingRead::kick() noexcept {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(kick_.get(), &one, sizeof one);
}

void BlockingRead::watch() noexcept {
  setWakeSignalMask(SIG_BLOCK);  // the signal is for the reader only
  epoll_event events[4];
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return state_ != State::kIdle; });
    if (state_ == State::kShutdown) {
      return;
    }
    const uint64_t generation = generation_;
    // Absolute deadline: waiting again after a kick must not push it back.
    const int timeout = EventLoop::waitMs(due_, loop_.clock().now());
    watcher_waiting_ = true;
    lock.unlock();
    int n = ::epoll_wait(watch_epoll_.get(), events, 4, timeout);
    bool kicked = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == kick_.get()) {
        uint64_t value;
        [[maybe_unused]] auto r = ::read(kick_.get(), &value, sizeof value);
        kicked = true;
      }
    }
    lock.lock();
    watcher_waiting_ = false;
    if (kicked && n == 1) {
      continue;  // the state changed while we waited: wait again with the new one
    }
    // Something is ready or a tick is due: interrupt the read until the reader has left the
    // spell (see the protocol at the top of the header).
    while (state_ == State::kBlocking && generation_ == generation) {
      interrupt_.store(true);  // seq_cst with in_read_ (enterRead())
      if (in_read_.load()) {
        ::tgkill(::getpid(), reader_tid_, wakeSignal());
      }
      cv_.wait_for(lock, std::chrono::milliseconds(1));
    }
  }
}

bool BlockingRead::enterSpell(int fd, IoHandler* handler, MonoTime& due) noexcept {
  // The reader takes the signal (once per thread; the daemon blocks it in its other threads).
  static thread_local bool unblocked = false;
  if (!(unblocked || (unblocked = setWakeSignalMask(SIG_UNBLOCK)))) {
    return false;
  }
  due = loop_.nextDue();
  // Events 0: still registered, but reports nothing (but errors) to the watcher meanwhile.
  if (!loop_.modify(fd, 0, handler)) {
    return false;
  }
  bool waiting = false;
  {
    std::lock_guard lock(mutex_);
    ++generation_;
    state_ = State::kBlocking;
    due_ = due;
    reader_tid_ = ::gettid();
    interrupt_.store(false, std::memory_order_relaxed);
    waiting = watcher_waiting_;  // still waiting for an earlier spell, maybe with a later deadline
  }
  if (waiting) {
    kick();
  } else {
    cv_.notify_one();
  }
  return true;
}

void BlockingRead::leaveSpell(int fd, uint32_t events, IoHandler* handler) noexcept {
  // A read that failed or was interrupted did not refresh the time: the next runOnce() must not
  // compute its wait (and the ticks due) from the last datagram's.
  loop_.refreshNow();
  {
    std::lock_guard lock(mutex_);
    state_ = State::kIdle;
  }
  cv_.notify_one();
  loop_.modify(fd, events, handler);
}

}  // namespace nld::resolver::net
