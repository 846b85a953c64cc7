// CacheScope: `cache ZONES` and `disable success|denial ZONES` (CoreDNS plugin/cache).
#include "resolver/cache/cache_scope.h"

#include <gtest/gtest.h>

#include <string>

#include "resolver/dns/name.h"

namespace nld::resolver::cache {
namespace {

using dns::ResponseType;

struct Name {
  uint8_t wire[255];
  size_t length;
  explicit Name(const std::string& text) {
    length = dns::nameFromText(text, wire);
    for (size_t i = 0; i < length; ++i) {
      wire[i] = dns::asciiLower(wire[i]);
    }
  }
};

bool covers(const CacheScope& s, const std::string& name) {
  Name n(name);
  return s.covers(n.wire, n.length);
}
bool mayStore(const CacheScope& s, const std::string& name, ResponseType t) {
  Name n(name);
  return s.mayStore(n.wire, n.length, t);
}

TEST(CacheScope, DefaultCoversEverythingAndStoresEverything) {
  CacheScope s;
  EXPECT_TRUE(s.everything());
  EXPECT_TRUE(covers(s, "a.example.org."));
  EXPECT_TRUE(covers(s, "."));
  EXPECT_TRUE(mayStore(s, "a.example.org.", ResponseType::kNoError));
  EXPECT_TRUE(mayStore(s, "a.example.org.", ResponseType::kNameError));
}

TEST(CacheScope, ZonesLimitWhatIsCachedAtLabelBoundaries) {
  auto s = CacheScope::create({"svc.cluster.local.", "Example.ORG."}, {}, {});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_FALSE(s->everything());
  EXPECT_TRUE(covers(*s, "svc.cluster.local."));
  EXPECT_TRUE(covers(*s, "a.b.svc.cluster.local."));
  EXPECT_TRUE(covers(*s, "www.example.org."));  // zones compare case-insensitively
  EXPECT_FALSE(covers(*s, "pod.cluster.local."));
  EXPECT_FALSE(covers(*s, "xsvc.cluster.local."));  // not a label boundary
  EXPECT_FALSE(covers(*s, "cluster.local."));
  EXPECT_FALSE(covers(*s, "."));
}

TEST(CacheScope, DisableSuccessAndDenialSplitByResponseClass) {
  auto s = CacheScope::create({}, {"nopos.example."}, {"noneg.example.", "both.example."});
  ASSERT_TRUE(s) << s.error().message();
  for (auto t : {ResponseType::kNoError, ResponseType::kDelegation}) {
    EXPECT_FALSE(mayStore(*s, "a.nopos.example.", t));
    EXPECT_TRUE(mayStore(*s, "a.noneg.example.", t));
    EXPECT_TRUE(mayStore(*s, "other.example.", t));
  }
  for (auto t : {ResponseType::kNameError, ResponseType::kNoData, ResponseType::kServerError}) {
    EXPECT_TRUE(mayStore(*s, "a.nopos.example.", t));
    EXPECT_FALSE(mayStore(*s, "a.noneg.example.", t));
    EXPECT_FALSE(mayStore(*s, "both.example.", t));
    EXPECT_TRUE(mayStore(*s, "other.example.", t));
  }
  // Disabling does not narrow what is looked up.
  EXPECT_TRUE(covers(*s, "a.nopos.example."));
}

TEST(CacheScope, RejectsInvalidZones) {
  std::string long_label(64, 'a');
  auto s = CacheScope::create({long_label + ".example."}, {}, {});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("invalid cache zone"), std::string::npos);
}

TEST(NameIsUnder, LabelBoundariesOnly) {
  Name zone("example.org.");
  Name root(".");
  EXPECT_TRUE(
      nameIsUnder(Name("example.org.").wire, Name("example.org.").length, zone.wire, zone.length));
  Name below("a.example.org.");
  EXPECT_TRUE(nameIsUnder(below.wire, below.length, zone.wire, zone.length));
  EXPECT_TRUE(nameIsUnder(below.wire, below.length, root.wire, root.length));
  Name near("aexample.org.");
  EXPECT_FALSE(nameIsUnder(near.wire, near.length, zone.wire, zone.length));
  EXPECT_FALSE(nameIsUnder(zone.wire, zone.length, below.wire, below.length));
}

}  // namespace
}  // namespace nld::resolver::cache
