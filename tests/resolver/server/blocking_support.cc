#include "tests/resolver/server/blocking_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <iterator>

#include "tests/resolver/server/e2e_support.h"

namespace nld::test {
namespace {

sockaddr_in loopback(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(ip);
  return a;
}

/// Waits for `events` on `fd` until `deadline`, retrying after a signal (counted in `eintr`).
bool waitFor(int fd, short events, std::chrono::steady_clock::time_point deadline, int* eintr) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno == EINTR && eintr != nullptr) {
      ++*eintr;
    }
  }
}

/// The end of the question of a query without compression (0 if malformed).
size_t questionEnd(const uint8_t* m, size_t n) {
  size_t at = 12;
  while (at < n && m[at] != 0) {
    at += size_t{m[at]} + 1;
  }
  return at + 5 <= n ? at + 5 : 0;
}

}  // namespace

FakeUpstream::FakeUpstream()
    : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
      tcp_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
  sockaddr_in a = loopback(0x7f000003, 5300);
  ok_ = fd_ && tcp_ && ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::bind(tcp_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::listen(tcp_.get(), 64) == 0;
  thread_ = std::thread([this] { loop(); });
}

FakeUpstream::~FakeUpstream() {
  stop_ = true;
  release();
  thread_.join();
}

void FakeUpstream::hold() {
  std::lock_guard lock(mu_);
  holding_ = true;
}

void FakeUpstream::release() {
  {
    std::lock_guard lock(mu_);
    holding_ = false;
  }
  cv_.notify_all();
}

bool FakeUpstream::waitQueries(size_t n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (queries_.load() < n) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

size_t FakeUpstream::answer(uint8_t* buf, size_t n) {
  const size_t end = n > 12 ? questionEnd(buf, n) : 0;
  if (end == 0 || end + 16 > kMaxMessage) {
    return 0;
  }
  queries_.fetch_add(1);
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !holding_ || stop_; });
  }
  // The question, then one A record 10.0.0.1 for it (name by pointer to offset 12).
  buf[2] = static_cast<uint8_t>(buf[2] | 0x80);  // QR
  buf[3] = 0x80;                                 // RA, NOERROR
  buf[6] = 0;
  buf[7] = 1;  // ANCOUNT
  buf[8] = buf[9] = buf[10] = buf[11] = 0;
  const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 10, 0, 0, 1};
  std::copy(std::begin(rr), std::end(rr), buf + end);
  return end + sizeof rr;
}

void FakeUpstream::loop() {
  struct Conn {
    Fd fd;
    Bytes in;
  };
  std::vector<Conn> conns;
  while (!stop_) {
    std::vector<pollfd> p = {{fd_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}};
    for (const auto& c : conns) {
      p.push_back({c.fd.get(), POLLIN, 0});
    }
    if (::poll(p.data(), p.size(), 50) <= 0) {
      continue;
    }
    uint8_t buf[kMaxMessage + 2];
    if (p[0].revents != 0) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_.get(), buf, kMaxMessage, MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &len);
      if (size_t m = n > 0 ? answer(buf, static_cast<size_t>(n)) : 0; m > 0) {
        ::sendto(fd_.get(), buf, m, 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
    if (p[1].revents != 0) {
      Fd c(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (c) {
        conns.push_back({std::move(c), {}});
      }
    }
    for (size_t i = 0; i + 2 < p.size(); ++i) {  // the connections polled (not one just accepted)
      if (p[i + 2].revents == 0) {
        continue;
      }
      Conn& c = conns[i];
      ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
      if (n <= 0) {
        c.fd.reset();
        continue;
      }
      c.in.insert(c.in.end(), buf, buf + n);
      // Every complete length-prefixed query, answered on the same connection.
      auto framed = [&c] { return (size_t{c.in[0]} << 8) | c.in[1]; };
      while (c.in.size() >= 2 && c.in.size() >= 2 + framed()) {
        const size_t len = framed();
        if (len <= kMaxMessage - 16) {
          std::copy(c.in.begin() + 2, c.in.begin() + 2 + static_cast<long>(len), buf + 2);
          if (size_t m = answer(buf + 2, len); m > 0) {
            buf[0] = static_cast<uint8_t>(m >> 8);
            buf[1] = static_cast<uint8_t>(m);
            ::send(c.fd.get(), buf, m + 2, MSG_NOSIGNAL);
          }
        }
        c.in.erase(c.in.begin(), c.in.begin() + 2 + static_cast<long>(len));
      }
    }
    std::erase_if(conns, [](const Conn& c) { return !c.fd; });
  }
}

UdpClient::UdpClient() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in to = loopback(INADDR_LOOPBACK, 53);
  ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&to), sizeof to);
}

int UdpClient::ask(const Bytes& q, std::chrono::milliseconds timeout) {
  if (::send(fd_.get(), q.data(), q.size(), 0) < 0) {
    return -1;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (waitFor(fd_.get(), POLLIN, deadline, &eintr_)) {
    uint8_t buf[512];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n >= 12 && buf[0] == q[0] && buf[1] == q[1]) {
      return buf[3] & 0x0f;
    }
    // An ECONNREFUSED (nothing listens) or a late answer to an earlier query: keep waiting.
  }
  return -1;
}

int tcpAsk(const Bytes& q, std::chrono::milliseconds timeout, int* eintr) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in to = loopback(INADDR_LOOPBACK, 53);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 &&
      errno != EINPROGRESS) {
    return -1;
  }
  if (!waitFor(fd.get(), POLLOUT, deadline, eintr)) {
    return -1;
  }
  Bytes framed = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  if (::send(fd.get(), framed.data(), framed.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(framed.size())) {
    return -1;
  }
  uint8_t buf[514];
  size_t got = 0;
  while (got < 14) {  // length + header
    if (!waitFor(fd.get(), POLLIN, deadline, eintr)) {
      return -1;
    }
    ssize_t n = ::recv(fd.get(), buf + got, sizeof buf - got, 0);
    if (n <= 0) {
      return -1;
    }
    got += static_cast<size_t>(n);
  }
  return buf[2] == q[0] && buf[3] == q[1] ? buf[5] & 0x0f : -1;
}

long threadSyscall(const std::string& name) {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) {
    return -1;
  }
  long result = -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') {
      continue;
    }
    const std::string dir = std::string("/proc/self/task/") + e->d_name;
    std::string comm;
    std::ifstream(dir + "/comm") >> comm;
    if (comm != name) {
      continue;
    }
    std::string nr;  // "running" while on a CPU, else the syscall number and its arguments
    std::ifstream(dir + "/syscall") >> nr;
    if (!nr.empty() && nr.find_first_not_of("0123456789") == std::string::npos) {
      result = std::stol(nr);
    }
    break;
  }
  ::closedir(d);
  return result;
}

bool waitBlockedInRecvmmsg(const std::string& name, const std::string& hit_name,
                           std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  uint16_t id = 1;
  while (std::chrono::steady_clock::now() < deadline) {
    UdpClient client;  // a new source port each time: SO_REUSEPORT may pick another worker
    client.ask(wireQuery(id++, hit_name), std::chrono::milliseconds(1000));
    for (int i = 0; i < 20; ++i) {
      if (threadSyscall(name) == SYS_recvmmsg) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return false;
}

bool sigurgHandlerInstalled() {
  struct sigaction old {};
  ::sigaction(SIGURG, nullptr, &old);
  return (old.sa_flags & SA_SIGINFO) != 0 ||
         (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
}

}  // namespace nld::test
