#include "cli/run/metrics.h"

#include <algorithm>
#include <cstdio>

#include "base/version.h"
#include "cli/run/process.h"
#include "cli/run/sha512.h"

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

void RunMetrics::setCorefile(std::string_view text, bool reload_plugin) {
  std::string hash = reload_plugin ? sha512Hex(text) : std::string();
  std::lock_guard lock(corefile_mutex_);
  corefile_sha512_ = std::move(hash);
}

void RunMetrics::observeHealth(std::chrono::nanoseconds took, bool ok) {
  auto ns = static_cast<uint64_t>(std::max<int64_t>(took.count(), 0));
  size_t k = 0;
  for (uint64_t bound = 250000; k < kHealthBuckets && ns > bound; bound *= 10) {
    ++k;
  }
  health_buckets_[k].fetch_add(1);
  health_sum_ns_.fetch_add(ns);
  if (!ok) {
    health_failures_.fetch_add(1);
  }
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
  {
    std::lock_guard lock(corefile_mutex_);
    if (!corefile_sha512_.empty()) {
      out +=
          "# HELP coredns_reload_version_info A metric with a constant '1' value labeled by hash, "
          "and value which type of hash generated.\n"
          "# TYPE coredns_reload_version_info gauge\n"
          "coredns_reload_version_info{hash=\"sha512\",value=\"" +
          corefile_sha512_ + "\"} 1\n";
    }
  }
  out +=
      "# HELP coredns_health_request_duration_seconds Histogram of the time (in seconds) each "
      "request took.\n"
      "# TYPE coredns_health_request_duration_seconds histogram\n";
  static constexpr const char* kBounds[kHealthBuckets] = {"0.00025", "0.0025", "0.025", "0.25",
                                                          "2.5"};
  uint64_t cumulative = 0;
  for (size_t k = 0; k <= kHealthBuckets; ++k) {
    cumulative += health_buckets_[k].load();
    out += std::string("coredns_health_request_duration_seconds_bucket{le=\"") +
           (k < kHealthBuckets ? kBounds[k] : "+Inf") + "\"} " + std::to_string(cumulative) + "\n";
  }
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.9g", static_cast<double>(health_sum_ns_.load()) / 1e9);
  out += std::string("coredns_health_request_duration_seconds_sum ") + sum +
         "\ncoredns_health_request_duration_seconds_count " + std::to_string(cumulative) +
         "\n"
         "# HELP coredns_health_request_failures_total The number of times the health check "
         "failed.\n"
         "# TYPE coredns_health_request_failures_total counter\n"
         "coredns_health_request_failures_total " +
         std::to_string(health_failures_.load()) + "\n";
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
