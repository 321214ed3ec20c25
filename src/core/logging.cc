#include "edgecore/core/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <string>

namespace edgecore::core {

LoggerFactory::LoggerFactory(spdlog::level::level_enum level, spdlog::sink_ptr sink)
    : level_(level),
      sink_(sink ? std::move(sink) : std::make_shared<spdlog::sinks::stderr_sink_mt>()) {
  // journald stamps lines itself, but people also run edgecore in a terminal: keep a short
  // timestamp, the level and the module name.
  sink_->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %L %n] %v");
}

std::shared_ptr<spdlog::logger> LoggerFactory::make(std::string_view name) const {
  auto logger = std::make_shared<spdlog::logger>(std::string(name), sink_);
  logger->set_level(level_);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

Result<spdlog::level::level_enum> parseLogLevel(std::string_view text) {
  if (text == "warning") {
    return spdlog::level::warn;
  }
  for (int i = spdlog::level::trace; i <= spdlog::level::off; ++i) {
    auto level = static_cast<spdlog::level::level_enum>(i);
    if (spdlog::level::to_string_view(level) == text) {
      return level;
    }
  }
  return invalidArgument("unknown log level \"" + std::string(text) +
                         "\" (use trace, debug, info, warn, error, critical or off)");
}

spdlog::level::level_enum levelFromKlogVerbosity(int v) {
  if (v >= 5) {
    return spdlog::level::trace;
  }
  if (v >= 2) {
    return spdlog::level::debug;
  }
  return spdlog::level::info;
}

}  // namespace edgecore::core
