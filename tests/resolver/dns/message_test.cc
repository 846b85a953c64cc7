#include "resolver/dns/message.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "tests/resolver/dns/msg_builder.h"

namespace nld::resolver::dns {
namespace {

using test::Bytes;
using test::Msg;

TEST(ParseQuery, SimpleQuery) {
  Bytes w = Msg().id(0xbeef).rd().question("WWW.Example.com", qtype::kAaaa).wire();
  auto q = parseQuery(w);
  ASSERT_TRUE(q) << parseErrorName(q.error());
  EXPECT_EQ(q->id, 0xbeef);
  EXPECT_TRUE(q->rd);
  EXPECT_FALSE(q->cd);
  EXPECT_EQ(q->qtype, qtype::kAaaa);
  EXPECT_EQ(q->qclass, qclass::kIn);
  EXPECT_EQ(q->qname_offset, 12);
  EXPECT_EQ(q->qname_length, 17);
  EXPECT_EQ(q->question_end, 12 + 17 + 4);
  EXPECT_FALSE(q->edns);
  EXPECT_EQ(q->udpLimit(), 512u);
}

TEST(ParseQuery, Edns) {
  Bytes w = Msg().cd().question("a.test", qtype::kA).edns(4096, true).wire();
  auto q = parseQuery(w);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->edns);
  EXPECT_EQ(q->edns->udp_size, 4096);
  EXPECT_TRUE(q->doBit());
  EXPECT_TRUE(q->cd);
  EXPECT_EQ(q->udpLimit(), 4096u);
  EXPECT_EQ(q->edns->opt_offset, q->question_end);
  // A client advertising less than 512 still gets 512 (RFC 6891 §6.2.5).
  auto small = parseQuery(Msg().question("a.test", qtype::kA).edns(100).wire());
  ASSERT_TRUE(small);
  EXPECT_EQ(small->udpLimit(), 512u);
}

TEST(ParseQuery, EdnsWithOptions) {
  Bytes cookie = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};  // option 10 (COOKIE), 8 bytes
  auto q = parseQuery(Msg().question("a.test", qtype::kA).edns(1232, false, 0, cookie).wire());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->edns->rdlength, 12);
}

TEST(ParseQuery, RootAndOddClasses) {
  auto q = parseQuery(Msg().question(".", qtype::kNs).wire());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->qname_length, 1);
  auto ch = parseQuery(Msg().question("version.bind", qtype::kTxt, qclass::kCh).wire());
  ASSERT_TRUE(ch);
  EXPECT_EQ(ch->qclass, qclass::kCh);
}

struct BadQuery {
  const char* what;
  Bytes wire;
  ParseError expected;
};

void PrintTo(const BadQuery& c, std::ostream* os) { *os << c.what; }

std::string caseName(const ::testing::TestParamInfo<BadQuery>& info) {
  std::string n;
  for (const char* p = info.param.what; *p != 0; ++p) {
    n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  }
  return n;
}

class ParseQueryRejects : public ::testing::TestWithParam<BadQuery> {};

TEST_P(ParseQueryRejects, WithTheRightError) {
  const auto& c = GetParam();
  auto q = parseQuery(c.wire);
  ASSERT_FALSE(q) << c.what;
  EXPECT_EQ(q.error(), c.expected) << c.what << ": got " << parseErrorName(q.error());
}

const Bytes kOptRr = [] {
  Bytes o{0, 0, 41};
  Msg::put16(o, 1232);
  Msg::put32(o, 0);
  Msg::put16(o, 0);
  return o;
}();

INSTANTIATE_TEST_SUITE_P(
    Table, ParseQueryRejects,
    ::testing::Values(
        BadQuery{"empty", {}, ParseError::kTooShort},
        BadQuery{"11 bytes", Bytes(11, 0), ParseError::kTooShort},
        BadQuery{"response", Msg().qr().question("a.test", 1).wire(), ParseError::kNotQuery},
        BadQuery{"notify", Msg().opcode(Opcode::kNotify).question("a.test", 6).wire(),
                 ParseError::kNotImplemented},
        BadQuery{"update", Msg().opcode(Opcode::kUpdate).question("a.test", 6).wire(),
                 ParseError::kNotImplemented},
        BadQuery{"qdcount 0", Msg().wire(), ParseError::kBadQdcount},
        BadQuery{"qdcount 2", Msg().question("a.test", 1).question("b.test", 1).wire(),
                 ParseError::kBadQdcount},
        BadQuery{"qdcount says 2, one present", Msg().question("a.test", 1).forceCount(0, 2).wire(),
                 ParseError::kBadQdcount},
        BadQuery{"pointer as qname",
                 [] {
                   Bytes b = Msg().question("a.test", 1).wire();
                   b.resize(12);
                   b.insert(b.end(), {0xc0, 0x0c, 0, 1, 0, 1});
                   return b;
                 }(),
                 ParseError::kBadName},
        BadQuery{"forward pointer in qname",
                 [] {
                   Bytes b = Msg().question("a.test", 1).wire();
                   b.resize(12);
                   b.insert(b.end(), {1, 'a', 0xc0, 0x14, 0, 1, 0, 1, 0});
                   return b;
                 }(),
                 ParseError::kBadName},
        BadQuery{"label 64",
                 [] {
                   Bytes b = Msg().question("a.test", 1).wire();
                   b.resize(12);
                   b.push_back(64);
                   b.insert(b.end(), 64, 'x');
                   b.insert(b.end(), {0, 0, 1, 0, 1});
                   return b;
                 }(),
                 ParseError::kBadName},
        BadQuery{"qname truncated",
                 [] {
                   Bytes b = Msg().question("abc.test", 1).wire();
                   b.resize(15);
                   return b;
                 }(),
                 ParseError::kBadName},
        BadQuery{"qtype truncated",
                 [] {
                   Bytes b = Msg().question("a.test", 1).wire();
                   b.resize(b.size() - 3);
                   return b;
                 }(),
                 ParseError::kTruncated},
        BadQuery{"arcount 1, no RR", Msg().question("a.test", 1).forceCount(3, 1).wire(),
                 ParseError::kTruncated},
        BadQuery{"two OPT", Msg().question("a.test", 1).edns().edns().wire(), ParseError::kBadOpt},
        BadQuery{"OPT with non-root owner",
                 [] {
                   Bytes o{1, 'x', 0, 0, 41};
                   Msg::put16(o, 1232);
                   Msg::put32(o, 0);
                   Msg::put16(o, 0);
                   return Msg().question("a.test", 1).rawAdditional(o).wire();
                 }(),
                 ParseError::kBadOpt},
        BadQuery{"OPT in answer section",
                 [] {
                   Bytes b = Msg().question("a.test", 1).wire();
                   b[7] = 1;  // ancount
                   b.insert(b.end(), kOptRr.begin(), kOptRr.end());
                   return b;
                 }(),
                 ParseError::kBadOpt},
        BadQuery{"OPT option overruns rdata",
                 Msg().question("a.test", 1).edns(1232, false, 0, {0, 10, 0, 9, 1, 2}).wire(),
                 ParseError::kBadOpt},
        BadQuery{"EDNS version 1", Msg().question("a.test", 1).edns(1232, false, 1).wire(),
                 ParseError::kBadVersion},
        BadQuery{"trailing garbage", Msg().question("a.test", 1).trailing({0xde, 0xad}).wire(),
                 ParseError::kTrailing},
        BadQuery{"trailing after OPT", Msg().question("a.test", 1).edns().trailing({0}).wire(),
                 ParseError::kTrailing},
        BadQuery{"additional RR with looping owner",
                 [] {
                   Bytes b = Msg().question("a.test", 1).forceCount(3, 1).wire();
                   const uint8_t at = static_cast<uint8_t>(b.size());
                   b.insert(b.end(), {0xc0, at, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
                   return b;
                 }(),
                 ParseError::kBadRr}),
    caseName);

// Every strict prefix of a valid query with EDNS is rejected (and never read out of bounds:
// the ASan build runs this too).
TEST(ParseQuery, TruncatedAtEveryOffset) {
  Bytes w = Msg().rd().question("www.example.com", qtype::kA).edns(1232, true).wire();
  ASSERT_TRUE(parseQuery(w));
  for (size_t n = 0; n < w.size(); ++n) {
    Bytes prefix(w.begin(), w.begin() + static_cast<ptrdiff_t>(n));
    auto q = parseQuery(prefix);
    ASSERT_FALSE(q) << "prefix " << n;
    if (n < kHeaderSize) {
      EXPECT_EQ(q.error(), ParseError::kTooShort);
      EXPECT_FALSE(headerReadable(prefix));
    } else {
      EXPECT_TRUE(shouldAnswer(q.error())) << n;
      EXPECT_EQ(errorRcode(q.error()), Rcode::kFormErr) << n;
    }
  }
}

TEST(ParseQuery, ErrorPolicy) {
  EXPECT_FALSE(shouldAnswer(ParseError::kTooShort));
  EXPECT_FALSE(shouldAnswer(ParseError::kNotQuery));
  EXPECT_TRUE(shouldAnswer(ParseError::kTrailing));
  EXPECT_EQ(errorRcode(ParseError::kNotImplemented), Rcode::kNotImp);
  EXPECT_EQ(errorRcode(ParseError::kBadVersion), Rcode::kBadVers);
  EXPECT_EQ(errorRcode(ParseError::kBadOpt), Rcode::kFormErr);
}

TEST(SameQuestion, CaseInsensitiveAndStrict) {
  Bytes q = Msg().question("WwW.Example.COM", qtype::kA).wire();
  Bytes r = Msg::replyTo("www.example.com", qtype::kA).wire();
  EXPECT_TRUE(sameQuestion(q, r));
  EXPECT_FALSE(sameQuestion(q, Msg::replyTo("www.example.com", qtype::kAaaa).wire()));
  EXPECT_FALSE(sameQuestion(q, Msg::replyTo("ww.example.com", qtype::kA).wire()));
  EXPECT_FALSE(
      sameQuestion(q, Msg().qr().question("www.example.com", qtype::kA, qclass::kCh).wire()));
  EXPECT_FALSE(sameQuestion(q, Msg().qr().wire()));  // no question
  Bytes cut = r;
  cut.resize(cut.size() - 1);
  EXPECT_FALSE(sameQuestion(q, cut));
}

TEST(Header, SetIdAndAccessors) {
  Bytes w = Msg().id(1).rd().question("a.test", 1).wire();
  setId(w, 0xabcd);
  EXPECT_EQ(headerId(w), 0xabcd);
  EXPECT_EQ(headerFlags(w), flag::kRd);
  EXPECT_EQ(headerCount(w, hdr::kQdcount), 1);
  Bytes tiny(5, 0);
  setId(tiny, 7);  // no-op, no crash
  EXPECT_EQ(tiny, Bytes(5, 0));
}

}  // namespace
}  // namespace nld::resolver::dns
