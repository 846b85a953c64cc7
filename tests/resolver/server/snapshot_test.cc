#include "resolver/server/snapshot.h"

#include <gtest/gtest.h>

#include "resolver/dns/name.h"

namespace nld::resolver::server {
namespace {

std::shared_ptr<const Snapshot> build(const std::string& corefile, metrics::Registry& r,
                                      const Snapshot* prev = nullptr) {
  auto cfg = config::parseCorefile(corefile, "Corefile");
  EXPECT_TRUE(cfg.has_value()) << cfg.error().message();
  auto snap = buildSnapshot(std::move(*cfg), prev, r, 1 << 20, 1);
  EXPECT_TRUE(snap.has_value());
  return *snap;
}

const char* kCorefile =
    "cluster.local:53 {\n  cache 30\n  bind 169.254.20.10 10.96.0.10\n"
    "  forward . 10.96.12.34 {\n    force_tcp\n  }\n}\n"
    "in-addr.arpa:53 {\n  cache 30\n  bind 169.254.20.10 10.96.0.10\n  forward . 10.96.12.34\n}\n"
    ".:53 {\n  cache 30\n  bind 169.254.20.10 10.96.0.10\n  forward . 8.8.8.8 1.1.1.1\n}\n";

int routeBlock(const Snapshot& s, size_t listener, const std::string& name) {
  uint8_t wire[255];
  size_t n = dns::nameFromText(name, wire);
  EXPECT_GT(n, 0u);
  const RouteZone* z = s.route(listener, wire, n);
  return z == nullptr ? -1 : z->block;
}

TEST(Snapshot, ListenersAndServerLabels) {
  metrics::Registry r(1);
  auto s = build(kCorefile, r);
  ASSERT_EQ(s->listeners.size(), 2u);
  EXPECT_EQ(s->server_labels[0], "dns://169.254.20.10:53");
  EXPECT_EQ(s->server_labels[1], "dns://10.96.0.10:53");
}

TEST(Snapshot, RoutesByLongestZoneAtLabelBoundaries) {
  metrics::Registry r(1);
  auto s = build(kCorefile, r);
  EXPECT_EQ(routeBlock(*s, 0, "svc.default.svc.cluster.local."), 0);
  EXPECT_EQ(routeBlock(*s, 1, "cluster.local."), 0);
  EXPECT_EQ(routeBlock(*s, 0, "1.0.96.10.in-addr.arpa."), 1);
  EXPECT_EQ(routeBlock(*s, 0, "example.com."), 2);
  EXPECT_EQ(routeBlock(*s, 0, "xcluster.local."), 2);  // not a label boundary
  EXPECT_EQ(routeBlock(*s, 0, "."), 2);
}

TEST(Snapshot, ReloadKeepsUnchangedCachesAndUpstreamState) {
  metrics::Registry r(1);
  auto a = build(kCorefile, r);
  a->groups[2]->upstreams[0]->onFailure();
  auto b = build(kCorefile, r, a.get());
  EXPECT_EQ(a->blocks[0].cache, b->blocks[0].cache);
  EXPECT_EQ(a->groups[2]->upstreams[0], b->groups[2]->upstreams[0]);
  EXPECT_EQ(b->groups[2]->upstreams[0]->fails.load(), 1u);
  std::string changed = kCorefile;
  changed.replace(changed.find("cache 30"), 8, "cache 10");
  auto c = build(changed, r, b.get());
  EXPECT_NE(b->blocks[0].cache, c->blocks[0].cache);
  EXPECT_EQ(b->blocks[1].cache, c->blocks[1].cache);
  EXPECT_GT(c->generation, b->generation);
}

TEST(Snapshot, UnboundBlockListensOnWildcards) {
  metrics::Registry r(1);
  auto s = build(".:1053 {\n  forward . 8.8.8.8\n}\n", r);
  ASSERT_EQ(s->listeners.size(), 2u);
  EXPECT_TRUE(s->listeners[0].ip.isUnspecified());
  EXPECT_EQ(s->listeners[0].port, 1053);
  EXPECT_EQ(s->server_labels[0], "dns://:1053");
  EXPECT_EQ(routeBlock(*s, 1, "example.org."), 0);
}

}  // namespace
}  // namespace nld::resolver::server

namespace nld::resolver::server {
namespace {

std::vector<uint8_t> wireOf(const std::string& text) {
  uint8_t w[255];
  size_t n = dns::nameFromText(text, w);
  return std::vector<uint8_t>(w, w + n);
}

TEST(Snapshot, ForwardFromAndExceptLimitWhatIsForwarded) {
  metrics::Registry r(1);
  auto s = build(
      ".:53 {\n  forward example.org 8.8.8.8 {\n    except internal.example.org\n"
      "  }\n}\n",
      r);
  const auto& b = s->blocks[0];
  auto yes = wireOf("www.example.org.");
  auto apex = wireOf("example.org.");
  auto other = wireOf("www.example.com.");
  auto excepted = wireOf("a.internal.example.org.");
  auto lookalike = wireOf("xexample.org.");
  EXPECT_TRUE(b.forwards(yes.data(), yes.size()));
  EXPECT_TRUE(b.forwards(apex.data(), apex.size()));
  EXPECT_FALSE(b.forwards(other.data(), other.size()));
  EXPECT_FALSE(b.forwards(excepted.data(), excepted.size()));
  EXPECT_FALSE(b.forwards(lookalike.data(), lookalike.size()));
}

}  // namespace
}  // namespace nld::resolver::server

namespace nld::resolver::server {
namespace {

TEST(Snapshot, PluginEnabledListsHandlersOfPrometheusBlocksPerListenHostAndZone) {
  metrics::Registry r(1);
  auto s = build(
      "cluster.local:53 {\n  errors\n  cache 30\n  bind 169.254.20.10 10.96.0.10\n"
      "  forward . 10.96.12.34\n  prometheus :9253\n  reload\n  loop\n}\n"
      "example.org:53 {\n  log\n  bind 169.254.20.10\n  forward . 8.8.8.8\n}\n"
      ".:53 {\n  bind 169.254.20.10\n  forward . 8.8.8.8\n  prometheus :9253\n}\n",
      r);
  std::vector<std::string> got;
  for (const auto& p : s->plugins_enabled) {
    got.push_back(p.server + " " + p.zone + " " + p.name);
  }
  std::vector<std::string> want = {
      "dns://10.96.0.10:53 cluster.local. cache",
      "dns://10.96.0.10:53 cluster.local. errors",
      "dns://10.96.0.10:53 cluster.local. forward",
      "dns://10.96.0.10:53 cluster.local. loop",
      "dns://10.96.0.10:53 cluster.local. prometheus",
      "dns://169.254.20.10:53 . forward",
      "dns://169.254.20.10:53 . prometheus",
      "dns://169.254.20.10:53 cluster.local. cache",
      "dns://169.254.20.10:53 cluster.local. errors",
      "dns://169.254.20.10:53 cluster.local. forward",
      "dns://169.254.20.10:53 cluster.local. loop",
      "dns://169.254.20.10:53 cluster.local. prometheus",
  };
  EXPECT_EQ(got, want);
  ASSERT_EQ(s->dropped_stats.size(), s->listeners.size());
  EXPECT_EQ(s->dropped_stats[0], r.zone("dns://169.254.20.10:53", "dropped"));
}

TEST(Snapshot, CacheScopeFromCacheZonesAndANewCacheWhenTheScopeChanges) {
  metrics::Registry r(1);
  auto a = build(".:53 {\n  cache 30 svc.cluster.local\n  forward . 8.8.8.8\n}\n", r);
  auto in = wireOf("a.svc.cluster.local.");
  auto out = wireOf("example.org.");
  EXPECT_TRUE(a->blocks[0].cache_scope.covers(in.data(), in.size()));
  EXPECT_FALSE(a->blocks[0].cache_scope.covers(out.data(), out.size()));
  auto b = build(
      ".:53 {\n  cache 30 svc.cluster.local {\n    disable denial\n  }\n  forward . 8.8.8.8\n}\n",
      r, a.get());
  EXPECT_NE(a->blocks[0].cache, b->blocks[0].cache);
  EXPECT_FALSE(
      b->blocks[0].cache_scope.mayStore(in.data(), in.size(), dns::ResponseType::kNameError));
  EXPECT_TRUE(b->blocks[0].cache_scope.mayStore(in.data(), in.size(), dns::ResponseType::kNoError));
}

}  // namespace
}  // namespace nld::resolver::server
