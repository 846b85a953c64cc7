// The libiptc session shared by iptc4.cc and iptc6.cc, written once as a template over an `Api`
// traits struct (the C function set and entry type of one family). Include it only after
// <libiptc/libiptc.h> or <libiptc/libip6tc.h>, and only from those two files.
//
// Api provides: Entry;
// init/release/isChain/firstChain/nextChain/firstRule/nextRule/insertEntry/deleteNum/commit/
// strerror (thin wrappers over iptc_* or ip6tc_*); fillHeader(Entry&, const Rule&) and
// decodeHeader(const Entry&) -> std::optional<HeaderFields>.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netcfg/rules/iptables/iptc_table.h"
#include "netcfg/rules/iptables/rule_codec.h"

namespace nld::netcfg::detail {

/// What a family's entry header says about a rule of our shape.
struct HeaderFields {
  Proto proto = Proto::kTcp;
  std::optional<IpAddress> source;
  std::optional<IpAddress> destination;
};

template <typename Api>
class IptcBackendImpl final : public IptcBackend {
 public:
  using Entry = typename Api::Entry;

  static Result<std::unique_ptr<IptcBackend>> open(const std::string& table) {
    errno = 0;
    xtc_handle* h = Api::init(table.c_str());
    if (h == nullptr) {
      int err = errno;
      return fail(iptcError(err, "open", Api::strerror(err)));
    }
    return std::unique_ptr<IptcBackend>(new IptcBackendImpl(h));
  }

  ~IptcBackendImpl() override { Api::release(handle_); }
  IptcBackendImpl(const IptcBackendImpl&) = delete;
  IptcBackendImpl& operator=(const IptcBackendImpl&) = delete;

  Result<ObservedChain> listChain(const std::string& chain) override {
    if (Api::isChain(chain.c_str(), handle_) == 0) {
      return fail(Errc::kNotFound, "chain '" + chain + "' not found");
    }
    ObservedChain out;
    for (const Entry* e = Api::firstRule(chain.c_str(), handle_); e != nullptr;
         e = Api::nextRule(e, handle_)) {
      out.push_back(decode(*e));
    }
    return out;
  }

  std::vector<std::string> chainNames() override {
    std::vector<std::string> out;
    for (const char* c = Api::firstChain(handle_); c != nullptr; c = Api::nextChain(handle_)) {
      out.emplace_back(c);
    }
    return out;
  }

  Result<void> insert(const std::string& chain, const Rule& rule, unsigned index) override {
    // Once per process and family, like the binary's revision check on every run.
    static const NotrackEncoding notrack = chooseNotrackEncoding(&Api::hasTarget);
    EncodedBody body = encodeBody(rule, notrack);
    Entry head{};
    Api::fillHeader(head, rule);
    size_t total = sizeof(Entry) + body.matches.size() + body.target.size();
    head.target_offset = static_cast<uint16_t>(sizeof(Entry) + body.matches.size());
    head.next_offset = static_cast<uint16_t>(total);
    // uint64_t storage keeps the entry 8-byte aligned, as the kernel layout expects.
    std::vector<uint64_t> storage((total + 7) / 8, 0);
    auto* bytes = reinterpret_cast<uint8_t*>(storage.data());
    std::memcpy(bytes, &head, sizeof(Entry));
    std::memcpy(bytes + sizeof(Entry), body.matches.data(), body.matches.size());
    std::memcpy(bytes + head.target_offset, body.target.data(), body.target.size());
    if (Api::insertEntry(chain.c_str(), reinterpret_cast<const Entry*>(bytes), index, handle_) ==
        0) {
      int err = errno;
      return fail(iptcError(err,
                            "insert '" + rule.toSaveLine() + "' at " + std::to_string(index + 1),
                            Api::strerror(err)));
    }
    return {};
  }

  Result<void> erase(const std::string& chain, unsigned index) override {
    if (Api::deleteNum(chain.c_str(), index, handle_) == 0) {
      int err = errno;
      return fail(iptcError(err, "delete rule " + std::to_string(index + 1) + " of '" + chain + "'",
                            Api::strerror(err)));
    }
    return {};
  }

  Result<void> commit() override {
    if (Api::commit(handle_) == 0) {
      int err = errno;
      return fail(iptcError(err, "commit", Api::strerror(err)));
    }
    return {};
  }

 private:
  explicit IptcBackendImpl(xtc_handle* h) : handle_(h) {}

  static std::optional<Rule> decode(const Entry& e) {
    if (e.target_offset < sizeof(Entry) || e.next_offset < e.target_offset) {
      return std::nullopt;
    }
    auto head = Api::decodeHeader(e);
    if (!head) {
      return std::nullopt;
    }
    const auto* base = reinterpret_cast<const uint8_t*>(&e);
    std::span<const uint8_t> matches(base + sizeof(Entry), e.target_offset - sizeof(Entry));
    std::span<const uint8_t> target(base + e.target_offset,
                                    static_cast<size_t>(e.next_offset - e.target_offset));
    auto body = decodeBody(matches, target, head->proto);
    if (!body) {
      return std::nullopt;
    }
    Rule r;
    r.proto = head->proto;
    r.source = head->source;
    r.destination = head->destination;
    r.source_port = body->source_port;
    r.destination_port = body->destination_port;
    r.target = body->target;
    r.comment = std::move(body->comment);
    return r;
  }

  xtc_handle* handle_;
};

/// Asks the kernel whether it has target `name` at `revision` (getsockopt *_SO_GET_REVISION_TARGET
/// on a raw socket, as libxtables does). Only a definite "no" (ENOENT: no such target,
/// EPROTONOSUPPORT: older revisions only) returns false; anything else (no CAP_NET_RAW...) says
/// yes, so the newest encoding is used and the commit reports the real error.
inline bool kernelHasTarget(int af, int level, int optname, const char* name, uint8_t revision) {
  int fd = ::socket(af, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    return true;
  }
  xt_get_revision rev{};
  std::strncpy(rev.name, name, sizeof(rev.name) - 1);
  rev.revision = revision;
  socklen_t len = sizeof(rev);
  int rc = ::getsockopt(fd, level, optname, &rev, &len);
  int err = errno;
  ::close(fd);
  return rc == 0 || (err != ENOENT && err != EPROTONOSUPPORT);
}

/// True when every byte is zero (interface names and masks of a rule without -i/-o).
inline bool allBytesZero(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) {
      return false;
    }
  }
  return true;
}

inline bool allBytesFf(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0xFF) {
      return false;
    }
  }
  return true;
}

}  // namespace nld::netcfg::detail
