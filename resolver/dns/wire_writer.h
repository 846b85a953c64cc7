// WireWriter: appends big-endian fields into a caller-provided buffer with a sticky overflow flag.
//
// A write that does not fit sets overflow() and writes nothing; later writes are ignored, so a
// builder writes everything and checks ok() once. noexcept, allocation-free, one writer per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {

class WireWriter {
 public:
  explicit WireWriter(std::span<uint8_t> out, size_t position = 0) noexcept
      : out_(out), pos_(position), overflow_(position > out.size()) {}

  bool ok() const noexcept { return !overflow_; }
  bool overflow() const noexcept { return overflow_; }
  size_t position() const noexcept { return pos_; }
  size_t remaining() const noexcept { return overflow_ ? 0 : out_.size() - pos_; }

  void u8(uint8_t v) noexcept {
    if (need(1)) {
      out_[pos_++] = v;
    }
  }
  void u16(uint16_t v) noexcept {
    if (need(2)) {
      writeU16(out_.data() + pos_, v);
      pos_ += 2;
    }
  }
  void u32(uint32_t v) noexcept {
    if (need(4)) {
      writeU32(out_.data() + pos_, v);
      pos_ += 4;
    }
  }
  void bytes(std::span<const uint8_t> data) noexcept {
    if (need(data.size()) && !data.empty()) {
      std::memmove(out_.data() + pos_, data.data(), data.size());
      pos_ += data.size();
    }
  }
  /// Overwrites a 16-bit field already written (e.g. a count or rdlength).
  void patchU16(size_t at, uint16_t v) noexcept {
    if (!overflow_ && at + 2 <= pos_) {
      writeU16(out_.data() + at, v);
    }
  }

 private:
  bool need(size_t n) noexcept {
    if (overflow_ || out_.size() - pos_ < n) {
      overflow_ = true;
      return false;
    }
    return true;
  }

  std::span<uint8_t> out_;
  size_t pos_;
  bool overflow_;
};

}  // namespace nld::resolver::dns
