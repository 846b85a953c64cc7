// `nodelocaldns status [--json]`: mode and how it was found, link and addresses, each rule present
// or missing, the daemon (pid, uptime, answering DNS), kubelet's clusterDNS. Exit 0 when healthy,
// 1 when degraded (anything missing, or not installed).
#include <cstdio>
#include <ctime>

#include "cli/commands.h"
#include "cli/node/daemon.h"
#include "cli/node/flags.h"
#include "cli/node/ops.h"
#include "cli/node/state.h"
#include "netcfg/kubelet.h"

namespace nld::cli {
namespace {

struct StatusOptions {
  NodePaths paths;
  std::string kubelet_config;
  bool json = false;
  std::string rules_backend = "auto";
};

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

Result<int> runStatus(const StatusOptions& o, const CLI::App* cmd) {
  auto loaded = loadNodeState(o.paths.state_file);
  if (!loaded) {
    return fail(std::move(loaded.error()));
  }
  bool installed = loaded->has_value();
  NodeState state = installed ? **loaded : NodeState{};
  if (!installed) {
    state.addresses = {kDefaultLocalIp};
    state.local_ips = {kDefaultLocalIp};
  }
  if (cmd->count("--pidfile") > 0 || !installed) {
    state.pidfile = o.paths.pidfile;
  }
  if (cmd->count("--xtables-lock") > 0 || !installed) {
    state.xtables_lock = o.paths.xtables_lock;
  }
  std::vector<std::string> degraded;
  if (!installed) {
    degraded.push_back("not installed (no state file " + o.paths.state_file + ")");
  }

  // Mode: as install found it.
  std::string mode = installed ? state.mode : "unknown";
  std::string mode_signal = installed ? state.mode_signal : "not installed";

  // Link.
  std::vector<IpAddress> want;
  for (const auto& s : state.addresses) {
    if (auto ip = IpAddress::parse(s)) {
      want.push_back(*ip);
    }
  }
  auto link = observeNodeLink(state.interface);
  bool link_present = link && *link;
  std::vector<std::string> have_addrs;
  std::vector<std::string> missing_addrs;
  if (!link) {
    degraded.push_back("link " + state.interface + ": " + link.error().message());
  } else if (!*link) {
    degraded.push_back("link " + state.interface + " missing");
  }
  if (link_present) {
    for (const auto& a : (*link)->addresses) {
      have_addrs.push_back(a.toString());
    }
  }
  for (const auto& ip : want) {
    bool found = link_present && std::find((*link)->addresses.begin(), (*link)->addresses.end(),
                                           ip) != (*link)->addresses.end();
    if (!found) {
      missing_addrs.push_back(ip.toString());
    }
  }
  if (link_present && !missing_addrs.empty()) {
    degraded.push_back("addresses missing on " + state.interface + ": " + [&] {
      std::string s;
      for (auto& a : missing_addrs) s += (s.empty() ? "" : ", ") + a;
      return s;
    }());
  }

  // Rules: in the backend given, else as installed, else detected; and none in the other one.
  RulesBackend backend =
      netcfg::parseRulesBackend(state.rules_backend).value_or(RulesBackend::kIptables);
  std::string backend_signal = installed ? state.rules_backend_signal : "";
  if (o.rules_backend != "auto" || !installed) {
    auto flag = netcfg::parseRulesBackend(o.rules_backend);
    auto d = detectNodeRulesBackend(flag ? std::optional(*flag) : std::nullopt, std::nullopt);
    backend = d.backend;
    backend_signal = d.signal;
  }
  NodeRules rules{.ips = want,
                  .dns_port = state.dns_port,
                  .health_port = state.health_port,
                  .lock_path = state.xtables_lock,
                  .backend = backend};
  NodeRules other_rules = otherBackendRules(rules);
  unsigned other_copies = 0;
  if (auto other = checkNodeRules(other_rules)) {
    other_copies = totalCopies(*other);
  }
  if (other_copies > 0) {
    degraded.push_back(std::to_string(other_copies) + " of our rule(s) also in the " +
                       std::string(netcfg::toString(other_rules.backend)) + " backend (mixed backends; teardown removes both)");
  }
  auto checked = checkNodeRules(rules);
  size_t rules_missing = 0;
  if (!checked) {
    degraded.push_back("rules: " + checked.error().message());
  } else {
    for (const auto& r : *checked) {
      rules_missing += r.copies == 0 ? 1 : 0;
    }
    if (rules_missing > 0) {
      degraded.push_back(std::to_string(rules_missing) + " rule(s) missing");
    }
  }

  // Daemon.
  auto pid = findDaemon(state.pidfile);
  std::optional<double> uptime;
  bool answering = false;
  bool listening = false;
  bool serving = false;
  std::string probe;
  if (!state.local_ips.empty()) {
    if (auto ip = IpAddress::parse(state.local_ips[0])) {
      SocketAddress sa{*ip, state.dns_port};
      probe = sa.toString();
      // The DNS probes only when a socket is bound there: with nothing listening (daemon stopped
      // or crashed) the answer is known at once instead of after the probe's timeout. First the
      // cache's own health query (answered without upstreams: is the cache serving?), then the
      // cluster zone through it (does kube-dns answer?) — two different problems to report.
      listening = dnsPortBound(sa);
      serving = listening && daemonAnswersProbe(sa, std::chrono::milliseconds(1000));
      answering = serving && dnsAnswers(sa, state.domain + ".", std::chrono::milliseconds(1500));
    }
  }
  if (pid) {
    uptime = processUptimeSeconds(*pid);
  } else {
    degraded.push_back("daemon not running (pidfile " + state.pidfile + ")");
  }
  if (!serving) {
    degraded.push_back(
        "no DNS answer on " + probe +
        (listening ? " (the cache does not answer its health query)" : " (nothing listens there)"));
  } else if (!answering) {
    degraded.push_back("the cache on " + probe + " serves, but " + state.domain +
                       ". gets no answer through it: kube-dns (the cluster zone's upstream) "
                       "does not answer");
  }

  // Kubelet.
  std::string kubelet_path = !o.kubelet_config.empty() ? o.kubelet_config
                             : !state.kubelet.empty()  ? state.kubelet.front().path
                             : !state.kubelet_config.empty()
                                 ? state.kubelet_config
                                 : std::string(netcfg::kDefaultKubeletConfig);
  std::string kubelet_kind = "config";
  for (const auto& k : state.kubelet) {
    if (k.path == kubelet_path) {
      kubelet_kind = k.kind;
    }
  }
  auto cluster_dns = netcfg::readClusterDns(
      kubelet_path, kubelet_kind == "args" ? netcfg::KubeletFileKind::kExtraArgs
                                           : netcfg::KubeletFileKind::kConfigYaml);
  std::vector<std::string> kubelet_values = cluster_dns ? *cluster_dns : std::vector<std::string>{};
  std::string kubelet_error = cluster_dns ? "" : cluster_dns.error().message();
  if (installed && mode == "ipvs") {
    bool points_here = !kubelet_values.empty() && !state.local_ips.empty() &&
                       std::find(kubelet_values.begin(), kubelet_values.end(),
                                 state.local_ips[0]) != kubelet_values.end();
    if (!points_here) {
      degraded.push_back("ipvs mode but kubelet's clusterDNS does not point at " +
                         (state.local_ips.empty() ? std::string("?") : state.local_ips[0]));
    }
  }

  bool healthy = degraded.empty();
  std::string out;
  if (o.json) {
    out += "{\"healthy\":" + std::string(jsonBool(healthy));
    out += ",\"installed\":" + std::string(jsonBool(installed));
    out += ",\"mode\":" + jsonString(mode) + ",\"mode_signal\":" + jsonString(mode_signal);
    out += ",\"link\":{\"name\":" + jsonString(state.interface) +
           ",\"present\":" + jsonBool(link_present);
    if (link_present) {
      out += ",\"kind\":" + jsonString((*link)->kind) + ",\"up\":" + jsonBool((*link)->up);
    }
    out += ",\"addresses\":" + jsonList(have_addrs) +
           ",\"missing_addresses\":" + jsonList(missing_addrs) + "}";
    out += ",\"rules_backend\":{\"name\":" + jsonString(netcfg::toString(backend)) +
           ",\"signal\":" + jsonString(backend_signal) +
           ",\"other_backend_rules\":" + std::to_string(other_copies) + "}";
    out += ",\"rules\":[";
    if (checked) {
      for (size_t i = 0; i < checked->size(); ++i) {
        const auto& r = (*checked)[i];
        out += std::string(i ? "," : "") + "{\"family\":" + jsonString(r.family) +
               ",\"rule\":" + jsonString(r.line) + ",\"copies\":" + std::to_string(r.copies) +
               ",\"present\":" + jsonBool(r.copies > 0) + "}";
      }
    }
    out += "]";
    out += ",\"daemon\":{\"running\":" + std::string(jsonBool(pid.has_value()));
    if (pid) {
      out += ",\"pid\":" + std::to_string(*pid);
    }
    if (uptime) {
      out += ",\"uptime_seconds\":" + std::to_string(static_cast<int64_t>(*uptime));
    }
    out += ",\"probe\":" + jsonString(probe) + ",\"listening\":" + jsonBool(listening) +
           ",\"serving\":" + jsonBool(serving) + ",\"answering\":" + jsonBool(answering) + "}";
    out += ",\"kubelet\":{\"path\":" + jsonString(kubelet_path) +
           ",\"cluster_dns\":" + jsonList(kubelet_values);
    if (!kubelet_error.empty()) {
      out += ",\"error\":" + jsonString(kubelet_error);
    }
    out += "}";
    out += ",\"problems\":" + jsonList(degraded) + "}\n";
  } else {
    out += std::string("status: ") + (healthy ? "healthy" : "degraded") + "\n";
    out += "mode: " + mode + " (" + mode_signal + ")\n";
    out += "link " + state.interface + ": ";
    if (link_present) {
      out += (*link)->kind + ", " + ((*link)->up ? "up" : "down") + ", addresses:";
      for (const auto& a : have_addrs) {
        out += " " + a;
      }
      out += "\n";
    } else {
      out += "missing\n";
    }
    if (checked) {
      out += "rules (" + std::string(netcfg::toString(backend)) + (backend_signal.empty() ? "" : ", " + backend_signal) + "):\n";
      for (const auto& r : *checked) {
        out += std::string(r.copies == 0   ? "  missing  "
                           : r.copies == 1 ? "  present  "
                                           : "  present×" + std::to_string(r.copies) + " ") +
               r.family + " " + r.line + "\n";
      }
    }
    out += "daemon: ";
    if (pid) {
      out += "pid " + std::to_string(*pid);
      if (uptime) {
        out += ", up " + std::to_string(static_cast<int64_t>(*uptime)) + "s";
      }
    } else {
      out += "not running";
    }
    out += std::string(", ") +
           (answering   ? "answering"
            : listening ? "NOT answering"
                        : "nothing listening") +
           " on " + probe + "\n";
    out += "kubelet " + kubelet_path + ": clusterDNS ";
    if (kubelet_error.empty()) {
      std::string v;
      for (const auto& s : kubelet_values) {
        v += (v.empty() ? "" : ", ") + s;
      }
      out += (v.empty() ? "(none)" : v) + "\n";
    } else {
      out += "unknown (" + kubelet_error + ")\n";
    }
    for (const auto& d : degraded) {
      out += "problem: " + d + "\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  return healthy ? 0 : 1;
}

}  // namespace

Command addStatusCommand(CLI::App& app) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Show mode, interface, rules, daemon and kubelet DNS; exit 1 when degraded");
  cmd->add_flag("--json", opts->json, "Print one JSON object");
  cmd->add_option("--kubelet-config", opts->kubelet_config,
                  "KubeletConfiguration file to read clusterDNS from (default: as installed, "
                  "else /var/lib/kubelet/config.yaml)");
  addRulesBackendFlag(cmd, opts->rules_backend,
                      "Backend whose rules are checked (default: as installed)")
      ->capture_default_str();
  addNodePathFlags(cmd, opts->paths);
  return {cmd, [opts, cmd]() { return runStatus(*opts, cmd); }};
}

}  // namespace nld::cli
