// Resolver configuration: the Corefile (CoreDNS syntax, the subset node-local-dns uses), the
// resolv.conf files its `forward` lines may name, the kube-dns ConfigMap directory, and the
// run-time substitution node-cache performs on the base Corefile (node-cache-spec.md §5–6).
//
// Everything here is control plane: pure functions that return Result<T>; nothing logs above
// debug, nothing throws. Notes (e.g. an upstream dropped because it would loop) are returned in
// `notes` fields for the caller to log once. A parsed Config is immutable and may be shared
// between threads (the server swaps snapshots atomically).
//
// Deliberate differences from CoreDNS / node-cache (each documented at its field or function):
//   - loop avoidance is static: upstreams equal to our own addresses are dropped and 127.0.0.53
//     (systemd-resolved's stub) is replaced by /run/systemd/resolve/resolv.conf, with a note,
//     instead of CoreDNS's `loop` plugin killing the process;
//   - `bind` takes IP addresses only (interface names are an error, not resolved);
//   - `forward ... { timeout ATTEMPT OVERALL }` is our option (CoreDNS hard-codes 2s / 5s);
//   - renderRuntimeCorefile adds `prometheus` to stub-domain blocks when the base has one, appends
//     stub domains in sorted order, and fails instead of writing "<nil>" for a missing cluster IP;
//   - all keys of one server block must share one port (CoreDNS would start one server per port);
//   - IPv6 link-local upstreams are dropped with a note (SocketAddress has no scope id).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::resolver::config {

enum class Policy : uint8_t { kRandom, kRoundRobin, kSequential };

/// One `forward FROM TO... { options }` directive.
struct ForwardConfig {
  std::string from;  ///< zone, FQDN lower-case with trailing dot ("." for the root)
  /// Resolved upstreams: resolv.conf paths already expanded (port 53), loops and IPv6 link-local
  /// addresses (no scope id in SocketAddress) dropped with a note; 1..15 entries, in file order.
  std::vector<SocketAddress> to;
  std::vector<std::string> except;  ///< `except` zones, normalized like `from`
  bool force_tcp = false;
  bool prefer_udp = false;  ///< force_tcp wins when both are set (CoreDNS)
  unsigned max_fails = 2;   ///< 0 = never mark down, no health checks
  std::chrono::milliseconds health_check{500};
  bool health_check_recursion = true;  ///< `health_check DUR no_rec` clears it
  std::string health_check_domain = ".";
  std::chrono::seconds expire{10};
  Policy policy = Policy::kRandom;
  unsigned max_concurrent = 0;  ///< 0 = unlimited
  /// Ours: `timeout ATTEMPT [OVERALL]` (Go durations). CoreDNS hard-codes 2s read / 5s overall.
  std::chrono::milliseconds attempt_timeout{2000}, overall_timeout{5000};
  /// e.g. "dropped 127.0.0.53 (systemd-resolved stub, loop), using
  /// /run/systemd/resolve/resolv.conf"
  std::vector<std::string> notes;
};

/// The `cache` plugin, with CoreDNS's defaults and rounding (capacity rounds down to a multiple
/// of 256, at least 1024).
struct CacheConfig {
  size_t success_capacity = 9984;
  uint32_t success_max_ttl = 3600, success_min_ttl = 5;
  size_t denial_capacity = 9984;
  uint32_t denial_max_ttl = 1800, denial_min_ttl = 5;
  std::chrono::seconds servfail_ttl{5};  ///< 0 = do not cache SERVFAIL; at most 5 min
  bool prefetch = false;
  unsigned prefetch_amount = 1;
  std::chrono::seconds prefetch_duration{60};
  unsigned prefetch_percentage = 10;
  bool serve_stale = false;
  std::chrono::seconds stale_duration{3600};
  bool stale_verify = false;  ///< `serve_stale DUR verify`: refresh first (RFC 8767)
  bool keepttl = false;
  /// `cache [TTL] ZONES...`: cache only names under these zones; empty = the block's zones.
  std::vector<std::string> zones;
  /// `disable success|denial [ZONES...]`: no positive / negative caching under these zones.
  std::vector<std::string> success_disabled_zones, denial_disabled_zones;
};

/// One `log [NAMES...] [FORMAT] { class CLASSES... }` directive (CoreDNS plugin/log). For a
/// query, the first rule whose zone list matches decides whether it is logged.
struct LogRule {
  std::vector<std::string> zones = {"."};  ///< NAMES, normalized like block zones
  bool combined = false;                   ///< FORMAT {combined}: common + ` "OPCODE"`
  /// Response classes logged (CoreDNS response.Classify): bit 0 success, 1 denial, 2 error.
  static constexpr uint8_t kSuccess = 1, kDenial = 2, kError = 4, kAll = 7;
  uint8_t classes = kAll;
};

/// `errors { consolidate DURATION REGEXP [LEVEL] }`: errors whose text matches REGEXP are counted
/// instead of logged, and one line "N errors like 'REGEXP' occurred in last DURATION" is written
/// DURATION after the first of them (CoreDNS plugin/errors). REGEXP is compiled as ECMAScript
/// (CoreDNS: Go RE2 syntax; the common subset is the same).
struct ErrorsConsolidate {
  std::chrono::nanoseconds period{0};
  std::string pattern;
  std::string level = "error";  ///< warning, error, info or debug
};

/// `fallthrough [ZONES...]` of a plugin (CoreDNS pkg/fall): off, or on for names under any of
/// `zones` (normalized; `fallthrough` alone = ".", every name).
struct Fallthrough {
  bool enabled = false;
  std::vector<std::string> zones;
};

/// `hosts [FILE [ZONES...]] { INLINE...; ttl; no_reverse; reload; fallthrough [ZONES...] }`
/// (CoreDNS plugin/hosts). Entries of the file come first, then the inline ones; names outside
/// `zones` are dropped when the file is read.
struct HostsConfig {
  std::string path = "/etc/hosts";
  std::vector<std::string> zones;  ///< normalized; defaults to the block's zones
  std::vector<std::string> inline_lines;
  uint32_t ttl = 3600;                     ///< 1..65535 (CoreDNS)
  bool reverse = true;                     ///< `no_reverse` clears it: no PTR synthesis
  std::chrono::milliseconds reload{5000};  ///< 0 = never re-read the file
  Fallthrough fallthrough;
  int line = 0;
};

/// `template CLASS TYPE [ZONE...] { match; answer; additional; authority; rcode; fallthrough }`
/// (CoreDNS plugin/template). The templates and regexes are checked when parsed (go_template.h);
/// `upstream` and `edns local` are refused.
struct TemplateConfig {
  uint16_t qclass = 255, qtype = 255;  ///< 255 = ANY
  std::vector<std::string> zones;      ///< normalized; defaults to the block's zones
  std::vector<std::string> match;      ///< Go regexes; empty = ".*"
  std::vector<std::string> answer, additional, authority;  ///< Go templates of RRs
  uint8_t rcode = 0;
  Fallthrough fallthrough;
  int line = 0;
};

/// One server block: `zone[:port] [zone[:port]...] { directives }`.
struct ServerBlock {
  std::vector<std::string> zones;  ///< normalized: lower-case FQDN with trailing dot, "." = root
  uint16_t port = 53;
  std::vector<IpAddress> bind;  ///< empty = every address
  std::optional<CacheConfig> cache;
  std::optional<ForwardConfig> forward;
  bool errors = false, log = false, reload = false, loop = false;
  std::vector<LogRule> log_rules;  ///< one per `log` directive (log == !log_rules.empty())
  std::vector<ErrorsConsolidate> errors_consolidate;
  std::chrono::milliseconds reload_interval{30000}, reload_jitter{15000};
  /// `prometheus [ADDR]`; default 127.0.0.1:9153 (CoreDNS's localhost:9153). An unspecified IP
  /// (":9253") means every address.
  std::optional<SocketAddress> prometheus;
  /// `health [ADDR]`; default every address, port 8080. `lameduck` is accepted.
  std::optional<SocketAddress> health;
  std::optional<std::chrono::milliseconds> health_lameduck;
  std::optional<HostsConfig> hosts;
  std::vector<TemplateConfig> templates;  ///< one per `template` directive, in Corefile order
  std::string file;                       ///< where the block starts, for messages
  int line = 0;
  /// Accepted-and-ignored directives (debug, pprof, ...), for the caller to log.
  std::vector<std::string> notes;
};

struct Config {
  std::vector<ServerBlock> blocks;

  /// The block that serves `qname_lower` (lower-case, trailing dot optional) arriving on
  /// local:port: the longest matching zone among blocks on that port bound to that address (or
  /// to every address). nullptr if none (CoreDNS answers REFUSED). Linear in blocks × zones
  /// (about 60 ns for the manifest's 4 blocks): fine for tests and tools, not a per-query index.
  const ServerBlock* route(std::string_view qname_lower, IpAddress local, uint16_t port) const;

  /// Every note of every block (ignored directives, dropped upstreams), each prefixed with where
  /// the block starts ("/etc/Corefile:1: cluster.local.: ..."), for the caller to log once.
  std::vector<std::string> notes() const;
};

struct ParseOptions {
  uint16_t default_port = 53;  ///< `-dns.port`: port of blocks whose keys have none
  /// Reads resolv.conf paths named by `forward`; defaults to nld::readFile (tests inject).
  std::function<Result<std::string>(const std::string&)> read_file;
  /// Our bind addresses (-localip): upstreams equal to these (on a served port) are loops. The
  /// Corefile's own `bind` addresses are always treated as ours too.
  std::vector<IpAddress> own_addresses;
  /// Looks up {$NAME} / {%NAME%} references; defaults to the process environment (tests inject).
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

/// The one loop check for upstreams: forwarding to one of our own addresses on a port we serve
/// comes straight back into the cache. parseCorefile() drops such upstreams (with a note);
/// `install` refuses such a --cluster-upstream before it changes anything.
bool isForwardingLoop(const SocketAddress& upstream, const std::vector<IpAddress>& own,
                      const std::vector<uint16_t>& served_ports);

/// Parses and validates a Corefile. Errors read "FILE:LINE: what", e.g.
/// "/etc/Corefile:7: unknown directive 'forwrd'".
Result<Config> parseCorefile(std::string_view text, std::string_view filename,
                             const ParseOptions& options = {});

/// Nameservers of a resolv.conf text (`nameserver` lines, %zone stripped, port 53), in order.
/// Invalid and IPv6 link-local addresses are skipped with a note. Never fails.
struct ResolvConf {
  std::vector<SocketAddress> nameservers;
  std::vector<std::string> notes;
};
ResolvConf parseResolvConf(std::string_view text);

/// The systemd-resolved stub address that must never be an upstream (users-and-perf.md #33).
inline constexpr std::string_view kSystemdStub = "127.0.0.53";
inline constexpr std::string_view kSystemdResolvConf = "/run/systemd/resolve/resolv.conf";

// --- kube-dns ConfigMap and run-time substitution (spec §5.2–5.4), used by `run` -----------

struct KubeDnsConfig {
  std::map<std::string, std::vector<std::string>> stub_domains;  ///< domain → "ip[:port]"...
  std::vector<std::string> upstream_nameservers;                 ///< ≤ 3, "ip[:port]"
  std::string version;             ///< SHA-256 over "name\0content\0" per file; "" if empty
  std::vector<std::string> notes;  ///< e.g. unknown keys, ignored
};

/// Reads a mounted kube-dns ConfigMap: one file per key (kubelet's `..data` symlink layout;
/// dot-files and sub-directories are skipped). Keys `stubDomains` (JSON object of string
/// arrays) and `upstreamNameservers` (JSON array); `federations` is parsed and ignored. Validated
/// as kube-dns and node-cache do: DNS-1123 stub domain names, IP[:port] nameservers, at most 3
/// upstreams. A missing directory → Errc::kNotFound.
Result<KubeDnsConfig> loadKubeDnsConfigDir(const std::string& dir);
/// The same from already-read files (name → content); for tests and the file watcher.
Result<KubeDnsConfig> parseKubeDnsConfig(const std::map<std::string, std::string>& files);

struct SubstitutionParams {
  std::vector<IpAddress> local_ips;      ///< -localip, in order
  std::optional<IpAddress> cluster_dns;  ///< from $<UPSTREAMSVC>_SERVICE_HOST
  uint16_t port = 53;                    ///< -dns.port
  KubeDnsConfig kube_dns;
  std::string prometheus_endpoint = ":9253";  ///< for __PROMETHEUS__ENDPOINT__ (new upstream repo)
};

/// node-cache's updateCorefile(): substitutes __PILLAR__UPSTREAM__SERVERS__ (kube-dns
/// upstreamNameservers, else /etc/resolv.conf; the force_tcp block is rewritten as upstream
/// does), __PILLAR__CLUSTER__DNS__, __PILLAR__LOCAL__DNS__ (all local IPs space-separated; where
/// it is used as "ADDR:port" or "[ADDR]", the first local IP, bracketed for IPv6 — upstream
/// would write an invalid address), __PILLAR__DNS__SERVER__ (→ ""), __PROMETHEUS__ENDPOINT__,
/// then appends one block per stub domain in sorted order. Fails (instead of writing "<nil>")
/// when the base needs __PILLAR__CLUSTER__DNS__ and cluster_dns is unset, or the kube-dns config
/// is invalid.
Result<std::string> renderRuntimeCorefile(std::string_view base_corefile,
                                          const SubstitutionParams& params);

/// Go time.ParseDuration, the one the Corefile parser uses (go_syntax.h), for other modules:
/// "300ms", "1.5h", "2h45m", "-1s", "0"; units ns us µs ms s m h. Errors (kInvalidArgument):
/// "invalid duration 'X'", "missing unit in duration 'X'", "unknown unit 'U' in duration 'X'",
/// "duration 'X' out of range".
Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text);
/// Go time.Duration.String(): "5m0s", "1h0m0s", "30s", "1.5s", "500ms", "0s".
std::string formatGoDuration(std::chrono::nanoseconds d);

}  // namespace nld::resolver::config
