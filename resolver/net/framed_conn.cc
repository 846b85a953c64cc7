#include "resolver/net/framed_conn.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

namespace nld::resolver::net {

namespace {
// What one recv() may bring in, and the buffer an idle connection keeps (bigger ones are freed
// once empty: 1,024 connections that once carried a 64 KiB message must not hold 64 MiB).
constexpr size_t kReadChunk = 4096;
constexpr size_t kKeepIn = 2 * kReadChunk;
constexpr size_t kKeepOut = 16 << 10;
}  // namespace

FramedConn::FramedConn(Fd fd, TcpBudget* budget, MonoTime now) noexcept
    : fd_(std::move(fd)),
      budget_(budget),
      partial_since_(now),
      last_progress_(now),
      last_drain_(now) {}

FramedConn::~FramedConn() { close(); }

void FramedConn::close() noexcept {
  fd_.reset();
  in_ = TcpFramer(0);
  out_ = TcpOutput();
  account();
}

void FramedConn::account() noexcept {
  size_t now = in_.capacity() + out_.capacity();
  if (budget_ != nullptr) {
    if (now > held_) {
      budget_->add(now - held_);
    } else {
      budget_->sub(held_ - now);
    }
  }
  held_ = now;
}

void FramedConn::setWatermarks(size_t high, size_t low) noexcept {
  high_ = high;
  low_ = low < high ? low : high;
}

FramedConn::Read FramedConn::read(MonoTime now) noexcept {
  if (eof_ || !fd_) {
    return Read::kEof;
  }
  const bool was_empty = in_.buffered() == 0;
  for (;;) {
    auto space = in_.prepare(kReadChunk);
    ssize_t n = ::recv(fd_.get(), space.data(), kReadChunk, 0);
    if (n > 0) {
      in_.commit(static_cast<size_t>(n));
      if (was_empty) {
        partial_since_ = now;
      }
      account();
      return Read::kData;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0) {
      eof_ = true;
      account();
      return Read::kEof;
    }
    account();
    return errno == EAGAIN || errno == EWOULDBLOCK ? Read::kAgain : Read::kError;
  }
}

bool FramedConn::stalledAt(MonoTime now, std::chrono::milliseconds timeout) noexcept {
  int in_kernel = 0;
  if (!fd_ || ::ioctl(fd_.get(), SIOCOUTQ, &in_kernel) != 0 || in_kernel < 0) {
    in_kernel = 0;
  }
  const size_t unsent = out_.pending() + static_cast<size_t>(in_kernel);
  if (unsent == 0 || unsent < last_unsent_) {
    last_drain_ = now;
  }
  last_unsent_ = unsent;
  return unsent > 0 && now - last_drain_ > timeout;
}

bool FramedConn::hasMessage() const noexcept { return in_.complete(); }

std::optional<std::span<const uint8_t>> FramedConn::next(MonoTime now) noexcept {
  auto msg = in_.next();
  if (msg && in_.buffered() > 0) {
    partial_since_ = now;  // the next message's bytes are here already
  }
  if (!msg) {
    in_.trim(kKeepIn);
    account();
  }
  return msg;
}

bool FramedConn::queue(std::span<const uint8_t> message, MonoTime now) noexcept {
  if (out_.empty()) {
    last_progress_ = now;  // a stall is counted from when output was first waiting
  }
  if (!out_.append(message)) {
    return false;
  }
  if (out_.pending() > high_) {
    paused_ = true;
  }
  account();
  return true;
}

bool FramedConn::flush(MonoTime now) noexcept {
  if (!fd_) {
    return false;
  }
  size_t before = out_.pending();
  bool ok = out_.flush(fd_.get());
  if (out_.pending() < before) {
    last_progress_ = now;
  }
  if (out_.pending() <= low_) {
    paused_ = false;
  }
  out_.trim(kKeepOut);
  account();
  return ok;
}

}  // namespace nld::resolver::net
