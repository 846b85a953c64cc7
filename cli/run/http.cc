#include "cli/run/http.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <unordered_map>

#include "cli/run/http_request.h"

namespace nld::cli {
namespace {

using Clock = std::chrono::steady_clock;

// epoll tags: 0 the wake eventfd, kListenerTag | fd a listener, otherwise a connection id.
constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kListenerTag = uint64_t{1} << 63;
constexpr int kMaxEvents = 64;
constexpr int kAcceptsPerWake = 64;  // per listener and round, so one cannot starve the others

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string render(const HttpResponse& resp, bool head_only) {
  std::string out = "HTTP/1.0 " + std::to_string(resp.status) + " " + reason(resp.status) +
                    "\r\nContent-Type: " + resp.content_type +
                    "\r\nContent-Length: " + std::to_string(resp.body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  if (!head_only) {
    out += resp.body;
  }
  return out;
}

struct Conn {
  uint64_t id = 0;
  Fd fd;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool writing = false;
  Clock::time_point deadline;
};

}  // namespace

// The server thread's state: connections in accept order (oldest first), so the eviction victim
// and, for those still reading, the earliest deadline are near the front.
struct HttpServer::Loop {
  using Iter = std::list<Conn>::iterator;
  Loop(HttpServer& s, int epoll_fd) : server(s), ep(epoll_fd) {}
  void closeConn(Iter it);
  void syncListeners();
  void writeSome(Iter it);
  void answer(Iter it, const HttpRequest& req);
  void readSome(Iter it);
  void makeRoom();
  void acceptFrom(int listen_fd);
  int expire();

  HttpServer& server;
  const int ep;  // server.epoll_
  std::list<Conn> conns;
  std::unordered_map<uint64_t, Iter> by_id;
  std::vector<int> listener_fds;  // registered with epoll_
  uint64_t next_id = 1;
};

Result<Fd> listenTcpReusePort(const SocketAddress& address, int backlog) {
  int af = toAf(address.ip.family());
  Fd fd(::socket(af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const std::string what = "listen http " + address.toString();
  if (!fd) {
    return failSys(errno, what);
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return failSys(errno, what + ": SO_REUSEPORT");
  }
  if (af == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  sockaddr_storage ss{};
  socklen_t len = address.toSockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return failSys(errno, what);
  }
  if (::listen(fd.get(), backlog) != 0) {
    return failSys(errno, what);
  }
  return fd;
}

HttpServer::HttpServer(HttpHandler handler, HttpLimits limits)
    : handler_(std::move(handler)), limits_(limits) {
  limits_.max_connections = std::max<size_t>(limits_.max_connections, 1);
  limits_.max_header_bytes = std::max<size_t>(limits_.max_header_bytes, 16);
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(HttpHandler handler, HttpLimits limits) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler), limits));
  server->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!server->wake_) {
    return failSys(errno, "http server: eventfd");
  }
  server->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!server->epoll_) {
    return failSys(errno, "http server: epoll");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(server->epoll_.get(), EPOLL_CTL_ADD, server->wake_.get(), &ev) != 0) {
    return failSys(errno, "http server: epoll_ctl");
  }
  server->thread_ = std::thread([s = server.get()] { s->run(); });
  return server;
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  if (!stopping_.exchange(true)) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  std::lock_guard lock(mutex_);
  listeners_.clear();
  retired_.clear();
}

Result<void> HttpServer::setListeners(const std::vector<SocketAddress>& addresses) {
  std::optional<Error> first_error;
  {
    std::lock_guard lock(mutex_);
    std::vector<Listener> next;
    for (const SocketAddress& want : addresses) {
      bool dup = false;
      for (const Listener& l : next) {
        dup = dup || l.wanted == want;
      }
      if (dup) {
        continue;
      }
      auto it = std::find_if(listeners_.begin(), listeners_.end(),
                             [&](const Listener& l) { return l.wanted == want; });
      if (it != listeners_.end()) {
        next.push_back(std::move(*it));
        listeners_.erase(it);
        continue;
      }
      auto fd = listenTcpReusePort(want);
      if (!fd) {
        if (!first_error) {
          first_error = std::move(fd.error());
        }
        continue;
      }
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
      next.push_back(Listener{want, SocketAddress::fromSockaddr(ss), std::move(*fd)});
    }
    // Vanished listeners stay open until the server thread has taken them out of its epoll set,
    // so their fd numbers cannot be reused (e.g. by a DNS TCP listener) while it may still
    // accept on them. shutdown() stops a listening socket at once (new connections are refused).
    for (Listener& l : listeners_) {
      ::shutdown(l.fd.get(), SHUT_RDWR);
      retired_.push_back(std::move(l.fd));
    }
    listeners_ = std::move(next);
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  if (first_error) {
    return fail(std::move(*first_error));
  }
  return {};
}

std::vector<SocketAddress> HttpServer::boundAddresses() const {
  std::lock_guard lock(mutex_);
  std::vector<SocketAddress> out;
  for (const Listener& l : listeners_) {
    out.push_back(l.bound);
  }
  return out;
}

void HttpServer::Loop::closeConn(Iter it) {
  by_id.erase(it->id);
  conns.erase(it);  // closing the fd takes it out of the epoll set
}

void HttpServer::Loop::syncListeners() {
  std::lock_guard lock(server.mutex_);
  std::vector<int> wanted;
  for (const Listener& l : server.listeners_) {
    wanted.push_back(l.fd.get());
  }
  for (int fd : listener_fds) {
    if (std::find(wanted.begin(), wanted.end(), fd) == wanted.end()) {
      ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    }
  }
  for (int fd : wanted) {
    if (std::find(listener_fds.begin(), listener_fds.end(), fd) == listener_fds.end()) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenerTag | static_cast<uint32_t>(fd);
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
  }
  listener_fds = std::move(wanted);
  server.retired_.clear();  // out of the epoll set: safe to close now
}

// Sends what the socket takes; closes the connection once all is out (or on an error).
void HttpServer::Loop::writeSome(Iter it) {
  while (it->sent < it->out.size()) {
    ssize_t n =
        ::send(it->fd.get(), it->out.data() + it->sent, it->out.size() - it->sent, MSG_NOSIGNAL);
    if (n > 0) {
      it->sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      closeConn(it);
      return;
    }
  }
  ::shutdown(it->fd.get(), SHUT_WR);
  closeConn(it);
}

void HttpServer::Loop::answer(Iter it, const HttpRequest& req) {
  HttpResponse resp;
  bool head_only = false;
  switch (req.status) {
    case HttpParseStatus::kComplete:
      if (req.method != "GET" && req.method != "HEAD") {
        resp = {405, "text/plain; charset=utf-8", "method not allowed\n"};
      } else {
        resp = server.handler_(req.method, req.path);
        head_only = req.method == "HEAD";
      }
      break;
    case HttpParseStatus::kTooLarge:
      resp = {431, "text/plain; charset=utf-8", "request header too large\n"};
      break;
    default:
      resp = {400, "text/plain; charset=utf-8", "bad request\n"};
      break;
  }
  it->in = std::string();
  it->out = render(resp, head_only);
  it->writing = true;
  it->deadline = Clock::now() + server.limits_.header_timeout;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = it->id;
  ::epoll_ctl(ep, EPOLL_CTL_MOD, it->fd.get(), &ev);
  writeSome(it);
}

// Reads what arrived (never more than the head cap in all), then answers once the head is
// complete, oversized or malformed.
void HttpServer::Loop::readSome(Iter it) {
  bool eof = false;
  char buf[4096];
  while (it->in.size() < server.limits_.max_header_bytes) {
    size_t room = std::min(sizeof(buf), server.limits_.max_header_bytes - it->in.size());
    ssize_t n = ::recv(it->fd.get(), buf, room, 0);
    if (n > 0) {
      it->in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    }
    closeConn(it);
    return;
  }
  if (eof && it->in.empty()) {
    closeConn(it);  // a TCP connect check, or a client that gave up
    return;
  }
  HttpRequest req = parseHttpRequest(it->in, server.limits_.max_header_bytes, eof);
  if (req.status != HttpParseStatus::kNeedMore) {
    answer(it, req);
  }
}

// At the cap: the oldest connection still reading its request goes (an idle or slow client;
// the newcomer may be kubelet's probe), else the oldest.
void HttpServer::Loop::makeRoom() {
  while (conns.size() >= server.limits_.max_connections) {
    auto victim =
        std::find_if(conns.begin(), conns.end(), [](const Conn& c) { return !c.writing; });
    closeConn(victim == conns.end() ? conns.begin() : victim);
    server.evicted_.fetch_add(1, std::memory_order_relaxed);
  }
}

void HttpServer::Loop::acceptFrom(int listen_fd) {
  for (int i = 0; i < kAcceptsPerWake; ++i) {
    Fd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if ((errno == EMFILE || errno == ENFILE) && !conns.empty()) {
        // Out of fds: give up our oldest connection, so the listener does not stay ready
        // (and the loop busy) with nothing accepted.
        closeConn(conns.begin());
        server.evicted_.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    makeRoom();
    Conn c;
    c.id = next_id++;
    c.fd = std::move(fd);
    c.deadline = Clock::now() + server.limits_.header_timeout;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c.id;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd.get(), &ev) != 0) {
      continue;
    }
    conns.push_back(std::move(c));
    by_id.emplace(conns.back().id, std::prev(conns.end()));
  }
}

// Closes connections past their deadline. @return the epoll timeout to the next one.
int HttpServer::Loop::expire() {
  auto now = Clock::now();
  std::optional<Clock::time_point> next;
  for (auto it = conns.begin(); it != conns.end();) {
    auto cur = it++;
    if (now >= cur->deadline) {
      closeConn(cur);
      server.timed_out_.fetch_add(1, std::memory_order_relaxed);
    } else if (!next || cur->deadline < *next) {
      next = cur->deadline;
    }
  }
  if (!next) {
    return -1;
  }
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 1, 60000));
}

void HttpServer::run() {
  Loop loop(*this, epoll_.get());
  const int ep = epoll_.get();

  epoll_event events[kMaxEvents];
  int timeout = -1;
  while (!stopping_.load()) {
    int n = ::epoll_wait(ep, events, kMaxEvents, timeout);
    if (n < 0) {
      n = 0;  // EINTR; anything else cannot happen with a valid epoll fd
    }
    // The wake first: a listener may have been retired, and its events must then be ignored.
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        uint64_t v = 0;
        [[maybe_unused]] ssize_t r = ::read(wake_.get(), &v, sizeof(v));
        loop.syncListeners();
      }
    }
    if (stopping_.load()) {
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        continue;
      }
      if ((tag & kListenerTag) != 0) {
        int fd = static_cast<int>(tag & ~kListenerTag);
        if (std::find(loop.listener_fds.begin(), loop.listener_fds.end(), fd) !=
            loop.listener_fds.end()) {
          loop.acceptFrom(fd);
        }
        continue;
      }
      auto found = loop.by_id.find(tag);
      if (found == loop.by_id.end()) {
        continue;  // closed earlier in this round
      }
      Loop::Iter it = found->second;
      if (it->writing) {
        loop.writeSome(it);
      } else if ((events[i].events & EPOLLERR) != 0) {
        loop.closeConn(it);
      } else {
        loop.readSome(it);
      }
    }
    timeout = loop.expire();
  }
  loop.by_id.clear();
  loop.conns.clear();
  for (int fd : loop.listener_fds) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
  }
}

}  // namespace nld::cli
