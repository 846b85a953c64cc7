#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "base/atomic_file.h"
#include "base/log.h"
#include "cli/run/daemon_impl.h"
#include "cli/run/flags.h"

namespace nld::cli::daemon_detail {

bool isFile(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Where the Corefile comes from, decided at start-up (daemon.h).
void Daemon::chooseSource() {
  if (isFile(cfg_.base_corefile)) {
    source_ = Source::kBase;
  } else if (isFile(cfg_.conf)) {
    source_ = Source::kConfAsIs;
    NLD_LOG(kConfig, info, "no base Corefile '{}': serving '{}' as is", cfg_.base_corefile,
            cfg_.conf);
  } else {
    source_ = Source::kBuiltin;
    NLD_LOG(kConfig, info,
            "no Corefile at '{}' or '{}': serving the built-in default (forward . to "
            "/etc/resolv.conf)",
            cfg_.base_corefile, cfg_.conf);
  }
}

Result<std::string> Daemon::renderText() {
  std::string base;
  std::string base_name;
  if (isFile(cfg_.base_corefile)) {
    source_ = Source::kBase;
    auto text = readFile(cfg_.base_corefile);
    if (!text) {
      return fail(std::move(text.error()));
    }
    base = std::move(*text);
    base_name = cfg_.base_corefile;
  } else if (source_ == Source::kConfAsIs) {
    return readFile(cfg_.conf);
  } else {
    base = defaultBaseCorefile(cfg_.health_port);
  }
  namespace rc = resolver::config;
  const std::optional<rc::KubeDnsConfig> previous = kube_dns_;
  auto invalidConfigMap = [&](const std::string& why) {
    metrics_.count(SetupError::kConfigmap);
    // Errors of a key already name the ConfigMap, the key and its file.
    const bool named = why.rfind("kube-dns ConfigMap", 0) == 0;
    NLD_LOG(kConfig, warn, "{}{}, {}",
            named ? "" : "invalid kube-dns ConfigMap in '" + cfg_.kube_dns_dir + "': ", why,
            previous ? "keeping the previous one" : "ignoring it");
  };
  if (!cfg_.kube_dns_dir.empty()) {
    auto kd = rc::loadKubeDnsConfigDir(cfg_.kube_dns_dir);
    if (kd) {
      for (const auto& note : kd->notes) {
        NLD_LOG(kConfig, info, "kube-dns ConfigMap '{}': {}", cfg_.kube_dns_dir, note);
      }
      kube_dns_ = std::move(*kd);
    } else if (kd.error().code() == Errc::kNotFound) {
      kube_dns_ = rc::KubeDnsConfig{};  // optional volume: no ConfigMap
    } else {
      invalidConfigMap(kd.error().message());
    }
  }
  rc::SubstitutionParams params;
  params.local_ips = cfg_.local_ips;
  params.port = cfg_.dns_port;
  params.prometheus_endpoint = cfg_.prometheus_endpoint;
  if (kube_dns_) {
    params.kube_dns = *kube_dns_;
  }
  std::string env = serviceHostEnvName(cfg_.upstream_svc);
  if (const char* v = std::getenv(env.c_str()); v != nullptr && *v != '\0') {
    auto ip = IpAddress::parse(v);
    if (ip) {
      params.cluster_dns = *ip;
    } else {
      NLD_LOG(kConfig, warn, "${}='{}' is not an IP address, ignoring", env, v);
    }
  }
  auto out = rc::renderRuntimeCorefile(base, params);
  const bool new_config_map = kube_dns_ && !kube_dns_->version.empty() &&
                              (!previous || previous->version != kube_dns_->version);
  if (out && new_config_map && !parseQuiet(*out)) {
    // A ConfigMap that validates must also give a Corefile that parses. When only its blocks
    // break it, the ConfigMap is what is invalid (counted and named so), not the base Corefile
    // (whose line numbers the parse error would quote): serve without it.
    rc::SubstitutionParams without = params;
    without.kube_dns = previous ? *previous : rc::KubeDnsConfig{};
    auto fallback = rc::renderRuntimeCorefile(base, without);
    if (fallback && parseQuiet(*fallback)) {
      auto error = parseQuiet(*out).error().message();
      kube_dns_ = previous;
      invalidConfigMap("kube-dns ConfigMap in '" + cfg_.kube_dns_dir +
                       "': the Corefile blocks it gives do not parse (" + error + ")");
      out = std::move(fallback);
    }
  }
  if (!out) {
    std::string msg = out.error().message();
    if (!params.cluster_dns && msg.find("CLUSTER") != std::string::npos) {
      msg += " (set $" + env + ", the ClusterIP of Service '" + cfg_.upstream_svc + "')";
    }
    return fail(out.error().code(),
                "render '" + (base_name.empty() ? std::string("built-in Corefile") : base_name) +
                    "': " + msg);
  }
  return out;
}

bool hasReloadPlugin(const resolver::config::Config& config) {
  return std::any_of(config.blocks.begin(), config.blocks.end(),
                     [](const resolver::config::ServerBlock& b) { return b.reload; });
}

Result<resolver::config::Config> Daemon::parseQuiet(const std::string& text) const {
  resolver::config::ParseOptions opts;
  opts.default_port = cfg_.dns_port;
  opts.own_addresses = cfg_.local_ips;
  // Errors name the file the user edits (line numbers of the rendered text match the base
  // except below a rewritten force_tcp block).
  std::string name = source_ == Source::kBuiltin ? "built-in Corefile"
                     : source_ == Source::kBase  ? cfg_.base_corefile
                                                 : cfg_.conf;
  return resolver::config::parseCorefile(text, name, opts);
}

Result<resolver::config::Config> Daemon::parse(const std::string& text) {
  auto config = parseQuiet(text);
  if (config) {
    for (const auto& b : config->blocks) {
      for (const auto& note : b.notes) {
        NLD_LOG(kConfig, info, "{}:{}: {}", b.file, b.line, note);
      }
      if (b.forward) {
        for (const auto& note : b.forward->notes) {
          NLD_LOG(kConfig, info, "{}:{}: {}", b.file, b.line, note);
        }
      }
    }
  }
  return config;
}

std::vector<SocketAddress> Daemon::httpAddresses(const resolver::config::Config& config) const {
  std::vector<SocketAddress> out;
  auto add = [&](const SocketAddress& a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) {
      out.push_back(a);
    }
  };
  for (const auto& b : config.blocks) {
    if (b.health) {
      add(*b.health);
    }
  }
  for (const auto& b : config.blocks) {
    if (b.prometheus) {
      add(*b.prometheus);
    }
  }
  if (cfg_.metrics_listen) {
    add(*cfg_.metrics_listen);
  }
  return out;
}

}  // namespace nld::cli::daemon_detail

namespace nld::cli {

std::string defaultBaseCorefile(uint16_t health_port) {
  return ". {\n"
         "    errors\n"
         "    cache 30\n"
         "    reload\n"
         "    bind __PILLAR__LOCAL__DNS__\n"
         "    forward . __PILLAR__UPSTREAM__SERVERS__\n"
         "    prometheus __PROMETHEUS__ENDPOINT__\n"
         "    health __PILLAR__LOCAL__DNS__:" +
         std::to_string(health_port) +
         "\n"
         "}\n";
}

}  // namespace nld::cli
