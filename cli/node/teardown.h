// `teardown` as observe → plan → apply → report. It plans from what it observes, not only from
// the state file: the pending record of an install that was killed (state.h), the addresses on
// the interface, and the `*.tmp.XXXXXX` files an interrupted atomic write left beside our files.
// Order: daemon → rules of both backends → interface (rules first: no window where queries hit
// a missing address while still being NOTRACKed, kubernetes/dns#690) → kubelet → files. Best
// effort: every step is tried; the report names what is left. No logging.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cli/node/ops.h"
#include "cli/node/state.h"

namespace nld::cli {

struct TeardownInputs {
  NodePaths paths;
  bool xtables_lock_given = false;   // else the state file's
  std::string interface;             // "" = the state file's, else kDefaultInterface
  std::vector<IpAddress> extra_ips;  // --local-ip, --kube-dns
  uint16_t dns_port = 0;             // 0 = the state file's, else 53
  uint16_t health_port = 0;          // 0 = the state file's, else 8080
  std::chrono::milliseconds grace{10000};
  bool keep_kubelet = false;
  std::optional<RulesBackend> rules_backend;  // nullopt: as installed, else detected
};

struct TeardownObservation {
  std::string pidfile;  // as locked (lock.h)
  Result<std::optional<NodeState>> state = std::optional<NodeState>();
  std::optional<NodeState> pending;  // an install that did not finish
  Result<std::optional<NodeLink>> link = std::optional<NodeLink>();
  BackendInfo detected_backend;        // used without flag and record
  std::vector<std::string> leftovers;  // `*.tmp.*` beside our files, found on disk
};

struct TeardownPlan {
  std::optional<NodeState> record;  // the state file, else the pending record
  bool from_state_file = false;
  std::string pidfile;
  std::string interface;
  NodeRules rules;  // selected backend first
  NodeRules other_rules;
  bool link_present = false;
  bool foreign_link = false;             // a link of a kind we never make: left alone
  std::vector<std::string> files;        // removed and reported
  std::vector<std::string> quiet_files;  // removed quietly (backups, pending record, tmp files)
  std::vector<std::string> problems;     // found while observing
};

/// Pure.
TeardownPlan planTeardown(const TeardownInputs& in, const TeardownObservation& observed);

struct TeardownReport {
  std::vector<std::string> done;
  std::vector<std::string> problems;
  std::vector<std::string> left;
};

/// Reads the node (under the lock the caller holds).
TeardownObservation observeTeardown(const TeardownInputs& in, std::string pidfile,
                                    Result<std::optional<NodeState>> state);
TeardownReport applyTeardown(const TeardownInputs& in, const TeardownPlan& plan);
/// Prints `done` to stdout and the problems as warnings to stderr; the exit code (or the error
/// naming what is left).
Result<int> printTeardownReport(const TeardownReport& report);

}  // namespace nld::cli
