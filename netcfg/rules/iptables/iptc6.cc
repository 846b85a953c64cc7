// IPv6 back end: libip6tc (ip6tc_*). Its header cannot share a TU with libip4tc's.
// libip6tc.h (iptables 1.8.9) lacks the extern "C" block that libiptc.h has.
extern "C" {
#include <libiptc/libip6tc.h>
}

#include "netcfg/rules/iptables/iptc_backend_impl.h"

namespace nld::netcfg::detail {

namespace {

struct Ip6Api {
  using Entry = ip6t_entry;

  static xtc_handle* init(const char* table) { return ip6tc_init(table); }
  static void release(xtc_handle* h) {
    if (h != nullptr) {
      ip6tc_free(h);
    }
  }
  static int isChain(const char* chain, xtc_handle* h) { return ip6tc_is_chain(chain, h); }
  static const char* firstChain(xtc_handle* h) { return ip6tc_first_chain(h); }
  static const char* nextChain(xtc_handle* h) { return ip6tc_next_chain(h); }
  static const Entry* firstRule(const char* chain, xtc_handle* h) {
    return ip6tc_first_rule(chain, h);
  }
  static const Entry* nextRule(const Entry* e, xtc_handle* h) { return ip6tc_next_rule(e, h); }
  static int insertEntry(const char* chain, const Entry* e, unsigned n, xtc_handle* h) {
    return ip6tc_insert_entry(chain, e, n, h);
  }
  static int deleteNum(const char* chain, unsigned n, xtc_handle* h) {
    return ip6tc_delete_num_entry(chain, n, h);
  }
  static bool hasTarget(const char* name, uint8_t revision) {
    return kernelHasTarget(AF_INET6, IPPROTO_IPV6, IP6T_SO_GET_REVISION_TARGET, name, revision);
  }
  static int commit(xtc_handle* h) { return ip6tc_commit(h); }
  static const char* strerror(int err) { return ip6tc_strerror(err); }

  // As ip6tables-legacy builds `-p P [-s A] [-d A]`: /128 masks and IP6T_F_PROTO, without which
  // the kernel would not look at `proto` at all.
  static void fillHeader(Entry& e, const Rule& r) {
    e.ipv6.proto = ipProtoNumber(r.proto);
    e.ipv6.flags = IP6T_F_PROTO;
    if (r.source) {
      e.ipv6.src = r.source->toIn6();
      std::memset(&e.ipv6.smsk, 0xFF, sizeof(e.ipv6.smsk));
    }
    if (r.destination) {
      e.ipv6.dst = r.destination->toIn6();
      std::memset(&e.ipv6.dmsk, 0xFF, sizeof(e.ipv6.dmsk));
    }
  }

  static std::optional<IpAddress> host(const in6_addr& a, const in6_addr& mask, bool& ok) {
    if (allBytesZero(&mask, sizeof(mask)) && allBytesZero(&a, sizeof(a))) {
      return std::nullopt;
    }
    ok = ok && allBytesFf(&mask, sizeof(mask));
    return IpAddress::v6(a);
  }

  static std::optional<HeaderFields> decodeHeader(const Entry& e) {
    const ip6t_ip6& ip = e.ipv6;
    auto proto = protoFromNumber(ip.proto);
    if (!proto || ip.flags != IP6T_F_PROTO || ip.invflags != 0 || ip.tos != 0 ||
        !allBytesZero(ip.iniface, sizeof(ip.iniface)) ||
        !allBytesZero(ip.outiface, sizeof(ip.outiface)) ||
        !allBytesZero(ip.iniface_mask, sizeof(ip.iniface_mask)) ||
        !allBytesZero(ip.outiface_mask, sizeof(ip.outiface_mask))) {
      return std::nullopt;
    }
    bool ok = true;
    HeaderFields h;
    h.proto = *proto;
    h.source = host(ip.src, ip.smsk, ok);
    h.destination = host(ip.dst, ip.dmsk, ok);
    return ok ? std::optional(h) : std::nullopt;
  }
};

}  // namespace

Result<std::unique_ptr<IptcBackend>> openIptc6(const std::string& table) {
  return IptcBackendImpl<Ip6Api>::open(table);
}

}  // namespace nld::netcfg::detail
