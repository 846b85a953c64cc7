// `nodelocaldns run`: the daemon, a drop-in for the node-cache image's entry point. Takes
// node-cache's and CoreDNS's flags verbatim (single dash, translated in app.cc by
// translateRunArgs()) and the same as --long-options, plus ours. See cli/run/daemon.h.
#include <sys/stat.h>

#include <memory>

#include "cli/commands.h"
#include "cli/run/daemon.h"
#include "cli/run/flags.h"

namespace nld::cli {
namespace {

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

// A Go duration flag within [min, max].
Result<std::chrono::milliseconds> durationFlag(std::string_view flag, const std::string& value,
                                               std::chrono::milliseconds min,
                                               std::chrono::milliseconds max) {
  auto d = parseGoDuration(value);
  if (!d || *d < min || *d > max) {
    return fail(Errc::kInvalidArgument,
                "invalid --" + std::string(flag) + " '" + value + "': expected a duration from " +
                    std::to_string(min.count()) + "ms to " + std::to_string(max.count()) + "ms");
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

Result<uint16_t> portFlag(std::string_view flag, const std::string& value) {
  auto p = parsePort(value);
  if (!p) {
    return fail(Errc::kInvalidArgument,
                "invalid -" + std::string(flag) + " '" + value + "': expected a port 1-65535");
  }
  return *p;
}

Result<RunConfig> toConfig(const RunFlags& f) {
  RunConfig c;
  if (f.localip.empty()) {
    return fail(Errc::kInvalidArgument,
                "-localip is required (comma-separated node-local addresses, e.g. "
                "169.254.20.10,10.96.0.10)");
  }
  auto ips = parseLocalIps(f.localip);
  if (!ips) {
    return fail(std::move(ips.error()));
  }
  c.local_ips = std::move(*ips);
  c.conf = f.conf;
  c.base_corefile = f.basecorefile;
  c.kube_dns_dir = f.kubednscm;
  if (c.kube_dns_dir.empty()) {
    struct stat st {};
    if (::stat("/etc/kube-dns", &st) == 0) {
      c.kube_dns_dir = "/etc/kube-dns";  // node-cache's fallback
    }
  }
  c.upstream_svc = f.upstreamsvc;
  auto hp = portFlag("health-port", f.health_port);
  if (!hp) {
    return fail(std::move(hp.error()));
  }
  c.health_port = *hp;
  auto dp = portFlag("dns.port", f.dns_port);
  if (!dp) {
    return fail(std::move(dp.error()));
  }
  c.dns_port = *dp;
  c.setup_interface = f.setupinterface;
  c.setup_iptables = f.setupiptables;
  c.skip_teardown = f.skipteardown;
  c.interface_name = f.interfacename;
  auto kind = netcfg::parseLinkKind(f.link_kind);
  if (!kind) {
    return fail(std::move(kind.error()));
  }
  c.link_kind = *kind;
  auto interval = parseSyncInterval(f.syncinterval);
  if (!interval) {
    return fail(std::move(interval.error()));
  }
  c.sync_interval = *interval;
  if (!f.metrics_listen_address.empty()) {
    auto a = parseListenAddress(f.metrics_listen_address);
    if (!a) {
      return fail(std::move(a.error()).withContext("-metrics-listen-address"));
    }
    c.metrics_listen = *a;
  }
  c.prometheus_endpoint = f.prometheus_listen_address;
  c.pidfile = f.pidfile;
  c.xtables_lock = f.xtables_lock;
  if (f.rules_backend != "auto") {
    auto b = netcfg::parseRulesBackend(f.rules_backend);
    if (!b) {
      return fail(Errc::kInvalidArgument, "invalid --rules-backend '" + f.rules_backend +
                                              "': expected auto, iptables or nftables");
    }
    c.rules_backend = *b;
  }
  c.server.workers = f.workers;
  c.server.cache_max_bytes = f.cache_max_bytes;
  c.server.max_upstream_queries = f.max_upstream_queries;
  if (f.udp_wait == "epoll") {
    c.server.udp_wait = resolver::UdpWait::kEpoll;
  } else if (f.udp_wait != "auto") {
    return fail(Errc::kInvalidArgument,
                "invalid --udp-wait '" + f.udp_wait + "': expected auto or epoll");
  }
  auto mode = parseHandoverMode(f.handover);
  if (!mode) {
    return fail(std::move(mode.error()));
  }
  c.handover = *mode;
  auto st = parseGoDuration(f.shutdown_timeout);
  if (!st || *st < std::chrono::seconds(1)) {
    return fail(Errc::kInvalidArgument, "invalid --shutdown-timeout '" + f.shutdown_timeout +
                                            "': expected a duration of at least 1s");
  }
  c.shutdown_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*st);
  auto idle = durationFlag("tcp-idle-timeout", f.tcp_idle_timeout, std::chrono::milliseconds(10),
                           std::chrono::hours(1));
  if (!idle) {
    return fail(std::move(idle.error()));
  }
  c.server.tcp_idle_timeout = *idle;
  auto query = durationFlag("tcp-query-timeout", f.tcp_query_timeout, std::chrono::milliseconds(10),
                            std::chrono::hours(1));
  if (!query) {
    return fail(std::move(query.error()));
  }
  c.server.tcp_query_timeout = *query;
  if (f.tcp_max_in_flight == 0) {
    return fail(Errc::kInvalidArgument, "invalid --tcp-max-in-flight 0: expected at least 1");
  }
  if (f.tcp_output_high_bytes < 1024) {
    return fail(Errc::kInvalidArgument, "invalid --tcp-output-high-bytes " +
                                            std::to_string(f.tcp_output_high_bytes) +
                                            ": expected at least 1024");
  }
  if (f.tcp_worker_max_bytes < f.tcp_output_high_bytes) {
    return fail(Errc::kInvalidArgument, "invalid --tcp-worker-max-bytes " +
                                            std::to_string(f.tcp_worker_max_bytes) +
                                            ": expected at least --tcp-output-high-bytes");
  }
  c.server.tcp_max_connections = f.tcp_max_connections;
  c.server.tcp_max_in_flight = f.tcp_max_in_flight;
  c.server.tcp_output_high = f.tcp_output_high_bytes;
  c.server.tcp_worker_bytes = f.tcp_worker_max_bytes;
  c.drain = std::min(c.shutdown_timeout / 2, std::chrono::milliseconds(2000));
  if (f.http_max_connections < 1 || f.http_max_header_bytes < 64) {
    return fail(Errc::kInvalidArgument,
                "invalid --http-max-connections or --http-max-header-bytes: expected at least 1 "
                "connection and 64 bytes");
  }
  c.http.max_connections = f.http_max_connections;
  c.http.max_header_bytes = f.http_max_header_bytes;
  using std::chrono::milliseconds;
  auto ht = durationFlag("http-header-timeout", f.http_header_timeout, milliseconds(10),
                         milliseconds(60000));
  if (!ht) {
    return fail(std::move(ht.error()));
  }
  c.http.header_timeout = *ht;
  auto hc = durationFlag("health-cache", f.health_cache, milliseconds(0), milliseconds(1000));
  if (!hc) {
    return fail(std::move(hc.error()));
  }
  c.health_cache = *hc;
  return c;
}

}  // namespace

Command addRunCommand(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run the node-local DNS cache daemon (drop-in for node-cache: takes its flags, single or "
      "double dash)");
  auto& f = *flags;
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

  return Command{cmd, [flags]() -> Result<int> {
                   auto config = toConfig(*flags);
                   if (!config) {
                     return fail(std::move(config.error()));
                   }
                   return runDaemon(*config);
                 }};
}

}  // namespace nld::cli
