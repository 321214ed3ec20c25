#pragma once

// The one way keadm runs another program (systemctl, `edgecore --version`, dpkg-deb): an argv,
// never a shell; a deadline; output captured up to a bound. Interactive children (the editor of
// `keadm ctl edit`, --pre-run/--post-run scripts) keep our terminal and do not come here.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::keadm {

// Output kept per run; the rest is read and dropped so the child never blocks on a full pipe.
inline constexpr std::size_t kMaxProcessOutput = 64 * 1024;
inline constexpr const char* kOutputTruncatedMarker = "\n[output truncated]\n";

// How a child ended. Exactly one of: exited (exit_code), killed by a signal (term_signal), or
// killed by us at the deadline (timed_out; term_signal is then SIGKILL).
struct ProcessOutcome {
  int exit_code = -1;  // valid when the child exited
  int term_signal = 0;
  bool timed_out = false;
  std::chrono::milliseconds timeout{0};  // the deadline that applied, 0 = none
  std::string output;                    // stdout and stderr interleaved, bounded
  bool truncated = false;                // output passed kMaxProcessOutput; marker appended

  bool succeeded() const { return !timed_out && term_signal == 0 && exit_code == 0; }
  // "exit 3", "killed by signal 15" or "timed out after 90 s and was killed".
  std::string describe() const;
};

// Runs argv[0] (looked up on PATH when it has no '/') with stdin from /dev/null and stdout and
// stderr into one pipe. With a `timeout`, a child still running at the deadline is SIGKILLed
// and reaped. SIGPIPE and SIGHUP go back to their defaults in the child (keadm ignores them,
// see surviveEdgecoreRestart(), and ignored signals would otherwise pass through exec).
// Blocks the calling thread until the child is reaped. Errors: InvalidArgument for an empty
// argv, NotFound when argv[0] does not exist, Unavailable when it cannot be started otherwise.
core::Result<ProcessOutcome> runProcess(const std::vector<std::string>& argv,
                                        std::optional<std::chrono::milliseconds> timeout);

// The environment variable `name`, or `fallback` when it is unset or empty.
std::string envOr(const char* name, const std::string& fallback);

}  // namespace edgecore::keadm
