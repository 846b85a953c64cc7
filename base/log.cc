#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>

namespace nld::log {
namespace {

constexpr std::array<const char*, 8> kNames{"cli",   "netcfg",  "rules",  "server",
                                            "cache", "forward", "config", "metrics"};

struct Registry {
  std::once_flag once;
  std::array<std::shared_ptr<spdlog::logger>, kNames.size()> loggers;
  std::atomic<spdlog::level::level_enum> level{spdlog::level::info};
};

Registry& registry() {
  static Registry r;
  std::call_once(r.once, [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    for (size_t i = 0; i < kNames.size(); ++i) {
      r.loggers[i] = std::make_shared<spdlog::logger>(kNames[i], sink);
      r.loggers[i]->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v",
                                spdlog::pattern_time_type::utc);
      r.loggers[i]->set_level(r.level.load());
      r.loggers[i]->flush_on(spdlog::level::info);
    }
  });
  return r;
}

}  // namespace

spdlog::logger& get(Subsystem s) { return *registry().loggers[static_cast<size_t>(s)]; }

Result<void> setLevel(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (lvl == spdlog::level::off && level != "off") {
    return fail(Errc::kInvalidArgument,
                "unknown log level '" + std::string(level) +
                    "' (use trace, debug, info, warn, error, critical or off)");
  }
  auto& r = registry();
  r.level = lvl;
  for (auto& l : r.loggers) {
    l->set_level(lvl);
  }
  return {};
}

}  // namespace nld::log
