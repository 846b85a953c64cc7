// FramedConn: one DNS-over-TCP connection's socket, buffers and bookkeeping, the same type for
// the worker's client connections and the forwarder's upstream connections, so both directions
// are bounded the same way (issue 10):
//  - output: reading stops (readPaused()) once more than `output_high` bytes are queued and
//    resumes at `output_low` or less; a connection whose queued output made no progress for
//    the idle timeout is stalled() (the owner closes it);
//  - input: at most one partial message plus one read is buffered (the owner stops reading
//    while complete messages wait to be processed), and the buffer grows with the bytes that
//    arrived, not with what a length prefix announces; partialSince() dates the first byte of
//    the message still incomplete, for the complete-query deadline;
//  - memory: every byte a connection holds (buffer capacities, in and out) is counted in the
//    worker's TcpBudget, which the owner keeps under its limit.
// The policy (which limit closes what, and when) is the owner's; this type only counts.
//
// Threading: the owning worker's thread only. No allocation beyond the two buffers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/fd.h"
#include "resolver/net/event_loop.h"
#include "resolver/net/tcp_framing.h"

namespace nld::resolver::net {

/// TCP limits of one worker (run flags --tcp-*).
struct TcpLimits {
  size_t output_high = size_t{256} << 10;         ///< stop reading above this much queued output
  size_t output_low = size_t{64} << 10;           ///< resume reading at this much or less
  unsigned max_in_flight = 64;                    ///< client queries awaiting upstream answers
  std::chrono::milliseconds idle_timeout{10000};  ///< no query, or no output progress
  std::chrono::milliseconds query_timeout{2000};  ///< a started (or first) query completes
  size_t worker_bytes = size_t{32} << 20;         ///< all TCP buffers of one worker
};

/// Bytes held by the FramedConns of one worker. The owner may register a reclaim function
/// (the worker: close the client connections holding most), which makeRoom() calls when over.
class TcpBudget {
 public:
  using Reclaim = void (*)(void* context) noexcept;
  explicit TcpBudget(size_t limit) noexcept : limit_(limit) {}
  void setReclaim(Reclaim reclaim, void* context) noexcept {
    reclaim_ = reclaim;
    context_ = context;
  }
  /// Over the limit: reclaims (if a reclaim function is set). True if within the limit then.
  bool makeRoom() noexcept {
    if (over() && reclaim_ != nullptr) {
      reclaim_(context_);
    }
    return !over();
  }
  void add(size_t n) noexcept { used_ += n; }
  void sub(size_t n) noexcept { used_ -= n < used_ ? n : used_; }
  size_t used() const noexcept { return used_; }
  size_t limit() const noexcept { return limit_; }
  void setLimit(size_t limit) noexcept { limit_ = limit; }
  bool over() const noexcept { return used_ > limit_; }

 private:
  size_t limit_;
  size_t used_ = 0;
  Reclaim reclaim_ = nullptr;
  void* context_ = nullptr;
};

class FramedConn {
 public:
  /// `budget` (may be null) must outlive the connection.
  FramedConn(Fd fd, TcpBudget* budget, MonoTime now) noexcept;
  ~FramedConn();
  FramedConn(const FramedConn&) = delete;
  FramedConn& operator=(const FramedConn&) = delete;

  int fd() const noexcept { return fd_.get(); }
  /// Closes the socket (the owner removed it from the loop first) and frees the buffers.
  void close() noexcept;

  enum class Read : uint8_t { kData, kAgain, kEof, kError };
  /// One recv(). kEof: the peer half-closed (what was received stays available to next()).
  Read read(MonoTime now) noexcept;
  /// The next complete message (view valid until the next read()), or nullopt.
  std::optional<std::span<const uint8_t>> next(MonoTime now) noexcept;
  /// A complete message is buffered.
  bool hasMessage() const noexcept;
  /// Bytes of an incomplete message are buffered; since when (its first byte's read).
  bool partial() const noexcept { return in_.buffered() > 0 && !hasMessage(); }
  MonoTime partialSince() const noexcept { return partial_since_; }
  /// Dates the incomplete message from `now` (the owner resumes reading after a pause: the
  /// peer could not send meanwhile).
  void restartPartialClock(MonoTime now) noexcept { partial_since_ = now; }
  /// A zero-length message arrived: the stream cannot be trusted any more.
  bool broken() const noexcept { return in_.broken(); }
  bool eof() const noexcept { return eof_; }

  /// Queues one message (false if it is over 65535 bytes).
  bool queue(std::span<const uint8_t> message, MonoTime now) noexcept;
  /// Writes what the socket takes; false on a hard error.
  bool flush(MonoTime now) noexcept;
  size_t pending() const noexcept { return out_.pending(); }
  /// Above the high watermark, until drained to the low one.
  bool readPaused() const noexcept { return paused_; }
  void setWatermarks(size_t high, size_t low) noexcept;
  /// Output is queued and none of it was written for `timeout`.
  bool stalled(MonoTime now, std::chrono::milliseconds timeout) const noexcept {
    return !out_.empty() && now - last_progress_ > timeout;
  }
  /// Called periodically (the owner's sweep): true once the bytes written toward the peer,
  /// ours and those the kernel still holds unacknowledged (SIOCOUTQ), have not moved for
  /// `timeout` — the peer does not read. Our queue alone is not enough: the kernel's send
  /// buffer absorbs hundreds of KiB first.
  bool stalledAt(MonoTime now, std::chrono::milliseconds timeout) noexcept;
  /// Bytes this connection holds (buffer capacities).
  size_t held() const noexcept { return held_; }

 private:
  void account() noexcept;

  Fd fd_;
  TcpBudget* budget_;
  TcpFramer in_{0};
  TcpOutput out_;
  size_t high_ = size_t{256} << 10;
  size_t low_ = size_t{64} << 10;
  size_t held_ = 0;
  MonoTime partial_since_;
  MonoTime last_progress_;
  MonoTime last_drain_;  ///< stalledAt(): unsent bytes last seen zero or shrinking
  size_t last_unsent_ = 0;
  bool paused_ = false;
  bool eof_ = false;
};

}  // namespace nld::resolver::net
