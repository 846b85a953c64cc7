// Pure part of the link module: kind names, spec validation and the desired-vs-observed diff.
// No I/O here, so all of it is unit-tested without privileges.
#include <algorithm>
#include <string>

#include "netcfg/link/link.h"

namespace nld::netcfg {

namespace {

constexpr size_t kMaxLinkName = 15;  // IFNAMSIZ - 1

Result<void> validateName(std::string_view name) {
  if (name.empty()) {
    return fail(Errc::kInvalidArgument, "invalid interface name '': empty");
  }
  if (name.size() > kMaxLinkName) {
    return fail(Errc::kInvalidArgument,
                "invalid interface name '" + std::string(name) + "': longer than 15 characters");
  }
  if (name == "." || name == "..") {
    return fail(Errc::kInvalidArgument, "invalid interface name '" + std::string(name) + "'");
  }
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || u <= ' ' || u >= 0x7f) {
      return fail(Errc::kInvalidArgument, "invalid interface name '" + std::string(name) +
                                              "': contains '/', ':', a space or a control "
                                              "character");
    }
  }
  return {};
}

std::string joinPrefixes(const std::vector<IpPrefix>& prefixes) {
  std::string out;
  for (const auto& p : prefixes) {
    if (!out.empty()) {
      out += ", ";
    }
    out += p.toString();
  }
  return out;
}

}  // namespace

std::string_view toString(LinkKind kind) {
  switch (kind) {
    case LinkKind::kAuto:
      return "auto";
    case LinkKind::kDummy:
      return "dummy";
    case LinkKind::kBridge:
      return "bridge";
  }
  return "auto";
}

Result<LinkKind> parseLinkKind(std::string_view text) {
  if (text == "auto") {
    return LinkKind::kAuto;
  }
  if (text == "dummy") {
    return LinkKind::kDummy;
  }
  if (text == "bridge") {
    return LinkKind::kBridge;
  }
  return fail(Errc::kInvalidArgument,
              "invalid link kind '" + std::string(text) + "': expected auto, dummy or bridge");
}

bool isAdoptableLinkKind(std::string_view kind) { return kind == "dummy" || kind == "bridge"; }

Result<LinkPlan> planLink(const LinkSpec& spec, const std::optional<LinkState>& observed) {
  if (auto ok = validateName(spec.name); !ok) {
    return fail(std::move(ok.error()));
  }
  LinkPlan plan;
  for (const auto& a : spec.addresses) {
    if (a.isUnspecified()) {
      return fail(Errc::kInvalidArgument, "invalid local address '" + a.toString() + "' for '" +
                                              spec.name + "': unspecified address");
    }
    IpPrefix want = IpPrefix::host(a);
    if (std::find(plan.add.begin(), plan.add.end(), want) != plan.add.end()) {
      continue;  // listed twice in the spec
    }
    bool present = observed.has_value() &&
                   std::any_of(observed->addresses.begin(), observed->addresses.end(),
                               [&](const IpPrefix& have) { return have.address == a; });
    if (!present) {
      plan.add.push_back(want);
    }
  }
  if (!observed.has_value()) {
    plan.create = true;
    plan.create_kind = spec.kind;
    plan.bring_up = true;
    return plan;
  }
  if (!isAdoptableLinkKind(observed->kind)) {
    std::string kind =
        observed->kind.empty() ? "none (not a virtual link)" : "'" + observed->kind + "'";
    return fail(Errc::kAlreadyExists, "link '" + spec.name + "' exists with kind " + kind +
                                          ", expected dummy or bridge; not touching it");
  }
  plan.bring_up = !observed->up;
  return plan;
}

std::vector<std::string> planLinkText(const LinkSpec& spec,
                                      const std::optional<LinkState>& observed) {
  std::vector<std::string> lines;
  auto plan = planLink(spec, observed);
  if (!plan) {
    lines.push_back("error: " + plan.error().message());
    return lines;
  }
  if (plan->create) {
    std::string kind = plan->create_kind == LinkKind::kAuto
                           ? "auto (dummy, bridge fallback)"
                           : std::string(toString(plan->create_kind));
    lines.push_back("create link " + spec.name + " kind " + kind);
  }
  for (const auto& p : plan->add) {
    lines.push_back("add address " + p.toString() + " to " + spec.name);
  }
  if (plan->bring_up) {
    lines.push_back("set link " + spec.name + " up");
  }
  if (plan->empty()) {
    std::string have =
        observed->addresses.empty() ? "no addresses" : joinPrefixes(observed->addresses);
    lines.push_back("link " + spec.name + ": up to date (kind " + observed->kind + ", up, " + have +
                    ")");
  }
  return lines;
}

}  // namespace nld::netcfg
