// The `nodelocaldns run` daemon: start-up order, sync loop, config reload, health/metrics HTTP,
// signals, teardown and hitless hand-over (issue 6; node-cache-spec.md §1, §5, §8, §9).
//
// Start-up (every step fatal, nothing diverted yet): ensure the interface → render the runtime
// Corefile → parse → bind every DNS listener (resolver::Server) → HTTP listeners → pidfile →
// install the rules → serve. DNS is never diverted to us before we answer; everything is
// idempotent, so a restart after a crash adopts the interface and rules it finds.
//
// Corefile source, decided at start: -basecorefile if it exists (rendered as node-cache does and
// written to -conf); else -conf if it exists (served as is and watched: how `install` runs us with
// a pre-rendered file); else a built-in default (one `.` block forwarding to /etc/resolv.conf,
// cache 30, health on the first local IP, prometheus on -prometheus-listen-address). A base that
// appears later takes over at the next change.
//
// Loop (one control thread; poll on signalfd, rtnetlink, inotify): link/address events re-ensure
// the interface at once; every -syncinterval rules and interface are re-checked; a change in the
// base Corefile or kube-dns ConfigMap directory re-renders and reloads (an invalid config keeps
// the old one serving, is logged and counted, and watching continues); SIGHUP/SIGUSR1 reload.
//
// Signals: SIGTERM/SIGINT/SIGQUIT shut down. Hand-over (SIGUSR2, --handover=always, or
// --handover=auto and another process has sockets bound to our DNS address): skip teardown,
// drain the sockets, leave the pidfile to the successor. Otherwise: rules removed first (queries
// go back to kube-dns), then stop accepting and drain, then the interface (unless
// -skipteardown). The whole shutdown is bounded by --shutdown-timeout. A second SIGTERM/SIGINT/
// SIGQUIT during the shutdown forces a quick exit (code 128 + signal number): the rule removal
// still completes (bounded by the xtables lock wait; rules left pointing at a dead cache would
// break DNS), the drain is skipped, the interface and pidfile are removed as usual.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cli/run/flags.h"
#include "cli/run/http.h"
#include "netcfg/netcfg.h"
#include "resolver/resolver.h"

namespace nld::cli {

struct RunConfig {
  std::vector<IpAddress> local_ips;
  std::string conf;  ///< -conf ("" = do not write one)
  std::string base_corefile = "/etc/coredns/Corefile.base";
  std::string kube_dns_dir;  ///< "" = none
  std::string upstream_svc = "kube-dns";
  uint16_t health_port = 8080;
  uint16_t dns_port = 53;
  bool setup_interface = true;
  bool setup_iptables = true;
  bool skip_teardown = false;
  std::string interface_name = "nodelocaldns";
  netcfg::LinkKind link_kind = netcfg::LinkKind::kAuto;
  std::chrono::milliseconds sync_interval{60000};
  std::optional<SocketAddress> metrics_listen;  ///< -metrics-listen-address ("" = off)
  std::string prometheus_endpoint = ":9253";    ///< -prometheus-listen-address
  std::string pidfile;
  std::string xtables_lock = "/run/xtables.lock";
  std::optional<netcfg::RulesBackend> rules_backend;  ///< --rules-backend (nullopt = auto)
  resolver::ServerOptions server;
  HandoverMode handover = HandoverMode::kAuto;
  std::chrono::milliseconds shutdown_timeout{10000};
  std::chrono::milliseconds drain{2000};
  HttpLimits http;  ///< --http-max-connections, --http-max-header-bytes, --http-header-timeout
  /// --health-cache: a probe result answers /health and /ready for this long (0 = every time)
  std::chrono::milliseconds health_cache{1000};
};

/// The built-in Corefile served when neither -basecorefile nor -conf exists (with placeholders
/// that renderRuntimeCorefile() fills).
std::string defaultBaseCorefile(uint16_t health_port);

/// Runs until a signal or a fatal error. @return the exit code (0 after a clean shutdown, 1 if a
/// teardown step failed); an Error for start-up failures (nothing was diverted).
Result<int> runDaemon(const RunConfig& config);

}  // namespace nld::cli
