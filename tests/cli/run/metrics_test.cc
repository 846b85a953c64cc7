// `run`'s own metrics (cli/run/metrics.h): the health plugin's histogram and failure counter,
// coredns_reload_version_info with the SHA-512 of the served Corefile, the process_* family.
#include "cli/run/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "cli/run/process.h"
#include "cli/run/sha512.h"

namespace nld::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Sha512, KnownVectors) {
  // FIPS 180-4 examples and the block-boundary lengths (cross-checked with sha512sum).
  EXPECT_EQ(sha512Hex(""),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff83"
            "18d2877eec2f63b931bd47417a81a538327af927da3e");
  EXPECT_EQ(sha512Hex("abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba"
            "3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(sha512Hex(std::string(1000000, 'a')),
            "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0"
            "432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
  EXPECT_EQ(sha512Hex(std::string(111, 'x')),
            "9a2a120825c2319867758ec277924f6faa254968bf752046dacdd948d8ad299b10359fd04bfd7d3810b5"
            "fa1b16a294236138baff981cbb85248478053ac4d3dd");
  EXPECT_EQ(sha512Hex(std::string(112, 'x')),
            "a3722b515ef40c910f2419f6e0da8ca51d410114ce6272faae64045f9e9f630e7fa8dd5a3243c9860b89"
            "9d148c3da4bc0f9e07454542604d030bb55531fe0d5b");
  EXPECT_EQ(sha512Hex(std::string(128, 'x')),
            "e2e22f8422b54b06e35c3ea30a383d1de7a8fbc27992923074103117020d8dd7024c3ecf7d6d1a15a6de"
            "5a75ff32fb486b9e8ced4c02ffe05822bf2cb734d0e0");
}

TEST(RunMetrics, HealthRequestsUseCoreDnsSlimBucketsAndCountFailures) {
  RunMetrics m;
  std::string before = m.render("");
  EXPECT_THAT(before, HasSubstr("# TYPE coredns_health_request_duration_seconds histogram\n"));
  EXPECT_THAT(before, HasSubstr("# TYPE coredns_health_request_failures_total counter\n"));
  EXPECT_THAT(before, HasSubstr("\ncoredns_health_request_failures_total 0\n"));
  using std::chrono::microseconds;
  m.observeHealth(microseconds(100), true);         // le=0.00025
  m.observeHealth(microseconds(3000), true);        // le=0.025
  m.observeHealth(microseconds(400000), false);     // le=2.5
  m.observeHealth(std::chrono::seconds(3), false);  // +Inf only
  std::string text = m.render("");
  EXPECT_THAT(text, HasSubstr("coredns_health_request_duration_seconds_bucket{le=\"0.00025\"} 1\n"
                              "coredns_health_request_duration_seconds_bucket{le=\"0.0025\"} 1\n"
                              "coredns_health_request_duration_seconds_bucket{le=\"0.025\"} 2\n"
                              "coredns_health_request_duration_seconds_bucket{le=\"0.25\"} 2\n"
                              "coredns_health_request_duration_seconds_bucket{le=\"2.5\"} 3\n"
                              "coredns_health_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                              "coredns_health_request_duration_seconds_sum 3.4031\n"
                              "coredns_health_request_duration_seconds_count 4\n"));
  EXPECT_THAT(text, HasSubstr("\ncoredns_health_request_failures_total 2\n"));
}

TEST(RunMetrics, ReloadVersionInfoIsTheSha512OfTheCorefileWhileReloadIsOn) {
  RunMetrics m;
  EXPECT_THAT(m.render(""), Not(HasSubstr("coredns_reload_version_info")));
  m.setCorefile(".:53 {\n    reload\n}\n", true);
  std::string text = m.render("");
  EXPECT_THAT(text, HasSubstr("# TYPE coredns_reload_version_info gauge\n"
                              "coredns_reload_version_info{hash=\"sha512\",value=\"" +
                              sha512Hex(".:53 {\n    reload\n}\n") + "\"} 1\n"));
  m.setCorefile(".:53 {\n}\n", false);  // reloaded without the reload plugin: no series
  EXPECT_THAT(m.render(""), Not(HasSubstr("coredns_reload_version_info")));
}

TEST(ProcessMetrics, MaxFdsIsTheSoftLimitAndVirtualMemoryIsAtLeastResident) {
  struct rlimit nofile {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  std::string text = renderProcessMetrics();
  EXPECT_THAT(text, HasSubstr("# TYPE process_max_fds gauge\nprocess_max_fds " +
                              std::to_string(nofile.rlim_cur) + "\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_virtual_memory_bytes gauge\n"));
  auto value = [&](const std::string& name) {
    auto p = text.find("\n" + name + " ");
    return p == std::string::npos ? -1.0 : std::stod(text.substr(p + name.size() + 2));
  };
  EXPECT_GE(value("process_virtual_memory_bytes"), value("process_resident_memory_bytes"));
  EXPECT_GT(value("process_resident_memory_bytes"), 0);
  // A lower soft limit shows at the next scrape.
  struct rlimit lower = nofile;
  lower.rlim_cur = nofile.rlim_cur > 100 ? nofile.rlim_cur - 1 : nofile.rlim_cur;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lower), 0);
  EXPECT_THAT(renderProcessMetrics(),
              HasSubstr("\nprocess_max_fds " + std::to_string(lower.rlim_cur) + "\n"));
  ::setrlimit(RLIMIT_NOFILE, &nofile);
}

}  // namespace
}  // namespace nld::cli
