#include "cli/run/metrics.h"

#include "base/version.h"
#include "cli/run/process.h"

namespace nld::cli {

std::string_view toString(SetupError e) {
  switch (e) {
    case SetupError::kIptables:
      return "iptables";
    case SetupError::kIptablesLock:
      return "iptables_lock";
    case SetupError::kInterfaceAdd:
      return "interface_add";
    case SetupError::kInterfaceCheck:
      return "interface_check";
    case SetupError::kConfigmap:
      return "configmap";
  }
  return "unknown";
}

std::string RunMetrics::render(std::string_view resolver_text) const {
  std::string out;
  out +=
      "# HELP coredns_nodecache_setup_errors_total The number of errors during periodic network "
      "setup for node-cache\n"
      "# TYPE coredns_nodecache_setup_errors_total counter\n";
  for (size_t i = 0; i < setup_errors_.size(); ++i) {
    out += "coredns_nodecache_setup_errors_total{errortype=\"" +
           std::string(toString(static_cast<SetupError>(i))) + "\"} " +
           std::to_string(setup_errors_[i].load()) + "\n";
  }
  if (resolver_text.find("coredns_reload_failed_total") == std::string_view::npos) {
    out +=
        "# HELP coredns_reload_failed_total Counter of the number of failed reload attempts.\n"
        "# TYPE coredns_reload_failed_total counter\n"
        "coredns_reload_failed_total " +
        std::to_string(reload_failed_.load()) + "\n";
  }
  out +=
      "# HELP nodelocaldns_reloads_total Configuration reloads applied since start.\n"
      "# TYPE nodelocaldns_reloads_total counter\n"
      "nodelocaldns_reloads_total " +
      std::to_string(reloads_.load()) + "\n";
  if (resolver_text.find("coredns_build_info") == std::string_view::npos) {
    out +=
        "# HELP coredns_build_info A metric with a constant '1' value labeled by version, "
        "revision, and goversion from which CoreDNS was built.\n"
        "# TYPE coredns_build_info gauge\n"
        "coredns_build_info{version=\"" NLD_VERSION
        "\",revision=\"nodelocaldns\",goversion=\"none\"} 1\n";
  }
  if (resolver_text.find("process_cpu_seconds_total") == std::string_view::npos) {
    out += renderProcessMetrics();
  }
  return out;
}

}  // namespace nld::cli
