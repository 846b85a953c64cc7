#include "resolver/dns/message.h"

#include "resolver/dns/name.h"
#include "resolver/dns/wire_reader.h"

namespace nld::resolver::dns {
namespace {

// Validates an OPT RR's rdata: a sequence of {code, length, data} that fills it exactly.
bool optionsWellFormed(std::span<const uint8_t> rdata) noexcept {
  WireReader r(rdata);
  while (r.ok() && !r.atEnd()) {
    r.u16();
    const uint16_t len = r.u16();
    r.skip(len);
  }
  return r.ok();
}

// The EDNS fields of an OPT RR at `start` (its CLASS is the UDP size, its TTL version and DO).
Edns ednsOf(uint16_t klass, uint32_t ttl, size_t start, uint16_t rdlength) noexcept {
  Edns e;
  e.udp_size = klass;
  e.version = static_cast<uint8_t>((ttl >> 16) & 0xff);
  e.do_bit = (ttl & kEdnsDoBit) != 0;
  e.opt_offset = static_cast<uint16_t>(start);
  e.rdlength = rdlength;
  return e;
}

}  // namespace

const char* parseErrorName(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTooShort:
      return "too short";
    case ParseError::kNotQuery:
      return "not a query";
    case ParseError::kNotImplemented:
      return "opcode not implemented";
    case ParseError::kBadQdcount:
      return "qdcount not 1";
    case ParseError::kBadName:
      return "bad question name";
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadRr:
      return "bad resource record";
    case ParseError::kBadOpt:
      return "bad OPT record";
    case ParseError::kBadVersion:
      return "unsupported EDNS version";
    case ParseError::kTrailing:
      return "trailing bytes";
  }
  return "unknown";
}

Rcode errorRcode(ParseError e) noexcept {
  switch (e) {
    case ParseError::kNotImplemented:
      return Rcode::kNotImp;
    case ParseError::kBadVersion:
      return Rcode::kBadVers;
    default:
      return Rcode::kFormErr;
  }
}

bool shouldAnswer(ParseError e) noexcept {
  return e != ParseError::kTooShort && e != ParseError::kNotQuery;
}

tl::expected<Query, ParseError> parseQuery(std::span<const uint8_t> wire) noexcept {
  if (wire.size() < kHeaderSize) {
    return tl::unexpected(ParseError::kTooShort);
  }
  if (wire.size() > kMaxMessageSize) {
    return tl::unexpected(ParseError::kTrailing);
  }
  Query q;
  WireReader r(wire);
  q.id = r.u16();
  q.flags = r.u16();
  const uint16_t qdcount = r.u16();
  q.ancount = r.u16();
  q.nscount = r.u16();
  q.arcount = r.u16();
  if ((q.flags & flag::kQr) != 0) {
    return tl::unexpected(ParseError::kNotQuery);
  }
  q.opcode = opcodeOf(q.flags);
  q.rd = (q.flags & flag::kRd) != 0;
  q.cd = (q.flags & flag::kCd) != 0;
  q.ad = (q.flags & flag::kAd) != 0;
  if (q.opcode != Opcode::kQuery) {
    return tl::unexpected(ParseError::kNotImplemented);
  }
  if (qdcount != 1) {
    return tl::unexpected(ParseError::kBadQdcount);
  }
  auto qname = readName(wire, kHeaderSize);
  if (!qname) {
    return tl::unexpected(ParseError::kBadName);
  }
  q.qname_length = qname->length;  // a pointer at offset 12 cannot point backwards into a name
  r.seek(qname->end);
  q.qtype = r.u16();
  q.qclass = r.u16();
  if (!r.ok()) {
    return tl::unexpected(ParseError::kTruncated);
  }
  q.question_end = static_cast<uint16_t>(r.position());

  const unsigned total = unsigned{q.ancount} + q.nscount + q.arcount;
  const unsigned additional_from = unsigned{q.ancount} + q.nscount;
  bool bad_version = false;
  for (unsigned i = 0; i < total; ++i) {
    const size_t rr_start = r.position();
    auto owner = readName(wire, rr_start);
    if (!owner) {
      return tl::unexpected(r.remaining() == 0 ? ParseError::kTruncated : ParseError::kBadRr);
    }
    r.seek(owner->end);
    const uint16_t type = r.u16();
    const uint16_t klass = r.u16();
    const uint32_t ttl = r.u32();
    const uint16_t rdlength = r.u16();
    auto rdata = r.bytes(rdlength);
    if (!r.ok()) {
      return tl::unexpected(ParseError::kTruncated);
    }
    if (type == qtype::kOpt) {
      if (i < additional_from || q.edns || owner->length != 1 || !optionsWellFormed(rdata)) {
        return tl::unexpected(ParseError::kBadOpt);
      }
      q.edns = ednsOf(klass, ttl, rr_start, rdlength);
      bad_version = q.edns->version != 0;
    }
  }
  if (!r.atEnd()) {
    return tl::unexpected(ParseError::kTrailing);
  }
  if (bad_version) {
    return tl::unexpected(ParseError::kBadVersion);
  }
  return q;
}

std::optional<Edns> findEdns(std::span<const uint8_t> wire) noexcept {
  if (wire.size() < kHeaderSize || wire.size() > kMaxMessageSize) {
    return std::nullopt;
  }
  const uint8_t* p = wire.data();
  const unsigned qdcount = readU16(p + hdr::kQdcount);
  const unsigned rrs = unsigned{readU16(p + hdr::kAncount)} + readU16(p + hdr::kNscount) +
                       readU16(p + hdr::kArcount);
  WireReader r(wire, kHeaderSize);
  for (unsigned i = 0; i < qdcount; ++i) {
    auto name = readName(wire, r.position());
    if (!name) {
      return std::nullopt;
    }
    r.seek(name->end);
    r.skip(4);
    if (!r.ok()) {
      return std::nullopt;
    }
  }
  for (unsigned i = 0; i < rrs; ++i) {
    const size_t start = r.position();
    auto owner = readName(wire, start);
    if (!owner) {
      return std::nullopt;
    }
    r.seek(owner->end);
    const uint16_t type = r.u16();
    const uint16_t klass = r.u16();
    const uint32_t ttl = r.u32();
    const uint16_t rdlength = r.u16();
    r.skip(rdlength);
    if (!r.ok()) {
      return std::nullopt;
    }
    if (type == qtype::kOpt) {
      return ednsOf(klass, ttl, start, rdlength);
    }
  }
  return std::nullopt;
}

bool sameQuestion(std::span<const uint8_t> query, std::span<const uint8_t> response) noexcept {
  if (query.size() < kHeaderSize || response.size() < kHeaderSize) {
    return false;
  }
  if (headerCount(query, hdr::kQdcount) != 1 || headerCount(response, hdr::kQdcount) != 1) {
    return false;
  }
  auto a = readName(query, kHeaderSize);
  auto b = readName(response, kHeaderSize);
  if (!a || !b || size_t{a->end} + 4 > query.size() || size_t{b->end} + 4 > response.size()) {
    return false;
  }
  if (readU32(query.data() + a->end) != readU32(response.data() + b->end)) {
    return false;  // qtype + qclass
  }
  return namesEqual(query, kHeaderSize, response, kHeaderSize);
}

}  // namespace nld::resolver::dns
