#include "cli/app.h"

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
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

// Options of the top-level command: a first argument that is one of them keeps the subcommand
// command line; any other first argument starting with '-' is node-cache's (`run`'s) flags.
bool isGlobalOption(std::string_view arg) {
  return arg == "-h" || arg == "--help" || arg == "--version" || arg == "--log-level" ||
         arg.starts_with("--log-level=");
}

int printError(const std::string& message, ExitCode code) {
  std::fprintf(stderr, "nodelocaldns: error: %s\n", message.c_str());
  return static_cast<int>(code);
}

}  // namespace

std::vector<std::string> commandLine(std::string_view argv0, std::vector<std::string> args) {
  std::string_view base = argv0.substr(argv0.rfind('/') + 1);  // npos + 1 == 0
  bool as_node_cache = base == "node-cache";
  if (!args.empty() && (args[0] == "-version" || args[0] == "--version")) {
    args[0] = "--version";  // CoreDNS's -version (node-cache passes it through)
  } else if (args.empty()
                 ? as_node_cache
                 : args[0].starts_with('-') && (as_node_cache || !isGlobalOption(args[0]))) {
    args.insert(args.begin(), "run");  // node-cache's command line: `run` with these flags
  }
  return runSubcommandArgs(std::move(args));
}

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
      // node-cache's bare command line becomes `run`'s, whose Go-style single-dash flags are
      // rewritten for CLI11 (run/flags.h).
      std::vector<std::string> args;
      if (argc > 0) {
        args = commandLine(argv[0], std::vector<std::string>(argv + 1, argv + argc));
      }
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
