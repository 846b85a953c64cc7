// `nodelocaldns stop`: stop the cache daemon only. The interface and rules stay, so DNS to the
// local addresses (and, in iptables mode, to kube-dns on this node) fails until `teardown` or a new
// `install`; that is said loudly.
#include <chrono>
#include <cstdio>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/node/daemon.h"
#include "cli/node/flags.h"
#include "cli/node/lock.h"
#include "cli/node/state.h"

namespace nld::cli {
namespace {

struct StopOptions {
  NodePaths paths;
  double grace_seconds = 10;
};

Result<int> runStop(const StopOptions& o, const CLI::App* cmd) {
  // Locked first, then read: the daemon a concurrent install started is the one stopped.
  auto locked = lockNodeState(o.paths.state_file, o.paths.pidfile, cmd->count("--pidfile") > 0);
  if (!locked) {
    return fail(std::move(locked.error()));
  }
  const auto& state = locked->state;
  const std::string pidfile = locked->pidfile;
  std::string addresses = kDefaultLocalIp;
  if (state && *state) {
    addresses = join((*state)->addresses, ", ");
  }
  auto r =
      stopDaemon(pidfile, std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000)));
  if (!r) {
    return fail(std::move(r.error()).withContext("stop daemon"));
  }
  if (!r->was_running) {
    std::printf("daemon is not running (pidfile %s)\n", pidfile.c_str());
    return 0;
  }
  std::printf("stopped daemon pid %d%s\n", static_cast<int>(r->pid),
              r->killed ? " (SIGKILL after SIGTERM timed out)" : "");
  std::fprintf(stderr,
               "nodelocaldns: warning: the interface and rules stay: DNS to %s fails until "
               "'nodelocaldns teardown' or a new 'nodelocaldns install'\n",
               addresses.c_str());
  return 0;
}

}  // namespace

Command addStopCommand(CLI::App& app) {
  auto opts = std::make_shared<StopOptions>();
  CLI::App* cmd = app.add_subcommand(
      "stop", "Stop the cache daemon only (interface and rules stay: DNS on them fails)");
  cmd->add_option("--grace", opts->grace_seconds, "Seconds to wait after SIGTERM before SIGKILL")
      ->capture_default_str();
  addNodePathFlags(cmd, opts->paths);
  return {cmd, [opts, cmd]() { return runStop(*opts, cmd); }};
}

}  // namespace nld::cli
