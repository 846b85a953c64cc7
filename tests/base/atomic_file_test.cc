#include "base/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/netns.h"

namespace nld {
namespace {

TEST(AtomicFile, WritesAndBacksUp) {
  test::TempDir dir;
  auto path = dir.file("config.yaml");
  ASSERT_TRUE(writeFileAtomic(path, "one\n"));
  ::chmod(path.c_str(), 0600);
  AtomicWriteOptions opts;
  opts.backup_path = dir.file("config.yaml.bak");
  ASSERT_TRUE(writeFileAtomic(path, "two\n", opts));
  EXPECT_EQ(*readFile(path), "two\n");
  EXPECT_EQ(*readFile(*opts.backup_path), "one\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "an existing file keeps its mode";
  // No temporary files are left behind.
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST(AtomicFile, FailureLeavesTargetUntouched) {
  auto r = writeFileAtomic("/nonexistent-dir/x", "data");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent-dir/x"), std::string::npos);
  test::TempDir dir;
  ASSERT_TRUE(std::filesystem::create_directory(dir.file("sub")));
  EXPECT_FALSE(writeFileAtomic(dir.file("sub"), "x")) << "a directory is not overwritten";
  EXPECT_FALSE(readFile(dir.file("missing")));
}

// A file of ours (lock, log, pidfile) is never reached through a planted symbolic link: the
// open is refused with one line naming the path, and the link's target keeps its bytes.
TEST(OwnFile, PlantedSymlinkIsRefusedAndItsTargetUntouched) {
  test::TempDir dir;
  auto target = dir.file("victim");
  ASSERT_TRUE(writeFileAtomic(target, "precious\n"));
  auto link = dir.file("nodelocaldns.pid.lock");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto fd = openOwnFile(link, O_RDWR | O_CREAT, 0600);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().message(), "'" + link + "' is a symbolic link; refusing to follow it");
  auto read = readOwnFile(link);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message(), "'" + link + "' is a symbolic link; refusing to follow it");
  AtomicWriteOptions ours;
  ours.ours = true;
  auto written = writeFileAtomic(link, "1234\n", ours);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message(), "'" + link + "' is a symbolic link; refusing to follow it");
  EXPECT_EQ(*readFile(target), "precious\n");
  struct stat st {};
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link itself stays, too";
}

TEST(OwnFile, FifoIsRefusedWithoutBlocking) {
  test::TempDir dir;
  auto fifo = dir.file("log");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto fd = openOwnFile(fifo, O_WRONLY | O_CREAT | O_APPEND, 0640);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().message(), "'" + fifo + "' is not a regular file; refusing to use it");
}

TEST(OwnFile, CreatedWithTheModeAskedFor) {
  test::TempDir dir;
  auto path = dir.file("log");
  auto fd = openOwnFile(path, O_WRONLY | O_CREAT | O_APPEND, 0640);
  ASSERT_TRUE(fd) << fd.error().message();
  struct stat st {};
  ASSERT_EQ(::fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_TRUE((::fcntl(fd->get(), F_GETFL) & O_NONBLOCK) == 0);
  EXPECT_TRUE((::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) != 0);
}

// A file pre-created 0666 by another user (nobody) must not stay theirs: they could rewrite our
// pidfile (and have `stop` signal any process) or our log.
TEST(OwnFile, PreCreatedByAnotherUserIsTakenOver) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root (chown to nobody)";
  }
  test::TempDir dir;
  for (const char* name : {"lock", "pidfile"}) {
    auto path = dir.file(name);
    ASSERT_TRUE(writeFileAtomic(path, "4321\n"));
    ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
    ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
    struct stat st {};
    if (std::string(name) == "lock") {
      auto fd = openOwnFile(path, O_RDWR | O_CREAT, 0600);
      ASSERT_TRUE(fd) << fd.error().message();
    } else {
      AtomicWriteOptions ours;
      ours.ours = true;
      ours.mode = 0644;
      ASSERT_TRUE(writeFileAtomic(path, "1234\n", ours));
      EXPECT_EQ(*readFile(path), "1234\n");
    }
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << name;
    EXPECT_EQ(st.st_gid, ::getegid()) << name;
    EXPECT_EQ(st.st_mode & 07777, std::string(name) == "lock" ? 0600u : 0644u) << name;
  }
  // Not ours: writeFileAtomic keeps the owner and mode of a file it rewrites (kubelet config).
  auto other = dir.file("config.yaml");
  ASSERT_TRUE(writeFileAtomic(other, "a\n"));
  ASSERT_EQ(::chown(other.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(other.c_str(), 0664), 0);
  ASSERT_TRUE(writeFileAtomic(other, "b\n"));
  struct stat st {};
  ASSERT_EQ(::stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0664u);
}

}  // namespace
}  // namespace nld
