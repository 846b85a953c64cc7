#include "netcfg/rules/iptables/rule_codec.h"

#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace nld::netcfg::detail {

namespace {

constexpr size_t kMatchHeader = XT_ALIGN(sizeof(xt_entry_match));
constexpr size_t kTargetHeader = XT_ALIGN(sizeof(xt_entry_target));
static_assert(kMatchHeader == 32 && kTargetHeader == 32);
constexpr uint16_t kAnyPortLow = 0;
constexpr uint16_t kAnyPortHigh = 0xFFFF;

// Appends one record: header (size, name, revision) + payload, zero-padded to `size`.
void appendRecord(std::vector<uint8_t>& out, size_t header, size_t size, const char* name,
                  uint8_t revision, const void* payload, size_t payload_len) {
  size_t at = out.size();
  out.resize(at + size, 0);
  // xt_entry_match and xt_entry_target share this user-space layout.
  xt_entry_match head{};
  head.u.user.match_size = static_cast<uint16_t>(size);
  std::strncpy(head.u.user.name, name, sizeof(head.u.user.name) - 1);
  head.u.user.revision = revision;
  std::memcpy(out.data() + at, &head, sizeof(head));
  if (payload_len > 0) {
    std::memcpy(out.data() + at + header, payload, payload_len);
  }
}

void portRange(const std::optional<uint16_t>& port, uint16_t out[2]) {
  out[0] = port ? *port : kAnyPortLow;
  out[1] = port ? *port : kAnyPortHigh;
}

// A port range decoded to "any" (nullopt) or one port; false when it is a real range.
bool decodeRange(const uint16_t range[2], std::optional<uint16_t>& port) {
  if (range[0] == kAnyPortLow && range[1] == kAnyPortHigh) {
    port.reset();
    return true;
  }
  if (range[0] == range[1]) {
    port = range[0];
    return true;
  }
  return false;
}

struct Record {
  std::string name;
  uint8_t revision = 0;
  std::span<const uint8_t> payload;
};

// Reads the record at the front of `bytes`; nullopt when truncated or its size is impossible.
std::optional<Record> readRecord(std::span<const uint8_t> bytes, size_t header) {
  if (bytes.size() < header) {
    return std::nullopt;
  }
  xt_entry_match head;
  std::memcpy(&head, bytes.data(), sizeof(head));
  size_t size = head.u.user.match_size;
  if (size < header || size > bytes.size()) {
    return std::nullopt;
  }
  Record r;
  r.name.assign(head.u.user.name, strnlen(head.u.user.name, sizeof(head.u.user.name)));
  r.revision = head.u.user.revision;
  r.payload = bytes.subspan(header, size - header);
  return r;
}

bool allZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) {
      return false;
    }
  }
  return true;
}

std::optional<RuleTarget> decodeTarget(std::span<const uint8_t> bytes) {
  auto rec = readRecord(bytes, kTargetHeader);
  if (!rec || rec->payload.size() + kTargetHeader != bytes.size()) {
    return std::nullopt;
  }
  if (rec->name.empty()) {  // XT_STANDARD_TARGET: a verdict
    int verdict;
    if (rec->payload.size() < sizeof(verdict)) {
      return std::nullopt;
    }
    std::memcpy(&verdict, rec->payload.data(), sizeof(verdict));
    return verdict == -NF_ACCEPT - 1 ? std::optional(RuleTarget::kAccept) : std::nullopt;
  }
  if (rec->name == "ACCEPT") {  // a label libiptc has not mapped yet
    return RuleTarget::kAccept;
  }
  if (rec->name == "NOTRACK") {  // the old dedicated target (rev 0, no data)
    return RuleTarget::kNotrack;
  }
  if (rec->name == "CT") {
    // Rev 0 lacks `timeout`; rev 1 and 2 share xt_ct_target_info_v1. Only flags may be set, and
    // they must say NOTRACK (with or without the alias bit).
    size_t need =
        rec->revision == 0 ? offsetof(xt_ct_target_info, ct) : offsetof(xt_ct_target_info_v1, ct);
    if (rec->payload.size() < need) {
      return std::nullopt;
    }
    xt_ct_target_info_v1 info{};
    std::memcpy(&info, rec->payload.data(), std::min(need, sizeof(info)));
    bool notrack = (info.flags & XT_CT_NOTRACK) != 0 &&
                   (info.flags & ~(XT_CT_NOTRACK | XT_CT_NOTRACK_ALIAS)) == 0;
    bool plain = info.zone == 0 && info.ct_events == 0 && info.exp_events == 0 &&
                 allZero(info.helper, sizeof(info.helper)) &&
                 (rec->revision == 0 || allZero(info.timeout, sizeof(info.timeout)));
    return notrack && plain ? std::optional(RuleTarget::kNotrack) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

uint16_t ipProtoNumber(Proto proto) noexcept {
  return proto == Proto::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
}

std::optional<Proto> protoFromNumber(uint16_t number) noexcept {
  if (number == IPPROTO_TCP) {
    return Proto::kTcp;
  }
  if (number == IPPROTO_UDP) {
    return Proto::kUdp;
  }
  return std::nullopt;
}

NotrackEncoding chooseNotrackEncoding(bool (*has_target)(const char* name, uint8_t revision)) {
  if (has_target("CT", 2)) {
    return NotrackEncoding::kCtRev2;
  }
  if (has_target("CT", 1)) {
    return NotrackEncoding::kCtRev1;
  }
  if (has_target("CT", 0)) {
    return NotrackEncoding::kCtRev0;
  }
  return NotrackEncoding::kNotrackTarget;
}

EncodedBody encodeBody(const Rule& rule, NotrackEncoding notrack) {
  EncodedBody body;
  if (rule.source_port || rule.destination_port) {
    if (rule.proto == Proto::kTcp) {
      xt_tcp tcp{};
      portRange(rule.source_port, tcp.spts);
      portRange(rule.destination_port, tcp.dpts);
      appendRecord(body.matches, kMatchHeader, kMatchHeader + XT_ALIGN(sizeof(tcp)), "tcp", 0, &tcp,
                   sizeof(tcp));
    } else {
      xt_udp udp{};
      portRange(rule.source_port, udp.spts);
      portRange(rule.destination_port, udp.dpts);
      appendRecord(body.matches, kMatchHeader, kMatchHeader + XT_ALIGN(sizeof(udp)), "udp", 0, &udp,
                   sizeof(udp));
    }
  }
  if (!rule.comment.empty()) {
    xt_comment_info info{};  // zero-filled: libiptc compares the whole 256-byte buffer
    std::strncpy(info.comment, rule.comment.c_str(), sizeof(info.comment) - 1);
    appendRecord(body.matches, kMatchHeader, kMatchHeader + XT_ALIGN(sizeof(info)), "comment", 0,
                 &info, sizeof(info));
  }
  if (rule.target == RuleTarget::kNotrack && notrack == NotrackEncoding::kNotrackTarget) {
    appendRecord(body.target, kTargetHeader, kTargetHeader, "NOTRACK", 0, nullptr, 0);
  } else if (rule.target == RuleTarget::kNotrack && notrack == NotrackEncoding::kCtRev0) {
    xt_ct_target_info info{};
    info.flags = XT_CT_NOTRACK;
    appendRecord(body.target, kTargetHeader, kTargetHeader + XT_ALIGN(sizeof(info)), "CT", 0, &info,
                 sizeof(info));
  } else if (rule.target == RuleTarget::kNotrack) {
    xt_ct_target_info_v1 info{};
    bool rev2 = notrack == NotrackEncoding::kCtRev2;
    info.flags = rev2 ? XT_CT_NOTRACK | XT_CT_NOTRACK_ALIAS : XT_CT_NOTRACK;
    appendRecord(body.target, kTargetHeader, kTargetHeader + XT_ALIGN(sizeof(info)), "CT",
                 rev2 ? 2 : 1, &info, sizeof(info));
  } else {
    int verdict = 0;  // "ACCEPT" label: libiptc sets the verdict on insert
    appendRecord(body.target, kTargetHeader, XT_ALIGN(sizeof(xt_standard_target)), "ACCEPT", 0,
                 &verdict, sizeof(verdict));
  }
  return body;
}

std::optional<BodyFields> decodeBody(std::span<const uint8_t> matches,
                                     std::span<const uint8_t> target, Proto proto) {
  BodyFields out;
  bool seen_proto = false;
  bool seen_comment = false;
  while (!matches.empty()) {
    auto rec = readRecord(matches, kMatchHeader);
    if (!rec) {
      return std::nullopt;
    }
    matches = matches.subspan(kMatchHeader + rec->payload.size());
    if (rec->revision != 0) {
      return std::nullopt;
    }
    if (rec->name == protoName(proto) && !seen_proto) {
      seen_proto = true;
      uint16_t spts[2];
      uint16_t dpts[2];
      if (proto == Proto::kTcp) {
        xt_tcp tcp;
        if (rec->payload.size() < sizeof(tcp)) {
          return std::nullopt;
        }
        std::memcpy(&tcp, rec->payload.data(), sizeof(tcp));
        if (tcp.option != 0 || tcp.flg_mask != 0 || tcp.flg_cmp != 0 || tcp.invflags != 0) {
          return std::nullopt;
        }
        std::memcpy(spts, tcp.spts, sizeof(spts));
        std::memcpy(dpts, tcp.dpts, sizeof(dpts));
      } else {
        xt_udp udp;
        if (rec->payload.size() < sizeof(udp)) {
          return std::nullopt;
        }
        std::memcpy(&udp, rec->payload.data(), sizeof(udp));
        if (udp.invflags != 0) {
          return std::nullopt;
        }
        std::memcpy(spts, udp.spts, sizeof(spts));
        std::memcpy(dpts, udp.dpts, sizeof(dpts));
      }
      if (!decodeRange(spts, out.source_port) || !decodeRange(dpts, out.destination_port)) {
        return std::nullopt;
      }
    } else if (rec->name == "comment" && !seen_comment) {
      seen_comment = true;
      const char* text = reinterpret_cast<const char*>(rec->payload.data());
      out.comment.assign(text,
                         strnlen(text, std::min<size_t>(rec->payload.size(), XT_MAX_COMMENT_LEN)));
    } else {
      return std::nullopt;
    }
  }
  auto t = decodeTarget(target);
  if (!t) {
    return std::nullopt;
  }
  out.target = *t;
  return out;
}

}  // namespace nld::netcfg::detail
