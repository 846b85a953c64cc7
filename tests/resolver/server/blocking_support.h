// Shared by the blocking-mode e2e and stress tests: a fast UDP upstream for example.org on
// 127.0.0.3:5300 (answers can be held back), DNS clients over UDP and TCP, and a look at what a
// worker thread is doing (blocked in recvmmsg()?). All on loopback inside the test's netns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"

namespace nld::test {

using Bytes = std::vector<uint8_t>;

/// The Corefile of these tests: example.org on 127.0.0.1:53 (cached), forwarded to FakeUpstream.
inline constexpr const char* kBlockingCorefile =
    "example.org:53 {\n    cache 30\n    bind 127.0.0.1\n    forward . 127.0.0.3:5300\n}\n";

/// An upstream on 127.0.0.3:5300, UDP and TCP (the forwarder asks over TCP for a TCP client),
/// answering every A query with one A record (TTL 300). With hold(), answers wait until
/// release().
class FakeUpstream {
 public:
  FakeUpstream();
  ~FakeUpstream();
  bool ok() const { return ok_; }
  void hold();
  void release();
  /// Queries received so far.
  size_t queries() const { return queries_.load(); }
  /// Waits until `n` queries were received (false after `timeout`).
  bool waitQueries(size_t n, std::chrono::milliseconds timeout) const;

 private:
  static constexpr size_t kMaxMessage = 512;
  void loop();
  /// Turns the query in buf[0, n) into its answer in place (once released); its size, 0 = none.
  size_t answer(uint8_t* buf, size_t n);

  Fd fd_;
  Fd tcp_;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> queries_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  std::thread thread_;
};

/// A UDP client socket of its own, talking to 127.0.0.1:53.
class UdpClient {
 public:
  UdpClient();
  /// Sends `q` and waits up to `timeout` for the answer with its ID: its rcode, -1 if none
  /// (eintr counts poll() calls interrupted by a signal: there must be none in these tests).
  int ask(const Bytes& q, std::chrono::milliseconds timeout);
  int eintr() const { return eintr_; }

 private:
  Fd fd_;
  int eintr_ = 0;
};

/// One query over a new TCP connection to 127.0.0.1:53: its rcode, -1 if no answer in time.
int tcpAsk(const Bytes& q, std::chrono::milliseconds timeout, int* eintr = nullptr);

/// The syscall number the thread named `name` is blocked in (-1: running, or no such thread).
long threadSyscall(const std::string& name);
/// Polls until the thread named `name` sits in recvmmsg() (false after `timeout`). Sends a hit
/// for `hit_name` between looks, each from a new socket: a worker blocks after a round with UDP
/// only (UdpWait::kEager), and with several workers the kernel picks one by source port.
bool waitBlockedInRecvmmsg(const std::string& name, const std::string& hit_name,
                           std::chrono::milliseconds timeout);

/// Whether a SIGURG handler is installed in this process (not SIG_DFL/SIG_IGN).
bool sigurgHandlerInstalled();

}  // namespace nld::test
