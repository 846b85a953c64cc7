#include "cli/node/daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <thread>

#include "base/atomic_file.h"
#include "base/fd.h"
#include "base/proc.h"
#include "base/random.h"
#include "cli/node/flags.h"
#include "cli/run/process.h"
#include "resolver/dns/builder.h"
#include "resolver/resolver.h"

namespace nld::cli {
namespace {

using Clock = std::chrono::steady_clock;

bool processGone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return true;
  }
  // A zombie (our child, not yet reaped) counts as gone; reap it if it is ours.
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) {
    return true;
  }
  auto stat = readProcStat(pid);
  return !stat || stat->state == 'Z';
}

bool waitGone(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!processGone(pid)) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

Result<std::string> selfExecutable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0) {
    return failSys(errno, "readlink '/proc/self/exe'");
  }
  return std::string(buf, static_cast<size_t>(n));
}

std::optional<pid_t> readPidFile(const std::string& pidfile) {
  auto text = readOwnFile(pidfile);  // a planted symbolic link names no daemon of ours
  if (!text) {
    return std::nullopt;
  }
  std::string_view s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || p != s.data() + s.size() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

bool isDaemonProcess(pid_t pid) {
  if (pid <= 0 || processGone(pid)) {
    return false;
  }
  // "<exe> run ..."; also "<interpreter> <script> run ..." for a script stand-in.
  std::vector<std::string> args = processArguments(pid);
  for (size_t i = 1; i < args.size() && i < 3; ++i) {
    if (args[i] == "run") {
      return true;
    }
  }
  return false;
}

std::optional<pid_t> findDaemon(const std::string& pidfile) {
  auto pid = readPidFile(pidfile);
  if (pid && isDaemonProcess(*pid)) {
    return pid;
  }
  return std::nullopt;
}

std::vector<pid_t> findDaemonsByCommandLine(const std::string& pidfile) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) {
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    pid_t pid = 0;
    std::string_view name = e->d_name;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || p != name.data() + name.size() || pid == ::getpid()) {
      continue;
    }
    std::vector<std::string> args = processArguments(pid);
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "-pidfile" && args[i + 1] == pidfile && isDaemonProcess(pid)) {
        out.push_back(pid);
        break;
      }
    }
  }
  ::closedir(d);
  return out;
}

std::optional<double> processUptimeSeconds(pid_t pid) {
  auto stat = readProcStat(pid);
  if (!stat) {
    return std::nullopt;
  }
  const auto start_ticks = static_cast<double>(stat->start_time);
  std::ifstream up("/proc/uptime");
  double uptime = 0;
  if (!(up >> uptime)) {
    return std::nullopt;
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  if (hz <= 0) {
    return std::nullopt;
  }
  return std::max(0.0, uptime - start_ticks / static_cast<double>(hz));
}

Result<pid_t> spawnDetached(const std::vector<std::string>& argv, const std::string& log_file) {
  if (argv.empty()) {
    return fail(Errc::kInvalidArgument, "empty command line");
  }
  auto log = openOwnFile(log_file, O_WRONLY | O_CREAT | O_APPEND, 0640);
  if (!log) {
    return fail(std::move(log.error()).withContext("open log file"));
  }
  Fd log_fd = std::move(*log);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0) {
    return failSys(errno, "open '/dev/null'");
  }
  Fd null_fd(null);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return failSys(errno, "pipe");
  }
  Fd rd(pipe_fds[0]);
  Fd wr(pipe_fds[1]);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) {
    return failSys(errno, "fork");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::setsid();
    ::dup2(null_fd.get(), 0);
    ::dup2(log_fd.get(), 1);
    ::dup2(log_fd.get(), 2);
    sigset_t none;
    sigemptyset(&none);
    // The forked child has one thread, and sigprocmask is async-signal-safe (pthread_sigmask is
    // not on POSIX's list).
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // NOLINT(concurrency-mt-unsafe)
    ::execv(args[0], args.data());
    int err = errno;
    ssize_t ignored = ::write(wr.get(), &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  }
  wr.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(rd.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return failSys(child_errno, "start '" + argv[0] + "'");
  }
  return pid;
}

bool childExited(pid_t pid, int& status) { return ::waitpid(pid, &status, WNOHANG) == pid; }

Result<StopReport> stopDaemon(const std::string& pidfile, std::chrono::milliseconds grace) {
  StopReport report;
  auto pid = readPidFile(pidfile);
  if (!pid || !isDaemonProcess(*pid)) {
    ::unlink(pidfile.c_str());  // stale: the daemon died without cleaning up (kill -9, OOM)
    return report;
  }
  report.was_running = true;
  report.pid = *pid;
  if (::kill(*pid, SIGTERM) != 0 && errno != ESRCH) {
    return failSys(errno, "send SIGTERM to pid " + std::to_string(*pid));
  }
  if (!waitGone(*pid, grace)) {
    report.killed = true;
    if (::kill(*pid, SIGKILL) != 0 && errno != ESRCH) {
      return failSys(errno, "send SIGKILL to pid " + std::to_string(*pid));
    }
    if (!waitGone(*pid, std::chrono::seconds(5))) {
      return fail(Errc::kTimeout, "pid " + std::to_string(*pid) + " survived SIGKILL");
    }
  }
  ::unlink(pidfile.c_str());
  return report;
}

bool dnsPortBound(const SocketAddress& server) {
  std::vector<SocketAddress> candidates = {
      server,
      {*IpAddress::parse(server.ip.isV4() ? "0.0.0.0" : "::"), server.port},
  };
  if (server.ip.isV4()) {
    // An IPv6 socket without IPV6_V6ONLY also takes IPv4: bound to `::` or to the v4-mapped
    // address, it is listed only in /proc/net/udp6. (`::` with V6ONLY set counts too; the DNS
    // probe then decides.)
    in6_addr mapped{};
    mapped.s6_addr[10] = 0xff;
    mapped.s6_addr[11] = 0xff;
    std::memcpy(&mapped.s6_addr[12], server.ip.bytes(), 4);
    candidates.push_back({IpAddress::v6(mapped), server.port});
    candidates.push_back({*IpAddress::parse("::"), server.port});
  }
  return std::any_of(candidates.begin(), candidates.end(),
                     [](const SocketAddress& a) { return !udpSocketInodes(a).empty(); });
}

namespace {

// One query (RD) over UDP, resent with backoff until `timeout`; true on any response with our ID.
// `any_rcode`: any response counts; otherwise only NOERROR or NXDOMAIN (SERVFAIL and REFUSED
// from a cache mean its upstream did not answer).
bool queryAnswered(const SocketAddress& server, std::string_view qname, uint16_t qtype,
                   uint16_t qclass, std::chrono::milliseconds timeout, bool any_rcode) {
  int raw = ::socket(toAf(server.ip.family()), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (raw < 0) {
    return false;
  }
  Fd fd(raw);
  sockaddr_storage ss{};
  socklen_t len = server.toSockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    return false;
  }
  uint16_t id = static_cast<uint16_t>(random64());
  uint8_t q[512];
  const size_t q_len =
      resolver::dns::buildQuery(id, resolver::dns::flag::kRd, qname, qtype, qclass, q);
  if (q_len == 0) {
    return false;
  }
  auto deadline = Clock::now() + timeout;
  auto next_send = Clock::now();
  // Resend quickly while nothing is bound yet (the kernel answers ECONNREFUSED at once), backing
  // off to 200 ms: install waits on this, so a freshly started daemon is seen within ~10 ms.
  auto backoff = std::chrono::milliseconds(5);
  while (true) {
    auto now = Clock::now();
    if (now >= deadline) {
      return false;
    }
    if (now >= next_send) {
      (void)::send(fd.get(), q, q_len, 0);
      next_send = now + backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
    }
    auto wait = std::min(deadline, next_send) - now;
    pollfd p{fd.get(), POLLIN, 0};
    int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
    if (::poll(&p, 1, std::max(ms, 1)) > 0) {
      unsigned char buf[1500];
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n >= 12 && buf[0] == (id >> 8) && buf[1] == (id & 0xff) && (buf[2] & 0x80) != 0) {
        const unsigned rcode = buf[3] & 0x0f;
        return any_rcode || rcode == 0 || rcode == 3;
      }
      if (n < 0 && errno == ECONNREFUSED) {
        // Nothing bound yet: wait out the current backoff before the next try.
        std::this_thread::sleep_until(std::min(deadline, next_send));
      }
    }
  }
}

}  // namespace

bool dnsAnswers(const SocketAddress& server, std::string_view qname,
                std::chrono::milliseconds timeout) {
  return queryAnswered(server, qname, /*SOA*/ 6, /*IN*/ 1, timeout, /*any_rcode=*/false);
}

bool daemonAnswersProbe(const SocketAddress& server, std::chrono::milliseconds timeout) {
  return queryAnswered(server, resolver::kHealthProbeName, /*TXT*/ 16, /*CH*/ 3, timeout,
                       /*any_rcode=*/true);
}

std::vector<std::string> processArguments(pid_t pid) {
  std::vector<std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0')) {
    out.push_back(arg);
  }
  return out;
}

std::vector<std::string> daemonLocalIps(pid_t pid) {
  std::vector<std::string> args = processArguments(pid);
  std::string value;
  for (size_t i = 0; i < args.size(); ++i) {
    for (const char* flag : {"-localip", "--localip"}) {
      std::string_view a = args[i];
      if (a == flag && i + 1 < args.size()) {
        value = args[i + 1];
      } else if (a.starts_with(std::string(flag) + "=")) {
        value = std::string(a.substr(std::strlen(flag) + 1));
      }
    }
  }
  return splitCommaList({value});
}

std::string commandLineText(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    if (a.empty() || a.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;") != std::string::npos) {
      out += '\'';
      for (char c : a) {
        if (c == '\'') {
          out += "'\\''";
        } else {
          out += c;
        }
      }
      out += '\'';
    } else {
      out += a;
    }
  }
  return out;
}

}  // namespace nld::cli
