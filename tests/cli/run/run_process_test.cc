#include "cli/run_process.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "base/fd.h"
#include "cli/run_metrics.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

Fd bindUdp(SocketAddress& addr) {
  Fd fd(::socket(toAf(addr.ip.family()), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len = addr.toSockaddr(ss);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  len = sizeof(ss);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  addr = SocketAddress::fromSockaddr(ss);
  return fd;
}

TEST(PidFile, WrittenAtomicallyAndRemovedOnlyByItsOwner) {
  test::TempDir dir;
  std::string path = dir.file("node-cache.pid");
  ASSERT_TRUE(writePidFile(path, 1234));
  EXPECT_EQ(*readFile(path), "1234\n");
  EXPECT_FALSE(removePidFileIfOwned(path, 999));  // a successor took it over
  EXPECT_TRUE(removePidFileIfOwned(path, 1234));
  EXPECT_FALSE(readFile(path));
}

TEST(Successor, SocketFromAnotherProcessIsDetectedOwnIsNot) {
  SocketAddress addr = SocketAddress{*IpAddress::parse("127.0.0.1"), 0};
  Fd mine = bindUdp(addr);
  EXPECT_FALSE(udpSocketInodes(addr).empty());
  EXPECT_FALSE(anotherInstanceServes({addr}));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    SocketAddress same = addr;
    Fd theirs = bindUdp(same);
    char c = 'x';
    [[maybe_unused]] ssize_t n = ::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  // The child's socket is in our fd table too? No: it bound after fork.
  EXPECT_TRUE(anotherInstanceServes({addr}));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(anotherInstanceServes({addr}));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(Successor, WildcardListenerOnThePortIsNotASuccessor) {
  SocketAddress addr = SocketAddress{*IpAddress::parse("127.0.0.1"), 0};
  Fd mine = bindUdp(addr);
  SocketAddress wildcard{IpAddress(), addr.port};
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    Fd theirs = bindUdp(wildcard);
    char c = 'x';
    [[maybe_unused]] ssize_t n = ::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_FALSE(anotherInstanceServes({addr}));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(Successor, Ipv6Addresses) {
  SocketAddress addr = SocketAddress{*IpAddress::parse("::1"), 0};
  Fd fd(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    GTEST_SKIP() << "no IPv6";
  }
  Fd mine = bindUdp(addr);
  EXPECT_FALSE(udpSocketInodes(addr).empty());
}

TEST(RunMetrics, SetupErrorsPresetAndCounted) {
  RunMetrics m;
  m.count(SetupError::kIptablesLock);
  m.count(SetupError::kIptablesLock);
  std::string text = m.render("");
  for (const char* label : {"iptables", "interface_add", "interface_check", "configmap"}) {
    EXPECT_NE(text.find("coredns_nodecache_setup_errors_total{errortype=\"" + std::string(label) +
                        "\"} 0\n"),
              std::string::npos)
        << label;
  }
  EXPECT_NE(text.find("{errortype=\"iptables_lock\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE coredns_nodecache_setup_errors_total counter"), std::string::npos);
  EXPECT_NE(text.find("coredns_reload_failed_total 0\n"), std::string::npos);
  EXPECT_NE(text.find("coredns_build_info{"), std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(m.render("coredns_build_info{x} 1\n").find("coredns_build_info{"), std::string::npos);
}

}  // namespace
}  // namespace nld::cli
