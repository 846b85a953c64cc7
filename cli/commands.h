// The subcommand registry: each cmd_*.cc adds its subcommand to the CLI11 app and returns the
// action to run when the user selected it. Only commands listed in app.cc appear in --help.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "base/result.h"

namespace nld::cli {

/// Runs a selected subcommand. The value is the exit code (0, or 1 for "degraded" style
/// outcomes); an Error is printed as one line, and exits 2 when its code is kInvalidArgument
/// (nothing was changed) and 1 otherwise.
using Action = std::function<Result<int>()>;

struct Command {
  CLI::App* app = nullptr;
  Action action;
};

// One line per subcommand, in the file of the same name (cmd_<name>.cc).
Command addRenderManifestCommand(CLI::App& app);
Command addInstallCommand(CLI::App& app);
Command addTeardownCommand(CLI::App& app);
Command addStopCommand(CLI::App& app);
Command addRevertKubeletCommand(CLI::App& app);
Command addStatusCommand(CLI::App& app);
Command addRunCommand(CLI::App& app);

struct RunFlags;
/// The `run` subcommand with every flag bound to `flags` (addRunCommand() without the action).
CLI::App* addRunSubcommand(CLI::App& app, RunFlags& flags);

}  // namespace nld::cli
