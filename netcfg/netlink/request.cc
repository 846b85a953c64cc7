#include "netcfg/netlink/request.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace nld::netcfg::netlink {

namespace {

constexpr size_t kReceiveBuffer = size_t{64} * 1024;

Result<void> send(int fd, const Request& request, std::string_view what) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  auto bytes = request.bytes();
  if (::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    return failSys(errno, std::string(what) + ": send netlink request");
  }
  return {};
}

// The kernel's verdict in an NLMSG_ERROR (0 = ack) or a dump's NLMSG_DONE (errno or 0).
Result<void> kernelStatus(const nlmsghdr& h, std::string_view what) {
  int32_t status = 0;
  if (h.nlmsg_type == NLMSG_ERROR) {
    if (h.nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
      return fail(Errc::kSystem, std::string(what) + ": short netlink error");
    }
    nlmsgerr e{};
    std::memcpy(&e, NLMSG_DATA(&h), sizeof(e));
    status = e.error;
  } else if (h.nlmsg_len >= NLMSG_LENGTH(sizeof(status))) {
    std::memcpy(&status, NLMSG_DATA(&h), sizeof(status));  // netlink_dump_done()
  }
  if (status < 0) {
    return failSys(-status, what);
  }
  return {};
}

}  // namespace

void forEachMessage(std::span<const uint8_t> batch, const MessageFn& fn) {
  // NLMSG_NEXT wants a mutable header pointer; nothing is written through it.
  auto* h = reinterpret_cast<nlmsghdr*>(const_cast<uint8_t*>(batch.data()));
  auto len = static_cast<unsigned>(batch.size());
  for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (fn(*h) == Next::kStop) {
      return;
    }
  }
}

Request::Request(uint16_t type, uint16_t flags, uint32_t seq, const void* family_header,
                 size_t size)
    : buf_(NLMSG_SPACE(size), 0), seq_(seq) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  std::memcpy(buf_.data(), &h, sizeof(h));
  std::memcpy(buf_.data() + NLMSG_HDRLEN, family_header, size);
  uint32_t len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof(len));
}

void Request::putAttr(uint16_t type, const void* data, size_t size) {
  nlattr a{};
  a.nla_type = type;
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + size);
  size_t at = buf_.size();
  buf_.resize(at + NLA_ALIGN(a.nla_len), 0);
  std::memcpy(buf_.data() + at, &a, sizeof(a));
  if (size > 0) {
    std::memcpy(buf_.data() + at + NLA_HDRLEN, data, size);
  }
  uint32_t len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof(len));
}

void Request::putString(uint16_t type, std::string_view value) {
  std::string s(value);  // with its NUL
  putAttr(type, s.c_str(), s.size() + 1);
}

Result<Outcome> exchange(int fd, const Request& request, const MessageFn& on_message,
                         std::string_view what, const BatchFn& after_batch) {
  if (auto sent = send(fd, request, what); !sent) {
    return fail(std::move(sent).error());
  }
  Outcome out;
  std::vector<uint64_t> storage(kReceiveBuffer / sizeof(uint64_t));  // aligned for nlmsghdr
  auto* buf = reinterpret_cast<uint8_t*>(storage.data());
  for (;;) {
    iovec iov{buf, kReceiveBuffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failSys(errno, std::string(what) + ": receive netlink answer");
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0) {
      return fail(Errc::kSystem, std::string(what) + ": netlink message truncated");
    }
    Result<void> status;  // the kernel's verdict once it ended the answer
    bool stop = false;
    forEachMessage({buf, static_cast<size_t>(n)}, [&](const nlmsghdr& h) {
      if (h.nlmsg_seq != request.seq()) {
        return Next::kRead;  // a late answer to an earlier (timed-out) question
      }
      if ((h.nlmsg_flags & NLM_F_DUMP_INTR) != 0) {
        out.interrupted = true;
      }
      if (h.nlmsg_type == NLMSG_DONE || h.nlmsg_type == NLMSG_ERROR) {
        status = kernelStatus(h, what);
        out.ended = true;
        stop = true;
      } else {
        stop = on_message(h) == Next::kStop;
      }
      return stop ? Next::kStop : Next::kRead;
    });
    if (!status) {
      return fail(std::move(status).error());
    }
    if (stop || (after_batch && after_batch() == Next::kStop)) {
      return out;
    }
  }
}

}  // namespace nld::netcfg::netlink
