// base/json: the strict JSON reader shared by the nftables backend and the kube-dns ConfigMap.
#include "base/json.h"

#include <gtest/gtest.h>

#include <string>

namespace nld {
namespace {

TEST(Json, ParsesNestedValuesAndEscapes) {
  auto v = parseJson(R"( {"a": [1, -2, 3.5, true, false, null], "s": "x\"\\\u00e9\ud83d\ude00"} )");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(v->kind(), JsonKind::kObject);
  const auto* a = v->get("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->array()->size(), 6u);
  EXPECT_EQ((*a->array())[1].integer(), -2);
  EXPECT_FALSE((*a->array())[2].integer().has_value());
  EXPECT_EQ((*a->array())[2].number(), 3.5);
  EXPECT_EQ((*a->array())[3].boolean(), true);
  EXPECT_EQ((*a->array())[4].boolean(), false);
  EXPECT_TRUE((*a->array())[5].isNull());
  EXPECT_EQ(v->getString("s"), "x\"\\\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(v->get("missing"), nullptr);
  EXPECT_FALSE(v->getInt("s").has_value());
  EXPECT_EQ(a->get("x"), nullptr);  // not an object
  EXPECT_EQ(a->members(), nullptr);
}

TEST(Json, AllEscapes) {
  auto v = parseJson(R"("\"\\\/\b\f\n\r\t\u0041\u00DF")");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(*v->string(), "\"\\/\b\f\n\r\tA\xc3\x9f");
}

TEST(Json, KindsAndNames) {
  const std::pair<const char*, JsonKind> cases[] = {
      {"null", JsonKind::kNull},     {"true", JsonKind::kBool},   {"0", JsonKind::kNumber},
      {"-0.5e1", JsonKind::kNumber}, {"\"\"", JsonKind::kString}, {"[]", JsonKind::kArray},
      {"{}", JsonKind::kObject},
  };
  for (const auto& [text, kind] : cases) {
    auto v = parseJson(text);
    ASSERT_TRUE(v.has_value()) << text << ": " << v.error().message();
    EXPECT_EQ(v->kind(), kind) << text;
  }
  EXPECT_EQ(jsonKindName(JsonKind::kNull), "null");
  EXPECT_EQ(jsonKindName(JsonKind::kBool), "boolean");
  EXPECT_EQ(jsonKindName(JsonKind::kNumber), "number");
  EXPECT_EQ(jsonKindName(JsonKind::kString), "string");
  EXPECT_EQ(jsonKindName(JsonKind::kArray), "array");
  EXPECT_EQ(jsonKindName(JsonKind::kObject), "object");
}

// kube-dns reads stubDomains in document order, and a repeated domain must behave as in Go
// (the last one wins); nft decoding uses get(), which must agree.
TEST(Json, ObjectMembersKeepDocumentOrderAndRepeats) {
  auto v = parseJson(R"({"b": 1, "a": 2, "b": 3})");
  ASSERT_TRUE(v.has_value()) << v.error().message();
  const auto* m = v->members();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].key, "b");
  EXPECT_EQ((*m)[1].key, "a");
  EXPECT_EQ((*m)[2].key, "b");
  EXPECT_EQ((*m)[2].value.integer(), 3);
  EXPECT_EQ(v->getInt("b"), 3);
  EXPECT_EQ(v->getInt("a"), 2);
}

TEST(Json, NumbersFollowTheRfcGrammar) {
  EXPECT_EQ(parseJson("9223372036854775807")->integer(), INT64_MAX);
  EXPECT_EQ(parseJson("-9223372036854775808")->integer(), INT64_MIN);
  auto big = parseJson("9223372036854775808");  // integral, beyond int64: a double
  ASSERT_TRUE(big.has_value());
  EXPECT_FALSE(big->integer().has_value());
  EXPECT_EQ(big->number(), 9223372036854775808.0);
  EXPECT_EQ(parseJson("-0")->integer(), 0);
  EXPECT_EQ(parseJson("1E2")->number(), 100.0);
  EXPECT_FALSE(parseJson("1E2")->integer().has_value());
  EXPECT_EQ(parseJson("2.5e-1")->number(), 0.25);
  EXPECT_EQ(parseJson("1e-400")->number(), 0.0);  // underflow: zero, as Go's ParseFloat
  EXPECT_EQ(parseJson("0.0000e99999999999999999999")->number(), 0.0);
  for (const char* bad : {"01", "-", "1.", ".5", "+1", "1e", "1e+", "-a", "0x10", "1.5.2"}) {
    auto v = parseJson(bad);
    ASSERT_FALSE(v.has_value()) << bad;
    EXPECT_NE(v.error().message().find("invalid JSON at offset"), std::string::npos)
        << v.error().message();
  }
  auto huge = parseJson("[1e400]");
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().message(), "invalid JSON at offset 1: number out of range");
  EXPECT_FALSE(parseJson("-123456789012345678901234567890e300").has_value());
  EXPECT_FALSE(parseJson("0.001e99999999999999999999").has_value());
}

// Go's encoding/json: a surrogate that does not pair becomes U+FFFD, and a following escape is
// read on its own.
TEST(Json, LoneSurrogatesBecomeReplacementCharacters) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("\ud800")", "\xef\xbf\xbd"},
      {R"("\udc00x")", "\xef\xbf\xbdx"},
      {R"("\ud800\u0041")",
       "\xef\xbf\xbd"
       "A"},
      {R"("\ud800\ud83d\ude00")", "\xef\xbf\xbd\xf0\x9f\x98\x80"},
      {R"("\ud800\\")", "\xef\xbf\xbd\\"},
  };
  for (const auto& [text, want] : cases) {
    auto v = parseJson(text);
    ASSERT_TRUE(v.has_value()) << text << ": " << v.error().message();
    EXPECT_EQ(*v->string(), want) << text;
  }
}

TEST(Json, RejectsMalformedInputWithOffset) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "invalid JSON at offset 0: unexpected end of input"},
      {"{", "invalid JSON at offset 1: expected a string key"},
      {"{\"a\" 1}", "invalid JSON at offset 5: expected ':'"},
      {"{\"a\":1 \"b\":2}", "invalid JSON at offset 7: expected ',' or '}'"},
      {"[1,]", "invalid JSON at offset 3: unexpected character ']'"},
      {"[1 2]", "invalid JSON at offset 3: expected ',' or ']'"},
      {"[1] x", "invalid JSON at offset 4: unexpected text after the value"},
      {"\"\\q\"", "invalid JSON at offset 3: bad escape '\\q'"},
      {"\"\\u12g4\"", "invalid JSON at offset 3: bad \\u escape"},
      {"\"ab", "invalid JSON at offset 3: unterminated string"},
      {"\"a\nb\"", "invalid JSON at offset 3: control character in string"},
      {"tru", "invalid JSON at offset 0: unexpected character 't'"},
      {"{\"a\":-}", "invalid JSON at offset 6: malformed number"},
      {"{1:2}", "invalid JSON at offset 1: expected a string key"},
      {"nul", "invalid JSON at offset 0: unexpected character 'n'"},
  };
  for (const auto& [text, want] : cases) {
    auto v = parseJson(text);
    ASSERT_FALSE(v.has_value()) << text;
    EXPECT_EQ(v.error().code(), Errc::kParse);
    EXPECT_EQ(v.error().message(), want) << text;
  }
}

TEST(Json, NestingIsBounded) {
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '[') +
           std::string(static_cast<size_t>(depth), ']');
  };
  EXPECT_TRUE(parseJson(nested(kMaxJsonDepth + 1)).has_value());  // depths 0..64
  auto deep = parseJson(nested(kMaxJsonDepth + 2));
  ASSERT_FALSE(deep.has_value());
  EXPECT_NE(deep.error().message().find("nested too deeply"), std::string::npos);
  // Far deeper than the limit: an error, not a stack overflow.
  EXPECT_FALSE(parseJson(std::string(100000, '[')).has_value());
  EXPECT_FALSE(parseJson(std::string(100000, '{')).has_value());
}

TEST(Json, WhitespaceAndEmbeddedNul) {
  EXPECT_TRUE(parseJson(" \t\r\n{ \"a\" : [ ] }\n").has_value());
  EXPECT_FALSE(parseJson("\f1").has_value());  // not JSON whitespace
  EXPECT_FALSE(parseJson(std::string("1\0", 2)).has_value());
  auto nul = parseJson(R"("a\u0000b")");
  ASSERT_TRUE(nul.has_value());
  EXPECT_EQ(*nul->string(), std::string("a\0b", 3));
}

}  // namespace
}  // namespace nld
