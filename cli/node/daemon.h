// Control of the background cache daemon (`nodelocaldns run`) for the node workflows: start it
// detached, find it by pidfile, stop it (SIGTERM, bounded wait, SIGKILL), and check that it answers
// DNS. No logging; errors are values.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::cli {

/// Absolute path of this executable (/proc/self/exe resolved), for starting `run`.
Result<std::string> selfExecutable();

/// The pid written in `pidfile`, if the file exists and holds a positive number.
std::optional<pid_t> readPidFile(const std::string& pidfile);

/// True if `pid` is a live (non-zombie) process whose first (or, behind an interpreter, second)
/// argument is "run", i.e. our daemon and not a process that reused the pid after a crash.
bool isDaemonProcess(pid_t pid);

/// The running daemon named by `pidfile`, or nullopt (no file, stale pid, other process).
std::optional<pid_t> findDaemon(const std::string& pidfile);

/// Daemons (`run`) whose command line says `-pidfile <pidfile>`, found in /proc: one an install
/// spawned just before it was killed may not have written its pidfile yet.
std::vector<pid_t> findDaemonsByCommandLine(const std::string& pidfile);

/// Seconds since the process started, from /proc.
std::optional<double> processUptimeSeconds(pid_t pid);

/// Starts argv (argv[0] = executable path) in a new session, stdin from /dev/null and stdout and
/// stderr appended to `log_file`. Returns once exec succeeded (an exec failure is an error).
/// The child is not waited for; check it with childExited().
Result<pid_t> spawnDetached(const std::vector<std::string>& argv, const std::string& log_file);

/// For a child of this process: has it exited? (reaps it; sets `status` to the wait status).
bool childExited(pid_t pid, int& status);

struct StopReport {
  bool was_running = false;
  bool killed = false;  // needed SIGKILL after the grace period
  pid_t pid = 0;
};

/// Stops the daemon named by `pidfile`: SIGTERM, wait up to `grace`, then SIGKILL and wait again.
/// A missing daemon is not an error (was_running=false); a stale pidfile is removed.
/// @return kTimeout when the process survives SIGKILL (e.g. stuck in the kernel), kSystem when it
///   cannot be signalled.
Result<StopReport> stopDaemon(const std::string& pidfile, std::chrono::milliseconds grace);

/// True if a UDP socket of this network namespace is bound to `server` (its address, or the
/// wildcard of its family, on its port), from /proc/net/udp{,6}. Instant; false means a DNS
/// query there cannot be answered.
bool dnsPortBound(const SocketAddress& server);

/// One DNS query (`qname` SOA, RD) over UDP to `server`; true when a NOERROR or NXDOMAIN response
/// with our ID comes back within `timeout`. A name of the cluster zone is forwarded upstream, so
/// this tells whether kube-dns answers through the cache (SERVFAIL/REFUSED: it does not).
bool dnsAnswers(const SocketAddress& server, std::string_view qname,
                std::chrono::milliseconds timeout);

/// Like dnsAnswers() with the health probe: true when the daemon's serving loop answers, whatever
/// state kube-dns or the other upstreams are in.
bool daemonAnswersProbe(const SocketAddress& server, std::chrono::milliseconds timeout);

/// The command line of `pid` (/proc/<pid>/cmdline); empty when it is gone.
std::vector<std::string> processArguments(pid_t pid);

/// The addresses a running `run` serves, from its -localip flag (comma-separated); empty when
/// the flag is missing or the process is gone.
std::vector<std::string> daemonLocalIps(pid_t pid);

/// Human form of a command line: arguments joined by spaces, quoted when they need it.
std::string commandLineText(const std::vector<std::string>& argv);

}  // namespace nld::cli
