#include "cli/run/flags.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "cli/run/daemon.h"
#include "resolver/config/config.h"

namespace nld::cli {
namespace {

// Flags without a value (Go bools): `-name` or `-name=false`, never `-name false`.
constexpr std::string_view kBoolFlags[] = {"setupinterface", "setupiptables", "skipteardown",
                                           "reloadwithsignal", "quiet"};

bool isBoolFlag(std::string_view name) {
  return std::find(std::begin(kBoolFlags), std::end(kBoolFlags), name) != std::end(kBoolFlags);
}

bool isKnownLong(std::string_view name) {
  const auto& names = runLongFlagNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

Result<std::chrono::milliseconds> invalidInterval(std::string_view text, std::string_view why) {
  return fail(Errc::kInvalidArgument, "invalid -syncinterval '" + std::string(text) +
                                          "': " + std::string(why) +
                                          " (use seconds like 60, or a duration like 60s or 1m)");
}

}  // namespace

const std::vector<std::string_view>& runLongFlagNames() {
  static const std::vector<std::string_view> kNames = {
      // node-cache (main.go)
      "localip", "basecorefile", "corefile", "kubednscm", "upstreamsvc", "health-port",
      "setupinterface", "setupiptables", "skipteardown", "interfacename", "syncinterval",
      "metrics-listen-address", "prometheus-listen-address", "reloadwithsignal",
      // CoreDNS (coremain)
      "conf", "pidfile", "dns.port", "quiet",
      // ours
      "link-kind", "xtables-lock", "rules-backend", "workers", "cache-max-bytes",
      "max-upstream-queries", "handover", "shutdown-timeout", "http-max-connections",
      "http-max-header-bytes", "http-header-timeout", "health-cache", "tcp-idle-timeout",
      "tcp-query-timeout", "tcp-max-connections", "tcp-max-in-flight", "tcp-output-high-bytes",
      "tcp-worker-max-bytes"};
  return kNames;
}

std::vector<std::string> translateRunArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out = args;
  auto run = std::find(out.begin(), out.end(), "run");
  if (run == out.end()) {
    return out;
  }
  bool expect_value = false;
  for (auto it = run + 1; it != out.end(); ++it) {
    std::string& arg = *it;
    if (expect_value) {
      expect_value = false;
      continue;
    }
    if (arg == "--") {
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      continue;  // positional (CLI11 rejects it later)
    }
    bool single = arg[1] != '-';
    std::string_view body = std::string_view(arg).substr(single ? 1 : 2);
    size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    if (name == "p" && single) {
      expect_value = eq == std::string_view::npos;
      continue;
    }
    if (!isKnownLong(name)) {
      continue;
    }
    expect_value = eq == std::string_view::npos && !isBoolFlag(name);
    if (single) {
      arg.insert(arg.begin(), '-');
    }
  }
  return out;
}

Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text) {
  auto bad = [&](std::string_view why) -> Result<std::chrono::nanoseconds> {
    return fail(Errc::kInvalidArgument,
                "invalid duration '" + std::string(text) + "': " + std::string(why));
  };
  if (text.empty()) {
    return bad("empty");
  }
  if (text.front() == '+' || text.front() == '-') {
    return bad("expected a number");  // Go allows a sign; our flags are never negative
  }
  auto d = resolver::config::parseGoDuration(text);
  if (d) {
    return d;
  }
  // The shared parser's messages name the text; ours end in ": <why>" (parseSyncInterval reuses
  // the why).
  const std::string& msg = d.error().message();
  if (msg.starts_with("missing unit")) {
    return bad("missing unit");
  }
  if (msg.starts_with("unknown unit '")) {
    return bad(msg.substr(0, msg.find(" in duration '")));
  }
  if (msg.ends_with("out of range")) {
    return bad("too large");
  }
  return bad("expected a number");
}

Result<std::chrono::milliseconds> parseSyncInterval(std::string_view text) {
  using std::chrono::milliseconds;
  if (text.empty()) {
    return invalidInterval(text, "empty");
  }
  std::chrono::nanoseconds value{};
  bool all_digits = std::all_of(text.begin(), text.end(),
                                [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (all_digits) {
    if (text.size() > 6) {
      return invalidInterval(text, "too large");
    }
    value = std::chrono::seconds(std::stoll(std::string(text)));
  } else {
    auto d = parseGoDuration(text);
    if (!d) {
      return invalidInterval(text, d.error().message().substr(d.error().message().rfind(": ") + 2));
    }
    value = *d;
    // node-cache computed Interval * time.Second, so users wrote "30ns" to mean 30 s
    // (kubernetes/dns#362). A duration spelled only in ns keeps that meaning.
    bool only_ns = text.size() > 2 && text.substr(text.size() - 2) == "ns" &&
                   text.find_first_of("muhµ") == std::string_view::npos &&
                   std::count(text.begin(), text.end(), 's') == 1;
    if (only_ns) {
      value = std::chrono::seconds(value.count());
    }
  }
  auto ms = std::chrono::duration_cast<milliseconds>(value);
  if (ms < milliseconds(100)) {
    return invalidInterval(text, "must be at least 100ms");
  }
  if (ms > std::chrono::hours(24)) {
    return invalidInterval(text, "must be at most 24h");
  }
  return ms;
}

Result<std::vector<IpAddress>> parseLocalIps(std::string_view text) {
  std::vector<IpAddress> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view part = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto ip = IpAddress::parse(part);
    if (!ip || ip->isUnspecified()) {
      return fail(Errc::kInvalidArgument, "invalid localip specified - \"" + std::string(part) +
                                              "\" (-localip " + std::string(text) + ")");
    }
    if (std::find(out.begin(), out.end(), *ip) == out.end()) {
      out.push_back(*ip);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

std::string serviceHostEnvName(std::string_view service) {
  std::string out;
  for (char c : service) {
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out + "_SERVICE_HOST";
}

Result<SocketAddress> parseListenAddress(std::string_view text) {
  auto bad = [&](std::string_view why) -> Result<SocketAddress> {
    return fail(Errc::kInvalidArgument,
                "invalid listen address '" + std::string(text) + "': " + std::string(why));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return bad("expected HOST:PORT or :PORT");
  }
  // Port 0 (pick any) is allowed: tests run several daemons side by side.
  std::optional<uint16_t> port = text.substr(colon + 1) == "0" ? std::optional<uint16_t>(0)
                                                               : parsePort(text.substr(colon + 1));
  if (!port) {
    return bad("invalid port");
  }
  std::string_view host = text.substr(0, colon);
  if (host.empty() || host == "0.0.0.0") {
    return SocketAddress{IpAddress(), *port};
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  auto ip = IpAddress::parse(host);
  if (!ip) {
    return bad("host must be an IP address");
  }
  return SocketAddress{*ip, *port};
}

Result<HandoverMode> parseHandoverMode(std::string_view text) {
  if (text == "auto") {
    return HandoverMode::kAuto;
  }
  if (text == "always") {
    return HandoverMode::kAlways;
  }
  if (text == "never") {
    return HandoverMode::kNever;
  }
  return fail(Errc::kInvalidArgument,
              "invalid --handover '" + std::string(text) + "' (use auto, always or never)");
}

std::string_view toString(HandoverMode mode) {
  switch (mode) {
    case HandoverMode::kAuto:
      return "auto";
    case HandoverMode::kAlways:
      return "always";
    case HandoverMode::kNever:
      return "never";
  }
  return "auto";
}

namespace {

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

// -localip through --rules-backend: where and what the daemon serves and diverts.
Result<void> networkConfig(const RunFlags& f, RunConfig& c) {
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
  return {};
}

// --workers through --health-cache: the DNS server, shutdown and HTTP bounds.
Result<void> serverConfig(const RunFlags& f, RunConfig& c) {
  c.server.workers = f.workers;
  c.server.cache_max_bytes = f.cache_max_bytes;
  c.server.max_upstream_queries = f.max_upstream_queries;
  // The library's default is epoll; the daemon opts in to the blocking-read mode (it blocks
  // SIGURG in its other threads, daemon.cc).
  if (f.udp_wait == "auto") {
    c.server.udp_wait = resolver::UdpWait::kAuto;
  } else if (f.udp_wait == "epoll") {
    c.server.udp_wait = resolver::UdpWait::kEpoll;
  } else {
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
  return {};
}

}  // namespace

Result<RunConfig> toRunConfig(const RunFlags& f) {
  RunConfig c;
  if (auto r = networkConfig(f, c); !r) {
    return fail(std::move(r.error()));
  }
  if (auto r = serverConfig(f, c); !r) {
    return fail(std::move(r.error()));
  }
  return c;
}

}  // namespace nld::cli
