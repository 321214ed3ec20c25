#pragma once

// CRI container log files (spec/local-apis.md 6.3): lines "<RFC3339Nano> <stdout|stderr> <P|F>
// <message>\n", P = partial (joined with what follows), F = full. And the kubelet's
// /containerLogs query options (kubelet server.go getContainerLogs + kuberuntime_logs.go
// ReadLogs @ v1.20.0 vendor). Pure functions: no I/O except readLogFile().

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::edged {

using core::Result;
using core::Status;

struct CriLogLine {
  std::string_view timestamp;  // as written
  int64_t time_ns = 0;         // Unix nanoseconds
  std::string_view stream;     // "stdout" / "stderr"
  bool partial = false;        // tag P
  std::string_view message;    // without the trailing newline
};
// One line without its '\n'; nullopt when malformed (the caller skips it).
std::optional<CriLogLine> parseCriLogLine(std::string_view line);

struct LogOptions {
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> since_ns;  // from sinceSeconds or sinceTime
  std::optional<int64_t> limit_bytes;
};
// Query parameters -> options; InvalidArgument (HTTP 400) for bad values: non-numbers, negative
// tailLines, limitBytes/sinceSeconds < 1, both sinceSeconds and sinceTime.
Result<LogOptions> parseLogQuery(const std::multimap<std::string, std::string>& query,
                                 int64_t now_ns);

// Joins partial lines and applies since/timestamps: feed raw file lines, get output lines
// ("[ts ]message\n").
class LogAssembler {
 public:
  explicit LogAssembler(const LogOptions& o) : opts_(o) {}
  // Returns true and sets *out when `raw` completes an output line.
  bool feed(std::string_view raw, std::string* out);

 private:
  LogOptions opts_;
  std::map<std::string, std::string, std::less<>> pending_;  // per stream: partial text
  std::map<std::string, std::string, std::less<>> pending_ts_;
};

// Whole-file rendering for a non-follow request: joined lines, since, tailLines, timestamps,
// limitBytes. `content` is the file as read.
std::string renderLogs(std::string_view content, const LogOptions& opts);

// Reads at most `max_bytes` from the end of `path` (the start is dropped up to the first newline
// when truncated). NotFound if absent. *end_offset (if given) = file offset after the last byte
// read, where a follower continues.
Result<std::string> readLogFile(const std::string& path, size_t max_bytes,
                                int64_t* end_offset = nullptr);

}  // namespace edgecore::edged
