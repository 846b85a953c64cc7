// node-cache's updateCorefile() (configmap.go:84-144; node-cache-spec.md §5.2 and §5.4), with
// three deliberate changes, each where upstream would write a broken or non-deterministic file:
// stub domains are appended in sorted order (upstream: Go map order); a missing cluster DNS IP is
// an error (upstream writes "<nil>"); "__PILLAR__LOCAL__DNS__:port" / "[__PILLAR__LOCAL__DNS__]"
// take the first local IP (upstream inserts all of them, space-separated, into one address).
// Stub-domain blocks also get the base's `prometheus` line, so stub zones have metrics.
#include "base/ip.h"
#include "base/placeholders.h"
#include "base/strings.h"
#include "resolver/config/config.h"
#include "resolver/config/corefile_lexer.h"
#include "resolver/config/kube_dns_internal.h"

namespace nld::resolver::config {

namespace {

using placeholder::kClusterDns;
using placeholder::kDnsServer;
using placeholder::kLocalDns;
using placeholder::kUpstreamServers;
constexpr std::string_view kPrometheusEndpoint = "__PROMETHEUS__ENDPOINT__";
// The exact text upstream rewrites when upstreamNameservers is set (drops force_tcp).
constexpr std::string_view kTcpUpstreamBlock =
    "\n    forward . __PILLAR__UPSTREAM__SERVERS__ {\n            force_tcp\n    }\n";
constexpr int kStubCacheTtl = 30;

/// The `prometheus` line of the (substituted) base, to repeat in stub-domain blocks.
std::optional<std::string> prometheusLine(std::string_view corefile) {
  auto tokens = detail::lexCorefile(corefile, "");
  if (!tokens) {
    return std::nullopt;
  }
  const auto& t = *tokens;
  for (size_t i = 0; i < t.size(); ++i) {
    bool first_on_line = i == 0 || t[i - 1].line != t[i].line;
    if (!first_on_line || t[i].quoted || t[i].text != "prometheus") {
      continue;
    }
    if (i + 1 < t.size() && t[i + 1].line == t[i].line && t[i + 1].text != "{" &&
        t[i + 1].text != "}") {
      return "prometheus " + t[i + 1].text;
    }
    return std::string("prometheus");
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> renderRuntimeCorefile(std::string_view base_corefile,
                                          const SubstitutionParams& params) {
  // Step 1: validate the kube-dns config (upstream: log, count, keep the old Corefile).
  if (auto r = detail::validateKubeDnsConfig(params.kube_dns); !r) {
    return fail(std::move(r.error()));  // "kube-dns ConfigMap key '...': ..."
  }
  if (params.local_ips.empty()) {
    return fail(Errc::kInvalidArgument, "no local IP to substitute for " + std::string(kLocalDns));
  }
  std::vector<std::string> local_texts;
  for (const auto& ip : params.local_ips) {
    local_texts.push_back(ip.toString());
  }
  const std::string local_ips = join(local_texts, " ");
  const std::string first_local = params.local_ips.front().toUrlHost();

  std::string out(base_corefile);

  // Step 4: upstream servers.
  const std::string upstreams = join(params.kube_dns.upstream_nameservers, " ");
  if (upstreams.empty()) {
    replaceAll(out, kUpstreamServers, "/etc/resolv.conf");
  } else {
    replaceAll(out, kTcpUpstreamBlock, "\n    forward . " + upstreams + "\n");
    // Upstream logs "Did not find TCP upstream block to replace, assuming upstreams already use
    // UDP." here when the placeholder remains (the current manifest's case).
    replaceAll(out, kUpstreamServers, upstreams);
  }

  // Step 5: the other placeholders.
  if (out.find(kClusterDns) != std::string::npos) {
    if (!params.cluster_dns) {
      return fail(Errc::kInvalidArgument,
                  "the Corefile needs " + std::string(kClusterDns) +
                      " but the upstream service IP is unknown (is $<UPSTREAMSVC>_SERVICE_HOST "
                      "set? the Service must exist before the pod starts)");
    }
    replaceAll(out, kClusterDns, params.cluster_dns->toString());
  }
  replaceAll(out, "[" + std::string(kLocalDns) + "]", first_local);
  for (size_t pos = out.find(kLocalDns); pos != std::string::npos; pos = out.find(kLocalDns, pos)) {
    size_t end = pos + kLocalDns.size();
    bool host_port =
        end + 1 < out.size() && out[end] == ':' && out[end + 1] >= '0' && out[end + 1] <= '9';
    const std::string& with = host_port ? first_local : local_ips;
    out.replace(pos, kLocalDns.size(), with);
    pos += with.size();
  }
  replaceAll(out, kDnsServer, "");
  replaceAll(out, kPrometheusEndpoint, params.prometheus_endpoint);

  // Steps 3 and 6: one block per stub domain, appended.
  const auto prometheus = prometheusLine(out);
  for (const auto& [domain, servers] : params.kube_dns.stub_domains) {
    out += "\n" + domain + ":" + std::to_string(params.port) + " {\n    errors\n    cache " +
           std::to_string(kStubCacheTtl) + "\n    bind " + local_ips + "\n    forward . " +
           join(servers, " ") + "\n";
    if (prometheus) {
      out += "    " + *prometheus + "\n";
    }
    out += "}\n";
  }
  return out;
}

}  // namespace nld::resolver::config
