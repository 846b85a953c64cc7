#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nld::cli {

/// The arguments CLI11 parses (after argv[0]), from the process's own: node-cache's command line
/// is taken as is and means `run` with those flags — when the first argument starts with '-' and
/// is not a top-level option (-h, --help, --version, --log-level), or whenever the binary is
/// invoked as `node-cache` (its image's entry point; a first argument without '-' still names a
/// subcommand there). CoreDNS's -version is --version. Then `run`'s single-dash flags are
/// translated (translateRunArgs()).
std::vector<std::string> commandLine(std::string_view argv0, std::vector<std::string> args);

/// The whole CLI: parses argv, runs the chosen subcommand, maps errors to exit codes. Never
/// throws and never aborts on bad input.
int runMain(int argc, char** argv);

}  // namespace nld::cli
