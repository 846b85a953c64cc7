#include "cli/run_http.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace nld::cli {
namespace {

constexpr size_t kMaxRequest = 8192;
constexpr int kReadTimeoutMs = 2000;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 400:
      return "Bad Request";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void sendAll(int fd, const std::string& data) {
  size_t off = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return;
      }
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      continue;
    }
    return;
  }
}

}  // namespace

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

HttpServer::HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::create(HttpHandler handler) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler)));
  server->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!server->wake_) {
    return failSys(errno, "http server: eventfd");
  }
  server->thread_ = std::thread([s = server.get()] { s->loop(); });
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
    // Vanished listeners stay open until the server thread rebuilds its poll set, so their fd
    // numbers cannot be reused (e.g. by a DNS TCP listener) while it may still accept on them.
    // shutdown() stops a listening socket at once (new connections are refused).
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

void HttpServer::loop() {
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    {
      std::lock_guard lock(mutex_);
      retired_.clear();
      for (const Listener& l : listeners_) {
        fds.push_back({l.fd.get(), POLLIN, 0});
      }
    }
    int n = ::poll(fds.data(), fds.size(), 1000);
    if (n <= 0) {
      continue;
    }
    if (fds[0].revents != 0) {
      uint64_t v = 0;
      [[maybe_unused]] ssize_t r = ::read(wake_.get(), &v, sizeof(v));
      continue;  // the listener set may have changed: rebuild before accepting
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) {
        continue;
      }
      Fd conn(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (conn) {
        serve(conn.get());
      }
    }
  }
}

void HttpServer::serve(int fd) {
  std::string request;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos && request.size() < kMaxRequest) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return;
    }
    char buf[2048];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      break;  // EOF: HTTP/0.9-style request without headers is still answered below
    }
    request.append(buf, static_cast<size_t>(n));
  }
  size_t eol = request.find_first_of("\r\n");
  std::string line = request.substr(0, eol);
  size_t sp1 = line.find(' ');
  HttpResponse resp;
  if (sp1 == std::string::npos) {
    resp = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else {
    std::string method = line.substr(0, sp1);
    size_t sp2 = line.find(' ', sp1 + 1);
    std::string target =
        line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
    std::string path = target.substr(0, target.find('?'));
    if (method != "GET" && method != "HEAD") {
      resp = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    } else {
      resp = handler_(method, path);
      if (method == "HEAD") {
        std::string len = std::to_string(resp.body.size());
        std::string head = "HTTP/1.0 " + std::to_string(resp.status) + " " + reason(resp.status) +
                           "\r\nContent-Type: " + resp.content_type + "\r\nContent-Length: " + len +
                           "\r\nConnection: close\r\n\r\n";
        sendAll(fd, head);
        return;
      }
    }
  }
  std::string out = "HTTP/1.0 " + std::to_string(resp.status) + " " + reason(resp.status) +
                    "\r\nContent-Type: " + resp.content_type +
                    "\r\nContent-Length: " + std::to_string(resp.body.size()) +
                    "\r\nConnection: close\r\n\r\n" + resp.body;
  sendAll(fd, out);
  ::shutdown(fd, SHUT_WR);
}

}  // namespace nld::cli
