// Applying the link plan over libnl-route-3: observe, create (dummy → bridge fallback), add
// addresses, bring up, remove.
#include "netcfg/link/link.h"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/scope_exit.h"
#include "netcfg/netlink/libnl_handles.h"
#include "netcfg/netlink/request.h"

namespace nld::netcfg {

namespace {

using detail::NlCache;
using detail::nlError;
using detail::NlSocket;
using detail::RtnlAddr;
using detail::RtnlLink;

constexpr int kRtScopeUniverse = 0;  // "scope global", as upstream

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

bool isAbsent(int err) { return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV; }

Result<RtnlLink> getLink(nl_sock* sk, std::string_view name, bool* absent) {
  std::string n(name);
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sk, 0, n.c_str(), &raw);
  RtnlLink link(raw);
  *absent = false;
  if (err < 0) {
    if (isAbsent(err)) {
      *absent = true;
      return RtnlLink();
    }
    return fail(nlError(err, "look up link " + quoted(name)));
  }
  return link;
}

Result<std::optional<LinkState>> observe(nl_sock* sk, std::string_view name) {
  bool absent = false;
  auto link = getLink(sk, name, &absent);
  if (!link) {
    return fail(std::move(link.error()));
  }
  if (absent) {
    return std::optional<LinkState>();
  }
  LinkState state;
  state.ifindex = rtnl_link_get_ifindex(link->get());
  const char* kind = rtnl_link_get_type(link->get());
  state.kind = kind != nullptr ? kind : "";
  state.up = (rtnl_link_get_flags(link->get()) & IFF_UP) != 0;

  nl_cache* raw_cache = nullptr;
  if (int err = rtnl_addr_alloc_cache(sk, &raw_cache); err < 0) {
    return fail(nlError(err, "list addresses of " + quoted(name)));
  }
  NlCache cache(raw_cache);
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(obj);
    if (rtnl_addr_get_ifindex(addr) != state.ifindex) {
      continue;
    }
    if (auto p = detail::fromNlAddr(rtnl_addr_get_local(addr))) {
      state.addresses.push_back(*p);
    }
  }
  return std::optional<LinkState>(std::move(state));
}

// Creates `name` of `kind` (down; ensure brings it up after the addresses are in place).
int createLink(nl_sock* sk, const std::string& name, LinkKind kind) {
  RtnlLink link(rtnl_link_alloc());
  if (!link) {
    return -NLE_NOMEM;
  }
  rtnl_link_set_name(link.get(), name.c_str());
  if (int err = rtnl_link_set_type(link.get(), std::string(toString(kind)).c_str()); err < 0) {
    return err;
  }
  return rtnl_link_add(sk, link.get(), NLM_F_CREATE | NLM_F_EXCL);
}

// The address object both adding and deleting start from: link, local address, prefix length.
Result<RtnlAddr> makeAddr(int ifindex, const IpPrefix& p, const std::string& what) {
  RtnlAddr addr(rtnl_addr_alloc());
  auto local = detail::toNlAddr(p.address);
  if (!addr || !local) {
    return fail(Errc::kSystem, what + ": out of memory");
  }
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  if (int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0) {
    return fail(nlError(err, what));
  }
  rtnl_addr_set_prefixlen(addr.get(), p.length);
  return addr;
}

Result<void> addAddress(nl_sock* sk, const std::string& name, int ifindex, const IpPrefix& p,
                        bool* added) {
  std::string what = "add address " + quoted(p.toString()) + " to " + quoted(name);
  auto made = makeAddr(ifindex, p, what);
  if (!made) {
    return fail(std::move(made.error()));
  }
  RtnlAddr addr = std::move(*made);
  rtnl_addr_set_scope(addr.get(), kRtScopeUniverse);
  if (p.address.isV6()) {
    // No duplicate address detection: the address is usable at once (not "tentative"), so the
    // cache can bind it right after ensureLink() returns.
    rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  }
  int err = rtnl_addr_add(sk, addr.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) {
    *added = false;  // appeared since we looked: fine
    return {};
  }
  if (err < 0) {
    return fail(nlError(err, what));
  }
  *added = true;
  return {};
}

Result<void> setUp(nl_sock* sk, const std::string& name) {
  std::string what = "set link " + quoted(name) + " up";
  bool absent = false;
  auto orig = getLink(sk, name, &absent);
  if (!orig) {
    return fail(std::move(orig.error()));
  }
  if (absent) {
    return fail(Errc::kNotFound, what + ": link disappeared");
  }
  RtnlLink change(rtnl_link_alloc());
  if (!change) {
    return fail(Errc::kSystem, what + ": out of memory");
  }
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sk, orig->get(), change.get(), 0); err < 0) {
    return fail(nlError(err, what));
  }
  return {};
}

// Deletes one address (as addAddress made it); *gone = it was not there.
Result<void> deleteAddress(nl_sock* sk, const std::string& name, int ifindex, const IpPrefix& p,
                           bool* gone) {
  std::string what = "remove address " + quoted(p.toString()) + " from " + quoted(name);
  auto made = makeAddr(ifindex, p, what);
  if (!made) {
    return fail(std::move(made.error()));
  }
  RtnlAddr addr = std::move(*made);
  int err = rtnl_addr_delete(sk, addr.get(), 0);
  *gone = err == -NLE_NOADDR || err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV;
  if (err < 0 && !*gone) {
    return fail(nlError(err, what));
  }
  return {};
}

// Undo on an adopted link: our addresses out, down again if we brought it up. Every step tried.
Result<void> revertAdopted(nl_sock* sk, const std::string& name, int ifindex,
                           const std::vector<IpPrefix>& added, bool brought_up) {
  std::optional<Error> first;
  for (const IpPrefix& p : added) {
    bool gone = false;
    if (auto r = deleteAddress(sk, name, ifindex, p, &gone); !r && !first) {
      first = std::move(r.error());
    }
  }
  if (brought_up) {
    RtnlLink orig(rtnl_link_alloc());
    RtnlLink change(rtnl_link_alloc());
    if (!orig || !change) {
      return fail(Errc::kSystem, "set link " + quoted(name) + " down: out of memory");
    }
    rtnl_link_set_ifindex(orig.get(), ifindex);
    rtnl_link_unset_flags(change.get(), IFF_UP);
    if (int err = rtnl_link_change(sk, orig.get(), change.get(), 0); err < 0 && !first) {
      first = nlError(err, "set link " + quoted(name) + " down");
    }
  }
  if (first) {
    return fail(std::move(*first));
  }
  return {};
}

int deleteLink(nl_sock* sk, std::string_view name) {
  RtnlLink link(rtnl_link_alloc());
  if (!link) {
    return -NLE_NOMEM;
  }
  rtnl_link_set_name(link.get(), std::string(name).c_str());
  return rtnl_link_delete(sk, link.get());
}

// "ip route get <a>": the kernel's route type for destination `a` (RTN_LOCAL once the address is
// usable), or -errno.
int routeTypeTo(int fd, const IpAddress& a, uint32_t seq) {
  rtmsg r{};
  r.rtm_family = static_cast<unsigned char>(toAf(a.family()));
  r.rtm_dst_len = static_cast<unsigned char>(a.maxPrefix());
  netlink::Request req(RTM_GETROUTE, NLM_F_REQUEST, seq, &r, sizeof(r));
  req.putAttr(RTA_DST, a.bytes(), a.size());
  int type = -EPROTO;  // an ack without a route
  auto answer = netlink::exchange(
      fd, req,
      [&](const nlmsghdr& m) {
        if (m.nlmsg_type != RTM_NEWROUTE) {
          return netlink::Next::kRead;
        }
        rtmsg route{};
        std::memcpy(&route, NLMSG_DATA(&m), sizeof(route));
        type = route.rtm_type;
        return netlink::Next::kStop;
      },
      "route");
  if (!answer) {
    int err = answer.error().sysErrno();
    return err != 0 ? -err : -EPROTO;
  }
  return type;
}

// IPv6 makes an address usable (its `local` route in table local) from a kernel work item, even
// with IFA_F_NODAD, so right after RTM_NEWADDR returns, packets to it can still follow the
// on-link prefix route out of the link. The cache binds and answers right after ensureLink(), so
// wait until every IPv6 address routes locally (IPv4 does this synchronously). Bounded: a foreign
// address stuck in DAD, or a link kept down, is an error after `timeout`.
Result<void> waitUntilLocal(const LinkSpec& spec, std::chrono::milliseconds timeout) {
  std::vector<IpAddress> pending;
  for (const auto& a : spec.addresses) {
    if (a.isV6()) {
      pending.push_back(a);
    }
  }
  if (pending.empty()) {
    return {};
  }
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    return failSys(errno, "wait for addresses of " + quoted(spec.name) + ": netlink socket");
  }
  timeval tv{0, suseconds_t{200} * 1000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  uint32_t seq = 0;
  int last = 0;
  while (!pending.empty()) {
    last = routeTypeTo(fd.get(), pending.back(), ++seq);
    if (last == RTN_LOCAL) {
      pending.pop_back();
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string why = last < 0 ? errnoText(-last) : "route type " + std::to_string(last);
      return fail(Errc::kTimeout, "address " + quoted(pending.back().toString()) + " on " +
                                      quoted(spec.name) + " not usable after " +
                                      std::to_string(timeout.count()) +
                                      " ms (no local route: " + why + ")");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
  return {};
}

LinkKind kindFromString(std::string_view kind) {
  return kind == "dummy" ? LinkKind::kDummy : LinkKind::kBridge;
}

}  // namespace

Result<std::optional<LinkState>> observeLink(std::string_view name) {
  auto sk = detail::connectNetlink(NETLINK_ROUTE, "observe link " + quoted(name));
  if (!sk) {
    return fail(std::move(sk.error()));
  }
  return observe(sk->get(), name);
}

Result<LinkReport> ensureLink(const LinkSpec& spec) {
  const std::string ctx = "ensure link " + quoted(spec.name);
  auto sk_or = detail::connectNetlink(NETLINK_ROUTE, ctx);
  if (!sk_or) {
    return fail(std::move(sk_or.error()));
  }
  nl_sock* sk = sk_or->get();

  auto observed = observe(sk, spec.name);
  if (!observed) {
    return fail(std::move(observed.error()));
  }
  auto plan = planLink(spec, *observed);
  if (!plan) {
    return fail(std::move(plan.error()));
  }

  LinkReport report;
  bool created = false;
  // Roll back a link this call created if a later step fails: no half-made interface is left.
  // On an adopted link, take back the addresses this call added (and the up flag).
  int adopted_ifindex = 0;
  ScopeExit rollback([&] {
    if (created) {
      int err = deleteLink(sk, spec.name);
      NLD_LOG(kNetcfg, debug, "rollback: delete link '{}': {}", spec.name,
              err < 0 ? nl_geterror(-err) : "ok");
    } else if (adopted_ifindex != 0 && (!report.added.empty() || report.brought_up)) {
      auto r = revertAdopted(sk, spec.name, adopted_ifindex, report.added, report.brought_up);
      NLD_LOG(kNetcfg, debug, "rollback: revert link '{}': {}", spec.name,
              r ? "ok" : r.error().message());
    }
  });
  if (plan->create) {
    LinkKind kind = spec.kind == LinkKind::kAuto ? LinkKind::kDummy : spec.kind;
    int err = createLink(sk, spec.name, kind);
    if (err == -NLE_OPNOTSUPP && spec.kind == LinkKind::kAuto) {
      report.fallback_reason = std::string("kernel does not support link kind 'dummy' (") +
                               nl_geterror(NLE_OPNOTSUPP) + "), using 'bridge' for " +
                               quoted(spec.name);
      kind = LinkKind::kBridge;
      err = createLink(sk, spec.name, kind);
    }
    if (err < 0 && err != -NLE_EXIST) {
      std::string what = "create link " + quoted(spec.name) + " kind " + quoted(toString(kind));
      Error e = nlError(err, what);
      if (err == -NLE_OPNOTSUPP && kind == LinkKind::kDummy) {
        e = std::move(e).withContext(ctx);
        return fail(Error(e.code(), e.message() + " (the kernel lacks the dummy link type; use "
                                                  "link kind auto or bridge)"));
      }
      return fail(std::move(e).withContext(ctx));
    }
    // NLE_EXIST: someone created it between our look and our add; adopt it like any other.
    created = err == 0;
    observed = observe(sk, spec.name);
    if (!observed) {
      return fail(std::move(observed.error()));
    }
    if (!observed->has_value()) {
      return fail(Errc::kSystem, ctx + ": link vanished right after creation");
    }
    plan = planLink(spec, *observed);
    if (!plan) {
      return fail(std::move(plan.error()));
    }
  }
  const LinkState& state = **observed;
  report.created = created;
  report.kind = kindFromString(state.kind);
  adopted_ifindex = created ? 0 : state.ifindex;
  for (const auto& p : plan->add) {
    bool added = false;
    if (auto ok = addAddress(sk, spec.name, state.ifindex, p, &added); !ok) {
      return fail(std::move(ok.error()));
    }
    if (added) {
      report.added.push_back(p);
    }
  }
  if (plan->bring_up) {
    if (auto ok = setUp(sk, spec.name); !ok) {
      return fail(std::move(ok.error()));
    }
    report.brought_up = true;
  }
  if (auto ok = waitUntilLocal(spec, std::chrono::milliseconds(3000)); !ok) {
    return fail(std::move(ok.error()));
  }
  rollback.dismiss();
  NLD_LOG(kNetcfg, debug, "ensured link '{}' kind={} created={} added={} brought_up={}", spec.name,
          toString(report.kind), report.created, report.added.size(), report.brought_up);
  return report;
}

namespace {

// A netlink socket and the link called `name` on it; nullopt when there is no such link.
Result<std::optional<std::pair<detail::NlSocket, RtnlLink>>> openLink(std::string_view name,
                                                                      const std::string& what) {
  auto sk = detail::connectNetlink(NETLINK_ROUTE, what);
  if (!sk) {
    return fail(std::move(sk.error()));
  }
  bool absent = false;
  auto link = getLink(sk->get(), name, &absent);
  if (!link) {
    return fail(std::move(link.error()));
  }
  if (absent) {
    return std::nullopt;
  }
  return std::make_pair(std::move(*sk), std::move(*link));
}

}  // namespace

Result<bool> removeLink(std::string_view name) {
  const std::string what = "remove link " + quoted(name);
  auto opened = openLink(name, what);
  if (!opened) {
    return fail(std::move(opened.error()));
  }
  if (!*opened) {
    return false;
  }
  auto& [sk, link] = **opened;
  const char* kind = rtnl_link_get_type(link.get());
  if (kind == nullptr || !isAdoptableLinkKind(kind)) {
    return fail(Errc::kAlreadyExists,
                what + ": it has kind " + (kind == nullptr ? "none" : quoted(kind)) +
                    ", not dummy or bridge, so it is not ours; not removing it");
  }
  // By ifindex (rtnl_link_delete prefers it over the name): exactly the link we just checked.
  int err = rtnl_link_delete(sk.get(), link.get());
  if (err == 0) {
    return true;
  }
  if (isAbsent(err)) {
    return false;
  }
  return fail(nlError(err, what));
}

Result<void> revertLink(std::string_view name, const LinkReport& report) {
  if (report.created) {
    auto r = removeLink(name);
    if (!r) {
      return fail(std::move(r.error()));
    }
    return {};
  }
  if (report.added.empty() && !report.brought_up) {
    return {};
  }
  auto opened = openLink(name, "revert link " + quoted(name));
  if (!opened) {
    return fail(std::move(opened.error()));
  }
  if (!*opened) {
    return {};  // gone with everything on it
  }
  auto& [sk, link] = **opened;
  return revertAdopted(sk.get(), std::string(name), rtnl_link_get_ifindex(link.get()), report.added,
                       report.brought_up);
}

}  // namespace nld::netcfg
