// Putting kubelet's cluster DNS back (revert-kubelet, and teardown unless --keep-kubelet).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cli/node/state.h"

namespace nld::cli {

struct KubeletRevertReport {
  std::vector<std::string> done;         // "reverted /var/lib/kubelet/config.yaml: 10.96.0.10"
  std::vector<std::string> problems;     // what could not be reverted, and why
  std::vector<KubeletChange> remaining;  // records still to revert (kept in the state file)
  std::string diff;                      // what changed (or would change with dry_run)
};

/// Reverts the recorded changes: each value that still is what install wrote goes back to what
/// it was (values someone changed since are left alone). The result is the original file byte
/// for byte when nothing else touched the values.
KubeletRevertReport revertKubeletChanges(const std::vector<KubeletChange>& changes, bool dry_run);

/// Without a record: in each file, every value that is one of `local_ips` becomes `kube_dns`.
/// `files` pairs are (path, "config"|"args"); missing files are skipped.
KubeletRevertReport revertKubeletTo(const std::vector<std::pair<std::string, std::string>>& files,
                                    const std::vector<IpAddress>& local_ips,
                                    const IpAddress& kube_dns, bool dry_run);

/// Runs `systemctl restart kubelet`.
Result<void> restartKubelet();

}  // namespace nld::cli
