#include "base/result.h"

#include <cstring>

namespace nld {

std::string errnoText(int err) {
  char buf[128];
  // GNU strerror_r: returns either a static string or buf, never fails.
  return std::string(strerror_r(err, buf, sizeof buf));
}

std::string signalText(int signo) {
  const char* d = sigdescr_np(signo);  // glibc: a static string, or null when unknown
  return d != nullptr ? std::string(d) : "Unknown signal " + std::to_string(signo);
}

Error Error::sys(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += errnoText(err);
  return Error(err == EPERM || err == EACCES    ? Errc::kPermissionDenied
               : err == ENOENT || err == ENODEV ? Errc::kNotFound
               : err == EEXIST                  ? Errc::kAlreadyExists
               : err == EOPNOTSUPP              ? Errc::kUnsupported
               : err == EAGAIN || err == EBUSY  ? Errc::kBusy
               : err == ETIMEDOUT               ? Errc::kTimeout
                                                : Errc::kSystem,
               std::move(msg), err);
}

Error Error::withContext(std::string_view outer) && {
  std::string msg(outer);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return std::move(*this);
}

Error Error::withContext(std::string_view outer) const& {
  Error copy = *this;
  return std::move(copy).withContext(outer);
}

}  // namespace nld
