#pragma once

namespace nld::cli {

/// Process exit codes shared by every subcommand (documented in nodelocaldns(8)).
enum class ExitCode : int {
  kOk = 0,
  kRuntime = 1,  // something failed at run time (or `status` found the node degraded)
  kUsage = 2,    // bad flags or bad input: nothing was changed
};

}  // namespace nld::cli
