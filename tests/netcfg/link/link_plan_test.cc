// Pure link planning: desired vs observed → plan, and the dry-run text. No privileges needed.
#include <gtest/gtest.h>

#include "netcfg/link/link.h"

namespace nld::netcfg {
namespace {

IpAddress ip(std::string_view s) { return *IpAddress::parse(s); }
IpPrefix pfx(std::string_view s, uint8_t len) { return IpPrefix{ip(s), len}; }

LinkSpec spec(std::vector<IpAddress> addrs, LinkKind kind = LinkKind::kAuto) {
  LinkSpec s;
  s.kind = kind;
  s.addresses = std::move(addrs);
  return s;
}

LinkState state(std::string kind, bool up, std::vector<IpPrefix> addrs) {
  LinkState s;
  s.ifindex = 7;
  s.kind = std::move(kind);
  s.up = up;
  s.addresses = std::move(addrs);
  return s;
}

TEST(LinkKind, ParsesAndPrintsEveryKind) {
  for (auto k : {LinkKind::kAuto, LinkKind::kDummy, LinkKind::kBridge}) {
    auto parsed = parseLinkKind(toString(k));
    ASSERT_TRUE(parsed) << toString(k);
    EXPECT_EQ(*parsed, k);
  }
}

TEST(LinkKind, RejectsUnknownKindNamingIt) {
  auto r = parseLinkKind("veth");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "invalid link kind 'veth': expected auto, dummy or bridge");
}

TEST(PlanLink, AbsentLinkIsCreatedWithEveryAddressAndBroughtUp) {
  auto plan = planLink(spec({ip("169.254.20.10"), ip("fd00::10")}), std::nullopt);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->create);
  EXPECT_EQ(plan->create_kind, LinkKind::kAuto);
  EXPECT_TRUE(plan->bring_up);
  EXPECT_EQ(plan->add, (std::vector<IpPrefix>{pfx("169.254.20.10", 32), pfx("fd00::10", 128)}));
}

TEST(PlanLink, UpToDateLinkNeedsNothing) {
  auto plan = planLink(
      spec({ip("169.254.20.10"), ip("fd00::10")}),
      state("bridge", true, {pfx("fd00::10", 128), pfx("fe80::1", 64), pfx("169.254.20.10", 32)}));
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->empty());
}

TEST(PlanLink, ReaddsOnlyTheMissingAddress) {
  auto plan = planLink(spec({ip("169.254.20.10"), ip("10.96.0.10")}),
                       state("dummy", true, {pfx("169.254.20.10", 32)}));
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->create);
  EXPECT_FALSE(plan->bring_up);
  EXPECT_EQ(plan->add, (std::vector<IpPrefix>{pfx("10.96.0.10", 32)}));
}

TEST(PlanLink, AddressPresentWithAnotherPrefixCountsAsPresent) {
  // Someone configured it differently on purpose; we neither duplicate nor "fix" it.
  auto plan =
      planLink(spec({ip("169.254.20.10")}), state("bridge", true, {pfx("169.254.20.10", 24)}));
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->empty());
}

TEST(PlanLink, DownLinkIsBroughtUp) {
  auto plan =
      planLink(spec({ip("169.254.20.10")}), state("dummy", false, {pfx("169.254.20.10", 32)}));
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->bring_up);
  EXPECT_TRUE(plan->add.empty());
}

TEST(PlanLink, DuplicateAddressInSpecIsPlannedOnce) {
  auto plan = planLink(spec({ip("169.254.20.10"), ip("169.254.20.10")}), std::nullopt);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->add.size(), 1u);
}

TEST(PlanLink, ForeignKindIsAnErrorNamingTheKind) {
  auto plan = planLink(spec({ip("169.254.20.10")}), state("veth", true, {}));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), Errc::kAlreadyExists);
  EXPECT_EQ(plan.error().message(),
            "link 'nodelocaldns' exists with kind 'veth', expected dummy or bridge; not touching "
            "it");
}

TEST(PlanLink, LinkWithoutKindIsAnError) {
  auto plan = planLink(spec({}), state("", true, {}));
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message().find("kind none"), std::string::npos) << plan.error().message();
}

TEST(PlanLink, EitherAdoptableKindIsFineWhateverKindWasAsked) {
  EXPECT_TRUE(planLink(spec({}, LinkKind::kDummy), state("bridge", true, {})));
  EXPECT_TRUE(planLink(spec({}, LinkKind::kBridge), state("dummy", true, {})));
}

TEST(PlanLink, RejectsBadNames) {
  for (std::string name : {"", "0123456789abcdef", "a/b", "a b", "a:b", ".", "..", "tab\t"}) {
    LinkSpec s = spec({ip("169.254.20.10")});
    s.name = name;
    auto plan = planLink(s, std::nullopt);
    ASSERT_FALSE(plan) << "'" << name << "'";
    EXPECT_EQ(plan.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(plan.error().message().find("invalid interface name"), std::string::npos);
  }
  LinkSpec ok = spec({});
  ok.name = "0123456789abcde";  // 15: the kernel's limit
  EXPECT_TRUE(planLink(ok, std::nullopt));
}

TEST(PlanLink, RejectsUnspecifiedAddress) {
  auto plan = planLink(spec({ip("0.0.0.0")}), std::nullopt);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message(),
            "invalid local address '0.0.0.0' for 'nodelocaldns': unspecified address");
  EXPECT_FALSE(planLink(spec({ip("::")}), std::nullopt));
}

TEST(PlanLinkText, CreateLines) {
  EXPECT_EQ(planLinkText(spec({ip("169.254.20.10"), ip("fd00::10")}), std::nullopt),
            (std::vector<std::string>{
                "create link nodelocaldns kind auto (dummy, bridge fallback)",
                "add address 169.254.20.10/32 to nodelocaldns",
                "add address fd00::10/128 to nodelocaldns",
                "set link nodelocaldns up",
            }));
  EXPECT_EQ(planLinkText(spec({}, LinkKind::kBridge), std::nullopt),
            (std::vector<std::string>{"create link nodelocaldns kind bridge",
                                      "set link nodelocaldns up"}));
}

TEST(PlanLinkText, UpToDateLine) {
  EXPECT_EQ(
      planLinkText(spec({ip("169.254.20.10")}), state("bridge", true, {pfx("169.254.20.10", 32)})),
      (std::vector<std::string>{
          "link nodelocaldns: up to date (kind bridge, up, 169.254.20.10/32)"}));
}

TEST(PlanLinkText, ErrorLine) {
  auto lines = planLinkText(spec({ip("169.254.20.10")}), state("veth", true, {}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("error: link 'nodelocaldns' exists with kind 'veth'", 0), 0u)
      << lines[0];
}

}  // namespace
}  // namespace nld::netcfg
