// IPv4 back end: libip4tc (iptc_*). Its header cannot share a TU with libip6tc's.
#include <libiptc/libiptc.h>

#include "netcfg/rules/iptables/iptc_backend_impl.h"

namespace nld::netcfg::detail {

namespace {

struct Ip4Api {
  using Entry = ipt_entry;

  static xtc_handle* init(const char* table) { return iptc_init(table); }
  static void release(xtc_handle* h) {
    if (h != nullptr) {
      iptc_free(h);
    }
  }
  static int isChain(const char* chain, xtc_handle* h) { return iptc_is_chain(chain, h); }
  static const char* firstChain(xtc_handle* h) { return iptc_first_chain(h); }
  static const char* nextChain(xtc_handle* h) { return iptc_next_chain(h); }
  static const Entry* firstRule(const char* chain, xtc_handle* h) {
    return iptc_first_rule(chain, h);
  }
  static const Entry* nextRule(const Entry* e, xtc_handle* h) { return iptc_next_rule(e, h); }
  static int insertEntry(const char* chain, const Entry* e, unsigned n, xtc_handle* h) {
    return iptc_insert_entry(chain, e, n, h);
  }
  static int deleteNum(const char* chain, unsigned n, xtc_handle* h) {
    return iptc_delete_num_entry(chain, n, h);
  }
  static bool hasTarget(const char* name, uint8_t revision) {
    return kernelHasTarget(AF_INET, IPPROTO_IP, IPT_SO_GET_REVISION_TARGET, name, revision);
  }
  static int commit(xtc_handle* h) { return iptc_commit(h); }
  static const char* strerror(int err) { return iptc_strerror(err); }

  // As iptables-legacy builds `-p P [-s A] [-d A]`: host masks, no interfaces, no flags.
  static void fillHeader(Entry& e, const Rule& r) {
    e.ip.proto = ipProtoNumber(r.proto);
    if (r.source) {
      e.ip.src = r.source->toIn4();
      e.ip.smsk.s_addr = 0xFFFFFFFFu;
    }
    if (r.destination) {
      e.ip.dst = r.destination->toIn4();
      e.ip.dmsk.s_addr = 0xFFFFFFFFu;
    }
  }

  static std::optional<IpAddress> host(const in_addr& a, const in_addr& mask, bool& ok) {
    if (mask.s_addr == 0 && a.s_addr == 0) {
      return std::nullopt;
    }
    ok = ok && mask.s_addr == 0xFFFFFFFFu;
    return IpAddress::v4(a);
  }

  static std::optional<HeaderFields> decodeHeader(const Entry& e) {
    const ipt_ip& ip = e.ip;
    auto proto = protoFromNumber(ip.proto);
    if (!proto || ip.flags != 0 || ip.invflags != 0 ||
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

Result<std::unique_ptr<IptcBackend>> openIptc4(const std::string& table) {
  return IptcBackendImpl<Ip4Api>::open(table);
}

}  // namespace nld::netcfg::detail
