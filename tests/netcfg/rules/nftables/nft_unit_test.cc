// The nftables backend's pure parts: the table text (golden), decoding of `nft -j list table`
// output and the exact-match test that decides whether ensure rewrites.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "netcfg/detect/rules_backend.h"
#include "netcfg/rules/nftables/nft_rules.h"
#include "netcfg/rules/rules.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

const RuleSpec kOneV4{{ip("169.254.20.10")}, 53, 8080};

std::string goldenNft(const std::string& name) {
  std::ifstream in(test::sourcePath("tests/golden/" + name));
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#", 0) != 0) {
      out += line + "\n";
    }
  }
  return out;
}

// What nft 1.0.6 printed for a table with one rule per kind (recorded from `nft -j list table`).
constexpr const char* kListed = R"({"nftables": [
 {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "nodelocaldns", "handle": 2}},
 {"chain": {"family": "inet", "table": "nodelocaldns", "name": "raw-prerouting", "handle": 1,
            "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}},
 {"rule": {"family": "inet", "table": "nodelocaldns", "chain": "raw-prerouting", "handle": 4,
           "comment": "NodeLocal DNS Cache: skip conntrack", "expr": [
   {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
              "right": "169.254.20.10"}},
   {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 53}},
   {"notrack": null}]}},
 {"rule": {"family": "inet", "table": "nodelocaldns", "chain": "raw-prerouting", "handle": 5,
           "comment": "NodeLocal DNS Cache: skip conntrack", "expr": [
   {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}},
              "right": "fd00::10"}},
   {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}},
   {"notrack": null}]}},
 {"rule": {"family": "inet", "table": "nodelocaldns", "chain": "raw-prerouting", "handle": 6,
           "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}
]})";

TEST(NftRules, ChainNamesAndRuleText) {
  auto rules = nodeLocalDnsRules(kOneV4);
  ASSERT_EQ(rules.size(), 12u);
  EXPECT_EQ(nftChainName(rules[0]), "raw-prerouting");
  EXPECT_EQ(nftChainName(rules[2]), "filter-input");
  EXPECT_EQ(nftChainName(rules[4]), "raw-output");
  EXPECT_EQ(nftChainName(rules[6]), "filter-output");
  EXPECT_EQ(nftRuleText(rules[11]),
            "ip saddr 169.254.20.10 tcp sport 8080 notrack comment \"NodeLocal DNS Cache: skip "
            "conntrack\"");
  auto v6 = nodeLocalDnsRules({{ip("fd00::10")}, 53, 8080});
  EXPECT_EQ(nftRuleText(v6[3]),
            "ip6 daddr fd00::10 udp dport 53 accept comment \"NodeLocal DNS Cache: allow DNS "
            "traffic\"");
}

TEST(NftRules, TableTextMatchesGolden) {
  EXPECT_EQ(nftTableText(kOneV4), goldenNft("nft-one-v4.nft"));
  EXPECT_EQ(nftTableText({{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080}),
            goldenNft("nft-v4-v6.nft"));
}

TEST(NftRules, TransactionAddsDeletesThenDefines) {
  std::string t = nftTransactionText(kOneV4);
  EXPECT_EQ(t.rfind("add table inet nodelocaldns\ndelete table inet nodelocaldns\ntable inet "
                    "nodelocaldns {\n",
                    0),
            0u)
      << t;
}

TEST(NftRules, DryRunTextForBothBackends) {
  auto nft = planRulesText(kOneV4, RulesBackend::kNftables);
  ASSERT_GT(nft.size(), 2u);
  EXPECT_EQ(nft[1], "table inet nodelocaldns {");
  EXPECT_EQ(planRulesText(kOneV4, RulesBackend::kIptables), planRulesText(kOneV4));
}

TEST(NftRules, DecodesOurRulesAndMarksForeignOnes) {
  auto s = decodeNftTable(kListed);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_TRUE(s->present);
  ASSERT_EQ(s->chains.size(), 1u);
  EXPECT_EQ(s->chains[0], (NftChain{"raw-prerouting", "filter", "prerouting", -300, "accept"}));
  ASSERT_EQ(s->rules.size(), 3u);
  ASSERT_TRUE(s->rules[0].rule.has_value());
  EXPECT_EQ(*s->rules[0].rule, nodeLocalDnsRules(kOneV4)[0]);
  ASSERT_TRUE(s->rules[1].rule.has_value());
  EXPECT_EQ(s->rules[1].rule->family, Family::kV6);
  EXPECT_EQ(s->rules[1].rule->destination, ip("fd00::10"));
  EXPECT_EQ(s->rules[1].rule->proto, Proto::kUdp);
  EXPECT_FALSE(s->rules[2].rule.has_value());  // counter + drop: not ours
}

TEST(NftRules, DecodeRejectsNonNftJson) {
  EXPECT_FALSE(decodeNftTable("{}").has_value());
  EXPECT_FALSE(decodeNftTable("not json").has_value());
  auto empty = decodeNftTable(R"({"nftables": []})");
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(empty->present);
}

// The observed state of a correct table, built from the desired rules.
NftTableState exact(const RuleSpec& spec) {
  NftTableState s;
  s.present = true;
  s.chains = {{"raw-prerouting", "filter", "prerouting", -300, "accept"},
              {"raw-output", "filter", "output", -300, "accept"},
              {"filter-input", "filter", "input", 0, "accept"},
              {"filter-output", "filter", "output", 0, "accept"}};
  for (const char* chain : {"raw-prerouting", "raw-output", "filter-input", "filter-output"}) {
    for (const Rule& r : nodeLocalDnsRules(spec)) {
      if (nftChainName(r) == chain) {
        s.rules.push_back({chain, r});
      }
    }
  }
  return s;
}

TEST(NftRules, MatchesOnlyTheExactTable) {
  NftTableState s = exact(kOneV4);
  EXPECT_TRUE(nftTableMatches(s, kOneV4));
  EXPECT_FALSE(nftTableMatches(NftTableState{}, kOneV4));
  EXPECT_FALSE(nftTableMatches(s, {{ip("169.254.20.11")}, 53, 8080}));

  auto missing = s;
  missing.rules.pop_back();
  EXPECT_FALSE(nftTableMatches(missing, kOneV4));
  auto extra = s;
  extra.rules.push_back(extra.rules.front());
  EXPECT_FALSE(nftTableMatches(extra, kOneV4));
  auto foreign = s;
  foreign.rules.push_back({"raw-output", std::nullopt});
  EXPECT_FALSE(nftTableMatches(foreign, kOneV4));
  auto prio = s;
  prio.chains[0].priority = -150;
  EXPECT_FALSE(nftTableMatches(prio, kOneV4));
  auto policy = s;
  policy.chains[2].policy = "drop";
  EXPECT_FALSE(nftTableMatches(policy, kOneV4));
  auto extra_chain = s;
  extra_chain.chains.push_back({"mine", "", "", 0, ""});
  EXPECT_FALSE(nftTableMatches(extra_chain, kOneV4));
  auto reordered = s;
  std::swap(reordered.rules[0], reordered.rules[1]);
  EXPECT_FALSE(nftTableMatches(reordered, kOneV4));
}

TEST(RulesBackend, ParsesNames) {
  EXPECT_EQ(parseRulesBackend("iptables"), RulesBackend::kIptables);
  EXPECT_EQ(parseRulesBackend("nftables"), RulesBackend::kNftables);
  auto bad = parseRulesBackend("auto");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "invalid rules backend 'auto': expected iptables or nftables");
  EXPECT_EQ(toString(RulesBackend::kNftables), "nftables");
}

// Step 4b: strictly more rules wins; a tie (0 against 0 included) is no signal, so step 5's
// legacy default applies (iptables-wrapper's shell version would pick nft on a tie).
TEST(RulesBackend, RuleCountDecision) {
  struct Case {
    int64_t nft;
    int64_t legacy;
    std::optional<RulesBackend> want;
  };
  const Case cases[] = {
      {0, 0, std::nullopt},
      {1, 0, RulesBackend::kNftables},
      {0, 1, RulesBackend::kIptables},
      {12, 12, std::nullopt},
      {13, 12, RulesBackend::kNftables},
      {12, 13, RulesBackend::kIptables},
      {10000, 3, RulesBackend::kNftables},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(backendByRuleCounts({c.nft, c.legacy}), c.want) << c.nft << " vs " << c.legacy;
  }
  EXPECT_EQ(ruleCountsText({12, 0}), "rule counts: 12 iptables-nft vs 0 legacy");
}

TEST(RulesBackend, OurCommentsAreRecognised) {
  EXPECT_TRUE(isOurComment("NodeLocal DNS Cache: skip conntrack"));
  EXPECT_TRUE(isOurComment("NodeLocal DNS Cache: allow DNS traffic"));
  EXPECT_FALSE(isOurComment("NodeLocal DNS Cache"));
  EXPECT_FALSE(isOurComment(""));
  EXPECT_FALSE(isOurComment("default/kubernetes:https cluster IP"));
}

// libnftables 1.0.x exit()s when it cannot open its netlink socket. With no file descriptor left
// (RLIMIT_NOFILE at the number already open) our call must come back with an error instead.
TEST(NftRules, NoNetlinkSocketIsAnErrorNotAnExit) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_NOFILE, &none);
    auto table = readNftTable();
    // 0: our error came back; libnftables' own exit would be 1 (NFT_EXIT_NONL is 3).
    ::_exit(table ? 10 : (table.error().message().find("netlink") != std::string::npos ? 0 : 11));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3 = libnftables exited the process";
}

}  // namespace
}  // namespace nld::netcfg
