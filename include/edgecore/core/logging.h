#pragma once

// One spdlog logger per module, all writing to one stderr sink (journald picks stderr up).
// Owned by main and passed down; there is no global logger.

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::core {

class LoggerFactory {
 public:
  // `sink` defaults to stderr; tests pass an ostream sink to read the lines back.
  explicit LoggerFactory(spdlog::level::level_enum level = spdlog::level::info,
                         spdlog::sink_ptr sink = nullptr);

  // A logger named `name` (the module's name) at the factory's level. Any thread.
  std::shared_ptr<spdlog::logger> make(std::string_view name) const;
  spdlog::level::level_enum level() const { return level_; }

 private:
  spdlog::level::level_enum level_;
  spdlog::sink_ptr sink_;
};

// "trace|debug|info|warn|error|critical|off" (also "warning"). InvalidArgument otherwise.
Result<spdlog::level::level_enum> parseLogLevel(std::string_view text);
// klog's -v verbosity mapped onto our levels: 0-1 info, 2-4 debug, 5+ trace.
spdlog::level::level_enum levelFromKlogVerbosity(int v);

}  // namespace edgecore::core
