// DNS wire-format constants and small value types (RFC 1035, RFC 6891, RFC 2308).
//
// Data plane: everything here is constexpr or noexcept, allocation-free and safe to call from any
// thread. Multi-byte fields are big-endian on the wire; use readU16()/writeU16() on raw bytes that
// have already been bounds-checked (WireReader does the checking for untrusted input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nld::resolver::dns {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameLength = 255;  // uncompressed wire length, root label included
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxUdpPayloadDefault = 512;  // without EDNS (RFC 1035 §4.2.1)
inline constexpr size_t kMaxMessageSize = 65535;      // TCP length prefix bound
inline constexpr uint16_t kAdvertisedUdpSize = 1232;  // our OPT payload size (DNS flag day 2020)
inline constexpr size_t kOptRrSize = 11;              // root owner + type + class + ttl + rdlen
inline constexpr size_t kRrFixedSize = 10;            // type + class + ttl + rdlength

/// Response codes. Values above 15 need the OPT RR's extended-rcode byte (RFC 6891 §6.1.3).
enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kBadVers = 16,
};

enum class Opcode : uint8_t { kQuery = 0, kIquery = 1, kStatus = 2, kNotify = 4, kUpdate = 5 };

/// RR types we look at (others pass through untouched).
namespace qtype {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNs = 2;
inline constexpr uint16_t kCname = 5;
inline constexpr uint16_t kSoa = 6;
inline constexpr uint16_t kPtr = 12;
inline constexpr uint16_t kHinfo = 13;
inline constexpr uint16_t kMx = 15;
inline constexpr uint16_t kTxt = 16;
inline constexpr uint16_t kAaaa = 28;
inline constexpr uint16_t kSrv = 33;
inline constexpr uint16_t kOpt = 41;
inline constexpr uint16_t kDs = 43;
inline constexpr uint16_t kRrsig = 46;
inline constexpr uint16_t kTkey = 249;
inline constexpr uint16_t kTsig = 250;
inline constexpr uint16_t kIxfr = 251;
inline constexpr uint16_t kAxfr = 252;
inline constexpr uint16_t kAny = 255;
}  // namespace qtype

namespace qclass {
inline constexpr uint16_t kIn = 1;
inline constexpr uint16_t kCh = 3;
inline constexpr uint16_t kAny = 255;
}  // namespace qclass

/// Header flag bits of the 16-bit word at offset 2.
namespace flag {
inline constexpr uint16_t kQr = 0x8000;
inline constexpr uint16_t kOpcodeMask = 0x7800;
inline constexpr uint16_t kAa = 0x0400;
inline constexpr uint16_t kTc = 0x0200;
inline constexpr uint16_t kRd = 0x0100;
inline constexpr uint16_t kRa = 0x0080;
inline constexpr uint16_t kZ = 0x0040;
inline constexpr uint16_t kAd = 0x0020;
inline constexpr uint16_t kCd = 0x0010;
inline constexpr uint16_t kRcodeMask = 0x000f;
}  // namespace flag

/// EDNS DO bit in the OPT RR's TTL field (RFC 3225).
inline constexpr uint32_t kEdnsDoBit = 0x00008000;

/// Header field offsets.
namespace hdr {
inline constexpr size_t kId = 0;
inline constexpr size_t kFlags = 2;
inline constexpr size_t kQdcount = 4;
inline constexpr size_t kAncount = 6;
inline constexpr size_t kNscount = 8;
inline constexpr size_t kArcount = 10;
}  // namespace hdr

inline constexpr uint16_t readU16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline constexpr uint32_t readU32(const uint8_t* p) noexcept {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}
inline constexpr void writeU16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v & 0xff);
}
inline constexpr void writeU32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>((v >> 16) & 0xff);
  p[2] = static_cast<uint8_t>((v >> 8) & 0xff);
  p[3] = static_cast<uint8_t>(v & 0xff);
}

inline constexpr Opcode opcodeOf(uint16_t flags) noexcept {
  return static_cast<Opcode>((flags & flag::kOpcodeMask) >> 11);
}

}  // namespace nld::resolver::dns
