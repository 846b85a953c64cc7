// kube-proxy mode detection (iptables / ipvs / nftables) for `--mode auto`.
//
// Signals, in order (node-cache spec §10); the first one present decides:
//   1. kube-proxy's `GET http://<metrics_address>/proxyMode` (plain-text body). Authoritative: an
//      answer other than iptables/ipvs/nftables (or a non-200 status) is an error, never a
//      fallthrough. Nothing listening / no answer within the timeout → next signal.
//   2. a link named `kube-ipvs0` (kube-proxy ipvs mode puts every ClusterIP on it)     → ipvs
//   3. an nftables table `ip kube-proxy`                                               → nftables
//   4. a `KUBE-SERVICES` chain in the nat table (legacy x_tables, then nf_tables)       → iptables
//   5. nothing: iptables ("default: no kube-proxy signal found (...)")
// Signals 2-4 can be leftovers of a previous mode (heuristics); the result says which one decided.
//
// Threading: stateless, callable from any thread. Needs CAP_NET_ADMIN for probes 3-4 (a probe that
// cannot run counts as "signal absent" and is named in the default's text). Does not log.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nld::netcfg {

/// kube-proxy's mode. (templates has its own ProxyMode for the manifest substitution, so that it
/// does not depend on netcfg.)
enum class ProxyMode : uint8_t { kIptables, kIpvs, kNftables };

/// "iptables", "ipvs", "nftables".
std::string_view toString(ProxyMode mode);
/// Parses "iptables|ipvs|nftables" (exact, lower case); anything else → kInvalidArgument naming
/// the value on one line: "invalid kube-proxy mode 'x': expected iptables, ipvs or nftables".
Result<ProxyMode> parseProxyMode(std::string_view text);

struct ProxyModeOptions {
  /// kube-proxy's metricsBindAddress: "IP[:port]", "[v6]:port" or "localhost[:port]"
  /// ("http://" and a trailing "/" are accepted); the port defaults to 10249.
  std::string metrics_address = "127.0.0.1:10249";
  std::chrono::milliseconds timeout{1000};  // for the whole HTTP exchange
  std::string ipvs_link = "kube-ipvs0";
};

struct ProxyModeDetection {
  ProxyMode mode = ProxyMode::kIptables;
  /// Which signal decided, for humans, e.g. "kube-proxy /proxyMode at 127.0.0.1:10249 answered
  /// 'ipvs'" or "default: no kube-proxy signal found (...why each probe found nothing...)".
  std::string signal;
};

/// Runs the probes in order. Errors: invalid metrics_address (kInvalidArgument); /proxyMode
/// answered something unknown (kParse), e.g. "kube-proxy /proxyMode at 127.0.0.1:10249 answered
/// 'kernelspace', expected iptables, ipvs or nftables; pass the mode explicitly".
Result<ProxyModeDetection> detectProxyMode(const ProxyModeOptions& options);

}  // namespace nld::netcfg
