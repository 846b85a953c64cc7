// Process-level helpers of `nodelocaldns run`: the pidfile, finding a successor instance that
// shares our DNS sockets (hitless hand-over), and cheap process metrics from /proc.
//
// No logging; errors are values. Linux only (/proc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::cli {

/// Writes "<pid>\n" atomically (mode 0644), as CoreDNS does once it listens.
Result<void> writePidFile(const std::string& path, pid_t pid);

/// Removes `path` if it still names `pid` (a successor that took the pidfile over keeps it).
/// @return true when removed.
bool removePidFileIfOwned(const std::string& path, pid_t pid);

/// Inodes of the UDP sockets bound to exactly `address` (IP and port; a wildcard bind matches
/// only a wildcard `address`), from /proc/net/udp or /proc/net/udp6 of this network namespace.
std::vector<uint64_t> udpSocketInodes(const SocketAddress& address);

/// Inodes of every socket this process has open (/proc/self/fd → "socket:[N]").
std::vector<uint64_t> ownSocketInodes();

/// True if a socket bound to any of `addresses` belongs to another process: a successor that
/// bound beside us with SO_REUSEPORT (or a squatter; either way tearing down would hurt it).
bool anotherInstanceServes(const std::vector<SocketAddress>& addresses);

/// Prometheus process_* metrics (CPU seconds, resident and virtual memory, open fds and their
/// limit, start time, threads) in text exposition format; "" if /proc is unreadable.
std::string renderProcessMetrics();

}  // namespace nld::cli
