// The `hosts` plugin (CoreDNS plugin/hosts, the version node-cache 1.26 compiles in): A, AAAA and
// synthesized PTR answers from a hosts(5) file plus inline entries of the Corefile.
//
// Semantics (CoreDNS hosts.go): a name outside the plugin's zones goes to the next plugin (PTR
// queries are looked up whatever the zones); a PTR query with no entry goes to the next plugin;
// otherwise the answer is authoritative with the matching records (file entries first, then
// inline ones), NODATA when the name has an entry of the other family or the query type is
// neither A nor AAAA, and when the name has no entry at all: the next plugin under
// `fallthrough [ZONES]`, else SERVFAIL. Names are case-insensitive; the owner of every answer
// points at the question, so it echoes the query's case.
//
// Reloading: every `reload` interval the file's mtime and size are compared with the last read
// (on the query path of whichever worker comes first after the interval, one at a time: a
// stat(), and a re-read only when they changed). A missing or unreadable file serves the inline
// entries alone; a file larger than kMaxFileBytes is not read (the previous entries stay).
//
// Threading: serve() is safe from every worker at once; the file's table is swapped atomically.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/config/config.h"
#include "resolver/plugins/plugin.h"

namespace nld::resolver::dns {
struct Query;
}

namespace nld::resolver::plugins {

inline constexpr size_t kMaxHostsFileBytes = 16u << 20;

/// Heterogeneous lookup: the query path finds by string_view, without a copy of the name.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using NameMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

/// The entries of one hosts text, keyed by lower-cased wire names (as std::string bytes).
struct HostsTable {
  NameMap<std::vector<std::array<uint8_t, 4>>> v4;
  NameMap<std::vector<std::array<uint8_t, 16>>> v6;
  /// reverse name (x.x.x.x.in-addr.arpa. / 32 nibbles .ip6.arpa.) → target wire names
  NameMap<std::vector<std::string>> ptr;
  size_t entries = 0;

  /// hosts(5) lines: `#` starts a comment, `ADDRESS NAME...`; a line with fewer than two fields
  /// or an address that does not parse is skipped, as is a name outside `zones` (wire, lower).
  static HostsTable parse(std::string_view text, const std::vector<std::vector<uint8_t>>& zones,
                          bool reverse);
};

class Hosts {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  /// Reads the file once (a missing one is not an error: CoreDNS warns and serves inline data).
  /// `note` gets a line for the caller to log when the file cannot be read.
  /// The first check is one interval after the first query (clocks may be virtual in tests).
  static std::shared_ptr<Hosts> create(const config::HostsConfig& config,
                                       std::string* note = nullptr);

  /// Answers `q` (parsed from `wire`; `name_lower` its lower-cased wire name) into `out`.
  Outcome serve(const dns::Query& q, std::span<const uint8_t> wire, const uint8_t* name_lower,
                size_t name_length, std::span<uint8_t> out, TimePoint now) noexcept;

  /// Entries of the file and inline (coredns_hosts_entries).
  size_t entries() const noexcept;

 private:
  explicit Hosts(const config::HostsConfig& config);
  void maybeReload(TimePoint now) noexcept;
  bool reload() noexcept;  ///< stat + re-read if changed; false when the file is unreadable

  config::HostsConfig config_;
  std::vector<std::vector<uint8_t>> zones_, fall_zones_;
  HostsTable inline_;
  std::atomic<std::shared_ptr<const HostsTable>> file_;
  std::atomic<int64_t> next_check_ns_{kUnset};
  static constexpr int64_t kUnset = INT64_MIN;
  std::mutex reload_mu_;  ///< try_lock: one reload at a time, the others keep serving
  int64_t mtime_ns_ = -1;
  int64_t size_ = -1;
};

}  // namespace nld::resolver::plugins
