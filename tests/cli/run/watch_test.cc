#include "cli/run/watch.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "base/atomic_file.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

namespace fs = std::filesystem;

bool eventWithin(DirWatcher& w, int ms) {
  pollfd p{w.fd(), POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) {
    return false;
  }
  return w.drain();
}

TEST(DirWatcher, SeesKubeletStyleDataSymlinkSwap) {
  test::TempDir dir;
  fs::create_directory(dir.file("..2026_01"));
  ASSERT_TRUE(writeFileAtomic(dir.file("..2026_01/stubDomains"), "{}"));
  fs::create_directory_symlink("..2026_01", dir.file("..data"));
  fs::create_symlink("..data/stubDomains", dir.file("stubDomains"));

  auto w = DirWatcher::create();
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->add(dir.path()));
  EXPECT_FALSE(eventWithin(**w, 0));

  // What kubelet's AtomicWriter does: new timestamped dir, ..data_tmp symlink, rename over ..data.
  fs::create_directory(dir.file("..2026_02"));
  ASSERT_TRUE(writeFileAtomic(dir.file("..2026_02/stubDomains"), "{\"a.b\":[\"1.2.3.4\"]}"));
  fs::create_directory_symlink("..2026_02", dir.file("..data_tmp"));
  fs::rename(dir.file("..data_tmp"), dir.file("..data"));
  EXPECT_TRUE(eventWithin(**w, 2000));
}

TEST(DirWatcher, IgnoresOwnWritesAndWatchesLateDirectories) {
  test::TempDir dir;
  auto w = DirWatcher::create();
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->add(dir.path()));
  (*w)->ignoreName("Corefile");
  ASSERT_TRUE(writeFileAtomic(dir.file("Corefile"), "x"));
  EXPECT_FALSE(eventWithin(**w, 200));
  ASSERT_TRUE(writeFileAtomic(dir.file("Corefile.base"), "y"));
  EXPECT_TRUE(eventWithin(**w, 2000));

  std::string late = dir.file("late");
  ASSERT_TRUE((*w)->add(late));  // missing: not an error
  EXPECT_FALSE((*w)->watched()[1].second);
  EXPECT_FALSE((*w)->rewatch());
  fs::create_directory(late);
  EXPECT_TRUE((*w)->rewatch());
  ASSERT_TRUE(writeFileAtomic(late + "/upstreamNameservers", "[]"));
  EXPECT_TRUE(eventWithin(**w, 2000));

  fs::remove_all(late);
  eventWithin(**w, 500);
  EXPECT_FALSE((*w)->watched()[1].second);
}

}  // namespace
}  // namespace nld::cli
