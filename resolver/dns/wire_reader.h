// WireReader: a bounds-checked cursor over untrusted bytes with a sticky error (Knot's wire_ctx).
//
// Every read past the end sets error() and returns 0; once set, the error stays and every further
// read returns 0, so a parser can read a whole structure and check ok() once at the end. The
// reader never owns or modifies the bytes. noexcept, allocation-free, not thread-safe (one reader
// per thread; the bytes may be shared read-only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> wire, size_t position = 0) noexcept
      : wire_(wire), pos_(position), error_(position > wire.size()) {}

  bool ok() const noexcept { return !error_; }
  bool error() const noexcept { return error_; }
  /// Marks the data as invalid (for semantic errors found by the caller).
  void fail() noexcept { error_ = true; }

  size_t position() const noexcept { return pos_; }
  size_t remaining() const noexcept { return error_ ? 0 : wire_.size() - pos_; }
  bool atEnd() const noexcept { return remaining() == 0; }
  std::span<const uint8_t> wire() const noexcept { return wire_; }

  uint8_t u8() noexcept {
    if (!need(1)) {
      return 0;
    }
    return wire_[pos_++];
  }
  uint16_t u16() noexcept {
    if (!need(2)) {
      return 0;
    }
    uint16_t v = readU16(wire_.data() + pos_);
    pos_ += 2;
    return v;
  }
  uint32_t u32() noexcept {
    if (!need(4)) {
      return 0;
    }
    uint32_t v = readU32(wire_.data() + pos_);
    pos_ += 4;
    return v;
  }
  /// Skips n bytes; error if fewer remain.
  void skip(size_t n) noexcept {
    if (need(n)) {
      pos_ += n;
    }
  }
  /// Moves to an absolute offset inside the data (error if beyond the end).
  void seek(size_t position) noexcept {
    if (error_ || position > wire_.size()) {
      error_ = true;
      return;
    }
    pos_ = position;
  }
  /// A view of the next n bytes (empty + error if fewer remain), advancing past them.
  std::span<const uint8_t> bytes(size_t n) noexcept {
    if (!need(n)) {
      return {};
    }
    auto out = wire_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  bool need(size_t n) noexcept {
    if (error_ || wire_.size() - pos_ < n) {
      error_ = true;
      return false;
    }
    return true;
  }

  std::span<const uint8_t> wire_;
  size_t pos_;
  bool error_;
};

}  // namespace nld::resolver::dns
