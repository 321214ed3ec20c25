#pragma once

// Container log rotation, as the kubelet's container log manager does it
// (pkg/kubelet/logs/container_log_manager.go rotateLog @ v1.30): when a running container's CRI
// log file is larger than containerLogMaxSize, the oldest rotated files beyond
// containerLogMaxFiles - 2 are removed, the remaining rotated files are gzip-compressed
// (`<log>.<stamp>.gz`), the live file is renamed `<log>.<YYYYMMDD-hhmmss>` and the runtime is
// asked to reopen it (CRI ReopenContainerLog); when that fails the rename is undone.
// Blocking (file I/O and a CRI call): run on edged's CRI pool.

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/cri/cri_client.h"

namespace edgecore::edged {

struct LogRotationPolicy {
  int64_t max_size_bytes = 10 * 1024 * 1024;  // containerLogMaxSize (10Mi)
  int max_files = 5;                          // containerLogMaxFiles, >= 2
};

// Parses containerLogMaxSize / containerLogMaxFiles as the kubelet validates them: a quantity
// > 0 and at least 2 files. InvalidArgument otherwise.
core::Result<LogRotationPolicy> makeLogRotationPolicy(const std::string& max_size, int max_files);

// The rotated file name for `log` at `now` ("<log>.20261127-230501").
std::string rotatedLogName(const std::string& log, std::chrono::system_clock::time_point now);

// Rotates `log` (the live log of running container `container_id`) when it is over the size.
// Returns true when it rotated. A missing file is not an error (nothing written yet).
core::Result<bool> rotateContainerLogIfNeeded(cri::CriClient& cri, const std::string& container_id,
                                              const std::string& log,
                                              const LogRotationPolicy& policy,
                                              std::chrono::system_clock::time_point now);

// A running container's id and its live CRI log file.
using LiveLog = std::pair<std::string, std::string>;

struct PodEntry;
// The live logs of every running container of the pod table (EdgedModule's, on its strand).
std::vector<LiveLog> liveContainerLogs(const std::map<std::string, PodEntry>& pods);

// Rotates each of `logs` that needs it, logging failures (warn) and rotations (debug).
void rotateContainerLogs(cri::CriClient& cri, const std::vector<LiveLog>& logs,
                         const LogRotationPolicy& policy, spdlog::logger& log);

}  // namespace edgecore::edged
