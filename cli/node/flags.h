// Flags shared by the node workflows (install, teardown, stop, status, revert-kubelet): every
// path they touch can be moved, so tests run in a temporary directory inside a network namespace.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/node/state.h"

namespace nld::cli {

/// --state-file, --pidfile, --xtables-lock.
inline void addNodePathFlags(CLI::App* cmd, NodePaths& paths) {
  cmd->add_option("--state-file", paths.state_file,
                  "Where install records what it did (read by teardown, status, revert-kubelet)")
      ->capture_default_str();
  cmd->add_option("--pidfile", paths.pidfile, "Pidfile of the cache daemon")->capture_default_str();
  cmd->add_option("--xtables-lock", paths.xtables_lock,
                  "xtables lock file taken around rule changes (as iptables-legacy does)")
      ->capture_default_str();
}

/// --rules-backend auto|iptables|nftables (install, run, teardown, status).
inline CLI::Option* addRulesBackendFlag(CLI::App* cmd, std::string& backend,
                                        const std::string& help) {
  return cmd->add_option("--rules-backend", backend, help)
      ->check(CLI::IsMember({"auto", "iptables", "nftables"}));
}

/// Splits "a,b" lists given once or several times into single values.
inline std::vector<std::string> splitCommaList(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const std::string& item : in) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      std::string part =
          item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) {
        out.push_back(part);
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace nld::cli
