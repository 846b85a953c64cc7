// `nodelocaldns run`: the daemon, a drop-in for the node-cache image's entry point. Takes
// node-cache's and CoreDNS's flags verbatim (single dash, translated in app.cc by
// translateRunArgs()) and the same as --long-options, plus ours. See cli/run/daemon.h.
#include <memory>

#include "cli/commands.h"
#include "cli/run/daemon.h"
#include "cli/run/flags.h"

namespace nld::cli {
namespace {

// -localip through --xtables-lock: node-cache's flags and ours for what is served and diverted.
void addServingFlags(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("--localip", f.localip,
                  "Comma-separated local addresses to bind and intercept (IPv4 and IPv6 may be "
                  "mixed); required");
  cmd->add_option("--conf", f.conf, "Corefile to write (from -basecorefile) and serve");
  cmd->add_option("--corefile", f.corefile, "Ignored, as in node-cache (-conf wins)");
  cmd->add_option("--basecorefile", f.basecorefile,
                  "Template Corefile (__PILLAR__ placeholders); its directory is watched")
      ->capture_default_str();
  cmd->add_option("--kubednscm", f.kubednscm,
                  "kube-dns ConfigMap directory (stubDomains, upstreamNameservers); default "
                  "/etc/kube-dns if it exists");
  cmd->add_option("--upstreamsvc", f.upstreamsvc,
                  "Service whose $<NAME>_SERVICE_HOST fills __PILLAR__CLUSTER__DNS__")
      ->capture_default_str();
  cmd->add_option("--health-port", f.health_port, "Health port (for the NOTRACK rules)")
      ->capture_default_str();
  cmd->add_flag("--setupinterface", f.setupinterface,
                "Create and keep the local interface (-setupinterface=false to skip)")
      ->capture_default_str();
  cmd->add_flag("--setupiptables", f.setupiptables,
                "Install and keep the NOTRACK/ACCEPT rules (-setupiptables=false to skip)")
      ->capture_default_str();
  cmd->add_flag("--skipteardown", f.skipteardown, "Leave interface and rules in place on exit");
  cmd->add_flag("--reloadwithsignal", f.reloadwithsignal,
                "Accepted for compatibility (we always reload at once)");
  cmd->add_flag("--quiet", f.quiet, "Accepted for compatibility");
  cmd->add_option("--interfacename", f.interfacename, "Local interface name")
      ->capture_default_str();
  cmd->add_option("--syncinterval", f.syncinterval,
                  "Rule/interface re-check period: 60, 60s, 1m, 1m30s")
      ->capture_default_str();
  cmd->add_option("--metrics-listen-address", f.metrics_listen_address,
                  "Address of the /metrics, /health, /ready HTTP endpoint ('' = off)")
      ->capture_default_str();
  cmd->add_option("--prometheus-listen-address", f.prometheus_listen_address,
                  "Replaces __PROMETHEUS__ENDPOINT__ in the Corefile")
      ->capture_default_str();
  cmd->add_option("--pidfile", f.pidfile, "Write '<pid>\\n' here once listening");
  cmd->add_option("--dns.port,-p", f.dns_port, "Port of server blocks without one")
      ->capture_default_str();
  cmd->add_option("--link-kind", f.link_kind, "Interface kind: auto, dummy, bridge")
      ->capture_default_str();
  cmd->add_option("--rules-backend", f.rules_backend,
                  "Where the rules go: auto (nftables when kube-proxy or the host's iptables use "
                  "it), iptables (legacy), nftables (table inet nodelocaldns)")
      ->capture_default_str();
  cmd->add_option("--xtables-lock", f.xtables_lock, "xtables lock file (as iptables-legacy)")
      ->capture_default_str();
}

// --workers through --tcp-worker-max-bytes: the DNS server, shutdown and HTTP bounds.
void addLimitFlags(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("--workers", f.workers,
                  "DNS worker threads (0 = one per CPU, capped by the cgroup CPU limit)")
      ->capture_default_str();
  cmd->add_option("--cache-max-bytes", f.cache_max_bytes, "Memory bound of all caches")
      ->capture_default_str();
  cmd->add_option("--max-upstream-queries", f.max_upstream_queries,
                  "Upstream queries in flight per worker; beyond it SERVFAIL at once (0 = only "
                  "the RLIMIT_NOFILE cap)")
      ->capture_default_str();
  cmd->add_option("--udp-wait", f.udp_wait,
                  "How workers wait for UDP queries: auto (block in recvmmsg while one socket "
                  "carries the load), epoll (always in epoll_wait)")
      ->capture_default_str();
  cmd->add_option("--handover", f.handover,
                  "On SIGTERM: auto (hand over, no teardown, when a successor shares our DNS "
                  "sockets), always, never; SIGUSR2 always hands over")
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", f.shutdown_timeout, "Upper bound of the shutdown")
      ->capture_default_str();
  cmd->add_option("--http-max-connections", f.http_max_connections,
                  "Open HTTP connections at most (per process); at the cap the oldest one still "
                  "sending its request is closed")
      ->capture_default_str();
  cmd->add_option("--http-max-header-bytes", f.http_max_header_bytes,
                  "Longest HTTP request head (request line and headers); longer gets 431")
      ->capture_default_str();
  cmd->add_option("--http-header-timeout", f.http_header_timeout,
                  "Time for an HTTP client to send its request head, and to take the answer")
      ->capture_default_str();
  cmd->add_option("--health-cache", f.health_cache,
                  "How long one health probe answers /health and /ready (0s to 1s)")
      ->capture_default_str();
  cmd->add_option("--tcp-idle-timeout", f.tcp_idle_timeout,
                  "Close a TCP connection without a complete query, or whose answers were not "
                  "read, for this long")
      ->capture_default_str();
  cmd->add_option("--tcp-query-timeout", f.tcp_query_timeout,
                  "Close a TCP connection whose started (or first) query is not complete within "
                  "this")
      ->capture_default_str();
  cmd->add_option("--tcp-max-connections", f.tcp_max_connections,
                  "TCP client connections per worker; at the cap the least recently useful one is "
                  "closed for a newcomer (0 = no TCP)")
      ->capture_default_str();
  cmd->add_option("--tcp-max-in-flight", f.tcp_max_in_flight,
                  "Queries of one TCP connection awaiting upstream answers before reading pauses")
      ->capture_default_str();
  cmd->add_option("--tcp-output-high-bytes", f.tcp_output_high_bytes,
                  "Queued answers at which a TCP connection stops reading (resumes at a quarter); "
                  "upstream connections refuse queries above it")
      ->capture_default_str();
  cmd->add_option("--tcp-worker-max-bytes", f.tcp_worker_max_bytes,
                  "Bytes all TCP buffers of one worker may hold; above, the connection holding "
                  "most is closed")
      ->capture_default_str();
}

}  // namespace

CLI::App* addRunSubcommand(CLI::App& app, RunFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run the node-local DNS cache daemon (drop-in for node-cache: takes its flags, single or "
      "double dash; also what node-cache's bare command line means)");
  addServingFlags(cmd, flags);
  addLimitFlags(cmd, flags);
  return cmd;
}

Command addRunCommand(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = addRunSubcommand(app, *flags);

  return Command{cmd, [flags]() -> Result<int> {
                   auto config = toRunConfig(*flags);
                   if (!config) {
                     return fail(std::move(config.error()));
                   }
                   return runDaemon(*config);
                 }};
}

}  // namespace nld::cli
