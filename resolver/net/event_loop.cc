#include "resolver/net/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

namespace nld::resolver::net {

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

}  // namespace nld::resolver::net
