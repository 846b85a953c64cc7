// Carrying out an InstallPlan (install_plan.h). Order (never divert DNS to a cache that does not
// answer): the interface and addresses → the Corefile → start the daemon and wait until it answers
// on the local address → the rules → (ipvs) kubelet's clusterDNS → stale addresses and the other
// backend's rules → the state file. Before the first step the planned state is written as the
// pending record (state.h), so a `kill -9` of install leaves teardown a list of what it touched.
// Signals are held and checked between steps; a failure or a held signal rolls back this run's
// changes in reverse (rollback.h) and names what is left.
#pragma once

#include "base/result.h"
#include "cli/node/install_plan.h"

namespace nld::cli {

/// Applies `plan` and prints install's report. Returns the exit code (128 + signal when
/// interrupted), or the error of the failed step followed by "; rolled back: ...; left: ...".
Result<int> applyInstall(const InstallPlan& plan);

}  // namespace nld::cli
