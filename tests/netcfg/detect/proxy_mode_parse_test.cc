// Mode names and option validation: no privileges, no network.
#include <gtest/gtest.h>

#include "netcfg/detect/proxy_mode.h"

namespace nld::netcfg {
namespace {

TEST(ProxyMode, ParsesAndPrintsEveryMode) {
  for (auto m : {ProxyMode::kIptables, ProxyMode::kIpvs, ProxyMode::kNftables}) {
    auto parsed = parseProxyMode(toString(m));
    ASSERT_TRUE(parsed) << toString(m);
    EXPECT_EQ(*parsed, m);
  }
}

TEST(ProxyMode, RejectsUnknownModeNamingIt) {
  for (std::string_view bad : {"", "auto", "IPVS", "kernelspace", "ipvs "}) {
    auto r = parseProxyMode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(r.error().message(), "invalid kube-proxy mode '" + std::string(bad) +
                                       "': expected iptables, ipvs or nftables");
  }
}

TEST(ProxyMode, InvalidMetricsAddressIsAnInputError) {
  for (std::string bad : {"localhost:x", "kube-proxy:10249", "", "https://127.0.0.1:10249"}) {
    ProxyModeOptions o;
    o.metrics_address = bad;
    auto d = detectProxyMode(o);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(d.error().message().rfind("invalid kube-proxy metrics address '" + bad + "'", 0), 0u)
        << d.error().message();
  }
}

}  // namespace
}  // namespace nld::netcfg
