#include "base/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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
  struct stat st{};
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

}  // namespace
}  // namespace nld
