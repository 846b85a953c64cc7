// Small parsers that reproduce Go's standard-library syntax CoreDNS relies on, so a Corefile
// means here what it means there: time.ParseDuration, strconv.Atoi, net.SplitHostPort, and
// CoreDNS's zone normalization (plugin.Host(...).NormalizeExact, including CIDR → reverse zones).
//
// Internal to nld_resolver_config. Pure; errors are short phrases the parser puts after
// "FILE:LINE: directive: ".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::resolver::config::detail {

/// Go time.ParseDuration: "300ms", "1.5h", "2h45m", "-1s", "0"; units ns us µs ms s m h.
Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text);

/// Go strconv.Atoi on a 64-bit platform (optional sign, decimal digits only).
std::optional<int64_t> parseGoInt(std::string_view text);

struct HostPort {
  std::string host;
  std::string port;
};
/// Go net.SplitHostPort: "host:port", "[v6]:port", ":port". Fails on a missing port or on an
/// unbracketed IPv6 address ("too many colons").
Result<HostPort> splitHostPort(std::string_view text);

/// fe80::/10: unusable as an upstream without a scope id (which SocketAddress does not carry).
inline bool isV6LinkLocal(const IpAddress& ip) {
  return ip.isV6() && ip.bytes()[0] == 0xfe && (ip.bytes()[1] & 0xc0) == 0x80;
}

/// Strips an IPv6 zone ("fe80::1%eth0" → "fe80::1").
std::string_view stripZone(std::string_view host);

/// Lower-case, fully qualified: "Cluster.Local" → "cluster.local.", "" or "." → ".".
std::string fqdnLower(std::string_view name);

/// Whether `name` (FQDN) is a syntactically valid domain name: labels of 1..63 bytes, ≤ 255 in
/// wire form, no empty label except the root.
bool isValidDomainName(std::string_view fqdn);

/// CoreDNS zone normalization of a zone or CIDR: "10.0.0.0/24" → {"0.0.10.in-addr.arpa."},
/// "10.0.0.0/23" → two zones, "fd00::/64" → ip6.arpa nibbles, else fqdnLower(name). Fails on a
/// malformed name or CIDR.
Result<std::vector<std::string>> normalizeZones(std::string_view name);

/// True if fqdn `name` is `zone` or below it ("." matches everything). Both lower-case FQDNs.
bool isSubdomain(std::string_view name, std::string_view zone);

/// Host part of a listen address: "" → 0.0.0.0 (every address), "localhost" → 127.0.0.1, or an
/// IP. Host names are an error.
Result<SocketAddress> parseListenAddress(std::string_view text);

/// Why `pattern` is not a valid (ECMAScript) regular expression, or nullopt if it is. Stands in
/// for Go's regexp.Compile; std::regex's exception is caught here.
std::optional<std::string> regexError(const std::string& pattern);

/// Go time.Duration.String(): "5m0s", "1h0m0s", "30s", "1.5s", "500ms", "0s".
std::string goDurationString(std::chrono::nanoseconds d);

}  // namespace nld::resolver::config::detail
