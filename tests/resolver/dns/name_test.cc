#include "resolver/dns/name.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <string>
#include <vector>

#include "tests/resolver/dns/msg_builder.h"

namespace nld::resolver::dns {
namespace {

using test::Bytes;

TEST(Name, TextRoundTrip) {
  for (const char* text : {".", "com.", "www.example.com.", "a\\.b.example.", "x\\032y.test."}) {
    Bytes w = test::nameWire(text);
    EXPECT_EQ(nameToText(w, 0), text);
  }
  EXPECT_EQ(nameToText(test::nameWire("no.trailing.dot"), 0), "no.trailing.dot.");
}

TEST(Name, FromTextRejectsBadNames) {
  uint8_t buf[300];
  EXPECT_EQ(nameFromText("a..b", buf), 0u);
  EXPECT_EQ(nameFromText(std::string(64, 'a') + ".com", buf), 0u);
  EXPECT_NE(nameFromText(std::string(63, 'a') + ".com", buf), 0u);
  std::string long_name;
  for (int i = 0; i < 5; ++i) {
    long_name += std::string(50, 'a') + ".";
  }
  EXPECT_EQ(nameFromText(long_name, buf), 0u);  // 5 * 51 + 1 = 256 > 255
}

TEST(Name, ReadsPlainName) {
  Bytes w = test::nameWire("www.example.com");
  auto ref = readName(w, 0);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->length, 17);
  EXPECT_EQ(ref->end, 17);
  EXPECT_EQ(ref->labels, 3);
  EXPECT_FALSE(ref->compressed);
}

TEST(Name, MaxLengthAcceptedOneMoreRejected) {
  // 255 bytes: 3 × (63+1) + (61+1) + root = 192 + 62 + 1 = 255.
  std::string text = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(61, 'd') + ".";
  Bytes w = test::nameWire(text);
  ASSERT_EQ(w.size(), 255u);
  EXPECT_TRUE(readName(w, 0));
  // Hand-build 256 bytes (nameFromText refuses it).
  Bytes big = w;
  big[192] = 62;  // 4th label one longer
  big.insert(big.begin() + 193, 'e');
  EXPECT_FALSE(readName(big, 0));
}

Bytes afterHeader(std::initializer_list<uint8_t> bytes) {
  Bytes b(kHeaderSize, 0);  // names live after the 12-byte header; pointers may not point into it
  b.insert(b.end(), bytes);
  return b;
}

TEST(Name, CompressionBackwardsChain) {
  // "example.com" at 12, "www" + ptr(12) at 25, "a" + ptr(25) at 31.
  Bytes w(kHeaderSize, 0);
  Bytes ex = test::nameWire("example.com");  // 13 bytes
  w.insert(w.end(), ex.begin(), ex.end());
  w.insert(w.end(), {3, 'w', 'w', 'w', 0xc0, 12});  // offset 25
  w.insert(w.end(), {1, 'a', 0xc0, 25});            // offset 31
  auto ref = readName(w, 31);
  ASSERT_TRUE(ref);
  EXPECT_TRUE(ref->compressed);
  EXPECT_EQ(ref->end, 35);
  EXPECT_EQ(ref->length, 19);
  EXPECT_EQ(nameToText(w, 31), "a.www.example.com.");
}

struct BadName {
  const char* what;
  Bytes wire;
  size_t offset;
};

void PrintTo(const BadName& c, std::ostream* os) { *os << c.what; }

std::string caseName(const ::testing::TestParamInfo<BadName>& info) {
  std::string n;
  for (const char* p = info.param.what; *p != 0; ++p) {
    n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  }
  return n;
}

class NameRejects : public ::testing::TestWithParam<BadName> {};

TEST_P(NameRejects, Invalid) {
  const auto& c = GetParam();
  EXPECT_FALSE(readName(c.wire, c.offset)) << c.what;
  uint8_t buf[255];
  EXPECT_EQ(copyNameLower(c.wire, c.offset, buf), 0u) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NameRejects,
    ::testing::Values(
        BadName{"empty", {}, 0}, BadName{"offset past end", {0}, 1},
        BadName{"label past end", {5, 'a', 'b'}, 0}, BadName{"no root", {1, 'a'}, 0},
        BadName{"self pointer", afterHeader({0xc0, 12}), 12},
        BadName{"forward pointer", afterHeader({0xc0, 14, 0x00}), 12},
        BadName{"two-step loop", afterHeader({1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12}), 16},
        BadName{"pointer into the header",
                [] {
                  Bytes b = afterHeader({0xc0, 4});
                  b[4] = 1;  // header bytes 4..6 spell the valid name "\001x\000"
                  b[5] = 'x';
                  b[6] = 0;
                  return b;
                }(),
                12},
        // Jump back into the middle of an earlier label, which then runs forward into the pointer.
        // A pointer back into the middle of the label that leads to it: "before the pointer" but
        // not before the segment, so a naive rule would loop forever.
        // The label at 13 swallows the pointer at 15 and ends at 18: the name would read bytes
        // after itself (libFuzzer found such names running into dropped RRs).
        BadName{"jump runs past its pointer", afterHeader({0, 4, 'x', 0xc0, 13, 'y', 0}), 15},
        BadName{"loop via mid-label", afterHeader({0, 0, 0, 4, 1, 'x', 1, 'y', 0xc0, 16}), 15},
        BadName{"pointer truncated", {1, 'a', 0xc0}, 0},
        BadName{"extended label 0x40", {0x41, 'a', 0}, 0},
        BadName{"reserved label 0x80", {0x81, 'a', 0}, 0},
        BadName{"label 64",
                [] {
                  Bytes b{64};
                  b.insert(b.end(), 64, 'a');
                  b.push_back(0);
                  return b;
                }(),
                0}),
    caseName);

TEST(Name, CopyLowerAndCompare) {
  Bytes a = test::nameWire("WWW.Example.COM");
  Bytes b = test::nameWire("www.example.com");
  uint8_t buf[255];
  ASSERT_EQ(copyNameLower(a, 0, buf), b.size());
  EXPECT_TRUE(std::equal(b.begin(), b.end(), buf));
  EXPECT_TRUE(namesEqual(a, 0, b, 0));
  EXPECT_FALSE(namesEqual(a, 0, test::nameWire("www.example.org"), 0));
  EXPECT_FALSE(namesEqual(a, 0, test::nameWire("www.example.co"), 0));
  // Non-ASCII bytes are compared exactly (RFC 4343: only A-Z fold).
  Bytes c = {1, 0xC4, 0};
  Bytes d = {1, 0xE4, 0};
  EXPECT_FALSE(namesEqual(c, 0, d, 0));
}

TEST(Name, CopyLowerEveryByteValueAtEveryAlignment) {
  // Binary labels are legal: only 'A'..'Z' may change, whatever the byte's position in the word.
  for (size_t shift = 0; shift < 8; ++shift) {
    std::vector<uint8_t> wire(shift, 0xee);  // the name starts `shift` bytes into the message
    std::vector<uint8_t> expect;
    for (int label = 0; label < 4; ++label) {
      const size_t len = label == 3 ? 61 : 63;
      wire.push_back(static_cast<uint8_t>(len));
      expect.push_back(static_cast<uint8_t>(len));
      for (size_t i = 0; i < len; ++i) {
        const auto c = static_cast<uint8_t>((label * 63 + i + shift) & 0xff);
        wire.push_back(c);
        expect.push_back(c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + 32) : c);
      }
    }
    wire.push_back(0);
    expect.push_back(0);
    ASSERT_EQ(expect.size(), kMaxNameLength);
    std::array<uint8_t, kMaxNameLength> buf{};
    ASSERT_EQ(copyNameLower(wire, shift, buf), kMaxNameLength) << shift;
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), buf.begin())) << "shift " << shift;
  }
}

TEST(Name, CopyLowerOutputTooSmall) {
  Bytes a = test::nameWire("www.example.com");
  uint8_t buf[5];
  EXPECT_EQ(copyNameLower(a, 0, buf), 0u);
}

}  // namespace
}  // namespace nld::resolver::dns
