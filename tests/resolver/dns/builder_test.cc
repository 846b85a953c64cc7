#include "resolver/dns/builder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

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
      // The answer does not fit: as many whole answer records as do, and TC.
      {info->answer_end + opt - 1, 9, 0, 1, true, info->answer_end - 16 + opt},
      {info->question_end + opt + 15, 0, 0, 1, true, info->question_end + opt},
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
  EXPECT_EQ(t->ancount, 10);  // answer kept: only additional/authority (NS, optional) shed
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

namespace nld::resolver::dns {
namespace {

// RFC 6891 §6.1.1, §7, RFC 3225: every error answer to an EDNS query carries an OPT RR (our
// size, version 0) with the client's DO bit; an answer to a query without EDNS carries none.
TEST(BuildErrorResponse, EveryErrorKindEchoesEdnsAndDo) {
  struct Case {
    const char* name;
    Rcode rcode;
    // Builds the malformed query; `edns` adds a (first) OPT RR with DO set.
    Bytes (*query)(bool edns);
  } cases[] = {
      {"notimp", Rcode::kNotImp,
       [](bool edns) {
         Msg m = Msg().opcode(Opcode::kNotify).question("a.test", qtype::kSoa);
         return (edns ? m.edns(1232, true) : m).wire();
       }},
      {"formerr qdcount 2", Rcode::kFormErr,
       [](bool edns) {
         Msg m = Msg().question("a.test", qtype::kA).question("b.test", qtype::kA);
         return (edns ? m.edns(1232, true) : m).wire();
       }},
      {"formerr trailing", Rcode::kFormErr,
       [](bool edns) {
         Msg m = Msg().question("a.test", qtype::kA).trailing({1, 2, 3});
         return (edns ? m.edns(1232, true) : m).wire();
       }},
      {"formerr duplicated opt", Rcode::kFormErr,
       [](bool edns) {
         Msg m = Msg().question("a.test", qtype::kA);
         if (edns) {
           m.edns(1232, true).edns(512, false);
         } else {
           m.additional("x.test", qtype::kA, 5, ipv4(1, 2, 3, 4)).forceCount(3, 2);
         }
         return m.wire();
       }},
      {"formerr bad option layout", Rcode::kFormErr,
       [](bool edns) {
         Msg m = Msg().question("a.test", qtype::kA);
         if (edns) {
           m.edns(1232, true, 0, {0, 10, 0, 9, 1});  // option length 9, one byte present
         } else {
           m.forceCount(1, 1);  // an answer RR announced, none present
         }
         return m.wire();
       }},
      {"badvers", Rcode::kBadVers,
       [](bool edns) {
         // Without EDNS a version cannot be wrong: the no-EDNS twin is a plain FORMERR.
         Msg m = Msg().question("a.test", qtype::kA);
         return (edns ? m.edns(1232, true, 1) : m.forceCount(2, 1)).wire();
       }},
  };
  for (const auto& c : cases) {
    for (bool edns : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (edns ? " with EDNS" : " without EDNS"));
      const Bytes q = c.query(edns);
      auto parsed = parseQuery(q);
      ASSERT_FALSE(parsed);
      const Rcode want = edns || c.rcode != Rcode::kBadVers ? c.rcode : Rcode::kFormErr;
      ASSERT_EQ(errorRcode(parsed.error()), want) << parseErrorName(parsed.error());
      uint8_t out[512];
      const size_t n = buildErrorResponse(q, errorRcode(parsed.error()), out);
      ASSERT_GT(n, 0u);
      auto info = inspectResponse(std::span<const uint8_t>(out, n));
      ASSERT_TRUE(info);
      EXPECT_EQ(info->id, readU16(q.data()));
      EXPECT_EQ(info->rcode, want);
      ASSERT_EQ(info->opt_offset.has_value(), edns);
      if (edns) {
        const uint32_t ttl = readU32(out + *info->opt_offset + 5);
        EXPECT_EQ(ttl & kEdnsDoBit, kEdnsDoBit) << "DO echoed";
        EXPECT_EQ((ttl >> 16) & 0xff, 0u) << "our version";
        EXPECT_EQ(readU16(out + *info->opt_offset + 3), kAdvertisedUdpSize);
        EXPECT_EQ(readU16(out + *info->opt_offset + 9), 0) << "no options";
      }
    }
  }
}

TEST(BuildErrorResponse, DoClearStaysClear) {
  Bytes q = Msg().opcode(Opcode::kUpdate).question("a.test", qtype::kSoa).edns(4096).wire();
  uint8_t out[512];
  const size_t n = buildErrorResponse(q, Rcode::kNotImp, out);
  auto info = inspectResponse(std::span<const uint8_t>(out, n));
  ASSERT_TRUE(info && info->opt_offset);
  EXPECT_EQ(readU32(out + *info->opt_offset + 5), 0u);
}

Bytes rrsig(size_t size) { return Bytes(size, 0x5a); }  // opaque to the walker

// NXDOMAIN of a signed zone: SOA, two NSEC and their RRSIGs (RSA-2048-sized) in authority.
Bytes signedNxdomain() {
  Msg m = Msg::replyTo("missing.example.com", qtype::kA).rcode(Rcode::kNxDomain);
  m.soa("example.com", 300, 300);
  m.authority("example.com", qtype::kRrsig, 300, rrsig(330));
  m.authority("a.example.com", 47, 300, test::nameWire("z.example.com"));
  m.authority("a.example.com", qtype::kRrsig, 300, rrsig(330));
  m.authority("example.com", 47, 300, test::nameWire("a.example.com"));
  m.authority("example.com", qtype::kRrsig, 300, rrsig(330));
  m.additional("ns.example.com", qtype::kA, 300, ipv4(192, 0, 2, 53));
  m.edns(1232, true);
  return m.wire();
}

TEST(TruncateToFit, NegativeAnswerWithNsecProofsThatDoesNotFitSetsTc) {
  const Bytes full = signedNxdomain();
  auto info = inspectResponse(full);
  ASSERT_TRUE(info);
  ASSERT_GT(size_t{info->authority_end} + kOptRrSize, 1232u);
  for (size_t limit : {size_t{512}, size_t{1232}}) {
    SCOPED_TRACE(limit);
    Bytes m = full;
    const size_t n = truncateToFit(m, m.size(), limit);
    ASSERT_GT(n, 0u);
    ASSERT_LE(n, limit);
    auto t = inspectResponse(std::span<const uint8_t>(m.data(), n));
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->tc) << "a validator must retry over TCP, not see an unprovable NXDOMAIN";
    EXPECT_EQ(t->rcode, Rcode::kNxDomain);
    EXPECT_EQ(t->nscount, 0);
    EXPECT_TRUE(t->opt_offset);
  }
}

TEST(TruncateToFit, AdditionalIsDroppedFirstWithoutTc) {
  const Bytes full = signedNxdomain();
  auto info = inspectResponse(full);
  ASSERT_TRUE(info);
  Bytes m = full;
  const size_t n = truncateToFit(m, m.size(), size_t{info->authority_end} + kOptRrSize);
  auto t = inspectResponse(std::span<const uint8_t>(m.data(), n));
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->tc);
  EXPECT_EQ(t->nscount, 6);
  EXPECT_EQ(t->arcount, 1);  // only the OPT
}

TEST(TruncateToFit, NodataSoaIsRequired) {
  Msg m = Msg::replyTo("nodata.example.com", qtype::kAaaa);
  m.soa("example.com", 300, 60);
  const Bytes full = m.wire();
  auto info = inspectResponse(full);
  ASSERT_TRUE(info);
  Bytes w = full;
  const size_t n = truncateToFit(w, w.size(), info->authority_end - 1u);
  auto t = inspectResponse(std::span<const uint8_t>(w.data(), n));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->tc);
  EXPECT_EQ(t->nscount, 0);
}

TEST(TruncateToFit, WildcardProofWithAnswersIsRequired) {
  // DO=1 wildcard expansion: the NSEC proving no closer match is part of the answer.
  Msg m = Msg::replyTo("x.wild.example.com", qtype::kA).compress();
  m.answer("x.wild.example.com", qtype::kA, 60, ipv4(10, 0, 0, 1));
  m.answer("x.wild.example.com", qtype::kRrsig, 60, rrsig(200));
  m.authority("w.example.com", 47, 60, test::nameWire("y.example.com"));
  m.authority("w.example.com", qtype::kRrsig, 60, rrsig(330));
  m.edns(1232, true);
  const Bytes full = m.wire();
  auto info = inspectResponse(full);
  ASSERT_TRUE(info);
  Bytes w = full;
  const size_t n = truncateToFit(w, w.size(), 512);
  auto t = inspectResponse(std::span<const uint8_t>(w.data(), n));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->tc);
  EXPECT_EQ(t->ancount, 2);  // the answer fits whole
  EXPECT_EQ(t->nscount, 0);
}

// A headless Service with 30 endpoints: a client without EDNS (musl) gets as many whole A
// records as fit in 512 bytes, and TC — not an empty answer.
TEST(TruncateToFit, LargeRrsetKeepsWholeRecordsThatFitAndSetsTc) {
  for (bool compress : {true, false}) {
    SCOPED_TRACE(compress);
    Msg m = Msg::replyTo("headless.default.svc.cluster.local", qtype::kA).compress(compress);
    for (uint8_t i = 0; i < 30; ++i) {
      m.answer("headless.default.svc.cluster.local", qtype::kA, 5, ipv4(10, 1, 0, i));
    }
    Bytes w = m.wire();
    auto info = inspectResponse(w);
    ASSERT_TRUE(info);
    ASSERT_GT(w.size(), 512u);
    const size_t rr = compress ? 16 : 36 + 14;
    const size_t fit = (512 - info->question_end) / rr;
    const size_t n = truncateToFit(w, w.size(), 512);
    ASSERT_LE(n, 512u);
    auto t = inspectResponse(std::span<const uint8_t>(w.data(), n));
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->tc);
    EXPECT_EQ(t->ancount, fit);
    EXPECT_EQ(n, info->question_end + fit * rr);
    if (compress) {
      EXPECT_EQ(t->ancount, 28);  // as behind node-cache (CoreDNS)
    }
  }
}

TEST(BuildUpstreamQuery, OurOptOnlyNoClientOptions) {
  const Bytes cookie = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes padding = {0, 12, 0, 4, 0, 0, 0, 0};
  Bytes opts = cookie;
  opts.insert(opts.end(), padding.begin(), padding.end());
  struct Case {
    Bytes query;
    bool do_bit;
  } cases[] = {
      {Msg().id(9).rd().cd().question("Svc.Example", qtype::kA).edns(4096, true, 0, opts).wire(),
       true},
      {Msg().id(9).rd().question("Svc.Example", qtype::kA).wire(), false},
      {Msg().id(9).rd().question("Svc.Example", qtype::kA).edns(512, false, 0, cookie).wire(),
       false},
  };
  for (const auto& c : cases) {
    auto q = parseQuery(c.query);
    ASSERT_TRUE(q);
    uint8_t out[300];
    const size_t n = buildUpstreamQuery(c.query, *q, out);
    ASSERT_GT(n, 0u);
    auto u = parseQuery(std::span<const uint8_t>(out, n));
    ASSERT_TRUE(u);
    ASSERT_TRUE(u->edns);
    EXPECT_EQ(u->edns->rdlength, 0) << "no cookie, no padding";
    EXPECT_EQ(u->edns->udp_size, kAdvertisedUdpSize);
    EXPECT_EQ(u->edns->do_bit, c.do_bit);
    EXPECT_EQ(u->rd, q->rd);
    EXPECT_EQ(u->cd, q->cd);
    EXPECT_EQ(n, size_t{q->question_end} + kOptRrSize);
    EXPECT_EQ(
        std::memcmp(out + kHeaderSize, c.query.data() + kHeaderSize, q->question_end - kHeaderSize),
        0);
  }
}

TEST(BuildWaiterQuery, KeepsHeaderQuestionAndEdnsFactsOnly) {
  Bytes padding = {0, 12, 0xea, 0x60};
  padding.resize(padding.size() + 60000, 0);
  struct Case {
    Bytes query;
  } cases[] = {
      {Msg()
           .id(9)
           .rd()
           .cd()
           .question("Svc.Example", qtype::kA)
           .edns(1400, true, 0, padding)
           .wire()},
      {Msg().id(10).rd().question("Svc.Example", qtype::kAaaa).wire()},
      {Msg().id(11).question("svc.example", qtype::kA).edns(512, false).wire()},
  };
  for (const auto& c : cases) {
    auto q = parseQuery(c.query);
    ASSERT_TRUE(q);
    uint8_t out[kWaiterQueryMax];
    const size_t n = buildWaiterQuery(c.query, *q, out);
    ASSERT_GT(n, 0u);
    EXPECT_EQ(n, size_t{q->question_end} + (q->edns ? kOptRrSize : 0));
    auto w = parseQuery(std::span<const uint8_t>(out, n));
    ASSERT_TRUE(w);
    EXPECT_EQ(w->id, q->id);
    EXPECT_EQ(w->flags, q->flags);
    EXPECT_EQ(w->qtype, q->qtype);
    EXPECT_EQ(w->question_end, q->question_end);
    EXPECT_EQ(w->edns.has_value(), q->edns.has_value());
    EXPECT_EQ(w->doBit(), q->doBit());
    EXPECT_EQ(w->udpLimit(), q->udpLimit());
    EXPECT_EQ(
        std::memcmp(out + kHeaderSize, c.query.data() + kHeaderSize, q->question_end - kHeaderSize),
        0);
    // The same error answer as for the original.
    uint8_t a1[512], a2[512];
    const size_t n1 = buildErrorResponse(c.query, Rcode::kServFail, a1);
    const size_t n2 = buildErrorResponse(std::span<const uint8_t>(out, n), Rcode::kServFail, a2);
    ASSERT_EQ(n1, n2);
    EXPECT_EQ(std::memcmp(a1, a2, n1), 0);
  }
}

TEST(BuildClientAnswer, EachClientGetsItsOwnHeaderQuestionAndEdns) {
  // Upstream REFUSED, answering our query, with an OPT that carries a server cookie.
  const Bytes up =
      Msg::replyTo("svc.example", qtype::kA, 0x7777)
          .rcode(Rcode::kRefused)
          .edns(1232, true, 0, {0, 10, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9})
          .wire();
  auto info = inspectResponse(up);
  ASSERT_TRUE(info);
  const Bytes plain = Msg().id(1).rd().question("SVC.example", qtype::kA).wire();
  const Bytes with_do = Msg().id(2).rd().question("svc.EXAMPLE", qtype::kA).edns(4096, true).wire();
  for (const Bytes* qw : {&plain, &with_do}) {
    auto q = parseQuery(*qw);
    ASSERT_TRUE(q);
    uint8_t out[512];
    const size_t n = buildClientAnswer(up, *info, *q, *qw, out);
    ASSERT_GT(n, 0u);
    const std::span<const uint8_t> a(out, n);
    auto ai = inspectResponse(a);
    ASSERT_TRUE(ai);
    EXPECT_EQ(ai->id, q->id);
    EXPECT_EQ(ai->rcode, Rcode::kRefused);
    EXPECT_EQ(
        std::memcmp(out + kHeaderSize, qw->data() + kHeaderSize, q->question_end - kHeaderSize), 0)
        << "the client's casing";
    EXPECT_EQ(ai->opt_offset.has_value(), q->edns.has_value());
    if (ai->opt_offset) {
      EXPECT_EQ(readU32(out + *ai->opt_offset + 5), kEdnsDoBit);
      EXPECT_EQ(readU16(out + *ai->opt_offset + 9), 0) << "no upstream cookie";
    }
  }
}

TEST(BuildClientAnswer, OptInTheMiddleAndExtendedRcodes) {
  Msg m =
      Msg::replyTo("mid.example", qtype::kA).answer("mid.example", qtype::kA, 5, ipv4(1, 2, 3, 4));
  m.additional("x.example", qtype::kA, 5, ipv4(5, 6, 7, 8)).edns(1232, false);
  m.additional("y.example", qtype::kA, 5, ipv4(9, 9, 9, 9));
  const Bytes up = m.wire();
  auto info = inspectResponse(up);
  ASSERT_TRUE(info);
  const Bytes qw = Msg().id(3).question("mid.example", qtype::kA).edns(1232, false).wire();
  auto q = parseQuery(qw);
  uint8_t out[512];
  const size_t n = buildClientAnswer(up, *info, *q, qw, out);
  auto ai = inspectResponse(std::span<const uint8_t>(out, n));
  ASSERT_TRUE(ai);
  EXPECT_EQ(ai->ancount, 1);
  EXPECT_EQ(ai->arcount, 2);  // x.example and our OPT
  EXPECT_TRUE(ai->opt_last);

  // BADCOOKIE (23) needs EDNS: a client without it cannot be told (the caller answers SERVFAIL).
  Bytes bad = Msg::replyTo("mid.example", qtype::kA).edns(1232, false).wire();
  bad[bad.size() - 6] = 1;  // extended rcode 1 << 4 | 7 = 23
  bad[3] = static_cast<uint8_t>((bad[3] & 0xf0) | 7);
  auto bi = inspectResponse(bad);
  ASSERT_TRUE(bi);
  ASSERT_EQ(static_cast<unsigned>(bi->rcode), 23u);
  const Bytes noedns = Msg().id(4).question("mid.example", qtype::kA).wire();
  auto nq = parseQuery(noedns);
  EXPECT_EQ(buildClientAnswer(bad, *bi, *nq, noedns, out), 0u);
  const size_t k = buildClientAnswer(bad, *bi, *q, qw, out);
  auto ki = inspectResponse(std::span<const uint8_t>(out, k));
  ASSERT_TRUE(ki);
  EXPECT_EQ(static_cast<unsigned>(ki->rcode), 23u);
  // Beyond 255 (info.rcode saturates): the upper bits are copied as sent (found by libFuzzer).
  bad[bad.size() - 6] = 0x9d;
  auto si = inspectResponse(bad);
  ASSERT_TRUE(si);
  const size_t s = buildClientAnswer(bad, *si, *q, qw, out);
  ASSERT_GT(s, kOptRrSize);
  EXPECT_EQ(out[s - kOptRrSize + 5], 0x9d);
}

}  // namespace
}  // namespace nld::resolver::dns

// --- buildQuery: the queries we send ourselves (health probes) ---------------------------------

namespace nld::resolver::dns {
namespace {

TEST(BuildQuery, HeaderQuestionNoEdns) {
  uint8_t out[512];
  const size_t n =
      buildQuery(0xbeef, flag::kRd, "health.nodelocaldns.", qtype::kTxt, qclass::kCh, out);
  const uint8_t want[] = {
      0xbe, 0xef, 0x01, 0x00, 0,   1,   0,   0,  0,   0,   0,   0,  // ID, RD, QDCOUNT 1
      6,    'h',  'e',  'a',  'l', 't', 'h', 12, 'n', 'o', 'd', 'e', 'l',
      'o',  'c',  'a',  'l',  'd', 'n', 's', 0,  0,   16,  0,   3};
  ASSERT_EQ(n, sizeof want);
  EXPECT_EQ(std::memcmp(out, want, n), 0);
  // The same name without the trailing dot, the root, and what does not fit or parse.
  EXPECT_EQ(buildQuery(0xbeef, flag::kRd, "health.nodelocaldns", qtype::kTxt, qclass::kCh, out),
            sizeof want);
  EXPECT_EQ(buildQuery(1, 0, ".", qtype::kNs, qclass::kIn, out), kHeaderSize + 1 + 4);
  EXPECT_EQ(out[kHeaderSize], 0);
  EXPECT_EQ(buildQuery(1, 0, "a..b", qtype::kNs, qclass::kIn, out), 0u);
  EXPECT_EQ(buildQuery(1, 0, "example.com.", qtype::kNs, qclass::kIn,
                       std::span<uint8_t>(out, kHeaderSize + 13 + 3)),
            0u);
  EXPECT_EQ(buildQuery(1, 0, "example.com.", qtype::kNs, qclass::kIn,
                       std::span<uint8_t>(out, kHeaderSize + 13 + 4)),
            kHeaderSize + 13 + 4);
}

}  // namespace
}  // namespace nld::resolver::dns
