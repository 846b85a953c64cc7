#pragma once

namespace nld::cli {

/// The whole CLI: parses argv, runs the chosen subcommand, maps errors to exit codes. Never
/// throws and never aborts on bad input.
int runMain(int argc, char** argv);

}  // namespace nld::cli
