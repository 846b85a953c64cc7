// What install holds while it changes the node: the undo steps of this run (run in reverse on
// failure) and the termination signals (held, checked between steps). No logging.
#pragma once

#include <signal.h>

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace nld::cli {

/// SIGINT, SIGTERM and SIGHUP are held while install changes the node, and checked between steps:
/// an operator's Ctrl-C (or a supervisor's SIGTERM) during the wait for the daemon ends in the
/// rollback instead of a half-installed node without a state file. One that comes after the last
/// step is dropped: the install is complete. The daemon starts with an empty mask (spawnDetached).
class HeldSignals {
 public:
  HeldSignals();
  ~HeldSignals();
  HeldSignals(const HeldSignals&) = delete;
  HeldSignals& operator=(const HeldSignals&) = delete;
  /// The first held signal (consumed), or 0.
  int take();

 private:
  sigset_t set_;
  sigset_t old_;
};

/// Undo steps of this run, run in reverse on failure. Signals stay held (and are dropped) while
/// it runs: a second Ctrl-C must not stop a rollback halfway.
class Rollback {
 public:
  void add(std::string what, std::function<Result<void>()> undo);
  /// Runs after every add()ed step (e.g. restart something once the files it reads are back).
  /// `what` is reported under "rolled back", `failed` followed by the error under "left".
  void addFinal(std::string what, std::string failed, std::function<Result<void>()> undo);
  void note(std::string left) { left_.push_back(std::move(left)); }
  void dismiss();
  /// Undoes everything; returns "; rolled back: ...; left: ...".
  std::string run();

 private:
  struct Step {
    std::string what;
    std::string failed;
    std::function<Result<void>()> undo;
  };
  std::vector<Step> steps_;
  std::vector<Step> finals_;
  std::vector<std::string> left_;
};

}  // namespace nld::cli
