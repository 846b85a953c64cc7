#include "cli/node/status.h"

#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "cli/node/daemon.h"
#include "netcfg/netcfg.h"

namespace nld::cli {
namespace {

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string jsonList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? "," : "") + jsonString(v[i]);
  }
  return out + "]";
}

const char* jsonBool(bool b) { return b ? "true" : "false"; }

std::string modeText(const StatusReport& r) {
  return r.mode ? std::string(toString(*r.mode)) : std::string("unknown");
}

void observeLink(const NodeState& state, StatusReport& r) {
  auto link = observeNodeLink(state.interface);
  if (!link) {
    r.problems.push_back("link " + state.interface + ": " + link.error().message());
  } else if (!*link) {
    r.problems.push_back("link " + state.interface + " missing");
  } else {
    r.link = **link;
    for (const auto& a : r.link->addresses) {
      r.addresses.push_back(a.toString());
    }
  }
  for (const IpAddress& ip : state.addresses) {
    if (!r.link || std::find(r.link->addresses.begin(), r.link->addresses.end(), ip) ==
                       r.link->addresses.end()) {
      r.missing_addresses.push_back(ip.toString());
    }
  }
  if (r.link && !r.missing_addresses.empty()) {
    r.problems.push_back("addresses missing on " + state.interface + ": " +
                         join(r.missing_addresses, ", "));
  }
}

// Rules: in the backend given, else as installed, else detected; and none in the other one.
void observeRules(const StatusInputs& in, const NodeState& state, StatusReport& r) {
  r.backend = state.rules_backend;
  r.backend_signal = r.installed ? state.rules_backend_signal : "";
  if (in.rules_backend || !r.installed) {
    auto d = detectNodeRulesBackend(in.rules_backend, std::nullopt);
    r.backend = d.backend;
    r.backend_signal = d.signal;
  }
  NodeRules rules{.ips = state.addresses,
                  .dns_port = state.dns_port,
                  .health_port = state.health_port,
                  .lock_path = state.xtables_lock,
                  .backend = r.backend};
  NodeRules other_rules = otherBackendRules(rules);
  if (auto other = checkNodeRules(other_rules)) {
    r.other_backend_copies = totalCopies(*other);
  }
  if (r.other_backend_copies > 0) {
    r.problems.push_back(std::to_string(r.other_backend_copies) + " of our rule(s) also in the " +
                         std::string(netcfg::toString(other_rules.backend)) +
                         " backend (mixed backends; teardown removes both)");
  }
  auto checked = checkNodeRules(rules);
  if (!checked) {
    r.problems.push_back("rules: " + checked.error().message());
    return;
  }
  r.rules = *checked;
  size_t missing = 0;
  for (const auto& rule : *checked) {
    missing += rule.copies == 0 ? 1 : 0;
  }
  if (missing > 0) {
    r.problems.push_back(std::to_string(missing) + " rule(s) missing");
  }
}

void observeDaemon(const NodeState& state, StatusReport& r) {
  r.pid = findDaemon(state.pidfile);
  if (!state.local_ips.empty()) {
    {
      SocketAddress sa{state.local_ips[0], state.dns_port};
      r.probe = sa.toString();
      // The DNS probes only when a socket is bound there: with nothing listening (daemon stopped
      // or crashed) the answer is known at once instead of after the probe's timeout. First the
      // cache's own health query (answered without upstreams: is the cache serving?), then the
      // cluster zone through it (does kube-dns answer?) — two different problems to report.
      r.listening = dnsPortBound(sa);
      r.serving = r.listening && daemonAnswersProbe(sa, std::chrono::milliseconds(1000));
      r.answering =
          r.serving && dnsAnswers(sa, state.domain + ".", std::chrono::milliseconds(1500));
    }
  }
  if (r.pid) {
    r.uptime_seconds = processUptimeSeconds(*r.pid);
  } else {
    r.problems.push_back("daemon not running (pidfile " + state.pidfile + ")");
  }
  if (!r.serving) {
    r.problems.push_back("no DNS answer on " + r.probe +
                         (r.listening ? " (the cache does not answer its health query)"
                                      : " (nothing listens there)"));
  } else if (!r.answering) {
    r.problems.push_back("the cache on " + r.probe + " serves, but " + state.domain +
                         ". gets no answer through it: kube-dns (the cluster zone's upstream) "
                         "does not answer");
  }
}

void observeKubelet(const StatusInputs& in, const NodeState& state, StatusReport& r) {
  r.kubelet_path = !in.kubelet_config.empty()      ? in.kubelet_config
                   : !state.kubelet.empty()        ? state.kubelet.front().path
                   : !state.kubelet_config.empty() ? state.kubelet_config
                                                   : std::string(netcfg::kDefaultKubeletConfig);
  std::string kind = "config";
  for (const auto& k : state.kubelet) {
    if (k.path == r.kubelet_path) {
      kind = k.kind;
    }
  }
  auto cluster_dns =
      netcfg::readClusterDns(r.kubelet_path, kind == "args" ? netcfg::KubeletFileKind::kExtraArgs
                                                            : netcfg::KubeletFileKind::kConfigYaml);
  if (cluster_dns) {
    r.kubelet_cluster_dns = *cluster_dns;
  } else {
    r.kubelet_error = cluster_dns.error().message();
  }
  if (r.installed && r.mode == netcfg::ProxyMode::kIpvs) {
    const auto& v = r.kubelet_cluster_dns;
    bool points_here = !v.empty() && !state.local_ips.empty() &&
                       std::find(v.begin(), v.end(), state.local_ips[0].toString()) != v.end();
    if (!points_here) {
      r.problems.push_back(
          "ipvs mode but kubelet's clusterDNS does not point at " +
          (state.local_ips.empty() ? std::string("?") : state.local_ips[0].toString()));
    }
  }
}

}  // namespace

Result<StatusReport> observeStatus(const StatusInputs& in) {
  auto loaded = loadNodeState(in.paths.state_file);
  if (!loaded) {
    return fail(std::move(loaded.error()));
  }
  StatusReport r;
  r.installed = loaded->has_value();
  NodeState state = r.installed ? **loaded : NodeState{};
  if (!r.installed) {
    state.addresses = {*IpAddress::parse(kDefaultLocalIp)};
    state.local_ips = state.addresses;
    r.problems.push_back("not installed (no state file " + in.paths.state_file + ")");
  }
  if (in.pidfile_given || !r.installed) {
    state.pidfile = in.paths.pidfile;
  }
  if (in.xtables_lock_given || !r.installed) {
    state.xtables_lock = in.paths.xtables_lock;
  }
  if (r.installed) {
    r.mode = state.mode;
  }
  r.mode_signal = r.installed ? state.mode_signal : "not installed";
  r.interface = state.interface;
  observeLink(state, r);
  observeRules(in, state, r);
  observeDaemon(state, r);
  observeKubelet(in, state, r);
  return r;
}

std::string formatStatusJson(const StatusReport& r) {
  std::string out;
  out += "{\"healthy\":" + std::string(jsonBool(r.healthy()));
  out += ",\"installed\":" + std::string(jsonBool(r.installed));
  out += ",\"mode\":" + jsonString(modeText(r)) + ",\"mode_signal\":" + jsonString(r.mode_signal);
  out += ",\"link\":{\"name\":" + jsonString(r.interface) +
         ",\"present\":" + jsonBool(r.link.has_value());
  if (r.link) {
    out += ",\"kind\":" + jsonString(r.link->kind) + ",\"up\":" + jsonBool(r.link->up);
  }
  out += ",\"addresses\":" + jsonList(r.addresses) +
         ",\"missing_addresses\":" + jsonList(r.missing_addresses) + "}";
  out += ",\"rules_backend\":{\"name\":" + jsonString(netcfg::toString(r.backend)) +
         ",\"signal\":" + jsonString(r.backend_signal) +
         ",\"other_backend_rules\":" + std::to_string(r.other_backend_copies) + "}";
  out += ",\"rules\":[";
  for (size_t i = 0; r.rules && i < r.rules->size(); ++i) {
    const auto& rule = (*r.rules)[i];
    out += std::string(i ? "," : "") + "{\"family\":" + jsonString(rule.family) +
           ",\"rule\":" + jsonString(rule.line) + ",\"copies\":" + std::to_string(rule.copies) +
           ",\"present\":" + jsonBool(rule.copies > 0) + "}";
  }
  out += "]";
  out += ",\"daemon\":{\"running\":" + std::string(jsonBool(r.pid.has_value()));
  if (r.pid) {
    out += ",\"pid\":" + std::to_string(*r.pid);
  }
  if (r.uptime_seconds) {
    out += ",\"uptime_seconds\":" + std::to_string(static_cast<int64_t>(*r.uptime_seconds));
  }
  out += ",\"probe\":" + jsonString(r.probe) + ",\"listening\":" + jsonBool(r.listening) +
         ",\"serving\":" + jsonBool(r.serving) + ",\"answering\":" + jsonBool(r.answering) + "}";
  out += ",\"kubelet\":{\"path\":" + jsonString(r.kubelet_path) +
         ",\"cluster_dns\":" + jsonList(r.kubelet_cluster_dns);
  if (!r.kubelet_error.empty()) {
    out += ",\"error\":" + jsonString(r.kubelet_error);
  }
  out += "}";
  out += ",\"problems\":" + jsonList(r.problems) + "}\n";
  return out;
}

std::string formatStatusText(const StatusReport& r) {
  std::string out;
  out += std::string("status: ") + (r.healthy() ? "healthy" : "degraded") + "\n";
  out += "mode: " + modeText(r) + " (" + r.mode_signal + ")\n";
  out += "link " + r.interface + ": ";
  if (r.link) {
    out += r.link->kind + ", " + (r.link->up ? "up" : "down") + ", addresses:";
    for (const auto& a : r.addresses) {
      out += " " + a;
    }
    out += "\n";
  } else {
    out += "missing\n";
  }
  if (r.rules) {
    out += "rules (" + std::string(netcfg::toString(r.backend)) +
           (r.backend_signal.empty() ? "" : ", " + r.backend_signal) + "):\n";
    for (const auto& rule : *r.rules) {
      out += std::string(rule.copies == 0   ? "  missing  "
                         : rule.copies == 1 ? "  present  "
                                            : "  present×" + std::to_string(rule.copies) + " ") +
             rule.family + " " + rule.line + "\n";
    }
  }
  out += "daemon: ";
  if (r.pid) {
    out += "pid " + std::to_string(*r.pid);
    if (r.uptime_seconds) {
      out += ", up " + std::to_string(static_cast<int64_t>(*r.uptime_seconds)) + "s";
    }
  } else {
    out += "not running";
  }
  out += std::string(", ") +
         (r.answering   ? "answering"
          : r.listening ? "NOT answering"
                        : "nothing listening") +
         " on " + r.probe + "\n";
  out += "kubelet " + r.kubelet_path + ": clusterDNS ";
  if (r.kubelet_error.empty()) {
    std::string v = join(r.kubelet_cluster_dns, ", ");
    out += (v.empty() ? "(none)" : v) + "\n";
  } else {
    out += "unknown (" + r.kubelet_error + ")\n";
  }
  for (const auto& d : r.problems) {
    out += "problem: " + d + "\n";
  }
  return out;
}

}  // namespace nld::cli
