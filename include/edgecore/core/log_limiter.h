#pragma once

// LogLimiter: lets a repeating log line through at most once per window (per key), and counts
// the occurrences it held back so the next line that gets through can say how many there were.
// Not thread-safe: use it from one strand.
//
//   uint64_t skipped = 0;
//   if (limiter.allow("dial", now, &skipped)) log->warn("dial failed ... suppressed={}", skipped);

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace edgecore::core {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds window) : window_(window) {}

  // True when a line for `key` may be written now; *suppressed then holds how many were held
  // back since the last one that got through.
  bool allow(std::string_view key, std::chrono::steady_clock::time_point now,
             uint64_t* suppressed) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      it = entries_.emplace(std::string(key), Entry{}).first;
    }
    Entry& e = it->second;
    if (e.ever && now - e.last < window_) {
      ++e.suppressed;
      return false;
    }
    *suppressed = e.suppressed;
    e = Entry{true, now, 0};
    return true;
  }
  // Writes `line` at `level` when a line for `key` may be written now, followed by
  // " suppressed=N" when lines were held back since the last one.
  void log(spdlog::logger& log, spdlog::level::level_enum level, std::string_view key,
           const std::string& line) {
    uint64_t suppressed = 0;
    if (!allow(key, std::chrono::steady_clock::now(), &suppressed)) {
      return;
    }
    if (suppressed > 0) {
      log.log(level, "{} suppressed={}", line, suppressed);
    } else {
      log.log(level, "{}", line);
    }
  }
  // One kind of line only.
  bool allow(std::chrono::steady_clock::time_point now, uint64_t* suppressed) {
    return allow(std::string_view(), now, suppressed);
  }

 private:
  struct Entry {
    bool ever = false;
    std::chrono::steady_clock::time_point last{};
    uint64_t suppressed = 0;
  };
  std::chrono::milliseconds window_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace edgecore::core
