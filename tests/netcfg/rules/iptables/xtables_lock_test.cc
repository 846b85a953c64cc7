// XtablesLock: flock semantics against another process, without root.
#include "netcfg/rules/iptables/xtables_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>

#include "netcfg/rules/rules.h"
#include "tests/support/netns.h"
#include "tests/support/rules_test_util.h"

namespace nld::netcfg {
namespace {

using std::chrono::milliseconds;

TEST(XtablesLock, FreeLockIsTakenAtOnceAndReleasedOnDestruction) {
  test::TempDir dir;
  std::string path = dir.file("xtables.lock");
  {
    auto lock = XtablesLock::acquire(path, milliseconds(100));
    ASSERT_TRUE(lock.has_value()) << lock.error().message();
    EXPECT_LT(lock->waited(), milliseconds(50));
  }
  EXPECT_TRUE(XtablesLock::acquire(path, milliseconds(0)).has_value());
}

TEST(XtablesLock, HeldLockTimesOutWithBusy) {
  test::TempDir dir;
  std::string path = dir.file("xtables.lock");
  test::LockHolder holder(path, milliseconds(-1));  // holds until destroyed
  auto start = std::chrono::steady_clock::now();
  auto lock = XtablesLock::acquire(path, milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(lock.has_value());
  EXPECT_EQ(lock.error().code(), Errc::kBusy);
  EXPECT_EQ(lock.error().message(),
            "xtables lock '" + path + "' held by another process for 300ms");
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_EQ(rulesErrorType(lock.error()), "iptables_lock");  // the daemon's error metric label
  EXPECT_EQ(rulesErrorType(Error(Errc::kSystem, "commit: x")), "iptables");
}

TEST(XtablesLock, HeldLockDelaysThenSucceeds) {
  test::TempDir dir;
  std::string path = dir.file("xtables.lock");
  test::LockHolder holder(path, milliseconds(300));  // releases by itself after 300 ms
  auto lock = XtablesLock::acquire(path, milliseconds(5000));
  ASSERT_TRUE(lock.has_value()) << lock.error().message();
  EXPECT_GE(lock->waited(), milliseconds(200));
  EXPECT_LT(lock->waited(), milliseconds(2000));
}

TEST(XtablesLock, UnopenablePathIsASystemError) {
  auto lock = XtablesLock::acquire("/nonexistent-dir/xtables.lock", milliseconds(10));
  ASSERT_FALSE(lock.has_value());
  EXPECT_EQ(lock.error().code(), Errc::kNotFound);
  EXPECT_NE(lock.error().message().find("/nonexistent-dir/xtables.lock"), std::string::npos);
}

TEST(FormatDuration, SecondsWhenWhole) {
  EXPECT_EQ(formatDuration(milliseconds(5000)), "5s");
  EXPECT_EQ(formatDuration(milliseconds(250)), "250ms");
}

}  // namespace
}  // namespace nld::netcfg
