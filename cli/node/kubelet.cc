#include "cli/node/kubelet.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "base/strings.h"
#include "netcfg/netcfg.h"

namespace nld::cli {
namespace {

netcfg::KubeletFileKind kindOf(const std::string& kind) {
  return kind == "args" ? netcfg::KubeletFileKind::kExtraArgs
                        : netcfg::KubeletFileKind::kConfigYaml;
}

// Plans and (unless dry_run) applies `want` to `path`; records the outcome in `report`.
bool applyValues(const std::string& path, netcfg::KubeletFileKind kind,
                 const std::vector<std::string>& want, bool dry_run, KubeletRevertReport& report) {
  auto edit = netcfg::planKubeletEdit(path, kind, want);
  if (!edit) {
    report.problems.push_back("kubelet file " + path + ": " + edit.error().message());
    return false;
  }
  if (!edit->changed()) {
    report.done.push_back(path + ": clusterDNS already " + join(want, ","));
    return true;
  }
  report.diff += netcfg::kubeletDiffText(*edit);
  if (!dry_run) {
    if (auto r = netcfg::applyKubeletEdit(*edit); !r) {
      report.problems.push_back("kubelet file " + path + ": " + r.error().message());
      return false;
    }
  }
  report.done.push_back((dry_run ? "would revert " : "reverted ") + path + ": clusterDNS " +
                        join(want, ","));
  return true;
}

}  // namespace

KubeletRevertReport revertKubeletChanges(const std::vector<KubeletChange>& changes, bool dry_run) {
  KubeletRevertReport report;
  for (const KubeletChange& c : changes) {
    auto kind = kindOf(c.kind);
    if (::access(c.path.c_str(), F_OK) != 0) {
      report.problems.push_back("kubelet file " + c.path + " is gone; not reverted" +
                                (c.backup.empty() ? "" : " (original in " + c.backup + ")"));
      report.remaining.push_back(c);
      continue;
    }
    auto current = netcfg::readClusterDns(c.path, kind);
    if (!current) {
      report.problems.push_back("kubelet file " + c.path + ": " + current.error().message());
      report.remaining.push_back(c);
      continue;
    }
    if (current->size() != c.before.size() || c.after.size() != c.before.size()) {
      report.problems.push_back("kubelet file " + c.path + " now has " +
                                std::to_string(current->size()) + " clusterDNS value(s), " +
                                std::to_string(c.before.size()) + " expected; not touching it" +
                                (c.backup.empty() ? "" : " (original in " + c.backup + ")"));
      report.remaining.push_back(c);
      continue;
    }
    std::vector<std::string> want = *current;
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == c.after[i]) {
        want[i] = c.before[i];
      }
    }
    if (!applyValues(c.path, kind, want, dry_run, report) || dry_run) {
      report.remaining.push_back(c);
    }
  }
  return report;
}

KubeletRevertReport revertKubeletTo(const std::vector<std::pair<std::string, std::string>>& files,
                                    const std::vector<IpAddress>& local_ips,
                                    const IpAddress& kube_dns, bool dry_run) {
  KubeletRevertReport report;
  for (const auto& [path, kind_name] : files) {
    auto kind = kindOf(kind_name);
    if (::access(path.c_str(), F_OK) != 0) {
      continue;
    }
    auto current = netcfg::readClusterDns(path, kind);
    if (!current) {
      report.problems.push_back("kubelet file " + path + ": " + current.error().message());
      continue;
    }
    if (current->empty()) {
      continue;
    }
    std::vector<std::string> want = *current;
    for (std::string& v : want) {
      auto ip = IpAddress::parse(v);
      if (ip && std::find(local_ips.begin(), local_ips.end(), *ip) != local_ips.end()) {
        v = kube_dns.toString();
      }
    }
    applyValues(path, kind, want, dry_run, report);
  }
  return report;
}

Result<void> restartKubelet() {
  int status = std::system("systemctl restart kubelet");
  if (status == -1) {
    return failSys(errno, "run 'systemctl restart kubelet'");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(Errc::kSystem, "'systemctl restart kubelet' failed (status " +
                                   std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                   ")");
  }
  return {};
}

}  // namespace nld::cli
