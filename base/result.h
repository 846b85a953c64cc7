// Errors as values for the control plane (netcfg, templates, config, start-up).
//
// `Result<T>` is `tl::expected<T, Error>` behind one alias, so moving to `std::expected` later is a
// one-line change. Data-plane code (per packet) does not use it: it uses small enums and
// std::optional instead, so no string is built per query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace nld {

enum class Errc : uint8_t {
  kInvalidArgument,  // bad user input: exit code 2 at the CLI
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnsupported,
  kBusy,  // e.g. the xtables lock is held: retry later
  kTimeout,
  kParse,  // a file or packet did not parse
  kSystem,
  kInternal,
};

/// The C library's text for errno `err` ("Connection refused"), thread-safe (std::strerror is
/// not: it may return a buffer the next call overwrites).
std::string errnoText(int err);
/// strsignal's text for `signo` ("Interrupt"), without strsignal's shared buffer.
std::string signalText(int signo);

/// An error: a code for callers to branch on, the errno when a syscall failed, and a one-line
/// message that already names the object and the cause, e.g.
/// "add address '169.254.20.10/32' to 'nodelocaldns': File exists".
class Error {
 public:
  Error(Errc code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  static Error make(Errc code, std::string message) { return Error(code, std::move(message)); }
  /// A failed syscall or library call; the message ends with strerror(err).
  static Error sys(int err, std::string_view what);

  /// Prepends "outer: " to the message, e.g. withContext("ensure link 'nodelocaldns'").
  Error withContext(std::string_view outer) &&;
  Error withContext(std::string_view outer) const&;

  Errc code() const noexcept { return code_; }
  int sysErrno() const noexcept { return errno_; }
  const std::string& message() const noexcept { return message_; }

 private:
  Errc code_;
  int errno_ = 0;
  std::string message_;
};

template <typename T = void>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }
inline tl::unexpected<Error> failSys(int err, std::string_view what) {
  return tl::unexpected<Error>(Error::sys(err, what));
}

}  // namespace nld
