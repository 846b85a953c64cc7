// `nodelocaldns run` flags: node-cache's verbatim Go-style flags (single dash, `-name value`,
// `-name=value`, bools as `-name` / `-name=false`) translated for CLI11, which only takes
// `--long` names; the -syncinterval duration rules; -localip validation; the run options struct.
//
// Pure functions, no I/O except where noted, no logging. Errors are Errc::kInvalidArgument with
// one line naming the flag and the value.
#pragma once

#include <chrono>
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

}  // namespace nld::cli
