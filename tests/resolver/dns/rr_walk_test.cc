#include "resolver/dns/rr_walk.h"

#include <gtest/gtest.h>

#include "tests/resolver/dns/msg_builder.h"

namespace nld::resolver::dns {
namespace {

using test::Bytes;
using test::ipv4;
using test::Msg;

TEST(InspectResponse, PositiveAnswer) {
  Bytes r = Msg::replyTo("www.example.com", qtype::kA)
                .compress()
                .answer("www.example.com", qtype::kCname, 600, test::nameWire("web.example.com"))
                .answer("web.example.com", qtype::kA, 120, ipv4(192, 0, 2, 1))
                .edns(1232)
                .wire();
  auto info = inspectResponse(r);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->type, ResponseType::kNoError);
  EXPECT_EQ(info->rcode, Rcode::kNoError);
  EXPECT_EQ(info->ancount, 2);
  EXPECT_EQ(info->rr_count, 2);
  EXPECT_EQ(info->min_ttl, 120u);
  EXPECT_EQ(info->msg_ttl, 120u);
  EXPECT_TRUE(info->opt_offset);
  EXPECT_TRUE(info->opt_last);
  EXPECT_EQ(info->opt_length, kOptRrSize);
  EXPECT_EQ(info->end, r.size());
  EXPECT_EQ(info->qtype, qtype::kA);
  EXPECT_EQ(info->answer_end, *info->opt_offset);
  EXPECT_EQ(info->authority_end, info->answer_end);
}

TEST(InspectResponse, MsgTtlCappedAtOneHour) {
  Bytes r =
      Msg::replyTo("a.test", qtype::kA).answer("a.test", qtype::kA, 86400, ipv4(1, 2, 3, 4)).wire();
  EXPECT_EQ(inspectResponse(r)->msg_ttl, 3600u);
}

TEST(InspectResponse, NxdomainUsesSoaMinimum) {
  Bytes r = Msg::replyTo("nope.cluster.local", qtype::kA)
                .rcode(Rcode::kNxDomain)
                .soa("cluster.local", 30, 5)
                .wire();
  auto info = inspectResponse(r);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->type, ResponseType::kNameError);
  EXPECT_TRUE(info->isNxDomain());
  EXPECT_TRUE(info->has_soa);
  EXPECT_EQ(info->min_ttl, 30u);
  EXPECT_EQ(info->msg_ttl, 5u);  // min(SOA TTL 30, MINIMUM 5)
}

TEST(InspectResponse, NoData) {
  Bytes r = Msg::replyTo("a.test", qtype::kAaaa).soa("test", 60, 300).wire();
  auto info = inspectResponse(r);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->isNoData());
  EXPECT_EQ(info->msg_ttl, 60u);
}

TEST(InspectResponse, Typify) {
  struct Case {
    const char* what;
    Bytes wire;
    ResponseType type;
  } cases[] = {
      {"delegation",
       Msg::replyTo("a.sub.test", 1)
           .authority("sub.test", qtype::kNs, 60, test::nameWire("ns.x"))
           .wire(),
       ResponseType::kDelegation},
      {"empty noerror", Msg::replyTo("a.test", 1).wire(), ResponseType::kNoError},
      {"servfail", Msg::replyTo("a.test", 1).rcode(Rcode::kServFail).wire(),
       ResponseType::kServerError},
      {"refused", Msg::replyTo("a.test", 1).rcode(Rcode::kRefused).wire(),
       ResponseType::kOtherError},
      {"notimp", Msg::replyTo("a.test", 1).rcode(Rcode::kNotImp).wire(), ResponseType::kOtherError},
      {"formerr", Msg::replyTo("a.test", 1).rcode(Rcode::kFormErr).wire(),
       ResponseType::kOtherError},
      {"nxdomain without SOA", Msg::replyTo("a.test", 1).rcode(Rcode::kNxDomain).wire(),
       ResponseType::kOtherError},
      {"axfr", Msg::replyTo("test", qtype::kAxfr).wire(), ResponseType::kMeta},
  };
  for (const auto& c : cases) {
    auto info = inspectResponse(c.wire);
    ASSERT_TRUE(info) << c.what;
    EXPECT_EQ(info->type, c.type) << c.what << ": " << responseTypeName(info->type);
  }
  EXPECT_EQ(inspectResponse(Msg::replyTo("a.test", 1).wire())->msg_ttl, 5u);
}

TEST(InspectResponse, ExtendedRcodeFromOpt) {
  Bytes r = Msg::replyTo("a.test", 1).edns().wire();
  r[r.size() - 6] = 1;  // OPT TTL high byte: extended rcode 1 → 16 (BADVERS)
  auto info = inspectResponse(r);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->rcode, Rcode::kBadVers);
}

TEST(InspectResponse, Rejects) {
  EXPECT_FALSE(inspectResponse(Msg().question("a.test", 1).wire()));  // QR clear
  EXPECT_FALSE(inspectResponse(Msg::replyTo("a.test", 1).question("b.test", 1).wire()));
  EXPECT_FALSE(inspectResponse(Msg::replyTo("a.test", 1).trailing({0}).wire()));
  EXPECT_FALSE(inspectResponse(Msg::replyTo("a.test", 1).edns().edns().wire()));
  EXPECT_FALSE(inspectResponse(Msg::replyTo("a.test", 1).forceCount(1, 1).wire()));
  // SOA with rdata shorter than its names + 20 bytes.
  Bytes bad_soa = Msg::replyTo("a.test", 1)
                      .rcode(Rcode::kNxDomain)
                      .authority("test", qtype::kSoa, 60, test::nameWire("ns.test"))
                      .wire();
  EXPECT_FALSE(inspectResponse(bad_soa));
}

TEST(InspectResponse, TruncatedAtEveryOffset) {
  Bytes r = Msg::replyTo("www.example.com", qtype::kA)
                .compress()
                .answer("www.example.com", qtype::kA, 60, ipv4(1, 2, 3, 4))
                .soa("example.com", 60, 60)
                .additional("ns.example.com", qtype::kA, 60, ipv4(5, 6, 7, 8))
                .edns()
                .wire();
  ASSERT_TRUE(inspectResponse(r));
  for (size_t n = 0; n < r.size(); ++n) {
    EXPECT_FALSE(inspectResponse(std::span<const uint8_t>(r.data(), n))) << n;
  }
}

TEST(InspectResponse, CompressionLoopInAnswer) {
  Bytes r = Msg::replyTo("a.test", 1).forceCount(1, 1).wire();
  const uint8_t at = static_cast<uint8_t>(r.size());
  r.insert(r.end(), {0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4});
  EXPECT_FALSE(inspectResponse(r));
}

TEST(RewriteTtls, SkipsOpt) {
  Bytes r = Msg::replyTo("a.test", 1)
                .answer("a.test", 1, 100, ipv4(1, 1, 1, 1))
                .answer("a.test", 1, 200, ipv4(2, 2, 2, 2))
                .edns(1232, true)
                .wire();
  EXPECT_EQ(rewriteTtls(r, 42), 2u);
  auto info = inspectResponse(r);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->min_ttl, 42u);
  EXPECT_EQ(readU32(r.data() + *info->opt_offset + 5), kEdnsDoBit);  // OPT TTL untouched
  uint16_t offsets[4];
  auto n = collectTtlOffsets(r, offsets);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(readU32(r.data() + offsets[1]), 42u);
  EXPECT_FALSE(collectTtlOffsets(r, std::span<uint16_t>(offsets, 1)));
}

}  // namespace
}  // namespace nld::resolver::dns

namespace nld::resolver::dns {
namespace {

// Found by libFuzzer: an owner name pointing into an earlier RR's TTL field decodes differently
// once the cache rewrites that TTL, so such messages are refused up front.
TEST(InspectResponse, RejectsNamesReadingTtlFields) {
  // TTL 0: the last byte of the TTL field is a root label, a valid name by itself.
  Bytes ok = Msg::replyTo("a.test", qtype::kA)
                 .answer("a.test", qtype::kA, 0, test::ipv4(1, 2, 3, 4))
                 .wire();
  const size_t ttl_at = 12 + 8 + 4 + 8 + 4;  // header, qname(8) + 4, owner(8) + type + class
  ASSERT_EQ(readU32(ok.data() + ttl_at), 0u);
  Bytes bad = ok;
  bad[hdr::kArcount + 1] = 1;
  const uint8_t ptr = static_cast<uint8_t>(ttl_at + 3);
  bad.insert(bad.end(), {0xc0, ptr, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 5, 6, 7, 8});
  EXPECT_FALSE(inspectResponse(bad));
  // The same RR with its owner pointing at the question name is fine.
  Bytes good = ok;
  good[hdr::kArcount + 1] = 1;
  good.insert(good.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 5, 6, 7, 8});
  EXPECT_TRUE(inspectResponse(good));
}

}  // namespace
}  // namespace nld::resolver::dns
