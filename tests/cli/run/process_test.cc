#include "cli/run/process.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "base/fd.h"
#include "cli/run/metrics.h"
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

// `run --pidfile` never writes through a planted symbolic link (the old code renamed over it
// after copying the target's owner and mode); start-up fails with one line instead.
TEST(PidFile, PlantedSymlinkIsRefusedAndItsTargetUntouched) {
  test::TempDir dir;
  std::string target = dir.file("victim");
  ASSERT_TRUE(writeFileAtomic(target, "precious\n"));
  std::string path = dir.file("node-cache.pid");
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  auto r = writePidFile(path, 1234);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "write pidfile: '" + path + "' is a symbolic link; refusing to follow it");
  EXPECT_EQ(*readFile(target), "precious\n");
  EXPECT_FALSE(removePidFileIfOwned(path, 1234));
}

TEST(PidFile, PreCreatedByAnotherUserBecomesOursWithOurMode) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root (chown to nobody)";
  }
  test::TempDir dir;
  std::string path = dir.file("node-cache.pid");
  ASSERT_TRUE(writeFileAtomic(path, "1\n"));
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  ASSERT_TRUE(writePidFile(path, 1234));
  EXPECT_EQ(*readFile(path), "1234\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_mode & 07777, 0644u);
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
