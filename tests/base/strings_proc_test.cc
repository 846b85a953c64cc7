// base/strings.h join() and base/proc.h parseProcStat(): the helpers cli, templates, netcfg and
// resolver share.
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/ip.h"
#include "base/proc.h"
#include "base/strings.h"

namespace nld {
namespace {

TEST(Join, StringsWithSeparator) {
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(join(std::vector<std::string>{"a"}, ", "), "a");
  EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join(std::vector<std::string_view>{"x", "y"}, ""), "xy");
}

TEST(Join, ValuesWithToString) {
  std::vector<IpAddress> ips = {*IpAddress::parse("169.254.20.10"), *IpAddress::parse("fd00::a")};
  EXPECT_EQ(join(ips, ","), "169.254.20.10,fd00::a");
}

TEST(ProcStat, ParsesFieldsAfterTheLastParenthesis) {
  // A command name with spaces and a ')' of its own; fields 3..24 then the rest.
  const std::string text =
      "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 3 0 4242 10000 250 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  auto st = parseProcStat(text);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->utime, 17u);
  EXPECT_EQ(st->stime, 5u);
  EXPECT_EQ(st->num_threads, 3u);
  EXPECT_EQ(st->start_time, 4242u);
  EXPECT_EQ(st->rss, 250u);
}

TEST(ProcStat, RejectsTruncatedOrGarbled) {
  EXPECT_FALSE(parseProcStat(""));
  EXPECT_FALSE(parseProcStat("1234 (sh) Z"));
  EXPECT_FALSE(parseProcStat("1234 sh S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"));
  EXPECT_FALSE(
      parseProcStat("1 (sh) S x 1 1 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 3 0 4242 10000 250 1\n"));
}

TEST(ProcStat, ReadsOwnProcess) {
  auto self = readProcStat();
  ASSERT_TRUE(self);
  EXPECT_EQ(self->state, 'R');
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_GE(self->num_threads, 1u);
  auto same = readProcStat(::getpid());
  ASSERT_TRUE(same);
  EXPECT_EQ(same->start_time, self->start_time);
  EXPECT_FALSE(readProcStat(-1));
}

}  // namespace
}  // namespace nld
