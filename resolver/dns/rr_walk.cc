#include "resolver/dns/rr_walk.h"

#include <algorithm>
#include <array>

#include "resolver/dns/name.h"
#include "resolver/dns/wire_reader.h"

namespace nld::resolver::dns {
namespace {

constexpr uint32_t kMaximumDefaultTtl = 3600;  // CoreDNS dnsutil.MaximumDefaulTTL
constexpr uint32_t kMinimalDefaultTtl = 5;     // CoreDNS dnsutil.MinimalDefaultTTL

// TTL fields seen so far (ascending): the cache rewrites them, so no name we parse may read
// them — a name pointing into a TTL would decode differently after the rewrite.
struct TtlGuard {
  static constexpr size_t kMaxRrs = kMaxMessageSize / 11 + 1;  // an RR takes at least 11 bytes
  std::array<uint16_t, kMaxRrs> at;
  size_t count = 0;

  static bool visit(void* ctx, size_t begin, size_t end) noexcept {
    const auto* g = static_cast<const TtlGuard*>(ctx);
    // First TTL field ending after `begin`; overlap iff it starts before `end`.
    const auto* first =
        std::upper_bound(g->at.data(), g->at.data() + g->count, begin,
                         [](size_t b, uint16_t t) noexcept { return b < size_t{t} + 4; });
    return first == g->at.data() + g->count || size_t{*first} >= end;
  }
};

// Calls fn(index, rr_start, type, ttl_offset, rdata_offset, rdlength, next) for each RR after
// the question; returns false on any bounds or name error, or when fn returns false. With a
// guard, owner names may not read TTL fields of earlier RRs.
template <typename Fn>
bool forEachRr(std::span<const uint8_t> wire, size_t question_end, unsigned count, Fn&& fn,
               TtlGuard* guard = nullptr) noexcept {
  WireReader r(wire, question_end);
  for (unsigned i = 0; i < count; ++i) {
    const size_t start = r.position();
    auto owner =
        guard != nullptr ? readName(wire, start, &TtlGuard::visit, guard) : readName(wire, start);
    if (!owner) {
      return false;
    }
    r.seek(owner->end);
    const uint16_t type = r.u16();
    r.u16();
    const size_t ttl_at = r.position();
    r.u32();
    const uint16_t rdlength = r.u16();
    const size_t rdata_at = r.position();
    r.skip(rdlength);
    if (!r.ok()) {
      return false;
    }
    if (guard != nullptr && type != qtype::kOpt) {
      guard->at[guard->count++] = static_cast<uint16_t>(ttl_at);
    }
    if (!fn(i, start, type, ttl_at, rdata_at, rdlength, r.position())) {
      return false;
    }
  }
  return r.ok();
}

std::optional<size_t> questionEnd(std::span<const uint8_t> wire, uint16_t qdcount) noexcept {
  size_t pos = kHeaderSize;
  for (unsigned i = 0; i < qdcount; ++i) {
    auto name = readName(wire, pos);
    if (!name || size_t{name->end} + 4 > wire.size()) {
      return std::nullopt;
    }
    pos = size_t{name->end} + 4;
  }
  return pos;
}

}  // namespace

const char* responseTypeName(ResponseType t) noexcept {
  switch (t) {
    case ResponseType::kNoError:
      return "NOERROR";
    case ResponseType::kNameError:
      return "NXDOMAIN";
    case ResponseType::kNoData:
      return "NODATA";
    case ResponseType::kDelegation:
      return "DELEGATION";
    case ResponseType::kServerError:
      return "SERVERERROR";
    case ResponseType::kOtherError:
      return "OTHERERROR";
    case ResponseType::kMeta:
      return "META";
  }
  return "UNKNOWN";
}

std::optional<ResponseInfo> inspectResponse(std::span<const uint8_t> wire) noexcept {
  if (wire.size() < kHeaderSize || wire.size() > kMaxMessageSize) {
    return std::nullopt;
  }
  ResponseInfo info;
  const uint8_t* p = wire.data();
  info.id = readU16(p + hdr::kId);
  info.flags = readU16(p + hdr::kFlags);
  info.qdcount = readU16(p + hdr::kQdcount);
  info.ancount = readU16(p + hdr::kAncount);
  info.nscount = readU16(p + hdr::kNscount);
  info.arcount = readU16(p + hdr::kArcount);
  if ((info.flags & flag::kQr) == 0 || info.qdcount > 1) {
    return std::nullopt;
  }
  info.tc = (info.flags & flag::kTc) != 0;
  info.aa = (info.flags & flag::kAa) != 0;
  info.ad = (info.flags & flag::kAd) != 0;
  info.ra = (info.flags & flag::kRa) != 0;
  auto qend = questionEnd(wire, info.qdcount);
  if (!qend) {
    return std::nullopt;
  }
  info.question_end = static_cast<uint16_t>(*qend);
  if (info.qdcount == 1) {
    info.qtype = readU16(p + *qend - 4);
    info.qclass = readU16(p + *qend - 2);
  }
  const unsigned an = info.ancount;
  const unsigned ns = info.nscount;
  const unsigned total = an + ns + info.arcount;
  bool bad = false;
  bool has_ns = false;
  TtlGuard guard;
  uint32_t neg_min = UINT32_MAX;  // min over RRs with the SOA rule applied
  uint32_t ext_rcode = 0;
  info.answer_end = info.question_end;
  info.authority_end = info.question_end;
  size_t end = info.question_end;
  const bool walked = forEachRr(
      wire, *qend, total,
      [&](unsigned i, size_t start, uint16_t type, size_t ttl_at, size_t rdata_at, uint16_t rdlen,
          size_t next) noexcept {
        end = next;
        if (i < an) {
          info.answer_end = static_cast<uint16_t>(next);
        }
        if (i < an + ns) {
          info.authority_end = static_cast<uint16_t>(next);
        }
        const uint32_t ttl = readU32(p + ttl_at);
        if (type == qtype::kOpt) {
          if (i < an + ns || info.opt_offset || wire[start] != 0) {
            bad = true;
            return false;
          }
          info.opt_offset = static_cast<uint16_t>(start);
          info.opt_length = static_cast<uint16_t>(next - start);
          info.opt_last = (i + 1 == total);
          info.additional_before_opt = static_cast<uint16_t>(i - an - ns);
          ext_rcode = ttl >> 24;
          return true;
        }
        if (type == qtype::kTsig) {
          info.has_tsig = true;
        }
        ++info.rr_count;
        info.min_ttl = std::min(info.min_ttl, ttl);
        uint32_t neg_ttl = ttl;
        if (i >= an && i < an + ns) {
          if (type == qtype::kSoa) {
            info.has_soa = true;
            // RDATA: mname, rname (names, maybe compressed), then 5 × u32; MINIMUM is the last.
            auto mname = readName(wire, rdata_at, &TtlGuard::visit, &guard);
            auto rname =
                mname ? readName(wire, mname->end, &TtlGuard::visit, &guard) : std::nullopt;
            if (!rname || size_t{rname->end} + 20 != rdata_at + rdlen) {
              bad = true;
              return false;
            }
            neg_ttl = std::min(ttl, readU32(p + rname->end + 16));
          } else if (type == qtype::kNs) {
            has_ns = true;
          }
        }
        neg_min = std::min(neg_min, neg_ttl);
        return true;
      },
      &guard);
  if (!walked || bad) {
    return std::nullopt;
  }
  // The last RR must end exactly at the message end.
  if (end != wire.size()) {
    return std::nullopt;
  }
  info.end = static_cast<uint16_t>(end);
  if (ns == 0) {
    info.authority_end = info.answer_end;
  }
  const uint32_t rc = (ext_rcode << 4) | (info.flags & flag::kRcodeMask);
  info.rcode = static_cast<Rcode>(std::min<uint32_t>(rc, 255));

  // Typify (CoreDNS plugin/pkg/response/typify.go), in its order (kept, hence the repeated
  // branches).
  // NOLINTBEGIN(bugprone-branch-clone)
  const Opcode op = opcodeOf(info.flags);
  if (op == Opcode::kUpdate || op == Opcode::kNotify || info.qtype == qtype::kAxfr ||
      info.qtype == qtype::kIxfr) {
    info.type = ResponseType::kMeta;
  } else if (an > 0 && info.rcode == Rcode::kNoError) {
    info.type = ResponseType::kNoError;
  } else if (info.has_soa && info.rcode == Rcode::kNoError) {
    info.type = ResponseType::kNoData;
  } else if (info.has_soa && info.rcode == Rcode::kNxDomain) {
    info.type = ResponseType::kNameError;
  } else if (info.rcode == Rcode::kServFail) {
    info.type = ResponseType::kServerError;
  } else if (has_ns && info.rcode == Rcode::kNoError) {
    info.type = ResponseType::kDelegation;
  } else if (info.rcode == Rcode::kNoError) {
    info.type = ResponseType::kNoError;
  } else {
    info.type = ResponseType::kOtherError;
  }

  // dnsutil.MinimalTTL.
  if (info.type != ResponseType::kNoError && info.type != ResponseType::kNameError &&
      info.type != ResponseType::kNoData) {
    info.msg_ttl = kMinimalDefaultTtl;
  } else if (info.rr_count == 0) {
    info.msg_ttl = kMinimalDefaultTtl;
  } else if (info.type == ResponseType::kNoError) {
    info.msg_ttl = std::min(info.min_ttl, kMaximumDefaultTtl);
  } else {
    info.msg_ttl = std::min(neg_min, kMaximumDefaultTtl);
  }
  // NOLINTEND(bugprone-branch-clone)

  return info;
}

size_t rewriteTtls(std::span<uint8_t> wire, uint32_t ttl) noexcept {
  if (wire.size() < kHeaderSize) {
    return 0;
  }
  const std::span<const uint8_t> view(wire.data(), wire.size());
  const uint16_t qd = readU16(wire.data() + hdr::kQdcount);
  auto qend = questionEnd(view, qd);
  if (!qend) {
    return 0;
  }
  const unsigned total = unsigned{readU16(wire.data() + hdr::kAncount)} +
                         readU16(wire.data() + hdr::kNscount) +
                         readU16(wire.data() + hdr::kArcount);
  size_t n = 0;
  forEachRr(view, *qend, total,
            [&](unsigned, size_t, uint16_t type, size_t ttl_at, size_t, uint16_t, size_t) noexcept {
              if (type != qtype::kOpt) {
                writeU32(wire.data() + ttl_at, ttl);
                ++n;
              }
              return true;
            });
  return n;
}

std::optional<size_t> collectTtlOffsets(std::span<const uint8_t> wire,
                                        std::span<uint16_t> out) noexcept {
  if (wire.size() < kHeaderSize) {
    return std::nullopt;
  }
  auto qend = questionEnd(wire, readU16(wire.data() + hdr::kQdcount));
  if (!qend) {
    return std::nullopt;
  }
  const unsigned total = unsigned{readU16(wire.data() + hdr::kAncount)} +
                         readU16(wire.data() + hdr::kNscount) +
                         readU16(wire.data() + hdr::kArcount);
  size_t n = 0;
  const bool ok = forEachRr(
      wire, *qend, total,
      [&](unsigned, size_t, uint16_t type, size_t ttl_at, size_t, uint16_t, size_t) noexcept {
        if (type == qtype::kOpt) {
          return true;
        }
        if (n >= out.size()) {
          return false;
        }
        out[n++] = static_cast<uint16_t>(ttl_at);
        return true;
      });
  if (!ok) {
    return std::nullopt;
  }
  return n;
}

}  // namespace nld::resolver::dns
