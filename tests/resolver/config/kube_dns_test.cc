#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "resolver/config/config.h"
#include "tests/support/netns.h"

namespace nld::resolver::config {
namespace {

void write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// kubelet's ConfigMap volume: ..<timestamp>/ holds the files, ..data → it, key → ..data/key.
void kubeletLayout(const test::TempDir& dir, const std::map<std::string, std::string>& keys,
                   const std::string& stamp = "..2026_11_24_15_40_00.000000001") {
  std::string real = dir.file(stamp);
  ::mkdir(real.c_str(), 0755);
  for (const auto& [k, v] : keys) {
    write(real + "/" + k, v);
  }
  ::unlink(dir.file("..data_tmp").c_str());
  ASSERT_EQ(::symlink(stamp.c_str(), dir.file("..data_tmp").c_str()), 0);
  ASSERT_EQ(::rename(dir.file("..data_tmp").c_str(), dir.file("..data").c_str()), 0);
  for (const auto& [k, v] : keys) {
    ::symlink(("..data/" + k).c_str(), dir.file(k).c_str());
  }
}

TEST(KubeDnsConfig, ReadsKubeletSymlinkLayout) {
  test::TempDir dir;
  kubeletLayout(
      dir, {{"stubDomains",
             R"({"acme.local": ["1.2.3.4"], "corp.example": ["10.0.0.1:5353", "[fd00::53]:53"]})"},
            {"upstreamNameservers", R"(["8.8.8.8", "8.8.4.4:53"])"}});
  auto c = loadKubeDnsConfigDir(dir.path());
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->stub_domains.size(), 2u);
  EXPECT_EQ(c->stub_domains.at("acme.local"), std::vector<std::string>{"1.2.3.4"});
  EXPECT_EQ(c->stub_domains.at("corp.example"),
            (std::vector<std::string>{"10.0.0.1:5353", "[fd00::53]:53"}));
  EXPECT_EQ(c->upstream_nameservers, (std::vector<std::string>{"8.8.8.8", "8.8.4.4:53"}));
  EXPECT_EQ(c->version.size(), 64u);
  EXPECT_TRUE(c->notes.empty());

  // The same content gives the same version; kubelet's swap to new content changes it.
  EXPECT_EQ(loadKubeDnsConfigDir(dir.path())->version, c->version);
  kubeletLayout(dir,
                {{"stubDomains", R"({"acme.local": ["1.2.3.5"]})"},
                 {"upstreamNameservers", R"(["8.8.8.8", "8.8.4.4:53"])"}},
                "..2026_11_24_15_41_00.000000002");
  auto d = loadKubeDnsConfigDir(dir.path());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->stub_domains.at("acme.local"), std::vector<std::string>{"1.2.3.5"});
  EXPECT_NE(d->version, c->version);
}

TEST(KubeDnsConfig, EmptyMissingAndOddEntries) {
  test::TempDir dir;
  auto empty = loadKubeDnsConfigDir(dir.path());
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(empty->stub_domains.empty());
  EXPECT_TRUE(empty->upstream_nameservers.empty());
  EXPECT_EQ(empty->version, "");

  auto missing = loadKubeDnsConfigDir(dir.file("nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);

  ::mkdir(dir.file("subdir").c_str(), 0755);
  write(dir.file("subdir/stubDomains"), "not json");
  write(dir.file(".hidden"), "not json");
  write(dir.file("federations"), R"({"myfed": "example.com"})");
  write(dir.file("someOtherKey"), "whatever");
  auto c = loadKubeDnsConfigDir(dir.path());
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->notes, (std::vector<std::string>{
                          "kube-dns ConfigMap key 'federations' has no effect, ignoring",
                          "unknown kube-dns ConfigMap key 'someOtherKey', ignoring"}));
}

TEST(KubeDnsConfig, InvalidJsonAndValidationErrors) {
  struct Case {
    std::map<std::string, std::string> files;
    const char* message;
  };
  const Case cases[] = {
      {{{"stubDomains", "{\"acme.local\": [\"1.2.3.4\"]"}},
       "kube-dns ConfigMap key 'stubDomains': invalid JSON at offset 26: expected ',' or '}'"},
      {{{"stubDomains", ""}}, "kube-dns ConfigMap key 'stubDomains': invalid JSON at offset 0"},
      {{{"upstreamNameservers", "8.8.8.8"}},
       "kube-dns ConfigMap key 'upstreamNameservers': invalid JSON"},
      {{{"stubDomains", R"(["1.2.3.4"])"}},
       "kube-dns ConfigMap key 'stubDomains': expected a JSON object, got array"},
      {{{"stubDomains", R"({"acme.local": "1.2.3.4"})"}},
       "kube-dns ConfigMap key 'stubDomains': 'acme.local': expected a JSON array of strings, got "
       "string"},
      {{{"upstreamNameservers", R"([8.8.8.8])"}}, "invalid JSON"},
      {{{"upstreamNameservers", R"([53])"}},
       "kube-dns ConfigMap key 'upstreamNameservers': expected strings in the array, got number"},
      {{{"stubDomains", R"({"Acme_Local": ["1.2.3.4"]})"}},
       "kube-dns ConfigMap key 'stubDomains': invalid domain name 'Acme_Local'"},
      {{{"stubDomains", R"({"acme.local.": ["1.2.3.4"]})"}},
       "kube-dns ConfigMap key 'stubDomains': invalid domain name 'acme.local.'"},
      {{{"stubDomains", R"({"acme.local": []})"}},
       "kube-dns ConfigMap key 'stubDomains': 'acme.local' has no nameservers"},
      {{{"stubDomains", R"({"acme.local": ["dns.acme.local"]})"}},
       "kube-dns ConfigMap key 'stubDomains': 'acme.local': 'dns.acme.local' is not an IP address "
       "or "
       "IP:port"},
      {{{"stubDomains", R"({"acme.local": ["1.2.3.4:70000"]})"}},
       "'1.2.3.4:70000' is not an IP address or IP:port"},
      {{{"upstreamNameservers", R"(["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"])"}},
       "kube-dns ConfigMap key 'upstreamNameservers': cannot have more than three entries"},
      {{{"upstreamNameservers", R"(["/etc/resolv.conf"])"}},
       "kube-dns ConfigMap key 'upstreamNameservers': '/etc/resolv.conf' is not an IP address or "
       "IP:port"},
      {{{"upstreamNameservers", "[\"\xff\xfe\"]"}},
       "kube-dns ConfigMap key 'upstreamNameservers' is not valid UTF-8"},
  };
  for (const auto& c : cases) {
    auto r = parseKubeDnsConfig(c.files);
    ASSERT_FALSE(r) << c.files.begin()->second;
    EXPECT_NE(r.error().message().find(c.message), std::string::npos)
        << "got:      " << r.error().message() << "\nexpected: " << c.message;
  }
}

TEST(KubeDnsConfig, JsonDetails) {
  auto r = parseKubeDnsConfig({{"stubDomains", " {\"a\\u002eexample\" : [\"1.2.3.4\"]} "},
                               {"upstreamNameservers", "null"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stub_domains.count("a.example"), 1u);
  EXPECT_TRUE(r->upstream_nameservers.empty());
  // Go unmarshals a null list into a nil slice and kube-dns accepts it; node-cache would then
  // write "forward . " (a broken block). We reject it.
  auto n = parseKubeDnsConfig({{"stubDomains", R"({"b.example": null})"}});
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message().find("'b.example' has no nameservers"), std::string::npos);
}

TEST(KubeDnsConfig, DirErrorNamesTheKeyAndItsFile) {
  test::TempDir dir;
  write(dir.file("stubDomains"), "{");
  auto r = loadKubeDnsConfigDir(dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("kube-dns ConfigMap key 'stubDomains' ('" + dir.path() +
                                          "/stubDomains'): invalid JSON",
                                      0),
            0u)
      << r.error().message();
}

// A 64-octet label is a DNS-1123 subdomain for Kubernetes (IsDNS1123Subdomain checks only the
// total length), so kube-dns accepted it; the Corefile block rendered from it then failed to
// parse, which made `run` exit at start-up. It is now a ConfigMap validation error that names
// the key and its file.
TEST(KubeDnsConfig, StubDomainLabelLongerThan63OctetsIsAConfigMapError) {
  const std::string label64(64, 'a');
  const std::string label63(63, 'a');
  test::TempDir dir;
  write(dir.file("stubDomains"), "{\"" + label64 + ".example\": [\"10.0.0.1\"]}");
  auto r = loadKubeDnsConfigDir(dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "kube-dns ConfigMap key 'stubDomains' ('" + dir.path() +
                                     "/stubDomains'): invalid domain name '" + label64 +
                                     ".example' (label '" + label64 +
                                     "' is 64 octets long, DNS allows at most 63)");
  write(dir.file("stubDomains"), "{\"" + label63 + ".example\": [\"10.0.0.1\"]}");
  auto ok = loadKubeDnsConfigDir(dir.path());
  ASSERT_TRUE(ok) << ok.error().message();
  // What validation accepts, the Corefile parser accepts.
  SubstitutionParams p;
  p.local_ips = {*IpAddress::parse("169.254.20.10")};
  p.kube_dns = *ok;
  auto text = renderRuntimeCorefile(".:53 {\n    forward . 192.0.2.1\n}\n", p);
  ASSERT_TRUE(text) << text.error().message();
  auto parsed = parseCorefile(*text, "Corefile");
  EXPECT_TRUE(parsed) << parsed.error().message();
}

}  // namespace
}  // namespace nld::resolver::config
