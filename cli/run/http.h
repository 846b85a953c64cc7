// A small HTTP/1.0 responder for `run`'s /health, /ready and /metrics endpoints, built so that
// no client can stall it: every pod can reach the health address, and kubelet kills a cache
// whose liveness probe times out.
//
// One thread runs an epoll loop over every listener and every connection; each connection is a
// small state machine (read the head → answer → write → close) with its own buffer and
// deadline, so an idle or slow client costs one slot and never blocks another. Bounds (see
// HttpLimits, all `run` flags): at most max_connections at once — at the cap the oldest
// connection still reading its request is closed to make room (the newcomer may be the probe;
// an attacker's idle connections are the oldest); a head of at most max_header_bytes (431
// beyond); the head must arrive within header_timeout of the accept, and the answer must be
// written within header_timeout after it (closed otherwise). One request per connection
// (Connection: close). The request is parsed by parseHttpRequest() (cli/run/http_request.h).
//
// Listeners are TCP with SO_REUSEADDR and SO_REUSEPORT, so a surge pod can bind the same
// address beside the old one (users-and-perf.md #2). The handler runs on the server thread, so
// it must be quick (the daemon's health probe is cached and bounded by its own timeout).
//
// Why not cpp-httplib: it cannot set SO_REUSEPORT before bind() without patching its socket
// creation, spawns a thread per connection or a pool we do not need, and throws.
//
// Threading: setListeners() and stop() may be called from any one control thread; the handler
// runs on the server thread. No logging above debug; errors are values.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/ip.h"
#include "base/result.h"

namespace nld::cli {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpLimits {
  size_t max_connections = 128;                    ///< --http-max-connections (at least 1)
  size_t max_header_bytes = 8192;                  ///< --http-max-header-bytes: line + headers
  std::chrono::milliseconds header_timeout{1000};  ///< --http-header-timeout
};

/// Called with the request method and path (query string removed).
using HttpHandler = std::function<HttpResponse(const std::string& method, const std::string& path)>;

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> create(HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Makes the listener set equal to `addresses` (unspecified IP = every address of that family):
  /// binds new ones, closes vanished ones, keeps the rest. On a bind failure the other addresses
  /// are still applied and the first error is returned ("listen http 0.0.0.0:9353: Address
  /// already in use").
  Result<void> setListeners(const std::vector<SocketAddress>& addresses);
  /// Actual bound addresses (port 0 resolved), in the order given to setListeners().
  std::vector<SocketAddress> boundAddresses() const;
  /// Since create(), for tests and debugging: connections closed at the cap to make room for a
  /// new one (or when out of fds), and closed at their deadline.
  uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }
  uint64_t timedOut() const { return timed_out_.load(std::memory_order_relaxed); }
  /// Closes the listeners and every connection, joins the thread. Idempotent.
  void stop();

 private:
  HttpServer(HttpHandler handler, HttpLimits limits);
  struct Loop;
  void run();

  struct Listener {
    SocketAddress wanted;
    SocketAddress bound;
    Fd fd;
  };

  HttpHandler handler_;
  HttpLimits limits_;
  mutable std::mutex mutex_;
  std::vector<Listener> listeners_;  // guarded by mutex_
  std::vector<Fd> retired_;          // guarded by mutex_; closed by the server thread
  Fd epoll_;
  Fd wake_;  // eventfd: listener set changed or stop
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> evicted_{0}, timed_out_{0};
  std::thread thread_;
};

/// Binds a TCP listener with SO_REUSEADDR + SO_REUSEPORT (IPV6_V6ONLY for IPv6).
Result<Fd> listenTcpReusePort(const SocketAddress& address, int backlog = 64);

}  // namespace nld::cli
