// INTERNAL to netcfg (included only by netcfg .cc files, never by a public header): one owner type
// per libnl object, netlink error → nld::Error, and IpAddress ↔ nl_addr conversion.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "base/c_handle.h"
#include "base/ip.h"
#include "base/result.h"

namespace nld::netcfg::detail {

// Release functions from libnl's own headers (the object API is reference counted: *_put).
using NlSocket = CHandle<nl_sock, nl_socket_free>;
using NlCache = CHandle<nl_cache, nl_cache_free>;
using NlAddr = CHandle<nl_addr, nl_addr_put>;
using NlMsg = CHandle<nl_msg, nlmsg_free>;
using RtnlLink = CHandle<rtnl_link, rtnl_link_put>;
using RtnlAddr = CHandle<rtnl_addr, rtnl_addr_put>;

/// `err` is a libnl return code (negative NLE_*). Message: "<what>: <nl_geterror text>".
inline Error nlError(int err, std::string_view what) {
  int e = err < 0 ? -err : err;
  Errc code = Errc::kSystem;
  switch (e) {
    case NLE_PERM:
    case NLE_NOACCESS:
      code = Errc::kPermissionDenied;
      break;
    case NLE_OPNOTSUPP:
      code = Errc::kUnsupported;
      break;
    case NLE_EXIST:
      code = Errc::kAlreadyExists;
      break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      code = Errc::kNotFound;
      break;
    case NLE_INVAL:
    case NLE_RANGE:
      code = Errc::kInvalidArgument;
      break;
    case NLE_BUSY:
    case NLE_AGAIN:
      code = Errc::kBusy;
      break;
    default:
      break;
  }
  std::string msg(what);
  msg += ": ";
  msg += nl_geterror(e);
  return Error(code, std::move(msg));
}

/// A connected netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER, ...).
inline Result<NlSocket> connectNetlink(int protocol, std::string_view purpose) {
  NlSocket sk(nl_socket_alloc());
  if (!sk) {
    return fail(Errc::kSystem, std::string(purpose) + ": cannot allocate a netlink socket");
  }
  if (int err = nl_connect(sk.get(), protocol); err < 0) {
    return fail(nlError(err, std::string(purpose) + ": connect netlink socket"));
  }
  return sk;
}

/// A host-prefix nl_addr (/32 or /128) for `a`.
inline NlAddr toNlAddr(const IpAddress& a) {
  return NlAddr(nl_addr_build(toAf(a.family()), a.bytes(), a.size()));
}

/// The IP in `addr` with its prefix length; nullopt for a non-IP family.
inline std::optional<IpPrefix> fromNlAddr(nl_addr* addr) {
  if (addr == nullptr) {
    return std::nullopt;
  }
  int family = nl_addr_get_family(addr);
  const void* bin = nl_addr_get_binary_addr(addr);
  unsigned len = nl_addr_get_len(addr);
  IpPrefix p;
  if (family == AF_INET && len == 4) {
    in_addr a{};
    std::memcpy(&a, bin, 4);
    p.address = IpAddress::v4(a);
  } else if (family == AF_INET6 && len == 16) {
    in6_addr a{};
    std::memcpy(&a, bin, 16);
    p.address = IpAddress::v6(a);
  } else {
    return std::nullopt;
  }
  p.length = static_cast<uint8_t>(nl_addr_get_prefixlen(addr));
  return p;
}

}  // namespace nld::netcfg::detail
