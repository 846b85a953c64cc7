#include "resolver/server/cpu_budget.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/netns.h"

namespace nld::resolver::server {
namespace {

void put(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

TEST(CpuBudget, ParsesCpuMax) {
  EXPECT_EQ(parseCpuMax("max 100000\n"), std::nullopt);
  EXPECT_EQ(parseCpuMax("250000 100000\n"), 2.5);
  EXPECT_EQ(parseCpuMax("50000 100000"), 0.5);
  for (const char* bad : {"", "max", "100000", "x 100000", "100 0", "-1 100000", "1 2 3"}) {
    EXPECT_EQ(parseCpuMax(bad), std::nullopt) << bad;
  }
}

TEST(CpuBudget, WorkersFollowTheTighterOfMaskAndQuota) {
  std::vector<int> many(96);
  for (int i = 0; i < 96; ++i) {
    many[i] = i;
  }
  auto none = cpuBudget(many, std::nullopt);
  EXPECT_EQ(none.workers, 96U);
  EXPECT_FALSE(none.quota_limited);
  auto small = cpuBudget(many, 0.1);  // a 100m limit still gets one worker
  EXPECT_EQ(small.workers, 1U);
  EXPECT_TRUE(small.quota_limited);
  EXPECT_EQ(cpuBudget(many, 1.5).workers, 2U);
  EXPECT_EQ(cpuBudget(many, 2.0).workers, 2U);
  EXPECT_EQ(cpuBudget({0, 1}, 8.0).workers, 2U);  // the mask is tighter
  EXPECT_FALSE(cpuBudget({0, 1}, 8.0).quota_limited);
  EXPECT_EQ(cpuBudget({}, std::nullopt).workers, 1U);
  EXPECT_EQ(cpuBudget(many, 1.7e10).workers, 96U);  // a huge quota is no limit (no overflow)
  EXPECT_FALSE(cpuBudget(many, 1.7e10).quota_limited);
}

TEST(CpuBudget, ReadsCgroupV2LeafAndAncestors) {
  test::TempDir dir;
  std::filesystem::path root = dir.path();
  put(root / "cpu.max", "max 100000\n");
  put(root / "kubepods/cpu.max", "800000 100000\n");
  put(root / "kubepods/pod1/cpu.max", "max 100000\n");
  put(root / "kubepods/pod1/ctr/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroupCpuQuota(root.string(), "0::/kubepods/pod1/ctr\n"), 1.5);
  EXPECT_EQ(cgroupCpuQuota(root.string(), "0::/kubepods/pod1\n"), 8.0);  // the ancestor's limit
  EXPECT_EQ(cgroupCpuQuota(root.string(), "0::/\n"), std::nullopt);
  EXPECT_EQ(cgroupCpuQuota(root.string(), "0::/elsewhere\n"), std::nullopt);
  EXPECT_EQ(cgroupCpuQuota(root.string(), ""), std::nullopt);
  EXPECT_EQ(cgroupCpuQuota(root.string(), "garbage"), std::nullopt);
}

TEST(CpuBudget, ReadsCgroupV1Quota) {
  test::TempDir dir;
  std::filesystem::path root = dir.path();
  put(root / "cpu,cpuacct/kubepods/ctr/cpu.cfs_quota_us", "250000\n");
  put(root / "cpu,cpuacct/kubepods/ctr/cpu.cfs_period_us", "100000\n");
  put(root / "cpu,cpuacct/kubepods/cpu.cfs_quota_us", "-1\n");
  put(root / "cpu,cpuacct/kubepods/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroupCpuQuota(root.string(), "12:memory:/kubepods/ctr\n4:cpu,cpuacct:/kubepods/ctr\n"),
            2.5);
  EXPECT_EQ(cgroupCpuQuota(root.string(), "4:cpu,cpuacct:/kubepods\n"), std::nullopt);  // -1 = none
}

TEST(CpuBudget, ThisProcessHasAtLeastOneWorker) {
  auto b = currentCpuBudget();
  EXPECT_GE(b.workers, 1U);
  EXPECT_LE(b.workers, b.cpus.size());
}

}  // namespace
}  // namespace nld::resolver::server
