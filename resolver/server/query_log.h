// Per-query output of the `errors` and `log` plugins, CoreDNS-style (plugin/errors, plugin/log).
//
//  - errors: one line per failed query, "<rcode> <qname> <qtype>: <error>" (CoreDNS prints
//    "[ERROR] plugin/errors: 2 example.org. A: read udp ...: i/o timeout"; our logger's pattern
//    supplies the time and level, the message starts at "plugin/errors:"). A dead upstream must
//    not flood the log or burn CPU: ErrorLimiter admits at most kPerSecond lines per worker per
//    second; the rest cost one comparison and one increment (no formatting) and are reported as
//    one summary line when the window ends.
//  - log: one common-log-format line per query:
//    `<client>:<port> - <id> "<type> <class> <name> <proto> <size> <do> <bufsize>" <rcode>
//    <rflags> <rsize> <duration>` (CoreDNS's CommonLogFormat; {combined} appends ` "<opcode>"`).
//
// Pure formatting and a per-worker counter: no locks, no I/O; the worker logs the returned text.
// Formatting allocates (only when a line is actually written).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <regex>
#include <span>
#include <string>
#include <string_view>

#include "base/ip.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/net/event_loop.h"

namespace nld::resolver::server {

/// At most kPerSecond admitted lines per one-second window (per worker).
class ErrorLimiter {
 public:
  static constexpr unsigned kPerSecond = 10;

  struct Verdict {
    bool log = false;         ///< format and write this error
    uint64_t suppressed = 0;  ///< errors dropped in an earlier window: report them first
  };
  Verdict admit(net::MonoTime now) noexcept;
  /// For a periodic tick: the number suppressed in a window that has ended (0 if none, or if the
  /// current window is still open); resets it.
  uint64_t flush(net::MonoTime now) noexcept;
  /// True while a suppressed count waits to be reported (the worker's sweep must keep ticking).
  bool pending() const noexcept { return suppressed_ > 0; }

 private:
  bool rollWindow(net::MonoTime now) noexcept;

  net::MonoTime window_start_{};
  unsigned admitted_ = 0;
  uint64_t suppressed_ = 0;
};

/// `errors { consolidate DURATION REGEXP [LEVEL] }`, compiled. Immutable; shared by the workers
/// (std::regex matching on a const object is thread-safe).
struct ConsolidateRule {
  enum class Level : uint8_t { kDebug, kInfo, kWarning, kError };
  std::regex re;
  std::string pattern;      ///< as written, for the summary line
  std::string period_text;  ///< Go's Duration.String(), e.g. "5m0s"
  std::chrono::nanoseconds period{0};
  Level level = Level::kError;

  /// Does the error text match? (regex_search, like Go's MatchString; an exception from the
  /// regex engine counts as no match.)
  bool matches(const std::string& error) const noexcept;
  /// "N errors like 'REGEXP' occurred in last DURATION".
  std::string summary(uint64_t count) const;
};

/// "2 example.org. A: read udp 10.96.0.10:53: i/o timeout" (the text after "plugin/errors: ").
std::string formatError(unsigned rcode, std::string_view qname, uint16_t qtype,
                        std::string_view error);

/// Type mnemonic ("A", "AAAA", "HTTPS", ...; "TYPE<n>" for the rest).
std::string typeText(uint16_t qtype);
/// Class mnemonic ("IN", "CH", "HS", "NONE", "ANY"; "CLASS<n>").
std::string classText(uint16_t qclass);
/// Response flags as CoreDNS's {>rflags}: "qr,aa,rd,ra" (order qr aa tc rd ra z ad cd).
std::string flagsText(uint16_t flags);

/// CoreDNS response.Classify as a config::LogRule class bit (success 1, denial 2, error 4;
/// meta questions 0: logged only by `class all`).
uint8_t logClassOf(dns::ResponseType type) noexcept;

struct QueryLogLine {
  SocketAddress client;
  uint16_t id = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  std::string_view name;  ///< lower-cased presentation form
  bool tcp = false;
  size_t size = 0;  ///< query bytes
  bool do_bit = false;
  size_t bufsize = 512;  ///< the client's UDP size (512 without EDNS), 65535 over TCP
  std::span<const uint8_t> answer;
  uint64_t duration_ns = 0;
  bool combined = false;
};

/// The common log format line (without CoreDNS's "[INFO] " prefix).
std::string formatQueryLog(const QueryLogLine& line);

}  // namespace nld::resolver::server
