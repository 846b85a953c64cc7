#include "resolver/dns/name.h"

#include <array>
#include <cstring>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {
namespace {

// Eight bytes at a time (SWAR): a byte gets 0x20 added when it is in 'A'..'Z'. Byte at a time
// cost ~15 instructions a byte on the cache-hit path.
void lowerBytes(uint8_t* p, size_t n) noexcept {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    std::memcpy(&x, p + i, 8);
    const uint64_t low7 = x & ~kHigh;
    const uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;      // bit 7 set where byte >= 'A'
    const uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * kOnes;  // bit 7 set where byte > 'Z'
    const uint64_t upper = ge_a & ~gt_z & ~x & kHigh;       // ... and the byte itself < 0x80
    x |= upper >> 2;                                        // 0x80 >> 2 == 0x20
    std::memcpy(p + i, &x, 8);
  }
  for (; i < n; ++i) {
    p[i] = asciiLower(p[i]);
  }
}

// One walk for validation and copying: `out` (may be empty) receives the uncompressed name,
// lower-cased when `lower` is set.
std::optional<NameRef> walkName(std::span<const uint8_t> msg, size_t offset, std::span<uint8_t> out,
                                bool lower, NameByteVisitor visit = nullptr,
                                void* ctx = nullptr) noexcept {
  if (offset >= msg.size()) {
    return std::nullopt;
  }
  NameRef ref;
  ref.offset = static_cast<uint16_t>(offset);
  size_t pos = offset;
  size_t segment_start = offset;
  size_t limit = msg.size();  // after a jump: the pointer's position (read only earlier bytes)
  size_t length = 0;
  size_t end = 0;
  bool jumped = false;
  unsigned labels = 0;
  while (true) {
    if (pos >= limit) {
      return std::nullopt;
    }
    const uint8_t b = msg[pos];
    if ((b & 0xc0) == 0xc0) {
      if (pos + 1 >= limit) {
        return std::nullopt;
      }
      if (visit != nullptr && !visit(ctx, pos, pos + 2)) {
        return std::nullopt;
      }
      const size_t target = (static_cast<size_t>(b & 0x3f) << 8) | msg[pos + 1];
      // Strictly before the current segment: every jump lowers segment_start, so the walk ends.
      // Never into the header: no name lives there.
      if (target >= segment_start || target < kHeaderSize) {
        return std::nullopt;
      }
      if (!jumped) {
        end = pos + 2;
        jumped = true;
      }
      segment_start = target;
      limit = pos;
      pos = target;
      continue;
    }
    if ((b & 0xc0) != 0) {
      return std::nullopt;  // 0b01 (extended, RFC 6891 deprecated it) and 0b10 are reserved
    }
    if (visit != nullptr && !visit(ctx, pos, pos + 1 + b)) {
      return std::nullopt;
    }
    if (b == 0) {
      length += 1;
      if (length > kMaxNameLength) {
        return std::nullopt;
      }
      if (!out.empty()) {
        if (length > out.size()) {
          return std::nullopt;
        }
        out[length - 1] = 0;
      }
      if (!jumped) {
        end = pos + 1;
      }
      break;
    }
    if (pos + 1 + b > limit || length + b + 1 + 1 > kMaxNameLength) {
      return std::nullopt;
    }
    if (!out.empty()) {
      if (length + b + 1 > out.size()) {
        return std::nullopt;
      }
      std::memcpy(out.data() + length, msg.data() + pos, static_cast<size_t>(b) + 1);
    }
    length += static_cast<size_t>(b) + 1;
    ++labels;
    pos += static_cast<size_t>(b) + 1;
  }
  if (lower && !out.empty()) {
    lowerBytes(out.data(), length);
  }
  ref.end = static_cast<uint16_t>(end);
  ref.length = static_cast<uint16_t>(length);
  ref.labels = static_cast<uint8_t>(labels);
  ref.compressed = jumped;
  return ref;
}

}  // namespace

void lowerAscii(std::span<uint8_t> bytes) noexcept { lowerBytes(bytes.data(), bytes.size()); }

std::optional<NameRef> readName(std::span<const uint8_t> msg, size_t offset) noexcept {
  return walkName(msg, offset, {}, false);
}

std::optional<NameRef> readName(std::span<const uint8_t> msg, size_t offset, NameByteVisitor visit,
                                void* ctx) noexcept {
  return walkName(msg, offset, {}, false, visit, ctx);
}

size_t copyNameLower(std::span<const uint8_t> msg, size_t offset, std::span<uint8_t> out) noexcept {
  if (out.empty()) {
    return 0;
  }
  auto ref = walkName(msg, offset, out, true);
  return ref ? ref->length : 0;
}

bool namesEqual(std::span<const uint8_t> msg_a, size_t offset_a, std::span<const uint8_t> msg_b,
                size_t offset_b) noexcept {
  std::array<uint8_t, kMaxNameLength> a;
  std::array<uint8_t, kMaxNameLength> b;
  const size_t la = copyNameLower(msg_a, offset_a, a);
  const size_t lb = copyNameLower(msg_b, offset_b, b);
  return la != 0 && la == lb && std::memcmp(a.data(), b.data(), la) == 0;
}

std::string nameToText(std::span<const uint8_t> msg, size_t offset) {
  std::array<uint8_t, kMaxNameLength> buf;
  auto ref = walkName(msg, offset, buf, false);
  if (!ref) {
    return "<invalid>";
  }
  if (ref->length == 1) {
    return ".";
  }
  std::string text;
  size_t pos = 0;
  while (buf[pos] != 0) {
    const size_t len = buf[pos];
    for (size_t i = 1; i <= len; ++i) {
      const uint8_t c = buf[pos + i];
      if (c == '.' || c == '\\') {
        text += '\\';
        text += static_cast<char>(c);
      } else if (c < '!' || c > '~') {
        char esc[5];
        esc[0] = '\\';
        esc[1] = static_cast<char>('0' + c / 100);
        esc[2] = static_cast<char>('0' + (c / 10) % 10);
        esc[3] = static_cast<char>('0' + c % 10);
        esc[4] = 0;
        text += esc;
      } else {
        text += static_cast<char>(c);
      }
    }
    text += '.';
    pos += len + 1;
  }
  return text;
}

size_t nameFromText(std::string_view text, std::span<uint8_t> out) noexcept {
  if (text == ".") {
    if (out.empty()) {
      return 0;
    }
    out[0] = 0;
    return 1;
  }
  size_t pos = 0;       // write position
  size_t label_at = 0;  // where the current label's length byte is
  size_t label_len = 0;
  auto put = [&](uint8_t c) {
    if (pos >= out.size() || pos >= kMaxNameLength) {
      return false;
    }
    out[pos++] = c;
    return true;
  };
  if (!put(0)) {
    return 0;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '.') {
      if (label_len == 0) {
        return 0;  // empty label
      }
      out[label_at] = static_cast<uint8_t>(label_len);
      label_at = pos;
      label_len = 0;
      if (!put(0)) {
        return 0;
      }
      continue;
    }
    uint8_t c = static_cast<uint8_t>(ch);
    if (ch == '\\') {
      if (i + 1 >= text.size()) {
        return 0;
      }
      if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9') {
        unsigned v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          const char d = text[i + k];
          if (d < '0' || d > '9') {
            return 0;
          }
          v = v * 10 + static_cast<unsigned>(d - '0');
        }
        if (v > 255) {
          return 0;
        }
        c = static_cast<uint8_t>(v);
        i += 3;
      } else {
        c = static_cast<uint8_t>(text[i + 1]);
        i += 1;
      }
    }
    if (++label_len > kMaxLabelLength || !put(c)) {
      return 0;
    }
  }
  if (label_len != 0) {  // no trailing dot: close the last label, add the root
    out[label_at] = static_cast<uint8_t>(label_len);
    if (!put(0)) {
      return 0;
    }
  }
  return pos;
}

std::vector<uint8_t> lowerNameFromText(std::string_view text) {
  uint8_t wire[kMaxNameLength];
  size_t n = nameFromText(text, wire);
  lowerBytes(wire, n);
  return std::vector<uint8_t>(wire, wire + n);
}

bool nameIsUnder(const uint8_t* name, size_t name_length, const uint8_t* zone,
                 size_t zone_length) noexcept {
  if (zone_length == 0 || zone_length > name_length) {
    return false;
  }
  size_t off = name_length - zone_length;
  size_t pos = 0;
  while (pos < off) {
    pos += 1 + name[pos];
  }
  return pos == off && std::memcmp(name + off, zone, zone_length) == 0;
}

}  // namespace nld::resolver::dns
