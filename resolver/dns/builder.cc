#include "resolver/dns/builder.h"

#include <cstring>

#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/dns/wire_writer.h"

namespace nld::resolver::dns {

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
  const auto parsed = parseQuery(query);
  bool with_opt = false;
  bool do_bit = false;
  if (parsed) {
    with_opt = parsed->edns.has_value();
    do_bit = parsed->doBit();
  } else if (parsed.error() == ParseError::kBadVersion) {
    with_opt = true;
  }
  if (rc > 15) {
    with_opt = true;  // the upper bits live in the OPT RR
  }

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
    w.u8(0);
    w.u16(qtype::kOpt);
    w.u16(kAdvertisedUdpSize);
    w.u32(((rc >> 4) << 24) | (do_bit ? kEdnsDoBit : 0));
    w.u16(0);
    w.patchU16(hdr::kArcount, 1);
  }
  return w.ok() ? w.position() : 0;
}

size_t appendOpt(std::span<uint8_t> msg, size_t len, bool do_bit, uint16_t udp_size) noexcept {
  if (len < kHeaderSize || len > msg.size()) {
    return 0;
  }
  WireWriter w(msg, len);
  w.u8(0);
  w.u16(qtype::kOpt);
  w.u16(udp_size);
  w.u32(do_bit ? kEdnsDoBit : 0);
  w.u16(0);
  if (!w.ok()) {
    return 0;
  }
  writeU16(msg.data() + hdr::kArcount,
           static_cast<uint16_t>(readU16(msg.data() + hdr::kArcount) + 1));
  return w.position();
}

size_t truncateToFit(std::span<uint8_t> msg, size_t len, size_t limit) noexcept {
  if (len > msg.size()) {
    return 0;
  }
  if (len <= limit) {
    return len;
  }
  const auto info = inspectResponse(msg.first(len));
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
  if (size_t{info->authority_end} + opt_len <= limit) {
    return cutAt(info->authority_end, info->ancount, info->nscount);
  }
  if (size_t{info->answer_end} + opt_len <= limit) {
    return cutAt(info->answer_end, info->ancount, 0);
  }
  const uint16_t flags = static_cast<uint16_t>(readU16(p + hdr::kFlags) | flag::kTc);
  if (size_t{info->question_end} + opt_len <= limit) {
    writeU16(p + hdr::kFlags, flags);
    return cutAt(info->question_end, 0, 0);
  }
  if (info->question_end <= limit) {
    writeU16(p + hdr::kFlags, flags);
    writeU16(p + hdr::kAncount, 0);
    writeU16(p + hdr::kNscount, 0);
    writeU16(p + hdr::kArcount, 0);
    return info->question_end;
  }
  return 0;
}

}  // namespace nld::resolver::dns
