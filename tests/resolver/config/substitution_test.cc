#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "resolver/config/config.h"
#include "tests/support/netns.h"

namespace nld::resolver::config {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
SocketAddress sa(const char* s, uint16_t port = 53) { return SocketAddress{ip(s), port}; }

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// Compares with tests/resolver/config/golden/<name>; NLD_UPDATE_GOLDEN=1 rewrites the file.
void expectGolden(const std::string& name, const std::string& actual) {
  const std::string path = test::sourcePath("tests/resolver/config/golden/" + name);
  if (const char* u = std::getenv("NLD_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(readText(path), actual)
      << "golden " << path << " differs (NLD_UPDATE_GOLDEN=1 to accept)";
}

enum class Mode { kIptables, kIpvs };

struct Flavour {
  const char* name;
  Mode mode;
  bool v6;
};

struct Addresses {
  std::string local, kube_dns, kube_dns_upstream;
};

Addresses addressesFor(bool v6) {
  return v6 ? Addresses{"fd00::10", "fd00:96::a", "fd00:96::1234"}
            : Addresses{"169.254.20.10", "10.96.0.10", "10.96.12.34"};
}

// What the docs tell the user to run on the manifest before applying it (spec §5.1).
std::string userSed(std::string base, const Flavour& f) {
  const Addresses a = addressesFor(f.v6);
  if (f.v6) {
    replaceAll(base, "__PILLAR__LOCAL__DNS__:8080", "[__PILLAR__LOCAL__DNS__]:8080");
  }
  replaceAll(base, "__PILLAR__LOCAL__DNS__", a.local);
  replaceAll(base, "__PILLAR__DNS__DOMAIN__", "cluster.local");
  if (f.mode == Mode::kIptables) {
    replaceAll(base, "__PILLAR__DNS__SERVER__", a.kube_dns);
  } else {
    replaceAll(base, ",__PILLAR__DNS__SERVER__", "");
    replaceAll(base, "__PILLAR__CLUSTER__DNS__", a.kube_dns);
  }
  return base;
}

// What node-cache gets at run time for that flavour.
SubstitutionParams runtimeParams(const Flavour& f, bool with_kube_dns) {
  const Addresses a = addressesFor(f.v6);
  SubstitutionParams p;
  p.local_ips = {ip(a.local.c_str())};
  if (f.mode == Mode::kIptables) {
    p.local_ips.push_back(ip(a.kube_dns.c_str()));
    p.cluster_dns = ip(a.kube_dns_upstream.c_str());  // $KUBE_DNS_UPSTREAM_SERVICE_HOST
  }
  if (with_kube_dns) {
    p.kube_dns.upstream_nameservers = {"192.0.2.8", "[2001:db8::8]:53"};
    p.kube_dns.stub_domains["corp.example"] = {"10.0.0.1:5353", "10.0.0.2"};
    p.kube_dns.stub_domains["acme.local"] = {"1.2.3.4"};
  }
  return p;
}

ParseOptions fakeResolvConf() {
  ParseOptions o;
  o.read_file = [](const std::string& path) -> Result<std::string> {
    if (path == "/etc/resolv.conf") {
      return std::string("nameserver 192.0.2.1\nnameserver 192.0.2.2\n");
    }
    return fail(Errc::kNotFound, "read '" + path + "': No such file or directory");
  };
  return o;
}

const Flavour kFlavours[] = {
    {"iptables-v4", Mode::kIptables, false},
    {"iptables-v6", Mode::kIptables, true},
    {"ipvs-v4", Mode::kIpvs, false},
    {"ipvs-v6", Mode::kIpvs, true},
};

// The manifest Corefile → user sed → run-time substitution → parse → route as CoreDNS would.
void checkManifestCorefile(const std::string& base, bool golden) {
  for (const auto& f : kFlavours) {
    for (bool with_kube_dns : {false, true}) {
      SCOPED_TRACE(std::string(f.name) + (with_kube_dns ? " with kube-dns ConfigMap" : ""));
      const Addresses a = addressesFor(f.v6);
      auto params = runtimeParams(f, with_kube_dns);
      auto text = renderRuntimeCorefile(userSed(base, f), params);
      ASSERT_TRUE(text) << text.error().message();
      EXPECT_EQ(text->find("__PILLAR__"), std::string::npos) << *text;
      if (golden) {
        expectGolden(std::string(f.name) + (with_kube_dns ? "-kubedns" : "") + ".Corefile", *text);
      }
      ParseOptions o = fakeResolvConf();
      o.own_addresses = params.local_ips;
      auto config = parseCorefile(*text, "/etc/Corefile", o);
      ASSERT_TRUE(config) << config.error().message() << "\n" << *text;
      const auto& c = *config;
      ASSERT_EQ(c.blocks.size(), with_kube_dns ? 6u : 4u);

      const IpAddress local = ip(a.local.c_str());
      const auto* cluster = c.route("kubernetes.default.svc.cluster.local.", local, 53);
      const auto* rev4 = c.route("10.0.96.10.in-addr.arpa.", local, 53);
      const auto* rev6 = c.route("1.0.0.0.ip6.arpa.", local, 53);
      const auto* root = c.route("example.com.", local, 53);
      ASSERT_TRUE(cluster && rev4 && rev6 && root);
      EXPECT_EQ(cluster->zones, std::vector<std::string>{"cluster.local."});
      EXPECT_EQ(rev4->zones, std::vector<std::string>{"in-addr.arpa."});
      EXPECT_EQ(rev6->zones, std::vector<std::string>{"ip6.arpa."});
      EXPECT_EQ(root->zones, std::vector<std::string>{"."});
      // In iptables mode the kube-dns IP is ours too (NOTRACK interception).
      const IpAddress kube = ip(a.kube_dns.c_str());
      EXPECT_EQ(c.route("example.com.", kube, 53), f.mode == Mode::kIptables ? root : nullptr);

      // Cluster zone and reverse zones: kube-dns over TCP.
      const SocketAddress cluster_upstream =
          f.mode == Mode::kIptables ? sa(a.kube_dns_upstream.c_str()) : sa(a.kube_dns.c_str());
      for (const auto* b : {cluster, rev4, rev6}) {
        ASSERT_TRUE(b->forward);
        EXPECT_EQ(b->forward->to, std::vector<SocketAddress>{cluster_upstream});
        EXPECT_TRUE(b->forward->force_tcp);
        EXPECT_TRUE(b->loop && b->reload && b->errors);
        EXPECT_EQ(b->prometheus, (SocketAddress{IpAddress(), 9253}));
      }
      ASSERT_TRUE(cluster->cache);
      EXPECT_EQ(cluster->cache->success_max_ttl, 30u);
      EXPECT_EQ(cluster->cache->denial_max_ttl, 5u);
      EXPECT_EQ(cluster->cache->denial_min_ttl, 5u);
      EXPECT_EQ(rev4->cache->success_max_ttl, 30u);
      EXPECT_EQ(rev4->cache->denial_max_ttl, 30u);
      ASSERT_TRUE(cluster->health);
      EXPECT_EQ(*cluster->health, sa(a.local.c_str(), 8080));

      // Everything else: the node's resolvers (or upstreamNameservers), client protocol.
      ASSERT_TRUE(root->forward);
      EXPECT_FALSE(root->forward->force_tcp);
      if (with_kube_dns) {
        EXPECT_EQ(root->forward->to,
                  (std::vector<SocketAddress>{sa("192.0.2.8"), sa("2001:db8::8")}));
        const auto* acme = c.route("www.acme.local.", local, 53);
        ASSERT_TRUE(acme);
        EXPECT_EQ(acme->zones, std::vector<std::string>{"acme.local."});
        EXPECT_EQ(acme->forward->to, std::vector<SocketAddress>{sa("1.2.3.4")});
        EXPECT_EQ(acme->bind, params.local_ips);
        ASSERT_TRUE(acme->cache);
        EXPECT_EQ(acme->cache->success_max_ttl, 30u);
        EXPECT_EQ(acme->prometheus, (SocketAddress{IpAddress(), 9253}));  // ours: with metrics
        const auto* corp = c.route("x.corp.example.", local, 53);
        ASSERT_TRUE(corp);
        EXPECT_EQ(corp->forward->to,
                  (std::vector<SocketAddress>{sa("10.0.0.1", 5353), sa("10.0.0.2")}));
        // Sorted: acme.local before corp.example, after the base blocks.
        EXPECT_EQ(acme, &c.blocks[4]);
        EXPECT_EQ(corp, &c.blocks[5]);
      } else {
        EXPECT_EQ(root->forward->to,
                  (std::vector<SocketAddress>{sa("192.0.2.1"), sa("192.0.2.2")}));
      }
    }
  }
}

TEST(RuntimeCorefile, UpstreamConfigMapCorefileInAllFlavours) {
  checkManifestCorefile(
      readText(test::sourcePath("tests/resolver/config/testdata/upstream-configmap.Corefile")),
      /*golden=*/true);
}

TEST(RuntimeCorefile, OurTemplateCorefileInAllFlavours) {
  const std::string path = test::sourcePath("templates/Corefile.in");
  if (!std::ifstream(path)) {
    GTEST_SKIP() << "templates/Corefile.in not present";
  }
  checkManifestCorefile(readText(path), /*golden=*/false);
}

TEST(RuntimeCorefile, ForceTcpUpstreamBlockIsRewrittenLikeUpstream) {
  const std::string base =
      ".:53 {\n    errors\n    forward . __PILLAR__UPSTREAM__SERVERS__ {\n            force_tcp\n"
      "    }\n}\n";
  SubstitutionParams p;
  p.local_ips = {ip("169.254.20.10")};
  auto plain = renderRuntimeCorefile(base, p);
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(*plain,
            ".:53 {\n    errors\n    forward . /etc/resolv.conf {\n            force_tcp\n"
            "    }\n}\n");
  p.kube_dns.upstream_nameservers = {"8.8.8.8", "8.8.4.4"};
  auto with = renderRuntimeCorefile(base, p);
  ASSERT_TRUE(with) << with.error().message();
  EXPECT_EQ(*with, ".:53 {\n    errors\n    forward . 8.8.8.8 8.8.4.4\n}\n");
}

TEST(RuntimeCorefile, MissingClusterDnsIsAnErrorNotNil) {
  SubstitutionParams p;
  p.local_ips = {ip("169.254.20.10")};
  auto r = renderRuntimeCorefile(".:53 {\n forward . __PILLAR__CLUSTER__DNS__\n}\n", p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("needs __PILLAR__CLUSTER__DNS__ but the upstream service IP "
                                     "is unknown"),
            std::string::npos)
      << r.error().message();
  // Not needed (IPVS mode, already substituted): fine without it.
  EXPECT_TRUE(renderRuntimeCorefile(".:53 {\n forward . 10.96.0.10\n}\n", p));
}

TEST(RuntimeCorefile, LocalDnsAsHostPortTakesTheFirstAddress) {
  SubstitutionParams p;
  p.local_ips = {ip("fd00::10"), ip("fd00:96::a")};
  auto r = renderRuntimeCorefile(
      ".:53 {\n bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__\n health "
      "__PILLAR__LOCAL__DNS__:8080\n"
      " prometheus [__PILLAR__LOCAL__DNS__]:9253\n}\n",
      p);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r,
            ".:53 {\n bind fd00::10 fd00:96::a \n health [fd00::10]:8080\n"
            " prometheus [fd00::10]:9253\n}\n");
  p.local_ips = {ip("169.254.20.10"), ip("10.96.0.10")};
  r = renderRuntimeCorefile(".:53 {\n health __PILLAR__LOCAL__DNS__:8080\n}\n", p);
  EXPECT_EQ(*r, ".:53 {\n health 169.254.20.10:8080\n}\n");
}

TEST(RuntimeCorefile, StubBlocksAndPrometheus) {
  SubstitutionParams p;
  p.local_ips = {ip("169.254.20.10")};
  p.port = 1053;
  p.kube_dns.stub_domains["zeta.example"] = {"192.0.2.3"};
  p.kube_dns.stub_domains["alpha.example"] = {"192.0.2.1", "192.0.2.2:5353"};
  auto without = renderRuntimeCorefile(".:1053 {\n errors\n}\n", p);
  ASSERT_TRUE(without);
  EXPECT_EQ(*without,
            ".:1053 {\n errors\n}\n"
            "\nalpha.example:1053 {\n    errors\n    cache 30\n    bind 169.254.20.10\n"
            "    forward . 192.0.2.1 192.0.2.2:5353\n}\n"
            "\nzeta.example:1053 {\n    errors\n    cache 30\n    bind 169.254.20.10\n"
            "    forward . 192.0.2.3\n}\n");
  p.prometheus_endpoint = "127.0.0.1:9999";
  auto with = renderRuntimeCorefile(".:1053 {\n prometheus __PROMETHEUS__ENDPOINT__\n}\n", p);
  ASSERT_TRUE(with);
  EXPECT_NE(with->find("    forward . 192.0.2.3\n    prometheus 127.0.0.1:9999\n}\n"),
            std::string::npos)
      << *with;
  EXPECT_EQ(with->find("__PROMETHEUS"), std::string::npos);
}

TEST(RuntimeCorefile, StubDomainClashingWithABaseZoneFailsToParseNotToRender) {
  // CoreDNS refuses the same zone twice on one address and port; so does parseCorefile, and the
  // caller keeps serving the previous config.
  SubstitutionParams p;
  p.local_ips = {ip("169.254.20.10")};
  p.kube_dns.stub_domains["cluster.local"] = {"192.0.2.1"};
  auto text = renderRuntimeCorefile(
      "cluster.local:53 {\n    bind 169.254.20.10\n    forward . 10.96.0.10\n}\n", p);
  ASSERT_TRUE(text) << text.error().message();
  auto config = parseCorefile(*text, "/etc/Corefile");
  ASSERT_FALSE(config);
  EXPECT_EQ(
      config.error().message(),
      "/etc/Corefile:6: cannot serve zone 'cluster.local.' on port 53: already defined at line 1");
}

TEST(RuntimeCorefile, InvalidKubeDnsConfigOrNoLocalIpIsAnError) {
  SubstitutionParams p;
  p.local_ips = {ip("169.254.20.10")};
  p.kube_dns.upstream_nameservers = {"not-an-ip"};
  auto r = renderRuntimeCorefile(".:53 {\n}\n", p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("kube-dns ConfigMap key 'upstreamNameservers': "
                                     "'not-an-ip' is not an IP address"),
            std::string::npos)
      << r.error().message();
  SubstitutionParams none;
  EXPECT_FALSE(renderRuntimeCorefile(".:53 {\n}\n", none));
}

}  // namespace
}  // namespace nld::resolver::config
