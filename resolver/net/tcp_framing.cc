#include "resolver/net/tcp_framing.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nld::resolver::net {

std::span<uint8_t> TcpFramer::prepare(size_t min_free) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  }
  if (buffer_.size() - end_ < min_free) {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < min_free) {
      // Grow as bytes arrive, never on a length prefix alone (two bytes "\xff\xff" must not
      // cost 68 KiB): at most twice what is buffered, and within the message being received
      // plus one read, so a large message takes a few doublings and no more.
      size_t need = end_ + min_free;
      size_t grow = std::max(need, 2 * end_);
      if (end_ >= 2) {
        size_t message = 2 + ((size_t{buffer_[0]} << 8) | buffer_[1]);
        grow = std::min(grow, std::max(need, message + min_free));
      }
      buffer_.reserve(grow);
      buffer_.resize(grow);
    }
  }
  return {buffer_.data() + end_, buffer_.size() - end_};
}

TcpFramer::Receive TcpFramer::receive(int fd) {
  for (;;) {
    auto space = prepare(4096);
    ssize_t n = ::recv(fd, space.data(), space.size(), 0);
    if (n > 0) {
      commit(static_cast<size_t>(n));
      return Receive::kData;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Receive::kAgain : Receive::kClosed;
  }
}

std::optional<std::span<const uint8_t>> TcpFramer::next() noexcept {
  if (broken_ || end_ - begin_ < 2) {
    return std::nullopt;
  }
  size_t len = (size_t{buffer_[begin_]} << 8) | buffer_[begin_ + 1];
  if (len == 0) {
    broken_ = true;
    return std::nullopt;
  }
  if (end_ - begin_ < 2 + len) {
    return std::nullopt;
  }
  std::span<const uint8_t> msg(buffer_.data() + begin_ + 2, len);
  begin_ += 2 + len;
  return msg;
}

bool TcpFramer::complete() const noexcept {
  if (end_ - begin_ < 2) {
    return false;
  }
  size_t len = (size_t{buffer_[begin_]} << 8) | buffer_[begin_ + 1];
  return len == 0 || end_ - begin_ >= 2 + len;
}

void TcpFramer::trim(size_t keep) noexcept {
  if (begin_ != end_ || buffer_.capacity() <= keep) {
    return;
  }
  begin_ = end_ = 0;
  std::vector<uint8_t>().swap(buffer_);  // the next prepare() allocates again
}

void TcpOutput::trim(size_t keep) noexcept {
  if (begin_ == data_.size() && data_.capacity() > keep) {
    std::vector<uint8_t>().swap(data_);
    begin_ = 0;
  }
}

bool TcpOutput::append(std::span<const uint8_t> message) {
  if (message.size() > 65535) {
    return false;
  }
  if (begin_ == data_.size()) {
    data_.clear();
    begin_ = 0;
  }
  data_.push_back(static_cast<uint8_t>(message.size() >> 8));
  data_.push_back(static_cast<uint8_t>(message.size() & 0xff));
  data_.insert(data_.end(), message.begin(), message.end());
  return true;
}

bool TcpOutput::flush(int fd) noexcept {
  while (begin_ < data_.size()) {
    ssize_t n = ::send(fd, data_.data() + begin_, data_.size() - begin_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    begin_ += static_cast<size_t>(n);
  }
  data_.clear();
  begin_ = 0;
  return true;
}

}  // namespace nld::resolver::net
