#include "resolver/dns/builder.h"

#include <cstring>

#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/dns/wire_writer.h"

namespace nld::resolver::dns {

namespace {

constexpr uint16_t kNsec = 47;
constexpr uint16_t kNsec3 = 50;

// Writes an OPT RR with no options.
void writeOpt(WireWriter& w, uint16_t udp_size, bool do_bit, uint8_t extended_rcode) noexcept {
  w.u8(0);
  w.u16(qtype::kOpt);
  w.u16(udp_size);
  w.u32((uint32_t{extended_rcode} << 24) | (do_bit ? kEdnsDoBit : 0));
  w.u16(0);
}

// Offset just after the RR starting at `at` (the message passed inspectResponse()).
size_t rrEnd(std::span<const uint8_t> msg, size_t at, uint16_t* type) noexcept {
  auto owner = readName(msg, at);
  if (!owner || size_t{owner->end} + kRrFixedSize > msg.size()) {
    return 0;
  }
  *type = readU16(msg.data() + owner->end);
  return size_t{owner->end} + kRrFixedSize + readU16(msg.data() + owner->end + 8);
}

}  // namespace

size_t buildErrorResponse(std::span<const uint8_t> query, Rcode rcode,
                          std::span<uint8_t> out) noexcept {
  if (query.size() < kHeaderSize || out.size() < kHeaderSize) {
    return 0;
  }
  const uint16_t qflags = readU16(query.data() + hdr::kFlags);
  const uint16_t qdcount = readU16(query.data() + hdr::kQdcount);
  const unsigned rc = static_cast<unsigned>(rcode);

  size_t question_len = 0;
  if (qdcount == 1) {
    auto name = readName(query, kHeaderSize);
    if (name && !name->compressed && size_t{name->end} + 4 <= query.size()) {
      question_len = size_t{name->end} + 4 - kHeaderSize;
    }
  }
  // Any OPT the client sent, valid or not: an EDNS client gets an OPT back, with its DO bit.
  const auto edns = findEdns(query);
  const bool with_opt = edns.has_value() || rc > 15;  // rcodes > 15 need the OPT's upper bits
  const bool do_bit = edns && edns->do_bit;

  const uint16_t flags = static_cast<uint16_t>(
      flag::kQr | (qflags & (flag::kOpcodeMask | flag::kRd | flag::kCd)) | flag::kRa | (rc & 0xf));
  WireWriter w(out);
  w.u16(readU16(query.data()));
  w.u16(flags);
  w.u16(question_len != 0 ? 1 : 0);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  w.bytes(query.subspan(kHeaderSize, question_len));
  if (with_opt) {
    writeOpt(w, kAdvertisedUdpSize, do_bit, static_cast<uint8_t>(rc >> 4));
    w.patchU16(hdr::kArcount, 1);
  }
  return w.ok() ? w.position() : 0;
}

size_t appendOpt(std::span<uint8_t> msg, size_t len, bool do_bit, uint16_t udp_size,
                 uint8_t extended_rcode) noexcept {
  if (len < kHeaderSize || len > msg.size()) {
    return 0;
  }
  WireWriter w(msg, len);
  writeOpt(w, udp_size, do_bit, extended_rcode);
  if (!w.ok()) {
    return 0;
  }
  writeU16(msg.data() + hdr::kArcount,
           static_cast<uint16_t>(readU16(msg.data() + hdr::kArcount) + 1));
  return w.position();
}

size_t buildQuery(uint16_t id, uint16_t flags, std::string_view qname, uint16_t qtype,
                  uint16_t qclass, std::span<uint8_t> out) noexcept {
  if (out.size() < kHeaderSize) {
    return 0;
  }
  const size_t name_len = nameFromText(qname, out.subspan(kHeaderSize));
  if (name_len == 0) {
    return 0;
  }
  WireWriter w(out);
  w.u16(id);
  w.u16(flags);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  WireWriter rest(out, kHeaderSize + name_len);
  rest.u16(qtype);
  rest.u16(qclass);
  return w.ok() && rest.ok() ? rest.position() : 0;
}

size_t buildUpstreamQuery(std::span<const uint8_t> wire, const Query& q,
                          std::span<uint8_t> out) noexcept {
  if (wire.size() < q.question_end) {
    return 0;
  }
  WireWriter w(out);
  w.u16(q.id);
  w.u16(static_cast<uint16_t>(q.flags & (flag::kOpcodeMask | flag::kRd | flag::kCd | flag::kAd)));
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(1);
  w.bytes(wire.subspan(kHeaderSize, q.question_end - kHeaderSize));
  writeOpt(w, kAdvertisedUdpSize, q.doBit(), 0);
  return w.ok() ? w.position() : 0;
}

size_t buildWaiterQuery(std::span<const uint8_t> wire, const Query& q,
                        std::span<uint8_t> out) noexcept {
  if (wire.size() < q.question_end) {
    return 0;
  }
  WireWriter w(out);
  w.u16(q.id);
  w.u16(q.flags);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(q.edns ? 1 : 0);
  w.bytes(wire.subspan(kHeaderSize, q.question_end - kHeaderSize));
  if (q.edns) {
    writeOpt(w, q.edns->udp_size, q.edns->do_bit, 0);
  }
  return w.ok() ? w.position() : 0;
}

size_t buildClientAnswer(std::span<const uint8_t> upstream, const ResponseInfo& info,
                         const Query& q, std::span<const uint8_t> wire,
                         std::span<uint8_t> out) noexcept {
  if (info.qdcount != 1 || info.question_end != q.question_end || wire.size() < q.question_end ||
      upstream.size() < info.end) {
    return 0;
  }
  // The upper 8 bits of a 12-bit rcode as sent (info.rcode saturates at 255).
  const uint8_t extended_rcode = info.opt_offset ? upstream[*info.opt_offset + 5] : 0;
  if (extended_rcode != 0 && !q.edns) {
    return 0;
  }
  const size_t body = info.opt_offset ? *info.opt_offset : info.end;
  const size_t need = body + (q.edns ? kOptRrSize : 0);
  if (need > out.size()) {
    return 0;
  }
  uint8_t* p = out.data();
  std::memcpy(p, upstream.data(), body);
  std::memcpy(p + kHeaderSize, wire.data() + kHeaderSize, q.question_end - kHeaderSize);
  const bool ad = (info.flags & flag::kAd) != 0 && (q.doBit() || q.ad);
  const uint16_t flags = static_cast<uint16_t>(
      flag::kQr | (q.flags & (flag::kOpcodeMask | flag::kRd | flag::kCd)) |
      (info.flags & (flag::kAa | flag::kTc | flag::kRa | flag::kRcodeMask)) | (ad ? flag::kAd : 0));
  writeU16(p + hdr::kId, q.id);
  writeU16(p + hdr::kFlags, flags);
  if (info.opt_offset) {
    writeU16(p + hdr::kArcount, info.additional_before_opt);
  }
  if (!q.edns) {
    return body;
  }
  return appendOpt(out, body, q.doBit(), kAdvertisedUdpSize, extended_rcode);
}

size_t truncateToFit(std::span<uint8_t> msg, size_t len, size_t limit) noexcept {
  if (len > msg.size()) {
    return 0;
  }
  if (len <= limit) {
    return len;
  }
  const std::span<const uint8_t> view(msg.data(), len);
  const auto info = inspectResponse(view);
  if (!info) {
    return 0;
  }
  const size_t opt_len = info->opt_offset ? info->opt_length : 0;
  uint8_t* p = msg.data();
  // Moves the OPT RR (if any) to `at` and sets the counts; an OPT's owner is the root byte, so it
  // holds no compression pointer and can move freely. Removed RRs all lie after `at`, and
  // pointers only point backwards, so the kept part stays valid.
  auto cutAt = [&](size_t at, uint16_t an, uint16_t ns) {
    if (opt_len != 0) {
      std::memmove(p + at, p + *info->opt_offset, opt_len);
    }
    writeU16(p + hdr::kAncount, an);
    writeU16(p + hdr::kNscount, ns);
    writeU16(p + hdr::kArcount, opt_len != 0 ? 1 : 0);
    return at + opt_len;
  };
  // 1. Additional records are optional (RFC 2181 §9).
  if (size_t{info->authority_end} + opt_len <= limit) {
    return cutAt(info->authority_end, info->ancount, info->nscount);
  }
  // 2. So is authority, unless it carries the denial: a negative answer's SOA, NSEC/NSEC3 proofs.
  bool required = info->rcode == Rcode::kNxDomain || info->ancount == 0 || info->has_soa;
  uint16_t type = 0;
  for (size_t at = info->answer_end; !required && at < info->authority_end;) {
    at = rrEnd(view, at, &type);
    if (at == 0) {
      return 0;
    }
    required = type == kNsec || type == kNsec3;
  }
  if (!required && size_t{info->answer_end} + opt_len <= limit) {
    return cutAt(info->answer_end, info->ancount, 0);
  }
  // 3. TC, with as many whole answer records as fit.
  writeU16(p + hdr::kFlags, static_cast<uint16_t>(readU16(p + hdr::kFlags) | flag::kTc));
  if (size_t{info->question_end} + opt_len > limit) {
    if (info->question_end > limit) {
      return 0;
    }
    writeU16(p + hdr::kAncount, 0);
    writeU16(p + hdr::kNscount, 0);
    writeU16(p + hdr::kArcount, 0);
    return info->question_end;
  }
  size_t kept_end = info->question_end;
  uint16_t kept = 0;
  for (size_t at = info->question_end; kept < info->ancount;) {
    const size_t next = rrEnd(view, at, &type);
    if (next == 0) {
      return 0;
    }
    if (next + opt_len > limit) {
      break;
    }
    kept_end = at = next;
    ++kept;
  }
  return cutAt(kept_end, kept, 0);
}

}  // namespace nld::resolver::dns
