#include "cli/run/flags.h"

#include <algorithm>
#include <cctype>

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

}  // namespace nld::cli
