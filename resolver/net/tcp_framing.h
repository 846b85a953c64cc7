// DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): every message is preceded by a two-byte
// big-endian length. TcpFramer reassembles messages from a byte stream (several per read, or one
// split across reads); TcpOutput queues length-prefixed messages and flushes them to a
// non-blocking socket. Pure data structures, no I/O except TcpOutput::flush(). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nld::resolver::net {

class TcpFramer {
 public:
  explicit TcpFramer(size_t initial_capacity = 4096) { buffer_.resize(initial_capacity); }

  /// Space to receive at least `min_free` bytes into (the buffer grows/compacts as needed).
  std::span<uint8_t> prepare(size_t min_free = 2048);
  /// Marks `n` bytes of the last prepare() span as received.
  void commit(size_t n) noexcept { end_ += n; }

  enum class Receive : uint8_t { kData, kAgain, kClosed };
  /// One recv() from a non-blocking socket into the buffer (EINTR retried): kData when bytes
  /// arrived, kAgain when none are waiting, kClosed on EOF or a hard error.
  Receive receive(int fd);

  /// The next complete message (without its length prefix), consumed by this call; the view is
  /// valid until the next prepare(). std::nullopt if incomplete. A zero length is a protocol
  /// error: broken() becomes true.
  std::optional<std::span<const uint8_t>> next() noexcept;
  bool broken() const noexcept { return broken_; }
  /// Bytes received but not yet returned as messages.
  size_t buffered() const noexcept { return end_ - begin_; }
  /// A complete message (or a zero length) is buffered: next() would return it (or break).
  bool complete() const noexcept;
  /// Bytes allocated for the buffer.
  size_t capacity() const noexcept { return buffer_.capacity(); }
  /// When nothing is buffered, frees an allocation larger than `keep` bytes.
  void trim(size_t keep) noexcept;

 private:
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool broken_ = false;
};

class TcpOutput {
 public:
  /// Queues one message with its length prefix. Messages over 65535 bytes are not queued.
  bool append(std::span<const uint8_t> message);
  /// Writes as much as the socket takes. Returns false on a hard error (connection unusable).
  bool flush(int fd) noexcept;
  bool empty() const noexcept { return begin_ == data_.size(); }
  size_t pending() const noexcept { return data_.size() - begin_; }
  /// Bytes allocated for the queue.
  size_t capacity() const noexcept { return data_.capacity(); }
  /// When nothing is queued, frees an allocation larger than `keep` bytes.
  void trim(size_t keep) noexcept;

 private:
  std::vector<uint8_t> data_;
  size_t begin_ = 0;
};

}  // namespace nld::resolver::net
