// The one netlink request/answer loop of netcfg's raw netlink sockets (libnl does its own): build
// a request, send it, read the answers of its sequence number until the kernel ends them (a
// single reply, an ack, or a dump's NLMSG_DONE) or the caller has seen enough. Used by the
// local-route wait (NETLINK_ROUTE, link/), the nftables rule count dump and kube-proxy mode
// detection (NETLINK_NETFILTER).
//
// Internal to netcfg: only netcfg .cc files include this (the caller includes the <linux/...>
// headers for its message types). Bounded: one 64 KiB receive buffer per exchange; a truncated
// message is an error. Blocking: a receive timeout (SO_RCVTIMEO) on the socket bounds the wait.
// Does not log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

struct nlmsghdr;

namespace nld::netcfg::netlink {

/// A request: nlmsghdr, the family header (rtmsg, nfgenmsg, ...), then attributes.
class Request {
 public:
  Request(uint16_t type, uint16_t flags, uint32_t seq, const void* family_header, size_t size);

  /// Appends one attribute (nlattr and rtattr share the layout), padded to 4 bytes.
  void putAttr(uint16_t type, const void* data, size_t size);
  /// Appends a NUL-terminated string attribute (as libnl's nla_put_string).
  void putString(uint16_t type, std::string_view value);

  uint32_t seq() const noexcept { return seq_; }
  /// The message with its length set.
  std::span<const uint8_t> bytes() const noexcept { return buf_; }

 private:
  std::vector<uint8_t> buf_;
  uint32_t seq_;
};

enum class Next : uint8_t { kRead, kStop };

/// Called for every answer of the request's sequence number except NLMSG_DONE and NLMSG_ERROR.
using MessageFn = std::function<Next(const nlmsghdr& message)>;
/// Called after each received batch (one recv()) has been handed to the MessageFn.
using BatchFn = std::function<Next()>;

/// Calls `fn` for each complete message in one received batch (what one recv() returned), in
/// order, until it returns kStop. For multicast listeners (link/ LinkWatcher) and exchange().
void forEachMessage(std::span<const uint8_t> batch, const MessageFn& fn);

struct Outcome {
  bool ended = false;        ///< the kernel ended the answer (NLMSG_DONE, or an ack); false:
                             ///< a callback returned kStop first
  bool interrupted = false;  ///< a dump message carried NLM_F_DUMP_INTR (the set changed)
};

/// Sends `request` on `fd` and reads its answers. Errors (all "`what`: ..."): send/receive
/// failures with their errno (EAGAIN when SO_RCVTIMEO expired), a truncated or short message
/// (kSystem, errno 0), and the kernel's own error, from NLMSG_ERROR or a dump's NLMSG_DONE, as
/// Error::sys(errno, what) (so ENOENT → kNotFound, EPERM → kPermissionDenied, ...).
Result<Outcome> exchange(int fd, const Request& request, const MessageFn& on_message,
                         std::string_view what, const BatchFn& after_batch = {});

}  // namespace nld::netcfg::netlink
