// Domain names on the wire: validation, lower-cased copies for cache keys, case-insensitive
// comparison, and text conversion (for tests, logs and configuration, not the packet path).
//
// Validation rules (RFC 1035 §3.1, §4.1.4; Knot's dname checks): uncompressed length ≤ 255 with
// the root label, labels ≤ 63, label types 0b01/0b10 rejected; a compression pointer must point
// strictly before the start of the name segment that contains it and not into the 12-byte
// header, and what follows a jump must end before the pointer that made it. So each jump moves
// to a strictly smaller offset (pointer loops and forward pointers cannot make the walk loop or
// read out of bounds), and a name reads only bytes before its own end: dropping later RRs
// (truncation, the cache removing the OPT RR) never changes an earlier name. All functions are
// noexcept and thread-safe; only the text helpers allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nld::resolver::dns {

/// A validated name inside a message.
struct NameRef {
  uint16_t offset = 0;  ///< where the name starts in the message
  uint16_t end = 0;     ///< offset just after the name's in-place bytes (after the first pointer)
  uint16_t length = 0;  ///< uncompressed wire length, root label included (1..255)
  uint8_t labels = 0;   ///< label count, root excluded
  bool compressed = false;
};

/// Validates the name at `offset` of `msg`.
/// @return the name's extent, or std::nullopt if it is truncated, too long, uses a reserved label
///         type, or a compression pointer that does not point strictly backwards.
std::optional<NameRef> readName(std::span<const uint8_t> msg, size_t offset) noexcept;

/// Called with each byte range [begin, end) of the message a name walk reads (labels, the root
/// byte, pointers); returning false rejects the name.
using NameByteVisitor = bool (*)(void* ctx, size_t begin, size_t end) noexcept;

/// readName() that also reports the bytes it reads, e.g. to refuse names that overlap TTL fields
/// (which the cache rewrites).
std::optional<NameRef> readName(std::span<const uint8_t> msg, size_t offset, NameByteVisitor visit,
                                void* ctx) noexcept;

/// Writes the uncompressed, ASCII-lower-cased wire form of the name at `offset` into `out`.
/// @return the number of bytes written (the name's length), or 0 if the name is invalid or `out`
///         is too small (`out` may then hold a partial name).
size_t copyNameLower(std::span<const uint8_t> msg, size_t offset, std::span<uint8_t> out) noexcept;

/// ASCII-lower-cases `bytes` in place, eight at a time. Safe on a whole wire name: label length
/// bytes (< 64) are never in 'A'..'Z'.
void lowerAscii(std::span<uint8_t> bytes) noexcept;

/// Case-insensitive (ASCII only, RFC 4343) equality of two names, each inside its own message.
/// Invalid names compare unequal.
bool namesEqual(std::span<const uint8_t> msg_a, size_t offset_a, std::span<const uint8_t> msg_b,
                size_t offset_b) noexcept;

inline constexpr uint8_t asciiLower(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

/// Presentation form ("www.example.com.", "." for the root); bytes outside [!-~] and the
/// characters `.` `\` inside labels are escaped as \DDD / \. / \\. Allocates: not for the hot path.
/// Invalid names give "<invalid>".
std::string nameToText(std::span<const uint8_t> msg, size_t offset);

/// Wire form (uncompressed) of a presentation name; a missing trailing dot is accepted.
/// Understands \DDD and \X escapes. @return bytes written, or 0 if the text is not a valid name or
/// `out` is too small.
size_t nameFromText(std::string_view text, std::span<uint8_t> out) noexcept;

/// nameFromText(), lower-cased, as a vector (a zone's comparable form); empty if invalid.
std::vector<uint8_t> lowerNameFromText(std::string_view text);

/// True if the lower-cased wire name `name` equals `zone` or lies below it (label boundary).
bool nameIsUnder(const uint8_t* name, size_t name_length, const uint8_t* zone,
                 size_t zone_length) noexcept;

}  // namespace nld::resolver::dns
