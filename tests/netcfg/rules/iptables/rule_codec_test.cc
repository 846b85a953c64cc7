// Rule ↔ entry bytes: the layout iptables-legacy 1.8.9 uses, and semantic, bounds-safe decoding.
#include "netcfg/rules/iptables/rule_codec.h"

#include <gtest/gtest.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_CT.h>

#include <cstring>
#include <random>

#include "netcfg/rules/rules.h"

namespace nld::netcfg::detail {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

std::vector<Rule> sampleRules() {
  return nodeLocalDnsRules({{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080});
}

struct Head {
  uint16_t size;
  std::string name;
  uint8_t revision;
};

Head head(const std::vector<uint8_t>& bytes, size_t at) {
  xt_entry_match m;
  std::memcpy(&m, bytes.data() + at, sizeof(m));
  return {m.u.user.match_size, m.u.user.name, m.u.user.revision};
}

TEST(RuleCodec, EncodesLikeTheIptablesBinary) {
  Rule r = sampleRules()[1];  // -p udp -d L --dport 53 -j NOTRACK -m comment
  EncodedBody body = encodeBody(r);
  ASSERT_EQ(body.matches.size(), 48u + 288u);  // sizes read back from a binary-made entry
  Head udp = head(body.matches, 0);
  EXPECT_EQ(udp.size, 48);
  EXPECT_EQ(udp.name, "udp");
  EXPECT_EQ(udp.revision, 0);
  uint16_t ports[4];
  std::memcpy(ports, body.matches.data() + 32, sizeof(ports));
  EXPECT_EQ(ports[0], 0);  // sport: any
  EXPECT_EQ(ports[1], 0xFFFF);
  EXPECT_EQ(ports[2], 53);  // dport 53
  EXPECT_EQ(ports[3], 53);
  Head comment = head(body.matches, 48);
  EXPECT_EQ(comment.size, 288);
  EXPECT_EQ(comment.name, "comment");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(body.matches.data() + 48 + 32)),
            "NodeLocal DNS Cache: skip conntrack");
  for (size_t i = 48 + 32 + r.comment.size(); i < body.matches.size(); ++i) {
    ASSERT_EQ(body.matches[i], 0) << "comment buffer must be zero-filled at " << i;
  }
  Head target = head(body.target, 0);
  EXPECT_EQ(target.size, 104);
  EXPECT_EQ(target.name, "CT");
  EXPECT_EQ(target.revision, 2);
  ASSERT_EQ(body.target.size(), 104u);
  EXPECT_EQ(body.target[32], XT_CT_NOTRACK | XT_CT_NOTRACK_ALIAS);
  for (size_t i = 33; i < body.target.size(); ++i) {
    ASSERT_EQ(body.target[i], 0) << i;
  }
  Head accept = head(encodeBody(sampleRules()[2]).target, 0);
  EXPECT_EQ(accept.name, "ACCEPT");
  EXPECT_EQ(accept.size, 40);
}

TEST(RuleCodec, RoundTripsEveryRule) {
  for (const Rule& r : sampleRules()) {
    EncodedBody body = encodeBody(r);
    auto fields = decodeBody(body.matches, body.target, r.proto);
    ASSERT_TRUE(fields.has_value()) << r.toSaveLine();
    EXPECT_EQ(fields->source_port, r.source_port);
    EXPECT_EQ(fields->destination_port, r.destination_port);
    EXPECT_EQ(fields->target, r.target);
    EXPECT_EQ(fields->comment, r.comment);
  }
}

TEST(RuleCodec, StandardVerdictDecodesAsAccept) {
  Rule r = sampleRules()[2];
  EncodedBody body = encodeBody(r);
  // What libiptc hands back after mapping the label: name "" and verdict -NF_ACCEPT - 1.
  std::memset(body.target.data() + 2, 0, 29);
  int verdict = -2;
  std::memcpy(body.target.data() + 32, &verdict, sizeof(verdict));
  EXPECT_EQ(decodeBody(body.matches, body.target, r.proto)->target, RuleTarget::kAccept);
  verdict = -1;  // DROP
  std::memcpy(body.target.data() + 32, &verdict, sizeof(verdict));
  EXPECT_FALSE(decodeBody(body.matches, body.target, r.proto).has_value());
}

TEST(RuleCodec, OlderNotrackEncodingsAreTheSameRule) {
  Rule r = sampleRules()[0];
  EncodedBody body = encodeBody(r);
  body.target[31] = 1;  // CT rev 1
  body.target[32] = XT_CT_NOTRACK;
  EXPECT_EQ(decodeBody(body.matches, body.target, r.proto)->target, RuleTarget::kNotrack);
  std::vector<uint8_t> old(32, 0);  // NOTRACK rev 0, no payload
  old[0] = 32;
  std::memcpy(old.data() + 2, "NOTRACK", 7);
  EXPECT_EQ(decodeBody(body.matches, old, r.proto)->target, RuleTarget::kNotrack);
}

// Older kernels: the binary falls back CT rev 2 → 1 → 0 → the NOTRACK target; so do we.
TEST(RuleCodec, NotrackFallbackEncodingsMatchLibxtCt) {
  Rule r = sampleRules()[0];
  struct Want {
    NotrackEncoding enc;
    std::string name;
    uint8_t revision;
    size_t size;
    uint8_t flags;
  };
  for (const Want& w : {Want{NotrackEncoding::kCtRev2, "CT", 2, 104, 3},
                        Want{NotrackEncoding::kCtRev1, "CT", 1, 104, 1},
                        Want{NotrackEncoding::kCtRev0, "CT", 0, 72, 1},
                        Want{NotrackEncoding::kNotrackTarget, "NOTRACK", 0, 32, 0}}) {
    SCOPED_TRACE(w.name + " rev " + std::to_string(w.revision));
    EncodedBody body = encodeBody(r, w.enc);
    Head t = head(body.target, 0);
    EXPECT_EQ(t.name, w.name);
    EXPECT_EQ(t.revision, w.revision);
    EXPECT_EQ(t.size, w.size);
    ASSERT_EQ(body.target.size(), w.size);
    if (w.size > 32) {
      EXPECT_EQ(body.target[32], w.flags);
    }
    auto fields = decodeBody(body.matches, body.target, r.proto);
    ASSERT_TRUE(fields.has_value());
    EXPECT_EQ(fields->target, RuleTarget::kNotrack);
  }
  // ACCEPT does not depend on it.
  EXPECT_EQ(encodeBody(sampleRules()[2], NotrackEncoding::kCtRev0).target,
            encodeBody(sampleRules()[2]).target);
}

TEST(RuleCodec, ChoosesTheNewestRevisionTheKernelHas) {
  EXPECT_EQ(chooseNotrackEncoding([](const char*, uint8_t) { return true; }),
            NotrackEncoding::kCtRev2);
  EXPECT_EQ(chooseNotrackEncoding(
                [](const char* n, uint8_t rev) { return std::string(n) == "CT" && rev <= 1; }),
            NotrackEncoding::kCtRev1);
  EXPECT_EQ(chooseNotrackEncoding(
                [](const char* n, uint8_t rev) { return std::string(n) == "CT" && rev == 0; }),
            NotrackEncoding::kCtRev0);
  EXPECT_EQ(chooseNotrackEncoding([](const char*, uint8_t) { return false; }),
            NotrackEncoding::kNotrackTarget);
}

TEST(RuleCodec, OtherShapesAreForeign) {
  Rule r = sampleRules()[0];  // tcp dport 53
  auto mutate = [&](auto f, bool target_part) {
    EncodedBody body = encodeBody(r);
    f(target_part ? body.target : body.matches);
    return decodeBody(body.matches, body.target, r.proto).has_value();
  };
  EXPECT_FALSE(mutate([](auto& b) { b[32 + 8 + 3] = 1; }, false));     // tcp invflags
  EXPECT_FALSE(mutate([](auto& b) { b[32 + 8 + 1] = 0x3f; }, false));  // tcp flag mask
  EXPECT_FALSE(mutate([](auto& b) { b[32 + 6] = 60; }, false));        // dport range 53:60
  EXPECT_FALSE(mutate([](auto& b) { b[2] = 'x'; }, false));            // unknown match
  EXPECT_FALSE(mutate([](auto& b) { b[32] = 0x10; }, true));           // CT with zone mark
  EXPECT_FALSE(mutate([](auto& b) { b[32 + 12] = 'f'; }, true));       // CT with a helper
  EXPECT_FALSE(mutate([](auto& b) { b[2] = 'D'; }, true));             // target "DT"
  EXPECT_FALSE(decodeBody(encodeBody(r).matches, encodeBody(r).target, Proto::kUdp).has_value());
}

TEST(RuleCodec, TruncatedOrCorruptBytesNeverCrash) {
  std::mt19937 rng(7);
  for (const Rule& r : sampleRules()) {
    EncodedBody body = encodeBody(r);
    for (size_t n = 0; n < body.matches.size(); n += 7) {
      std::span<const uint8_t> cut(body.matches.data(), n);
      (void)decodeBody(cut, body.target, r.proto);
    }
    for (size_t n = 0; n < body.target.size(); ++n) {
      std::span<const uint8_t> cut(body.target.data(), n);
      EXPECT_FALSE(decodeBody(body.matches, cut, r.proto).has_value());
    }
    for (int i = 0; i < 200; ++i) {
      EncodedBody b = encodeBody(r);
      b.matches[rng() % b.matches.size()] = static_cast<uint8_t>(rng());
      b.target[rng() % b.target.size()] = static_cast<uint8_t>(rng());
      (void)decodeBody(b.matches, b.target, r.proto);
    }
  }
}

}  // namespace
}  // namespace nld::netcfg::detail
