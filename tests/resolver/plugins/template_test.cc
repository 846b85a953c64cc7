#include "resolver/plugins/template.h"

#include <gtest/gtest.h>

namespace nld::resolver::plugins {
namespace {

std::vector<uint8_t> rr(const char* text) {
  std::vector<uint8_t> out;
  auto r = appendRecordText(text, out);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message());
  return out;
}

TEST(TemplateRecordText, ParsesTheTypesTemplatesWrite) {
  // owner "a." = 01 'a' 00; then type, class, ttl, rdlength.
  EXPECT_EQ(rr("a 60 IN A 10.0.0.1"),
            (std::vector<uint8_t>{1, 'a', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1}));
  // TTL and class in either order, class optional, default TTL 3600
  EXPECT_EQ(rr("a. IN 60 A 10.0.0.1"), rr("a 60 A 10.0.0.1"));
  auto d = rr("a. A 10.0.0.1");
  EXPECT_EQ((d[7] << 24) | (d[8] << 16) | (d[9] << 8) | d[10], 3600);
  EXPECT_EQ(rr("a. 1 IN AAAA ::1").size(), 3u + 10u + 16u);
  EXPECT_EQ(rr("a. 1 IN CNAME b.").size(), 3u + 10u + 3u);
  EXPECT_EQ(rr("a. 1 IN SRV 1 2 53 b.").size(), 3u + 10u + 6u + 3u);
  auto txt = rr("a. 1 IN TXT \"hello world\" x");
  EXPECT_EQ(txt.size(), 3u + 10u + 12u + 2u);
  EXPECT_EQ(txt[13], 11);
  EXPECT_EQ(rr("a. 1 IN SOA ns. host. (1 60 60 60 60) ; comment").size(), 3u + 10u + 4u + 6u + 20u);
}

TEST(TemplateRecordText, RejectsWhatItCannotWrite) {
  for (const char* bad : {"", "a.", "a. 60 IN A", "a. 60 IN A ::1", "a. 60 IN AAAA 1.2.3.4",
                          "a. 60 IN MX x b.", "a. 60 IN SOA ns. host. 1 2 3", "a. 60 IN HINFO x y",
                          "a..b 60 IN A 1.2.3.4", "a. 60 IN TXT \"open", "<no value> 60 IN A 1"}) {
    std::vector<uint8_t> out;
    EXPECT_FALSE(appendRecordText(bad, out)) << bad;
  }
}

}  // namespace
}  // namespace nld::resolver::plugins
