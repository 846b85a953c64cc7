#include "resolver/dns/builder.h"

#include <gtest/gtest.h>

#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"
#include "tests/resolver/dns/msg_builder.h"

namespace nld::resolver::dns {
namespace {

using test::Bytes;
using test::ipv4;
using test::Msg;

TEST(BuildErrorResponse, FormerrEchoesQuestion) {
  Bytes q = Msg().id(77).rd().cd().question("A.Test", qtype::kA).trailing({1, 2}).wire();
  uint8_t out[512];
  size_t n = buildErrorResponse(q, Rcode::kFormErr, out);
  ASSERT_GT(n, 0u);
  auto info = inspectResponse(std::span<const uint8_t>(out, n));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, 77);
  EXPECT_EQ(info->rcode, Rcode::kFormErr);
  EXPECT_EQ(info->qdcount, 1);
  EXPECT_FALSE(info->opt_offset);  // the query did not parse: no OPT
  EXPECT_TRUE(info->flags & flag::kRd);
  EXPECT_TRUE(info->flags & flag::kCd);
  EXPECT_TRUE(sameQuestion(q, std::span<const uint8_t>(out, n)));
  // The echoed question keeps the client's casing.
  EXPECT_EQ(out[13], 'A');
}

TEST(BuildErrorResponse, ServfailWithOptEchoesDo) {
  Bytes q = Msg().question("a.test", qtype::kA).edns(4096, true).wire();
  uint8_t out[512];
  size_t n = buildErrorResponse(q, Rcode::kServFail, out);
  auto info = inspectResponse(std::span<const uint8_t>(out, n));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->rcode, Rcode::kServFail);
  ASSERT_TRUE(info->opt_offset);
  EXPECT_EQ(readU16(out + *info->opt_offset + 3), kAdvertisedUdpSize);
  EXPECT_EQ(readU32(out + *info->opt_offset + 5), kEdnsDoBit);
}

TEST(BuildErrorResponse, BadversNeedsOpt) {
  Bytes q = Msg().question("a.test", qtype::kA).edns(1232, false, 3).wire();
  auto parsed = parseQuery(q);
  ASSERT_FALSE(parsed);
  uint8_t out[512];
  size_t n = buildErrorResponse(q, errorRcode(parsed.error()), out);
  auto info = inspectResponse(std::span<const uint8_t>(out, n));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->rcode, Rcode::kBadVers);
  EXPECT_EQ(headerFlags(std::span<const uint8_t>(out, n)) & flag::kRcodeMask, 0);
}

TEST(BuildErrorResponse, HeaderOnlyAndUnreadable) {
  Bytes q = Msg().id(5).forceCount(0, 3).wire();  // qdcount 3, nothing follows
  uint8_t out[512];
  size_t n = buildErrorResponse(q, Rcode::kFormErr, out);
  ASSERT_EQ(n, kHeaderSize);
  EXPECT_EQ(readU16(out), 5);
  EXPECT_EQ(readU16(out + hdr::kQdcount), 0);
  EXPECT_EQ(buildErrorResponse(Bytes(11, 0), Rcode::kFormErr, out), 0u);
  uint8_t tiny[20];
  EXPECT_EQ(buildErrorResponse(Msg().question("a.long.name.test", 1).wire(), Rcode::kRefused, tiny),
            0u);
}

// A big answer: 10 A in answer, 6 NS in authority, 12 glue A in additional, then OPT.
Bytes bigResponse(bool with_opt) {
  Msg m = Msg::replyTo("big.example.com", qtype::kA);
  m.compress();
  for (uint8_t i = 0; i < 10; ++i) {
    m.answer("big.example.com", qtype::kA, 60, ipv4(10, 0, 0, i));
  }
  for (int i = 0; i < 6; ++i) {
    m.authority("example.com", qtype::kNs, 60,
                test::nameWire("ns" + std::to_string(i) + ".example.com"));
  }
  for (uint8_t i = 0; i < 12; ++i) {
    m.additional("ns" + std::to_string(i % 6) + ".example.com", qtype::kA, 60, ipv4(192, 0, 2, i));
  }
  if (with_opt) {
    m.edns(1232, true);
  }
  return m.wire();
}

TEST(TruncateToFit, ShedsAdditionalThenAuthorityThenSetsTc) {
  Bytes full = bigResponse(true);
  auto info = inspectResponse(full);
  ASSERT_TRUE(info);
  const size_t opt = kOptRrSize;
  ASSERT_GT(full.size(), 512u);
  struct Step {
    size_t limit;
    uint16_t an, ns, ar;
    bool tc;
    size_t len;
  } steps[] = {
      {full.size(), 10, 6, 13, false, full.size()},
      {full.size() - 1, 10, 6, 1, false, info->authority_end + opt},
      {info->authority_end + opt - 1, 10, 0, 1, false, info->answer_end + opt},
      {info->answer_end + opt - 1, 0, 0, 1, true, info->question_end + opt},
      {info->question_end + opt - 1, 0, 0, 0, true, info->question_end},
      {size_t{info->question_end} - 1, 0, 0, 0, true, 0},
  };
  for (const auto& s : steps) {
    Bytes m = full;
    size_t n = truncateToFit(m, m.size(), s.limit);
    ASSERT_EQ(n, s.len) << "limit " << s.limit;
    if (n == 0) {
      continue;
    }
    auto t = inspectResponse(std::span<const uint8_t>(m.data(), n));
    ASSERT_TRUE(t) << "limit " << s.limit;
    EXPECT_EQ(t->ancount, s.an) << s.limit;
    EXPECT_EQ(t->nscount, s.ns) << s.limit;
    EXPECT_EQ(t->arcount, s.ar) << s.limit;
    EXPECT_EQ(t->tc, s.tc) << s.limit;
    if (s.ar == 1) {
      ASSERT_TRUE(t->opt_offset);
      EXPECT_EQ(readU32(m.data() + *t->opt_offset + 5), kEdnsDoBit);  // the OPT survived intact
    }
  }
}

TEST(TruncateToFit, ClientLimits) {
  // Without EDNS the client gets at most 512 bytes; with EDNS its advertised size.
  Bytes plain = bigResponse(false);
  Bytes q = Msg().question("big.example.com", qtype::kA).wire();
  auto pq = parseQuery(q);
  ASSERT_TRUE(pq);
  size_t n = truncateToFit(plain, plain.size(), pq->udpLimit());
  EXPECT_LE(n, 512u);
  auto t = inspectResponse(std::span<const uint8_t>(plain.data(), n));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ancount, 10);  // answer kept: only additional/authority shed
  EXPECT_FALSE(t->tc);

  Bytes with_opt = bigResponse(true);
  auto eq = parseQuery(Msg().question("big.example.com", qtype::kA).edns(4096).wire());
  EXPECT_EQ(truncateToFit(with_opt, with_opt.size(), eq->udpLimit()), with_opt.size());
}

TEST(TruncateToFit, MalformedGivesZero) {
  Bytes junk(600, 0xff);
  EXPECT_EQ(truncateToFit(junk, junk.size(), 512), 0u);
  EXPECT_EQ(truncateToFit(junk, junk.size() + 1, 512), 0u);
}

TEST(AppendOpt, IncrementsArcount) {
  Bytes r = Msg::replyTo("a.test", 1).answer("a.test", 1, 5, ipv4(1, 2, 3, 4)).wire();
  const size_t len = r.size();
  r.resize(len + kOptRrSize);
  size_t n = appendOpt(r, len, true);
  ASSERT_EQ(n, len + kOptRrSize);
  auto info = inspectResponse(r);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->arcount, 1);
  EXPECT_TRUE(info->opt_last);
  r.resize(len + 3);
  EXPECT_EQ(appendOpt(r, len, false), 0u);
}

}  // namespace
}  // namespace nld::resolver::dns

namespace nld::resolver::dns {
namespace {

// OPT not last (some servers put it before TSIG or glue): it still survives truncation and
// ends up right after the kept sections.
TEST(TruncateToFit, MovesOptFromTheMiddleOfAdditional) {
  Msg m = Msg::replyTo("mid.example.com", qtype::kA);
  for (uint8_t i = 0; i < 30; ++i) {
    m.answer("mid.example.com", qtype::kA, 60, ipv4(10, 0, 0, i));
  }
  m.additional("x.example.com", qtype::kA, 60, ipv4(1, 1, 1, 1));
  m.edns(1232, true);
  m.additional("y.example.com", qtype::kA, 60, ipv4(2, 2, 2, 2));
  Bytes w = m.wire();
  auto info = inspectResponse(w);
  ASSERT_TRUE(info);
  ASSERT_FALSE(info->opt_last);
  const size_t n = truncateToFit(w, w.size(), w.size() - 1);
  ASSERT_EQ(n, size_t{info->authority_end} + kOptRrSize);
  auto t = inspectResponse(std::span<const uint8_t>(w.data(), n));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->arcount, 1);
  EXPECT_TRUE(t->opt_last);
  EXPECT_EQ(readU32(w.data() + *t->opt_offset + 5), kEdnsDoBit);
  EXPECT_EQ(t->ancount, 30);
}

}  // namespace
}  // namespace nld::resolver::dns
