// A tiny HTTP/1.0 responder for `run`'s /health, /ready and /metrics endpoints.
//
// One thread serves every listener, one request per connection (read the request line, answer,
// close). Listeners are TCP with SO_REUSEADDR and SO_REUSEPORT, so a surge pod can bind the same
// address beside the old one (users-and-perf.md #2). Requests are read with a 2 s deadline and
// capped at 8 KiB; the handler runs on the server thread, so it must be quick (the health probe
// is bounded by its own timeout).
//
// Why not cpp-httplib: it cannot set SO_REUSEPORT before bind() without patching its socket
// creation, spawns a thread pool we do not need, and throws; this is ~200 lines.
//
// Threading: setListeners() and stop() may be called from any one control thread; the handler
// runs on the server thread. No logging above debug; errors are values.
#pragma once

#include <algorithm>
#include <atomic>
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

/// Called with the request method and path (query string removed).
using HttpHandler = std::function<HttpResponse(const std::string& method, const std::string& path)>;

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> create(HttpHandler handler);
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
  /// Closes the listeners and joins the thread. Idempotent.
  void stop();

 private:
  explicit HttpServer(HttpHandler handler);
  void loop();
  void serve(int fd);

  struct Listener {
    SocketAddress wanted;
    SocketAddress bound;
    Fd fd;
  };

  HttpHandler handler_;
  mutable std::mutex mutex_;
  std::vector<Listener> listeners_;  // guarded by mutex_
  std::vector<Fd> retired_;          // guarded by mutex_; closed at the next poll-set rebuild
  Fd wake_;                          // eventfd: listener set changed or stop
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// Binds a TCP listener with SO_REUSEADDR + SO_REUSEPORT (IPV6_V6ONLY for IPv6).
Result<Fd> listenTcpReusePort(const SocketAddress& address, int backlog = 64);

}  // namespace nld::cli
