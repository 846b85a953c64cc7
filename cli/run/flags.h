// `nodelocaldns run` flags: node-cache's verbatim Go-style flags (single dash, `-name value`,
// `-name=value`, bools as `-name` / `-name=false`) translated for CLI11, which only takes
// `--long` names; the -syncinterval duration rules; -localip validation; the run options struct.
//
// Pure functions, no I/O except where noted, no logging. Errors are Errc::kInvalidArgument with
// one line naming the flag and the value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::cli {

/// Long flag names `run` accepts with a single dash (node-cache's and CoreDNS's names plus ours).
/// Every one is also accepted with two dashes.
const std::vector<std::string_view>& runLongFlagNames();

/// Rewrites the arguments that follow the `run` subcommand: a single-dash token whose name (the
/// part before '=') is one of runLongFlagNames() gets a second dash ("-localip" → "--localip",
/// "-setupiptables=false" → "--setupiptables=false"). Values, positional arguments, "--" and
/// everything after "--" are left alone; a token is only rewritten where an option name may
/// stand (not right after an option that takes a value). Arguments before `run` (global flags,
/// the subcommand name itself) are never touched; no `run` → returned unchanged.
std::vector<std::string> translateRunArgs(const std::vector<std::string>& args);

/// -syncinterval: "60" (bare number = seconds, node-cache's effective meaning), Go durations
/// ("60s", "1m", "1m30s", "1.5s", "500ms"), and node-cache's workaround spelling "30ns" (a
/// duration given only in ns or us is read as that many seconds, as upstream's
/// `Interval * time.Second` did). Must be ≥ 100ms and ≤ 24h.
Result<std::chrono::milliseconds> parseSyncInterval(std::string_view text);

/// A Go time.ParseDuration value ("1h2m3.5s", "300ms", "2us", "0"); no sign allowed.
Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text);

/// -localip: comma-separated, every element an IP (IPv4 and IPv6 may be mixed, unlike upstream);
/// an empty element is an error as upstream ("invalid localip specified - \"\""). Duplicates are
/// dropped, order kept.
Result<std::vector<IpAddress>> parseLocalIps(std::string_view text);

/// "$<UPPER(svc) with '-'→'_'>_SERVICE_HOST", e.g. "kube-dns-upstream" →
/// "KUBE_DNS_UPSTREAM_SERVICE_HOST".
std::string serviceHostEnvName(std::string_view service);

/// Parses a listen address as Go's net.Listen takes it: ":9353" (every address), "0.0.0.0:9353",
/// "[::]:9353", "127.0.0.1:9353", "[fd00::1]:9353". A port is required.
Result<SocketAddress> parseListenAddress(std::string_view text);

/// What `run` does on SIGTERM/SIGINT when it may hand over to a successor.
enum class HandoverMode : uint8_t {
  kAuto,    ///< hand over when another process has sockets bound to our DNS addresses
  kAlways,  ///< never tear down on a signal; drain and exit (like -skipteardown + drain)
  kNever,   ///< always tear down (unless -skipteardown), as upstream
};
Result<HandoverMode> parseHandoverMode(std::string_view text);
std::string_view toString(HandoverMode mode);

/// `run`'s flags as given (CLI11 fills them in cli/cmd_run.cc), defaults as node-cache's.
struct RunFlags {
  std::string localip;
  std::string conf;
  std::string corefile;  // node-cache's dead -corefile flag: accepted, -conf wins (as upstream)
  std::string basecorefile = "/etc/coredns/Corefile.base";
  std::string kubednscm;
  std::string upstreamsvc = "kube-dns";
  std::string health_port = "8080";
  bool setupinterface = true;
  bool setupiptables = true;
  bool skipteardown = false;
  bool reloadwithsignal = false;
  bool quiet = false;
  std::string interfacename = "nodelocaldns";
  std::string syncinterval = "60";
  std::string metrics_listen_address = "0.0.0.0:9353";
  std::string prometheus_listen_address = ":9253";
  std::string pidfile;
  std::string dns_port = "53";
  std::string link_kind = "auto";
  std::string xtables_lock = "/run/xtables.lock";
  std::string rules_backend = "auto";
  unsigned workers = 0;
  size_t cache_max_bytes = size_t{64} << 20;
  unsigned max_upstream_queries = 1024;
  std::string udp_wait = "auto";
  std::string handover = "auto";
  std::string shutdown_timeout = "10s";
  std::string tcp_idle_timeout = "10s";
  std::string tcp_query_timeout = "2s";
  unsigned tcp_max_connections = 1024;
  unsigned tcp_max_in_flight = 64;
  size_t tcp_output_high_bytes = size_t{256} << 10;
  size_t tcp_worker_max_bytes = size_t{32} << 20;
  size_t http_max_connections = 128;
  size_t http_max_header_bytes = 8192;
  std::string http_header_timeout = "1s";
  std::string health_cache = "1s";
};

struct RunConfig;

/// Checks and converts the flags; the first invalid one is the error (one line naming it).
/// Reads /etc/kube-dns's existence when -kubednscm is not given (node-cache's fallback).
Result<RunConfig> toRunConfig(const RunFlags& flags);

}  // namespace nld::cli
