#include "cli/app.h"

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/version.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/run/flags.h"

namespace nld::cli {
namespace {

using AddFn = Command (*)(CLI::App&);

// The order here is the order in --help. A command is listed only once it works.
const std::vector<AddFn> kCommands = {
    addRenderManifestCommand, addInstallCommand,  addStatusCommand,        addRunCommand,
    addStopCommand,           addTeardownCommand, addRevertKubeletCommand,
};

// Applies translateRunArgs() when the subcommand (first argument that is neither an option nor
// the value of --log-level) is `run`.
std::vector<std::string> runSubcommandArgs(std::vector<std::string> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--log-level") {
      ++i;
      continue;
    }
    if (!args[i].empty() && args[i][0] == '-') {
      continue;
    }
    return args[i] == "run" ? translateRunArgs(args) : args;
  }
  return args;
}

int printError(const std::string& message, ExitCode code) {
  std::fprintf(stderr, "nodelocaldns: error: %s\n", message.c_str());
  return static_cast<int>(code);
}

}  // namespace

int runMain(int argc, char** argv) {
  try {
    CLI::App app("nodelocaldns: a node-local DNS cache agent for Kubernetes (NodeLocal DNSCache)",
                 "nodelocaldns");
    app.set_version_flag("--version", std::string("nodelocaldns ") + NLD_VERSION);
    std::string log_level = "info";
    app.add_option("--log-level", log_level,
                   "Log level: trace, debug, info, warn, error, critical, off")
        ->capture_default_str();
    app.require_subcommand(1);
    app.fallthrough();

    std::vector<Command> commands;
    commands.reserve(kCommands.size());
    for (AddFn add : kCommands) {
      commands.push_back(add(app));
    }

    try {
      // `run` takes node-cache's Go-style single-dash flags: rewritten for CLI11 (run/flags.h).
      std::vector<std::string> args(argv + 1, argv + argc);
      args = runSubcommandArgs(std::move(args));
      std::vector<std::string> reversed(args.rbegin(), args.rend());
      app.parse(reversed);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      return printError(std::string(e.what()) + " (see 'nodelocaldns --help')", ExitCode::kUsage);
    }

    if (auto r = log::setLevel(log_level); !r) {
      return printError(r.error().message(), ExitCode::kUsage);
    }
    for (auto& cmd : commands) {
      if (cmd.app->parsed()) {
        auto result = cmd.action();
        if (!result) {
          return printError(result.error().message(),
                            result.error().code() == Errc::kInvalidArgument ? ExitCode::kUsage
                                                                            : ExitCode::kRuntime);
        }
        return *result;
      }
    }
    return printError("no subcommand given (see 'nodelocaldns --help')", ExitCode::kUsage);
  } catch (const std::exception& e) {
    return printError(std::string("internal error: ") + e.what(), ExitCode::kRuntime);
  } catch (...) {
    return printError("internal error", ExitCode::kRuntime);
  }
}

}  // namespace nld::cli
