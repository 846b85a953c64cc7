// The node-local interface: one link (default "nodelocaldns") holding every local address the
// cache binds (169.254.20.10/32, fd00::10/128, and in iptables mode the kube-dns ClusterIP).
//
// Upstream (node-cache spec §3) creates a `dummy` link, never brings it up, and ignores errors when
// re-adding addresses. We differ on purpose: the link is brought UP (node monitoring flags a DOWN
// link, kubernetes/dns#666); on kernels without the `dummy` kind an empty `bridge` is used instead
// (it holds local addresses just as well); both families are handled in one call; an existing link
// of another kind is an error instead of being silently reused.
//
// Shape: observeLink() reads the kernel state, planLink() is the pure diff (desired vs observed,
// unit-tested without privileges), ensureLink() applies it. removeLink() deletes the link.
// LinkWatcher reports rtnetlink link/address events so the daemon can re-ensure after someone
// deletes an address.
//
// Threading: free functions open their own netlink socket per call; they are safe to call from
// any thread. A LinkWatcher is used from one thread.
// Errors: Result<> with a message naming the object and carrying netlink's error text, e.g.
// "add address '169.254.20.10/32' to 'nodelocaldns': Operation not permitted". Nothing here logs
// above debug.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "base/ip.h"
#include "base/result.h"

namespace nld::netcfg {

inline constexpr std::string_view kDefaultLinkName = "nodelocaldns";

/// kAuto tries `dummy` and falls back to `bridge` when the kernel does not support `dummy`.
enum class LinkKind : uint8_t { kAuto, kDummy, kBridge };

/// "auto", "dummy", "bridge".
std::string_view toString(LinkKind kind);
/// Parses "auto|dummy|bridge"; anything else → kInvalidArgument naming the value.
Result<LinkKind> parseLinkKind(std::string_view text);

/// What we want: a link of `kind` named `name`, UP, holding every address as a host prefix
/// (/32, /128). Both families may be mixed.
struct LinkSpec {
  std::string name = std::string(kDefaultLinkName);
  LinkKind kind = LinkKind::kAuto;
  std::vector<IpAddress> addresses;
};

/// What the kernel has.
struct LinkState {
  int ifindex = 0;
  std::string kind;                 // IFLA_INFO_KIND: "dummy", "bridge", "veth", ... ("" if none)
  bool up = false;                  // IFF_UP (administrative state)
  std::vector<IpPrefix> addresses;  // every address on the link, ours and foreign (e.g. fe80::/64)
};

/// What ensureLink() did.
struct LinkReport {
  bool created = false;
  LinkKind kind = LinkKind::kDummy;  // the kind in use (never kAuto)
  std::string fallback_reason;       // non-empty when kAuto fell back to bridge; the caller logs it
  std::vector<IpPrefix> added;
  bool brought_up = false;
  /// True when nothing had to change.
  bool unchanged() const { return !created && added.empty() && !brought_up; }
};

/// The pure diff between desired and observed state.
struct LinkPlan {
  bool create = false;  // the link is absent
  LinkKind create_kind = LinkKind::kAuto;
  std::vector<IpPrefix> add;  // host prefixes to add, in spec order, without duplicates
  bool bring_up = false;      // create implies bring_up
  bool empty() const { return !create && add.empty() && !bring_up; }
};

/// Kinds an existing link may have for us to adopt it (ones we might have made).
bool isAdoptableLinkKind(std::string_view kind);

/// Pure: validates the spec (name ≤ 15 chars without '/', ':' or whitespace; no unspecified
/// address) and computes what to change. An address counts as present when the link holds it
/// with any prefix length (foreign configuration is left alone). An existing link whose kind is
/// not dummy/bridge → kAlreadyExists: "link 'nodelocaldns' exists with kind 'veth', expected
/// dummy or bridge; not touching it".
Result<LinkPlan> planLink(const LinkSpec& spec, const std::optional<LinkState>& observed);

/// Dry-run lines for the plan, e.g. "create link nodelocaldns kind auto (dummy, bridge fallback)",
/// "add address 169.254.20.10/32 to nodelocaldns", "set link nodelocaldns up"; "link nodelocaldns:
/// up to date (...)" when nothing changes; "error: ..." when planLink() fails.
std::vector<std::string> planLinkText(const LinkSpec& spec,
                                      const std::optional<LinkState>& observed);

/// Reads link `name` and its addresses; std::nullopt when it does not exist.
Result<std::optional<LinkState>> observeLink(std::string_view name);

/// Makes the kernel match `spec`: creates the link (dummy, falling back to bridge for kAuto),
/// adds missing addresses (IPv4 /32, IPv6 /128 with IFA_F_NODAD, scope global), brings it up.
/// Idempotent; never removes an address. Returns only once every IPv6 address routes locally
/// (the kernel does that asynchronously even with NODAD; bounded wait, kTimeout after 3 s), so a
/// server can bind and answer at once. If this call created the link and a later step fails,
/// the link is deleted again before returning the error.
Result<LinkReport> ensureLink(const LinkSpec& spec);

/// Undoes exactly what an ensureLink() that returned `report` changed, for a caller's rollback
/// after a later step failed: deletes the link if that call created it; otherwise removes the
/// addresses it added (one already gone is fine) and sets the link down again if it brought it
/// up. Addresses and settings that were there before are left alone. Tries every step; the
/// error names the first that failed.
Result<void> revertLink(std::string_view name, const LinkReport& report);

/// Deletes link `name` (the kernel drops its addresses and routes). Returns true if it existed;
/// an absent link is not an error. A link of a kind we never make (not dummy/bridge, e.g. a veth
/// someone named so) is left alone: kAlreadyExists, "remove link 'nodelocaldns': it has kind
/// 'veth', not dummy or bridge, so it is not ours; not removing it".
Result<bool> removeLink(std::string_view name);

/// rtnetlink event subscription (links and IPv4/IPv6 addresses), for the daemon's sync loop:
/// poll fd() for POLLIN, then drain() and re-run ensureLink() if it returns true. Not filtered:
/// any link or address event in the namespace counts (pod veths too). A no-op ensureLink() costs
/// ~130 µs and emits no events itself, so re-running it per drain is fine (debounce if you like);
/// expect one extra event ~1 s after creation, when the link's fe80:: address finishes DAD.
class LinkWatcher {
 public:
  static Result<std::unique_ptr<LinkWatcher>> create();
  ~LinkWatcher();
  LinkWatcher(const LinkWatcher&) = delete;
  LinkWatcher& operator=(const LinkWatcher&) = delete;

  int fd() const { return fd_.get(); }
  /// Reads every pending message without blocking; true if any link or address event arrived
  /// (or the kernel dropped events because the socket buffer overflowed: resync to be safe).
  bool drain();

 private:
  explicit LinkWatcher(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace nld::netcfg
