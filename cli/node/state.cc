#include "cli/node/state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "base/atomic_file.h"
#include "base/strings.h"

namespace nld::cli {
namespace {

std::vector<std::string> split(std::string_view s, char sep = ',') {
  std::vector<std::string> out;
  if (s.empty()) {
    return out;
  }
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.emplace_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) {
      break;
    }
    start = at + 1;
  }
  return out;
}

bool parseIps(std::string_view s, std::vector<IpAddress>& out) {
  out.clear();
  for (const std::string& item : split(s)) {
    auto ip = IpAddress::parse(item);
    if (!ip) {
      return false;
    }
    out.push_back(*ip);
  }
  return true;
}

bool parseOptionalIp(std::string_view s, std::optional<IpAddress>& out) {
  out.reset();
  if (s.empty()) {
    return true;
  }
  if (auto ip = IpAddress::parse(s)) {
    out = *ip;
  }
  return out.has_value();
}

template <typename T>
bool parseNumber(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<void> ensureParentDirs(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    std::string dir = path.substr(0, at);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return failSys(errno, "create directory '" + dir + "'");
    }
  }
  return {};
}

std::string formatNodeState(const NodeState& s) {
  std::string out = "# nodelocaldns node state, written by 'nodelocaldns install'. Do not edit.\n";
  auto kv = [&out](std::string_view k, const std::string& v) {
    out.append(k).append("=").append(v).append("\n");
  };
  kv("mode", std::string(toString(s.mode)));
  kv("mode_signal", s.mode_signal);
  kv("interface", s.interface);
  kv("link_kind", std::string(netcfg::toString(s.link_kind)));
  kv("link_created", s.link_created ? "true" : "false");
  kv("addresses", join(s.addresses, ","));
  kv("local_ips", join(s.local_ips, ","));
  kv("kube_dns", s.kube_dns ? s.kube_dns->toString() : "");
  kv("cluster_upstream", s.cluster_upstream ? s.cluster_upstream->toString() : "");
  kv("domain", s.domain);
  kv("dns_port", std::to_string(s.dns_port));
  kv("health_port", std::to_string(s.health_port));
  kv("pidfile", s.pidfile);
  kv("corefile_base", s.corefile_base);
  kv("corefile", s.corefile);
  kv("log_file", s.log_file);
  kv("xtables_lock", s.xtables_lock);
  kv("rules_backend", std::string(netcfg::toString(s.rules_backend)));
  kv("rules_backend_signal", s.rules_backend_signal);
  kv("daemon_command", s.daemon_command);
  kv("installed_at", std::to_string(s.installed_at));
  kv("kubelet_config", s.kubelet_config);
  for (const KubeletChange& k : s.kubelet) {
    // kind|path|before|after|backup
    kv("kubelet", k.kind + "|" + k.path + "|" + join(k.before, ",") + "|" + join(k.after, ",") +
                      "|" + k.backup);
  }
  return out;
}

Result<NodeState> parseNodeState(const std::string& text) {
  NodeState s;
  size_t line_no = 0;
  for (const std::string& raw : split(text, '\n')) {
    ++line_no;
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    size_t eq = line.find('=');
    auto bad = [&](std::string_view why) {
      return fail(Errc::kParse,
                  "state file line " + std::to_string(line_no) + ": " + std::string(why));
    };
    if (eq == std::string_view::npos) {
      return bad("expected key=value");
    }
    std::string_view key = line.substr(0, eq);
    std::string value(line.substr(eq + 1));
    if (key == "mode") {
      auto m = netcfg::parseProxyMode(value);
      if (!m) {
        return bad("bad mode '" + value + "'");
      }
      s.mode = *m;
    } else if (key == "mode_signal") {
      s.mode_signal = value;
    } else if (key == "interface") {
      s.interface = value;
    } else if (key == "link_kind") {
      auto k = netcfg::parseLinkKind(value);
      if (!value.empty() && !k) {
        return bad("bad link_kind '" + value + "'");
      }
      s.link_kind = k.value_or(netcfg::LinkKind::kDummy);
    } else if (key == "link_created") {
      s.link_created = value == "true";
    } else if (key == "addresses") {
      if (!parseIps(value, s.addresses)) {
        return bad("bad addresses");
      }
    } else if (key == "local_ips") {
      if (!parseIps(value, s.local_ips)) {
        return bad("bad local_ips");
      }
    } else if (key == "kube_dns") {
      if (!parseOptionalIp(value, s.kube_dns)) {
        return bad("bad kube_dns");
      }
    } else if (key == "cluster_upstream") {
      if (!parseOptionalIp(value, s.cluster_upstream)) {
        return bad("bad cluster_upstream");
      }
    } else if (key == "domain") {
      s.domain = value;
    } else if (key == "dns_port") {
      if (!parseNumber(value, s.dns_port)) {
        return bad("bad dns_port");
      }
    } else if (key == "health_port") {
      if (!parseNumber(value, s.health_port)) {
        return bad("bad health_port");
      }
    } else if (key == "pidfile") {
      s.pidfile = value;
    } else if (key == "corefile_base") {
      s.corefile_base = value;
    } else if (key == "corefile") {
      s.corefile = value;
    } else if (key == "log_file") {
      s.log_file = value;
    } else if (key == "xtables_lock") {
      s.xtables_lock = value;
    } else if (key == "rules_backend") {
      auto b = netcfg::parseRulesBackend(value);
      if (!b) {
        return bad("bad rules_backend '" + value + "'");
      }
      s.rules_backend = *b;
    } else if (key == "rules_backend_signal") {
      s.rules_backend_signal = value;
    } else if (key == "daemon_command") {
      s.daemon_command = value;
    } else if (key == "installed_at") {
      if (!parseNumber(value, s.installed_at)) {
        return bad("bad installed_at");
      }
    } else if (key == "kubelet_config") {
      s.kubelet_config = value;
    } else if (key == "kubelet") {
      auto parts = split(value, '|');
      if (parts.size() != 5) {
        return bad("bad kubelet record");
      }
      s.kubelet.push_back({parts[0], parts[1], split(parts[2]), split(parts[3]), parts[4]});
    }
  }
  return s;
}

Result<std::optional<NodeState>> loadNodeState(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    return std::optional<NodeState>();
  }
  auto text = readFile(path);
  if (!text) {
    return fail(std::move(text.error()));
  }
  auto s = parseNodeState(*text);
  if (!s) {
    return fail(std::move(s.error()).withContext("'" + path + "'"));
  }
  return std::optional<NodeState>(std::move(*s));
}

Result<void> saveNodeState(const std::string& path, const NodeState& state) {
  if (auto r = ensureParentDirs(path); !r) {
    return r;
  }
  return writeFileAtomic(path, formatNodeState(state), {.mode = 0600, .backup_path = {}});
}

Result<void> removeNodeState(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return failSys(errno, "remove '" + path + "'");
  }
  return {};
}

}  // namespace nld::cli
