#include "tests/support/netns.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace nld::test {

std::string requireRoot() {
  return ::geteuid() == 0 ? "" : "needs root (CAP_NET_ADMIN) to create a network namespace";
}

std::string enterThrowawayNetns() {
  if (auto why = requireRoot(); !why.empty()) {
    return why;
  }
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    return std::string("cannot create a private network namespace: ") + std::strerror(errno);
  }
  // Keep mount changes private, and give this namespace its own /sys (so sysfs shows our links).
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
    ::umount2("/sys", MNT_DETACH);
    ::mount("sysfs", "/sys", "sysfs", 0, nullptr);
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return std::string("socket: ") + std::strerror(errno);
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  ::close(fd);
  if (!ok) {
    return std::string("cannot bring up loopback in the new namespace: ") + std::strerror(errno);
  }
  return "";
}

CommandResult run(const std::string& command) {
  CommandResult r;
  std::string full = command + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) {
    r.out = std::string("popen: ") + std::strerror(errno);
    return r;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
    r.out.append(buf.data(), n);
  }
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string sourcePath(const std::string& relative) {
  const char* dir = std::getenv("NLD_SOURCE_DIR");
  return std::string(dir != nullptr ? dir : ".") + "/" + relative;
}

std::string binaryPath(const std::string& relative) {
  const char* dir = std::getenv("NLD_BINARY_DIR");
  return std::string(dir != nullptr ? dir : ".") + "/" + relative;
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/nld-test.XXXXXX";
  if (::mkdtemp(tmpl.data()) != nullptr) {
    path_ = tmpl;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) {
    std::filesystem::remove_all(path_, ec);
  }
}

}  // namespace nld::test
