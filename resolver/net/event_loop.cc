#include "resolver/net/event_loop.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <limits>

namespace nld::resolver::net {
namespace {

void onWakeSignal(int) {}  // only there so the signal interrupts a blocking read (EINTR)

bool installWakeHandler() noexcept {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = onWakeSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the interrupted read must return
    return ::sigaction(EventLoop::wakeSignal(), &sa, nullptr) == 0;
  }();
  return installed;
}

bool setWakeSignalMask(int how) noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, EventLoop::wakeSignal());
  return ::pthread_sigmask(how, &set, nullptr) == 0;
}

}  // namespace

int EventLoop::wakeSignal() noexcept { return SIGURG; }

Result<std::unique_ptr<EventLoop>> EventLoop::create(Clock& clock) {
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    return failSys(errno, "epoll_create1");
  }
  Fd ev(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!ev) {
    return failSys(errno, "eventfd");
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(ep), std::move(ev), clock));
  if (!loop->add(loop->event_.get(), EPOLLIN, &loop->waker_)) {
    return failSys(errno, "epoll_ctl eventfd");
  }
  return loop;
}

EventLoop::EventLoop(Fd epoll, Fd event, Clock& clock)
    : clock_(clock), epoll_(std::move(epoll)), event_(std::move(event)), now_(clock.now()) {}

EventLoop::~EventLoop() {
  destroyDeferred();  // while epoll_ is open: their destructors may still remove() fds
  if (watcher_.joinable()) {
    {
      std::lock_guard lock(watch_mutex_);
      watch_state_ = WatchState::kShutdown;
    }
    watch_cv_.notify_all();
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(kick_.get(), &one, sizeof one);
    watcher_.join();
  }
}

bool EventLoop::add(int fd, uint32_t events, IoHandler* handler) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, uint32_t events, IoHandler* handler) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) noexcept { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::addTick(std::chrono::milliseconds period, std::function<void()> fn,
                        std::function<bool()> active) {
  ticks_.push_back(Tick{period, clock_.now() + period, std::move(fn), std::move(active)});
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_.get(), &one, sizeof one);
}

void EventLoop::Waker::onIo(uint32_t) noexcept {
  uint64_t value;
  [[maybe_unused]] auto n = ::read(loop_->event_.get(), &value, sizeof value);
  // Run the tasks after this round's dispatch: a task may destroy handlers that still have
  // events in events_ (e.g. stopAccepting() closing a listener that is also readable).
  loop_->posted_pending_ = true;
}

void EventLoop::drainPosted() noexcept {
  {
    std::lock_guard lock(posted_mutex_);
    running_.swap(posted_);
  }
  for (auto& fn : running_) {
    fn();
  }
  running_.clear();
}

void EventLoop::forgetEvents(IoHandler* handler) noexcept {
  for (int i = dispatching_ + 1; dispatching_ >= 0 && i < last_events_; ++i) {
    if (events_[i].data.ptr == handler) {
      events_[i].data.ptr = nullptr;
    }
  }
}

void EventLoop::destroyDeferred() noexcept {
  while (!deferred_.empty()) {
    destroying_.swap(deferred_);
    for (const Deferred& d : destroying_) {
      d.destroy(d.object);
    }
    destroying_.clear();
  }
}

MonoTime EventLoop::nextDue() const {
  MonoTime due = MonoTime::max();
  for (const auto& t : ticks_) {
    if (t.next < due && t.isActive()) {
      due = t.next;
    }
  }
  return due;
}

int EventLoop::waitMs(MonoTime due, MonoTime now) noexcept {
  if (due == MonoTime::max()) {
    return -1;
  }
  // Round up: truncating 0.9 ms to 0 made epoll_wait() return at once, so the loop spun for
  // the last millisecond before every tick (thousands of empty wake-ups a second, idle or not).
  auto until = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
  return static_cast<int>(std::clamp<int64_t>(until, 0, std::numeric_limits<int>::max()));
}

void EventLoop::runOnce(std::chrono::milliseconds max_wait) noexcept {
  int timeout = waitMs(nextDue(), now_);
  if (max_wait != kForever) {
    int limit =
        static_cast<int>(std::clamp<int64_t>(max_wait.count(), 0, std::numeric_limits<int>::max()));
    timeout = timeout < 0 ? limit : std::min(timeout, limit);
  }
  int n = ::epoll_wait(epoll_.get(), events_, kMaxEvents, timeout);
  now_ = clock_.now();
  ++rounds_;
  last_events_ = std::max(n, 0);
  for (int i = 0; i < n; ++i) {
    if (auto* handler = static_cast<IoHandler*>(events_[i].data.ptr)) {  // null: deferred
      dispatching_ = i;
      handler->onIo(events_[i].events);
    }
  }
  dispatching_ = -1;
  if (posted_pending_) {
    posted_pending_ = false;
    drainPosted();
  }
  for (auto& t : ticks_) {
    if (now_ >= t.next && t.isActive()) {
      t.next = now_ + t.period;
      t.fn();
    }
  }
  destroyDeferred();
}

bool EventLoop::startWatcher() noexcept {
  if (watcher_.joinable()) {
    return true;
  }
  if (watcher_failed_) {
    return false;
  }
  watcher_failed_ = true;  // until everything below worked
  if (!installWakeHandler()) {
    return false;
  }
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  Fd kick(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!ep || !kick) {
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = epoll_.get();
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, epoll_.get(), &ev) != 0) {
    return false;
  }
  ev.data.fd = kick.get();
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, kick.get(), &ev) != 0) {
    return false;
  }
  watch_epoll_ = std::move(ep);
  kick_ = std::move(kick);
  try {
    watcher_ = std::thread([this] { watch(); });
  } catch (...) {  // std::system_error: no thread, so no blocking mode
    return false;
  }
  watcher_failed_ = false;
  return true;
}

void EventLoop::watch() noexcept {
  setWakeSignalMask(SIG_BLOCK);  // the signal is for the reader only
  epoll_event events[4];
  std::unique_lock lock(watch_mutex_);
  for (;;) {
    watch_cv_.wait(lock, [this] { return watch_state_ != WatchState::kIdle; });
    if (watch_state_ == WatchState::kShutdown) {
      return;
    }
    const uint64_t generation = watch_generation_;
    // Absolute deadline: waiting again after a kick must not push it back.
    const int timeout = waitMs(watch_due_, clock_.now());
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
    // Something is ready or a tick is due: interrupt the read until the reader has left
    // blocking mode. Only while it is inside enterRead()..leaveRead() (a signal elsewhere would
    // break a blocking write, e.g. a log line to a full pipe). A signal that lands after
    // enterRead() but before the syscall starts is lost, hence the re-sends.
    while (watch_state_ == WatchState::kBlocking && watch_generation_ == generation) {
      interrupt_.store(true);  // seq_cst with in_read_ (enterRead())
      if (in_read_.load()) {
        ::tgkill(::getpid(), reader_tid_, wakeSignal());
      }
      watch_cv_.wait_for(lock, std::chrono::milliseconds(1));
    }
  }
}

bool EventLoop::enterBlocking(int fd, IoHandler* handler, MonoTime& due) noexcept {
  // The reader takes the signal (once per thread; the daemon blocks it in its other threads).
  static thread_local bool unblocked = false;
  if (!startWatcher() || !(unblocked || (unblocked = setWakeSignalMask(SIG_UNBLOCK)))) {
    return false;
  }
  due = nextDue();
  // Events 0: still registered, but reports nothing (but errors) to the watcher meanwhile.
  if (!modify(fd, 0, handler)) {
    return false;
  }
  bool kick = false;
  {
    std::lock_guard lock(watch_mutex_);
    ++watch_generation_;
    watch_state_ = WatchState::kBlocking;
    watch_due_ = due;
    reader_tid_ = ::gettid();
    interrupt_.store(false, std::memory_order_relaxed);
    kick = watcher_waiting_;  // still waiting for an earlier spell, maybe with a later deadline
  }
  if (kick) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(kick_.get(), &one, sizeof one);
  } else {
    watch_cv_.notify_one();
  }
  return true;
}

void EventLoop::leaveBlocking(int fd, uint32_t events, IoHandler* handler) noexcept {
  // A read that failed or was interrupted did not refresh the time: the next runOnce() must not
  // compute its wait (and the ticks due) from the last datagram's.
  refreshNow();
  {
    std::lock_guard lock(watch_mutex_);
    watch_state_ = WatchState::kIdle;
  }
  watch_cv_.notify_one();
  modify(fd, events, handler);
}

}  // namespace nld::resolver::net
