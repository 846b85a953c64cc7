// The NodeLocal DNSCache manifest and Corefile templates, compiled into the binary, and their
// rendering. Used by `render-manifest` (the whole manifest, for kubectl) and by `install` (a
// complete Corefile for a node-local run).
//
// Rendering is exactly the Kubernetes task page's `sed` per kube-proxy mode, so a manifest made
// by hand from the same template is byte-identical:
//   iptables, nftables: s/__PILLAR__LOCAL__DNS__/$localdns/g; s/__PILLAR__DNS__DOMAIN__/$domain/g;
//                       s/__PILLAR__DNS__SERVER__/$kubedns/g
//   ipvs:               s/__PILLAR__LOCAL__DNS__/$localdns/g; s/__PILLAR__DNS__DOMAIN__/$domain/g;
//                       s/,__PILLAR__DNS__SERVER__//g; s/__PILLAR__CLUSTER__DNS__/$kubedns/g
// with two additions the page leaves to the reader: an IPv6 address directly followed by ":port"
// is written in brackets ("health [fd00::10]:8080"), and with several local IPs a placeholder
// followed by ',' gets them comma-separated, one on a `bind` line space-separated, anywhere else
// the first one. With one IPv4 local IP both additions change nothing.
//
// No exception leaves this library (yaml-cpp's are caught here).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::templates {

/// kube-proxy's mode as the substitution sees it (see the top of this file). Templates' own type,
/// so this library does not depend on netcfg (which has netcfg::ProxyMode for detection); the
/// CLI parses the same strings into both.
enum class ProxyMode : uint8_t { kIptables, kIpvs, kNftables };

/// "iptables", "ipvs", "nftables".
std::string_view toString(ProxyMode mode);
/// Parses "iptables|ipvs|nftables" (exact, lower case); anything else → kInvalidArgument naming
/// the value on one line: "invalid kube-proxy mode 'x': expected iptables, ipvs or nftables".
Result<ProxyMode> parseProxyMode(std::string_view text);

/// The documented default node-local address.
IpAddress defaultLocalIp();
/// "ghcr.io/nodelocaldns/nodelocaldns:<project version>": the image in the built-in template.
std::string defaultImage();

/// The built-in manifest template (five objects, upstream placeholders, Corefile included).
std::string_view manifestTemplate();
/// The built-in Corefile template: the same text as the manifest's ConfigMap.
std::string_view corefileTemplate();

struct ManifestParams {
  IpAddress kube_dns;  ///< kube-dns Service ClusterIP (required)
  std::vector<IpAddress> local_ips{defaultLocalIp()};
  std::string domain = "cluster.local";
  ProxyMode mode = ProxyMode::kIptables;
  std::string image;  ///< replaces the first `image:` value; empty keeps the template's
};

/// Substitutes per mode (see the top of this file), then validateManifest(). Bad parameters →
/// Errc::kInvalidArgument; a template that does not render into a valid manifest → Errc::kParse.
Result<std::string> renderManifest(const ManifestParams& params, std::string_view template_text);

/// Checks a rendered manifest: parses as YAML, holds exactly the five objects (ServiceAccount,
/// Service kube-dns-upstream, ConfigMap node-local-dns with a Corefile, DaemonSet, Service
/// node-local-dns), probe hosts are bare IPs or host names, and the only placeholders left are
/// those filled at run time: __PILLAR__CLUSTER__DNS__ and __PILLAR__UPSTREAM__SERVERS__ in
/// iptables/nftables mode; __PILLAR__UPSTREAM__SERVERS__ and __PILLAR__DNS__SERVER__ (the
/// `bind` operand the page's ipvs sed leaves; node-cache and `run` replace it with "") in ipvs.
Result<void> validateManifest(std::string_view yaml, ProxyMode mode);

/// One object of a manifest, as its own YAML text (for `render-manifest --only`). selector is a
/// unique name ("kube-dns-upstream") or kind/name ("daemonset/node-local-dns", kind in any case).
Result<std::string> extractObject(std::string_view manifest, std::string_view selector);

struct CorefileParams {
  std::vector<IpAddress> local_ips{defaultLocalIp()};
  std::string domain = "cluster.local";
  /// Forward target of the cluster and reverse zones in iptables/nftables mode: the
  /// kube-dns-upstream Service IP (must not be kube_dns itself: we intercept that). Unused in ipvs
  /// mode, where those zones go straight to kube_dns.
  IpAddress cluster_dns;
  std::string upstream_servers = "/etc/resolv.conf";  ///< forward target of "."
  ProxyMode mode = ProxyMode::kIptables;
  IpAddress kube_dns;
};

/// A complete Corefile (no placeholder left) from corefileTemplate(): the manifest substitution
/// for the mode, then what node-cache fills at run time. Trailing blanks are trimmed.
Result<std::string> renderCorefile(const CorefileParams& params);

/// RFC 1123 host name check for a cluster domain: lower-cased, one trailing dot dropped.
Result<std::string> validateDomain(std::string_view domain);

}  // namespace nld::templates
