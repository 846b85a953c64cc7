#include "base/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>

namespace nld {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) {
    return fail(Errc::kInvalidArgument, "odd number " + std::to_string(x));
  }
  return x / 2;
}

TEST(Result, CarriesValuesAndErrors) {
  EXPECT_EQ(*half(4), 2);
  auto r = half(3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "odd number 3");
}

TEST(Error, SysMapsErrnoAndKeepsContext) {
  auto e = Error::sys(EEXIST, "add address '169.254.20.10/32'").withContext("ensure link 'x'");
  EXPECT_EQ(e.code(), Errc::kAlreadyExists);
  EXPECT_EQ(e.sysErrno(), EEXIST);
  EXPECT_EQ(e.message(), "ensure link 'x': add address '169.254.20.10/32': File exists");
  EXPECT_EQ(Error::sys(EPERM, "x").code(), Errc::kPermissionDenied);
}

TEST(Error, ErrnoTextIsTheLibraryTextAlsoForUnknownNumbers) {
  EXPECT_EQ(errnoText(ECONNREFUSED), "Connection refused");
  EXPECT_EQ(errnoText(ENOENT), "No such file or directory");
  EXPECT_EQ(errnoText(99999), "Unknown error 99999");
}

TEST(Error, SignalTextIsStrsignalsText) {
  EXPECT_EQ(signalText(SIGINT), "Interrupt");
  EXPECT_EQ(signalText(SIGTERM), "Terminated");
  EXPECT_EQ(signalText(999), "Unknown signal 999");
}

}  // namespace
}  // namespace nld
