#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "resolver/config/config.h"

namespace nld::resolver::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
SocketAddress sa(const char* s, uint16_t port) { return SocketAddress{ip(s), port}; }

// A read_file that serves an in-memory file system.
struct FakeFs {
  std::map<std::string, std::string> files;
  ParseOptions options() const {
    ParseOptions o;
    o.read_file = [this](const std::string& p) -> Result<std::string> {
      auto it = files.find(p);
      if (it == files.end()) {
        return fail(Errc::kNotFound, "read '" + p + "': No such file or directory");
      }
      return it->second;
    };
    return o;
  }
};

Result<Config> parse(std::string_view text, const ParseOptions& o = {}) {
  return parseCorefile(text, "Corefile", o);
}

const ServerBlock& only(const Config& c) {
  EXPECT_EQ(c.blocks.size(), 1u);
  return c.blocks.front();
}

// ---------------------------------------------------------------------------------------------
// Server block keys and structure

TEST(CorefileParser, ZoneKeysAreNormalized) {
  struct Case {
    const char* text;
    std::vector<std::string> zones;
    uint16_t port;
  };
  const Case cases[] = {
      {". {\n}\n", {"."}, 53},
      {".:53 {\n}\n", {"."}, 53},
      {"Cluster.LOCAL:5353 {\n}\n", {"cluster.local."}, 5353},
      {"cluster.local. {\n}\n", {"cluster.local."}, 53},
      {"dns://example.org:1053 {\n}\n", {"example.org."}, 1053},
      {"a.example b.example {\n}\n", {"a.example.", "b.example."}, 53},
      {"a.example, b.example {\n}\n", {"a.example.", "b.example."}, 53},
      {"a.example,\nb.example {\n}\n", {"a.example.", "b.example."}, 53},
      {"10.0.0.0/24 {\n}\n", {"0.0.10.in-addr.arpa."}, 53},
      {"10.0.0.0/23 {\n}\n", {"0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa."}, 53},
      {"10.0.0.0/8:53 {\n}\n", {"10.in-addr.arpa."}, 53},
      {"[fd00::/64]:53 {\n}\n", {"0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."}, 53},
      {"in-addr.arpa:53 {\n}\n", {"in-addr.arpa."}, 53},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text);
    ASSERT_TRUE(r) << c.text << " → " << r.error().message();
    EXPECT_EQ(only(*r).zones, c.zones) << c.text;
    EXPECT_EQ(only(*r).port, c.port) << c.text;
  }
}

TEST(CorefileParser, DefaultPortComesFromOptions) {
  ParseOptions o;
  o.default_port = 1053;
  auto r = parse(". {\n}\nexample.org:53 {\n}\n", o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->blocks[0].port, 1053);
  EXPECT_EQ(r->blocks[1].port, 53);
}

TEST(CorefileParser, SingleBlockWithoutBraces) {
  auto r = parse(".\nerrors\nloop\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(only(*r).errors);
  EXPECT_TRUE(only(*r).loop);
}

TEST(CorefileParser, CommentsQuotesAndEnvironment) {
  ::setenv("NLD_TEST_UPSTREAM", "192.0.2.53", 1);
  ::setenv("NLD_TEST_ZONE", "Example.ORG", 1);
  ::unsetenv("NLD_TEST_UNSET");
  auto r = parse(
      "# a comment line\n"
      "{$NLD_TEST_ZONE}:53 { # trailing comment\n"
      "    errors#glued comment\n"
      "    forward \".\" {$NLD_TEST_UPSTREAM} {%NLD_TEST_UPSTREAM%}:5353\n"
      "    bind 127.0.0.1{$NLD_TEST_UNSET}\n"
      "}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& b = only(*r);
  EXPECT_EQ(b.zones, std::vector<std::string>{"example.org."});
  EXPECT_TRUE(b.errors);
  ASSERT_TRUE(b.forward);
  EXPECT_EQ(b.forward->from, ".");
  EXPECT_EQ(b.forward->to,
            (std::vector<SocketAddress>{sa("192.0.2.53", 53), sa("192.0.2.53", 5353)}));
  EXPECT_EQ(b.bind, std::vector<IpAddress>{ip("127.0.0.1")});
  EXPECT_EQ(b.line, 2);
  EXPECT_EQ(b.file, "Corefile");
}

TEST(CorefileParser, ByteOrderMarkAndCrlf) {
  auto r = parse("\xEF\xBB\xBF.:53 {\r\n    errors\r\n}\r\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(only(*r).zones, std::vector<std::string>{"."});
  EXPECT_TRUE(only(*r).errors);
}

TEST(CorefileParser, InjectedEnvironment) {
  ParseOptions o;
  o.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "ZONE") {
      return "injected.example";
    }
    return std::nullopt;
  };
  auto r = parse("{$ZONE} {%ZONE%}:53 {$MISSING}x {\n}\n", o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(only(*r).zones, (std::vector<std::string>{"injected.example.", "x."}));
}

TEST(CorefileParser, NotesCollectsEveryBlock) {
  FakeFs fs;
  fs.files["/etc/resolv.conf"] = "nameserver 169.254.20.10\nnameserver 192.0.2.1\n";
  auto r = parse(
      "cluster.local {\n debug\n}\n.:53 {\n bind 169.254.20.10\n"
      " forward . /etc/resolv.conf\n}\n",
      fs.options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->notes(),
            (std::vector<std::string>{
                "Corefile:2: directive 'debug' has no effect in nodelocaldns, ignoring",
                "Corefile:4: .: forward: dropped 169.254.20.10:53 (from /etc/resolv.conf): it is "
                "one of our own addresses (forwarding loop)"}));
}

// ---------------------------------------------------------------------------------------------
// Directives

TEST(CorefileParser, CacheForms) {
  struct Case {
    const char* body;
    std::function<void(const CacheConfig&)> check;
  };
  const Case cases[] = {
      {"cache",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_capacity, 9984u);
         EXPECT_EQ(c.success_max_ttl, 3600u);
         EXPECT_EQ(c.success_min_ttl, 5u);
         EXPECT_EQ(c.denial_capacity, 9984u);
         EXPECT_EQ(c.denial_max_ttl, 1800u);
         EXPECT_EQ(c.denial_min_ttl, 5u);
         EXPECT_EQ(c.servfail_ttl, seconds(5));
         EXPECT_FALSE(c.prefetch);
         EXPECT_FALSE(c.serve_stale);
         EXPECT_FALSE(c.keepttl);
         EXPECT_TRUE(c.zones.empty());
       }},
      {"cache 30",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_max_ttl, 30u);
         EXPECT_EQ(c.denial_max_ttl, 30u);
         EXPECT_EQ(c.success_min_ttl, 5u);
       }},
      {"cache 30 Example.org sub.example.org.",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_max_ttl, 30u);
         EXPECT_EQ(c.zones, (std::vector<std::string>{"example.org.", "sub.example.org."}));
       }},
      // Not a number: CoreDNS takes it as a zone.
      {"cache example.org",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_max_ttl, 3600u);
         EXPECT_EQ(c.zones, std::vector<std::string>{"example.org."});
       }},
      {"cache {\n success 9984 30\n denial 9984 5\n }",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_capacity, 9984u);
         EXPECT_EQ(c.success_max_ttl, 30u);
         EXPECT_EQ(c.success_min_ttl, 5u);
         EXPECT_EQ(c.denial_capacity, 9984u);
         EXPECT_EQ(c.denial_max_ttl, 5u);
         EXPECT_EQ(c.denial_min_ttl, 5u);
       }},
      // Capacity: multiple of 256, at least 4 per shard (1024).
      {"cache {\n success 10000 60 10\n denial 100\n }",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_capacity, 9984u);
         EXPECT_EQ(c.success_max_ttl, 60u);
         EXPECT_EQ(c.success_min_ttl, 10u);
         EXPECT_EQ(c.denial_capacity, 1024u);
         EXPECT_EQ(c.denial_max_ttl, 1800u);
       }},
      {"cache {\n success 5000 30 0\n }",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_capacity, 4864u);
         EXPECT_EQ(c.success_min_ttl, 0u);
       }},
      {"cache {\n prefetch 10\n }",
       [](const CacheConfig& c) {
         EXPECT_TRUE(c.prefetch);
         EXPECT_EQ(c.prefetch_amount, 10u);
         EXPECT_EQ(c.prefetch_duration, seconds(60));
         EXPECT_EQ(c.prefetch_percentage, 10u);
       }},
      {"cache {\n prefetch 2 10m 20%\n }",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.prefetch_amount, 2u);
         EXPECT_EQ(c.prefetch_duration, seconds(600));
         EXPECT_EQ(c.prefetch_percentage, 20u);
       }},
      {"cache {\n serve_stale\n }",
       [](const CacheConfig& c) {
         EXPECT_TRUE(c.serve_stale);
         EXPECT_EQ(c.stale_duration, seconds(3600));
         EXPECT_FALSE(c.stale_verify);
       }},
      {"cache {\n serve_stale 30m verify\n }",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.stale_duration, seconds(1800));
         EXPECT_TRUE(c.stale_verify);
       }},
      {"cache {\n serve_stale 1h IMMEDIATE\n }",
       [](const CacheConfig& c) { EXPECT_FALSE(c.stale_verify); }},
      {"cache {\n servfail 0\n }",
       [](const CacheConfig& c) { EXPECT_EQ(c.servfail_ttl, seconds(0)); }},
      {"cache {\n servfail 5m\n }",
       [](const CacheConfig& c) { EXPECT_EQ(c.servfail_ttl, seconds(300)); }},
      {"cache {\n servfail 1500ms\n }",
       [](const CacheConfig& c) { EXPECT_EQ(c.servfail_ttl, seconds(2)); }},
      {"cache {\n keepttl\n }", [](const CacheConfig& c) { EXPECT_TRUE(c.keepttl); }},
      {"cache {\n disable success sub.example.org\n disable denial\n }",
       [](const CacheConfig& c) {
         EXPECT_EQ(c.success_disabled_zones, std::vector<std::string>{"sub.example.org."});
         EXPECT_EQ(c.denial_disabled_zones, std::vector<std::string>{"example.org."});
       }},
  };
  for (const auto& c : cases) {
    std::string text = "example.org {\n" + std::string(c.body) + "\n}\n";
    auto r = parse(text);
    ASSERT_TRUE(r) << text << " → " << r.error().message();
    ASSERT_TRUE(only(*r).cache) << text;
    c.check(*only(*r).cache);
  }
}

TEST(CorefileParser, ForwardForms) {
  FakeFs fs;
  fs.files["/etc/resolv.conf"] =
      "# generated\nsearch example.org\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\n"
      "options ndots:5\nnameserver 192.0.2.2 # trailing\n";
  struct Case {
    const char* body;
    std::function<void(const ForwardConfig&)> check;
  };
  const Case cases[] = {
      {"forward . 10.96.0.10",
       [](const ForwardConfig& f) {
         EXPECT_EQ(f.from, ".");
         EXPECT_EQ(f.to, std::vector<SocketAddress>{sa("10.96.0.10", 53)});
         EXPECT_FALSE(f.force_tcp);
         EXPECT_FALSE(f.prefer_udp);
         EXPECT_EQ(f.max_fails, 2u);
         EXPECT_EQ(f.health_check, milliseconds(500));
         EXPECT_EQ(f.expire, seconds(10));
         EXPECT_EQ(f.policy, Policy::kRandom);
         EXPECT_EQ(f.max_concurrent, 0u);
         EXPECT_EQ(f.attempt_timeout, milliseconds(2000));
         EXPECT_EQ(f.overall_timeout, milliseconds(5000));
         EXPECT_TRUE(f.notes.empty());
       }},
      {"forward Cluster.Local 10.0.0.1:5353 [fd00::1]:53 fd00::2 dns://10.0.0.3 dns://10.0.0.4:54",
       [](const ForwardConfig& f) {
         EXPECT_EQ(f.from, "cluster.local.");
         EXPECT_EQ(f.to, (std::vector<SocketAddress>{sa("10.0.0.1", 5353), sa("fd00::1", 53),
                                                     sa("fd00::2", 53), sa("10.0.0.3", 53),
                                                     sa("10.0.0.4", 54)}));
       }},
      {"forward . /etc/resolv.conf",
       [](const ForwardConfig& f) {
         EXPECT_EQ(f.to, (std::vector<SocketAddress>{sa("192.0.2.1", 53), sa("192.0.2.2", 53)}));
         EXPECT_EQ(f.notes, std::vector<std::string>{
                                "/etc/resolv.conf: line 4: 'fe80::1%eth0' is IPv6 link-local "
                                "(needs an interface scope, not supported), ignoring"});
       }},
      {"forward . fe80::1%eth0 192.0.2.3",
       [](const ForwardConfig& f) {
         EXPECT_EQ(f.to, std::vector<SocketAddress>{sa("192.0.2.3", 53)});
         EXPECT_EQ(f.notes, std::vector<std::string>{
                                "dropped fe80::1%eth0: IPv6 link-local upstreams need an "
                                "interface scope (not supported)"});
       }},
      {"forward . 10.96.0.10 {\n force_tcp\n }",
       [](const ForwardConfig& f) { EXPECT_TRUE(f.force_tcp); }},
      {"forward . 10.96.0.10 {\n prefer_udp\n force_tcp\n }",
       [](const ForwardConfig& f) {
         EXPECT_TRUE(f.force_tcp);
         EXPECT_TRUE(f.prefer_udp);
       }},
      {"forward . 10.96.0.10 {\n except Example.org sub.example.com\n max_fails 0\n"
       " health_check 1s no_rec domain Health.Example\n expire 30s\n policy sequential\n"
       " max_concurrent 1000\n timeout 800ms 3s\n }",
       [](const ForwardConfig& f) {
         EXPECT_EQ(f.except, (std::vector<std::string>{"example.org.", "sub.example.com."}));
         EXPECT_EQ(f.max_fails, 0u);
         EXPECT_EQ(f.health_check, milliseconds(1000));
         EXPECT_FALSE(f.health_check_recursion);
         EXPECT_EQ(f.health_check_domain, "health.example.");
         EXPECT_EQ(f.expire, seconds(30));
         EXPECT_EQ(f.policy, Policy::kSequential);
         EXPECT_EQ(f.max_concurrent, 1000u);
         EXPECT_EQ(f.attempt_timeout, milliseconds(800));
         EXPECT_EQ(f.overall_timeout, milliseconds(3000));
       }},
      {"forward . 10.96.0.10 {\n policy round_robin\n timeout 1s\n }",
       [](const ForwardConfig& f) {
         EXPECT_EQ(f.policy, Policy::kRoundRobin);
         EXPECT_EQ(f.attempt_timeout, milliseconds(1000));
         EXPECT_EQ(f.overall_timeout, milliseconds(5000));
       }},
      // The closing brace on the option line is accepted (CoreDNS would reject it).
      {"forward . 10.96.0.10 { force_tcp }",
       [](const ForwardConfig& f) { EXPECT_TRUE(f.force_tcp); }},
  };
  for (const auto& c : cases) {
    std::string text = ". {\n" + std::string(c.body) + "\n}\n";
    auto r = parse(text, fs.options());
    ASSERT_TRUE(r) << text << " → " << r.error().message();
    ASSERT_TRUE(only(*r).forward) << text;
    c.check(*only(*r).forward);
  }
}

TEST(CorefileParser, OtherDirectives) {
  auto r = parse(
      "cluster.local:53 {\n"
      "    errors\n"
      "    log\n"
      "    reload 10s 2s\n"
      "    loop\n"
      "    bind 169.254.20.10 10.96.0.10\n"
      "    bind fd00::10 169.254.20.10\n"
      "    prometheus :9253\n"
      "    health [fd00::10]:8080 {\n"
      "        lameduck 5s\n"
      "    }\n"
      "    debug\n"
      "    loadbalance round_robin\n"
      "}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& b = only(*r);
  EXPECT_TRUE(b.errors);
  EXPECT_TRUE(b.log);
  EXPECT_TRUE(b.reload);
  EXPECT_EQ(b.reload_interval, milliseconds(10000));
  EXPECT_EQ(b.reload_jitter, milliseconds(2000));
  EXPECT_TRUE(b.loop);
  EXPECT_EQ(b.bind,
            (std::vector<IpAddress>{ip("169.254.20.10"), ip("10.96.0.10"), ip("fd00::10")}));
  ASSERT_TRUE(b.prometheus);
  EXPECT_EQ(*b.prometheus, sa("0.0.0.0", 9253));
  ASSERT_TRUE(b.health);
  EXPECT_EQ(*b.health, sa("fd00::10", 8080));
  EXPECT_EQ(b.health_lameduck, milliseconds(5000));
  ASSERT_EQ(b.notes.size(), 2u);
  EXPECT_EQ(b.notes[0], "Corefile:12: directive 'debug' has no effect in nodelocaldns, ignoring");
  EXPECT_FALSE(b.cache);
  EXPECT_FALSE(b.forward);
}

TEST(CorefileParser, DirectiveDefaults) {
  auto r = parse(
      ". {\n reload\n prometheus\n health\n errors stdout {\n  consolidate 5m \".* i/o "
      "timeout$\"\n }\n"
      " log . {\n  class denial error\n }\n}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& b = only(*r);
  EXPECT_EQ(b.reload_interval, milliseconds(30000));
  EXPECT_EQ(b.reload_jitter, milliseconds(15000));
  EXPECT_EQ(*b.prometheus, sa("127.0.0.1", 9153));
  EXPECT_EQ(*b.health, sa("0.0.0.0", 8080));
  EXPECT_FALSE(b.health_lameduck);
  EXPECT_FALSE(b.bind.size());
  // reload jitter is capped at half the interval (CoreDNS).
  auto j = parse(". {\n reload 4s 3s\n}\n");
  ASSERT_TRUE(j);
  EXPECT_EQ(only(*j).reload_jitter, milliseconds(2000));
}

TEST(CorefileParser, LogRulesFollowCoreDnsArguments) {
  // No argument: every name, every class, common format.
  auto plain = parse(". {\n log\n}\n");
  ASSERT_TRUE(plain) << plain.error().message();
  ASSERT_EQ(only(*plain).log_rules.size(), 1u);
  EXPECT_TRUE(only(*plain).log);
  EXPECT_EQ(only(*plain).log_rules[0].zones, std::vector<std::string>{"."});
  EXPECT_EQ(only(*plain).log_rules[0].classes, LogRule::kAll);
  EXPECT_FALSE(only(*plain).log_rules[0].combined);

  // One argument is NAMES; more: NAMES... FORMAT. Class lines accumulate.
  auto r = parse(
      ". {\n log Example.ORG\n log a.org b.org {combined} {\n  class denial\n  class error\n"
      " }\n log c.org \"{remote} {name}\"\n}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& b = only(*r);
  ASSERT_EQ(b.log_rules.size(), 3u);
  EXPECT_EQ(b.log_rules[0].zones, std::vector<std::string>{"example.org."});
  EXPECT_EQ(b.log_rules[1].zones, (std::vector<std::string>{"a.org.", "b.org."}));
  EXPECT_TRUE(b.log_rules[1].combined);
  EXPECT_EQ(b.log_rules[1].classes, LogRule::kDenial | LogRule::kError);
  EXPECT_EQ(b.log_rules[2].zones, std::vector<std::string>{"c.org."});
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_NE(b.notes[0].find("custom format '{remote} {name}' is not supported"), std::string::npos)
      << b.notes[0];
  EXPECT_FALSE(only(*parse(". {\n errors\n}\n")).log);
}

TEST(CorefileParser, ErrorsConsolidateIsKept) {
  auto r = parse(
      ". {\n errors {\n  consolidate 5m \".* i/o timeout$\"\n  consolidate 30s ^refused warning\n"
      "  stacktrace\n }\n}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& c = only(*r).errors_consolidate;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].period, std::chrono::minutes(5));
  EXPECT_EQ(c[0].pattern, ".* i/o timeout$");
  EXPECT_EQ(c[0].level, "error");
  EXPECT_EQ(c[1].period, seconds(30));
  EXPECT_EQ(c[1].level, "warning");
  auto bad = parse(". {\n errors {\n  consolidate 5m \"(unclosed\"\n }\n}\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("Corefile:3: errors consolidate: invalid regexp "
                                       "'(unclosed'"),
            std::string::npos)
      << bad.error().message();
  // Go's limits, checked before std::regex (whose compiler overflows on a long count: fuzzer).
  for (const char* pattern : {"a{1111111111111111111}", "a{1001}", "a{2,1001}", "(a{100}){11}",
                              "((a{100})){11}", "(b(a{100})c)*{11}", "(a)\\1", "x\\0"}) {
    auto rejected =
        parse(std::string(". {\n errors {\n  consolidate 5m \"") + pattern + "\"\n }\n}\n");
    ASSERT_FALSE(rejected) << pattern;
    EXPECT_NE(rejected.error().message().find("Corefile:3: errors consolidate: invalid regexp"),
              std::string::npos)
        << rejected.error().message();
  }
  for (const char* pattern : {"a{1000}", "a{10}b{100}(c{10}){100}", "[{]{5}", "\\{3}"}) {
    EXPECT_TRUE(parse(std::string(". {\n errors {\n  consolidate 5m \"") + pattern + "\"\n }\n}\n"))
        << pattern;
  }
  auto level = parse(". {\n errors {\n  consolidate 5m x loud\n }\n}\n");
  ASSERT_FALSE(level);
  EXPECT_NE(level.error().message().find(
                "Corefile:3: errors: unknown log level argument in consolidate: loud"),
            std::string::npos)
      << level.error().message();
}

TEST(GoDurationString, MatchesGoTimeDurationString) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(formatGoDuration(std::chrono::minutes(5)), "5m0s");
  EXPECT_EQ(formatGoDuration(std::chrono::hours(1)), "1h0m0s");
  EXPECT_EQ(formatGoDuration(std::chrono::minutes(90)), "1h30m0s");
  EXPECT_EQ(formatGoDuration(seconds(30)), "30s");
  EXPECT_EQ(formatGoDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(formatGoDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(formatGoDuration(nanoseconds(1500)), "1.5µs");
  EXPECT_EQ(formatGoDuration(nanoseconds(7)), "7ns");
  EXPECT_EQ(formatGoDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(formatGoDuration(seconds(-2)), "-2s");
  EXPECT_EQ(formatGoDuration(nanoseconds(61000000001)), "1m1.000000001s");
}

TEST(CorefileParser, CacheZonesAndDisableDefaults) {
  // `disable` without zones takes the cache's zones, which default to the block's.
  auto r = parse(
      "example.org {\n cache 30 a.example.org b.example.org {\n  disable denial\n }\n}\n"
      "example.net {\n cache {\n  disable success\n }\n}\n");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->blocks.size(), 2u);
  const auto& a = *r->blocks[0].cache;
  EXPECT_EQ(a.zones, (std::vector<std::string>{"a.example.org.", "b.example.org."}));
  EXPECT_EQ(a.denial_disabled_zones, a.zones);
  EXPECT_TRUE(a.success_disabled_zones.empty());
  const auto& n = *r->blocks[1].cache;
  EXPECT_TRUE(n.zones.empty());
  EXPECT_EQ(n.success_disabled_zones, std::vector<std::string>{"example.net."});
}

// ---------------------------------------------------------------------------------------------
// Errors: every one names file:line.

TEST(CorefileParser, HostsFollowsCoreDnsSetup) {
  auto c = parse("example.org cluster.local {\n hosts\n}\n");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(only(*c).hosts);
  const HostsConfig& d = *only(*c).hosts;
  EXPECT_EQ(d.path, "/etc/hosts");
  EXPECT_EQ(d.zones, (std::vector<std::string>{"example.org.", "cluster.local."}));
  EXPECT_EQ(d.ttl, 3600u);
  EXPECT_TRUE(d.reverse);
  EXPECT_EQ(d.reload, milliseconds(5000));
  EXPECT_FALSE(d.fallthrough.enabled);
  EXPECT_EQ(d.line, 2);

  c = parse(
      ". {\n hosts example.hosts example.org EXAMPLE.net {\n  10.0.0.1 example.org\n"
      "  ::1   localhost  # a comment\n  ttl 60\n  no_reverse\n  reload 0\n"
      "  fallthrough in-addr.arpa ip6.arpa\n }\n}\n");
  ASSERT_TRUE(c) << c.error().message();
  const HostsConfig& h = *only(*c).hosts;
  EXPECT_EQ(h.path, "example.hosts");
  EXPECT_EQ(h.zones, (std::vector<std::string>{"example.org.", "example.net."}));
  EXPECT_EQ(h.inline_lines, (std::vector<std::string>{"10.0.0.1 example.org", "::1 localhost"}));
  EXPECT_EQ(h.ttl, 60u);
  EXPECT_FALSE(h.reverse);
  EXPECT_EQ(h.reload, milliseconds(0));
  EXPECT_TRUE(h.fallthrough.enabled);
  EXPECT_EQ(h.fallthrough.zones, (std::vector<std::string>{"in-addr.arpa.", "ip6.arpa."}));

  c = parse(". {\n hosts {\n  fallthrough\n }\n}\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(only(*c).hosts->fallthrough.zones, (std::vector<std::string>{"."}));
}

TEST(CorefileParser, TemplateFollowsCoreDnsSetup) {
  auto c = parse(
      "example.org {\n template ANY AAAA {\n  rcode NOERROR\n }\n"
      " template IN A example.net example.com {\n  match ^a[.] \"^(?P<x>b)[.]\"\n"
      "  answer \"{{ .Name }} 60 IN A 10.0.0.1\"\n  authority \"x. 1 IN NS y.\"\n"
      "  additional \"y. 1 IN A 10.0.0.2\"\n  rcode SUCCESS\n  fallthrough\n }\n}\n");
  ASSERT_TRUE(c) << c.error().message();
  const auto& t = only(*c).templates;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].qclass, 255);
  EXPECT_EQ(t[0].qtype, 28);
  EXPECT_EQ(t[0].zones, (std::vector<std::string>{"example.org."}));
  EXPECT_EQ(t[0].rcode, 0);
  EXPECT_TRUE(t[0].match.empty());
  EXPECT_FALSE(t[0].fallthrough.enabled);
  EXPECT_EQ(t[1].qclass, 1);
  EXPECT_EQ(t[1].qtype, 1);
  EXPECT_EQ(t[1].zones, (std::vector<std::string>{"example.net.", "example.com."}));
  EXPECT_EQ(t[1].match, (std::vector<std::string>{"^a[.]", "^(?P<x>b)[.]"}));
  EXPECT_EQ(t[1].answer.size(), 1u);
  EXPECT_EQ(t[1].authority.size(), 1u);
  EXPECT_EQ(t[1].additional.size(), 1u);
  EXPECT_TRUE(t[1].fallthrough.enabled);
  EXPECT_EQ(t[1].line, 5);
}

TEST(CorefileParser, ErrorsNameFileAndLine) {
  struct Case {
    const char* text;
    const char* message;  // expected substring, after "Corefile:"
  };
  const Case cases[] = {
      {"", "Corefile: no server blocks"},
      {"# only a comment\n", "Corefile: no server blocks"},
      {". {\n  errors\n",
       "Corefile:1: unexpected end of file: server block '.' has no closing '}'"},
      {". {\n}\n}\n", "Corefile:3: unexpected '}'"},
      {"{\n}\n", "Corefile:1: server block without a zone"},
      {". {\n  forwrd . 1.1.1.1\n}\n", "Corefile:2: unknown directive 'forwrd'"},
      {". {\n  kubernetes cluster.local\n}\n", "Corefile:2: unknown directive 'kubernetes'"},
      {". {\n  whoami\n}\n", "Corefile:2: directive 'whoami' is not supported"},
      {". {\n  hosts\n  hosts\n}\n", "Corefile:3: 'hosts' can only be used once per server block"},
      {". {\n hosts {\n  ttl 0\n }\n}\n", "Corefile:3: hosts: ttl provided is invalid"},
      {". {\n hosts {\n  ttl 65536\n }\n}\n", "Corefile:3: hosts: ttl provided is invalid"},
      {". {\n hosts {\n  ttl\n }\n}\n", "Corefile:3: hosts: ttl needs a time in seconds"},
      {". {\n hosts {\n  ttl x\n }\n}\n", "Corefile:3: hosts ttl: 'x' is not an integer"},
      {". {\n hosts {\n  reload\n }\n}\n", "Corefile:3: hosts: reload needs a duration"},
      {". {\n hosts {\n  reload 5\n }\n}\n", "Corefile:3: hosts reload: missing unit"},
      {". {\n hosts {\n  reload -1s\n }\n}\n",
       "Corefile:3: hosts: invalid negative duration for reload"},
      {". {\n hosts {\n  no_reverse x\n }\n}\n", "Corefile:3: hosts no_reverse: wrong argument"},
      {". {\n hosts {\n  fallthrough\n  10.0.0.1 a.example\n }\n}\n",
       "Corefile:4: hosts: unknown property '10.0.0.1'"},
      {". {\n hosts /etc/hosts a..example\n}\n", "Corefile:2: hosts: "},
      {". {\n template IN\n}\n", "Corefile:2: template: needs CLASS TYPE"},
      {". {\n template XX A {\n  rcode NXDOMAIN\n }\n}\n",
       "Corefile:2: template: invalid query class XX"},
      {". {\n template IN BOGUS {\n  rcode NXDOMAIN\n }\n}\n",
       "Corefile:2: template: invalid RR class BOGUS"},
      {". {\n template IN A\n}\n", "Corefile:2: template: no answer section"},
      {". {\n template IN A {\n  rcode WHAT\n }\n}\n", "Corefile:3: template: unknown rcode WHAT"},
      {". {\n template IN A {\n  match \"(unclosed\"\n  rcode NXDOMAIN\n }\n}\n",
       "Corefile:3: template: invalid regexp '(unclosed'"},
      {". {\n template IN A {\n  answer \"{{ .Meta \\\"x\\\" }} 60 IN A 1.2.3.4\"\n }\n}\n",
       "Corefile:3: template: unsupported action"},
      {". {\n template IN A {\n  answer \"{{ .Name | printf }} 60 IN A 1.2.3.4\"\n }\n}\n",
       "Corefile:3: template: unsupported action"},
      {". {\n template IN A {\n  answer \"{{ .Name 60 IN A 1.2.3.4\"\n }\n}\n",
       "Corefile:3: template: unclosed action"},
      {". {\n template IN A {\n  answer \"{{ .Message }}\"\n }\n}\n",
       "Corefile:3: template: unsupported action"},
      {". {\n template IN A {\n  upstream\n  rcode NXDOMAIN\n }\n}\n",
       "Corefile:3: template: 'upstream' is not supported"},
      {". {\n template IN A {\n  edns local 1=x\n }\n}\n",
       "Corefile:3: template: 'edns' is not supported"},
      {". {\n template IN A {\n  colour red\n }\n}\n", "Corefile:3: template: unknown property"},
      {". {\n  \"unterminated\n}\n", "Corefile:2: unterminated quoted string"},
      {"tls://. {\n}\n", "Corefile:1: server block 'tls://.': transport 'tls' is not supported"},
      {".:99999 {\n}\n", "Corefile:1: server block '.:99999': invalid port"},
      {"a.example:53 b.example:54 {\n}\n", "Corefile:1: server block keys use different ports"},
      {"a..example {\n}\n", "Corefile:1: server block 'a..example': invalid zone name"},
      {"10.0.0.0/33 {\n}\n", "Corefile:1: server block '10.0.0.0/33': invalid CIDR"},
      {". {\n}\n.:53 {\n}\n",
       "Corefile:3: cannot serve zone '.' on port 53: already defined at line 1"},
      {". {\n errors\n errors\n}\n", "Corefile:3: 'errors' can only be used once per server block"},
      {". {\n errors stderr\n}\n", "Corefile:2: errors: invalid log file 'stderr'"},
      {". {\n errors {\n  explode\n }\n}\n", "Corefile:3: errors: unknown option"},
      {". {\n loop 1\n}\n", "Corefile:2: loop: wrong argument count"},
      {". {\n reload 1s\n}\n", "Corefile:2: reload: interval value must be greater or equal to 2s"},
      {". {\n reload 10s 500ms\n}\n",
       "Corefile:2: reload: jitter value must be greater or equal to 1s"},
      {". {\n reload 10\n}\n", "Corefile:2: reload: missing unit in duration '10'"},
      {". {\n reload 1s 1s 1s\n}\n", "Corefile:2: reload: wrong argument count"},
      {". {\n bind\n}\n", "Corefile:2: bind: wrong argument count"},
      {". {\n bind eth0\n}\n",
       "Corefile:2: bind: 'eth0' is not an IP address (interface names are not supported)"},
      {". {\n prometheus 9253\n}\n", "Corefile:2: prometheus: address '9253': missing port"},
      {". {\n prometheus :9253 :9254\n}\n", "Corefile:2: prometheus: wrong argument count"},
      {". {\n prometheus metrics.example:9253\n}\n",
       "Corefile:2: prometheus: 'metrics.example' is not an IP address"},
      {". {\n health fd00::10:8080\n}\n",
       "Corefile:2: health: address 'fd00::10:8080': too many colons"},
      {". {\n health 169.254.20.10 10.96.0.10:8080\n}\n",
       "Corefile:2: health: wrong argument count"},
      {". {\n health :80800\n}\n", "Corefile:2: health: invalid port in ':80800'"},
      {". {\n health {\n  lameduck\n }\n}\n",
       "Corefile:3: health: unknown option or wrong arguments 'lameduck'"},
      {". {\n log {\n  class everything\n }\n}\n", "Corefile:3: log: invalid class 'everything'"},
      {". {\n cache 0\n}\n", "Corefile:2: cache: TTL can not be zero or negative: 0"},
      {". {\n cache -5\n}\n", "Corefile:2: cache: TTL can not be zero or negative: -5"},
      {". {\n cache 30 a..b\n}\n", "Corefile:2: cache: invalid zone name 'a..b'"},
      {". {\n cache {\n  success\n }\n}\n", "Corefile:3: cache success: wrong argument count"},
      {". {\n cache {\n  success many\n }\n}\n",
       "Corefile:3: cache success: 'many' is not an integer"},
      {". {\n cache {\n  denial 9984 0\n }\n}\n",
       "Corefile:3: cache: TTL can not be zero or negative: 0"},
      {". {\n cache {\n  denial 9984 5 -1\n }\n}\n",
       "Corefile:3: cache: min TTL can not be negative: -1"},
      {". {\n cache {\n  prefetch -1\n }\n}\n",
       "Corefile:3: cache prefetch: amount should be positive"},
      {". {\n cache {\n  prefetch 1 1m 5%\n }\n}\n",
       "Corefile:3: cache prefetch: percentage should fall in range [10, 90]: 5"},
      {". {\n cache {\n  prefetch 1 1m 50\n }\n}\n",
       "Corefile:3: cache prefetch: last character of percentage should be '%'"},
      {". {\n cache {\n  serve_stale -1s\n }\n}\n",
       "Corefile:3: cache serve_stale: invalid negative duration"},
      {". {\n cache {\n  serve_stale 1h later\n }\n}\n",
       "Corefile:3: cache serve_stale: invalid refresh mode 'later'"},
      {". {\n cache {\n  servfail 6m\n }\n}\n",
       "Corefile:3: cache servfail: caching SERVFAIL responses over 5 minutes"},
      {". {\n cache {\n  servfail\n }\n}\n", "Corefile:3: cache servfail: wrong argument count"},
      {". {\n cache {\n  disable everything\n }\n}\n",
       "Corefile:3: cache disable: type must be 'success' or 'denial'"},
      {". {\n cache {\n  keepttl 1\n }\n}\n", "Corefile:3: cache keepttl: wrong argument count"},
      {". {\n cache {\n  evict lru\n }\n}\n", "Corefile:3: cache: unknown option 'evict'"},
      {". {\n cache {\n  success 1 {\n }\n }\n}\n",
       "Corefile:3: cache: unexpected '{' (nested option blocks are not supported)"},
      {". {\n cache {\n  success 9984\n", "Corefile:2: cache: unexpected end of file, missing '}'"},
      {". {\n forward .\n}\n", "Corefile:2: forward: need FROM and at least one TO"},
      {". {\n forward . tls://1.1.1.1\n}\n",
       "Corefile:2: forward: DNS-over-TLS upstream 'tls://1.1.1.1' is not supported"},
      {". {\n forward . grpc://1.1.1.1\n}\n",
       "Corefile:2: forward: 'grpc' is not supported as a destination protocol"},
      {". {\n forward . 1.1.1.1:0\n}\n", "Corefile:2: forward: invalid port in '1.1.1.1:0'"},
      {". {\n forward . /nonexistent/resolv.conf\n}\n",
       "Corefile:2: forward: '/nonexistent/resolv.conf' is not an IP address or a readable file"},
      {". {\n forward . <nil>\n}\n",
       "Corefile:2: forward: '<nil>' is not an IP address or a readable file"},
      {". {\n forward . 1.1.1.1 {\n  force_tcp yes\n }\n}\n",
       "Corefile:3: forward force_tcp: wrong argument count"},
      {". {\n forward . 1.1.1.1 {\n  max_fails -1\n }\n}\n",
       "Corefile:3: forward max_fails: '-1' is not a non-negative integer"},
      {". {\n forward . 1.1.1.1 {\n  health_check -1s\n }\n}\n",
       "Corefile:3: forward health_check: can't be negative"},
      {". {\n forward . 1.1.1.1 {\n  health_check 1s sometimes\n }\n}\n",
       "Corefile:3: forward health_check: unknown option 'sometimes'"},
      {". {\n forward . 1.1.1.1 {\n  health_check 1s domain\n }\n}\n",
       "Corefile:3: forward health_check: wrong argument count"},
      {". {\n forward . 1.1.1.1 {\n  expire\n }\n}\n",
       "Corefile:3: forward expire: wrong argument count"},
      {". {\n forward . 1.1.1.1 {\n  policy fastest\n }\n}\n",
       "Corefile:3: forward policy: unknown policy 'fastest'"},
      {". {\n forward . 1.1.1.1 {\n  max_concurrent -1\n }\n}\n",
       "Corefile:3: forward max_concurrent: can't be negative"},
      {". {\n forward . 1.1.1.1 {\n  timeout 5s 1s\n }\n}\n",
       "Corefile:3: forward timeout: need 0 < ATTEMPT <= OVERALL"},
      {". {\n forward . 1.1.1.1 {\n  tls_servername dns.example\n }\n}\n",
       "Corefile:3: forward tls_servername: DNS-over-TLS is not supported"},
      {". {\n forward . 1.1.1.1 {\n  next SERVFAIL\n }\n}\n",
       "Corefile:3: forward: unknown property 'next'"},
      {". {\n forward . 1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9 "
       "1.1.1.10 1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 1.1.1.16\n}\n",
       "Corefile:2: forward: more than 15 upstreams configured: 16"},
      {". {\n forward . 1.1.1.1 }\n}\n", "Corefile:2: unexpected '}' on the line of 'forward'"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, FakeFs{}.options());
    ASSERT_FALSE(r) << "accepted:\n" << c.text;
    EXPECT_NE(r.error().message().find(c.message), std::string::npos)
        << "input:\n"
        << c.text << "\ngot:      " << r.error().message() << "\nexpected: " << c.message;
    EXPECT_EQ(r.error().code(), Errc::kParse);
  }
}

// ---------------------------------------------------------------------------------------------
// Loop avoidance

TEST(CorefileParser, SystemdStubIsReplacedByItsRealUpstreams) {
  FakeFs fs;
  fs.files["/etc/resolv.conf"] = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n";
  fs.files["/run/systemd/resolve/resolv.conf"] =
      "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).\n"
      "nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch example.org\n";
  auto r = parse(". {\n forward . /etc/resolv.conf\n}\n", fs.options());
  ASSERT_TRUE(r) << r.error().message();
  const auto& f = *only(*r).forward;
  EXPECT_EQ(f.to, (std::vector<SocketAddress>{sa("192.0.2.1", 53), sa("2001:db8::1", 53)}));
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0],
            "dropped 127.0.0.53:53 (from /etc/resolv.conf): systemd-resolved stub would loop, "
            "using the upstreams in /run/systemd/resolve/resolv.conf");
}

TEST(CorefileParser, SystemdStubWithoutRealListIsAnErrorNamingTheFile) {
  FakeFs fs;
  fs.files["/etc/resolv.conf"] = "nameserver 127.0.0.53\n";
  auto r = parse(". {\n forward . /etc/resolv.conf\n}\n", fs.options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "Corefile:2: forward: no usable upstream in '/etc/resolv.conf'; dropped "
            "127.0.0.53:53 (from /etc/resolv.conf): systemd-resolved stub would loop, and "
            "/run/systemd/resolve/resolv.conf is unusable (read "
            "'/run/systemd/resolve/resolv.conf': No such file or directory)");
}

TEST(CorefileParser, OwnAddressesAreDropped) {
  FakeFs fs;
  fs.files["/etc/resolv.conf"] =
      "nameserver 169.254.20.10\nnameserver 10.96.0.10\nnameserver 192.0.2.1\n";
  ParseOptions o = fs.options();
  o.own_addresses = {ip("169.254.20.10")};
  // 10.96.0.10 is ours too: this Corefile binds it.
  auto r = parse(
      ".:53 {\n bind 169.254.20.10 10.96.0.10\n forward . /etc/resolv.conf 169.254.20.10:5353\n}\n",
      o);
  ASSERT_TRUE(r) << r.error().message();
  const auto& f = *only(*r).forward;
  // Port 5353 is not served here: not a loop.
  EXPECT_EQ(f.to, (std::vector<SocketAddress>{sa("192.0.2.1", 53), sa("169.254.20.10", 5353)}));
  ASSERT_EQ(f.notes.size(), 2u);
  EXPECT_EQ(f.notes[0],
            "dropped 169.254.20.10:53 (from /etc/resolv.conf): it is one of our own "
            "addresses (forwarding loop)");
  EXPECT_EQ(f.notes[1],
            "dropped 10.96.0.10:53 (from /etc/resolv.conf): it is one of our own "
            "addresses (forwarding loop)");
}

TEST(CorefileParser, EmptyOrLoopOnlyResolvConfIsAnError) {
  FakeFs fs;
  fs.files["/etc/resolv.conf"] = "# nothing here\nsearch example.org\noptions ndots:5\n";
  fs.files["/etc/self.conf"] = "nameserver 169.254.20.10\n";
  auto r = parse(". {\n forward . /etc/resolv.conf\n}\n", fs.options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "Corefile:2: forward: no usable upstream in '/etc/resolv.conf' (no nameserver lines)");
  auto s = parse(". {\n bind 169.254.20.10\n forward . /etc/self.conf\n}\n", fs.options());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("Corefile:3: forward: no usable upstream in '/etc/self.conf'; "
                                     "dropped 169.254.20.10:53"),
            std::string::npos)
      << s.error().message();
}

// ---------------------------------------------------------------------------------------------
// Routing

TEST(CorefileRoute, LongestZoneAmongBlocksBoundToTheAddress) {
  auto r = parse(
      "cluster.local:53 {\n bind 169.254.20.10 10.96.0.10\n}\n"
      "in-addr.arpa:53 {\n bind 169.254.20.10 10.96.0.10\n}\n"
      ".:53 {\n bind 169.254.20.10 10.96.0.10\n}\n"
      "svc.cluster.local:53 {\n bind 169.254.20.10\n}\n"
      ".:5353 {\n}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& c = *r;
  const IpAddress local = ip("169.254.20.10"), kube = ip("10.96.0.10"), other = ip("127.0.0.1");
  EXPECT_EQ(c.route("kubernetes.default.svc.cluster.local.", local, 53), &c.blocks[3]);
  EXPECT_EQ(c.route("kubernetes.default.svc.cluster.local.", kube, 53), &c.blocks[0]);
  EXPECT_EQ(c.route("kubernetes.default.svc.cluster.local", kube, 53), &c.blocks[0]);
  EXPECT_EQ(c.route("cluster.local.", local, 53), &c.blocks[0]);
  EXPECT_EQ(c.route("notcluster.local.", local, 53), &c.blocks[2]);
  EXPECT_EQ(c.route("10.0.96.10.in-addr.arpa.", kube, 53), &c.blocks[1]);
  EXPECT_EQ(c.route("example.com.", local, 53), &c.blocks[2]);
  EXPECT_EQ(c.route(".", local, 53), &c.blocks[2]);
  EXPECT_EQ(c.route("example.com.", other, 53), nullptr);  // nothing listens there
  EXPECT_EQ(c.route("example.com.", other, 5353), &c.blocks[4]);
  EXPECT_EQ(c.route("example.com.", local, 5353), &c.blocks[4]);
  EXPECT_EQ(c.route("example.com.", local, 54), nullptr);
}

TEST(CorefileRoute, SameZoneOnDisjointBindsIsAllowed) {
  auto r = parse(".:53 {\n bind 127.0.0.1\n}\n.:53 {\n bind 127.0.0.2\n}\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->route("a.", ip("127.0.0.2"), 53), &r->blocks[1]);
  EXPECT_EQ(r->route("a.", ip("127.0.0.1"), 53), &r->blocks[0]);
}

}  // namespace
}  // namespace nld::resolver::config
