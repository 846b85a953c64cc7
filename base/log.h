// Logging: one named spdlog logger per subsystem, all writing one-line records to stderr.
//
// Library code logs at debug at most; the caller that decides what to do logs once, with context.
// Per-query events are never logged at info.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "base/result.h"

namespace nld::log {

enum class Subsystem : uint8_t {
  kCli,
  kNetcfg,
  kRules,
  kServer,
  kCache,
  kForward,
  kConfig,
  kMetrics
};

/// The logger for a subsystem (created on first use, shares the process-wide level).
spdlog::logger& get(Subsystem s);

/// Sets the level of every subsystem: trace, debug, info, warn, error, critical, off.
Result<void> setLevel(std::string_view level);

}  // namespace nld::log

#define NLD_LOG(sub, lvl, ...)                                       \
  do {                                                               \
    auto& nld_logger_ = ::nld::log::get(::nld::log::Subsystem::sub); \
    if (nld_logger_.should_log(::spdlog::level::lvl)) {              \
      nld_logger_.log(::spdlog::level::lvl, __VA_ARGS__);            \
    }                                                                \
  } while (0)
