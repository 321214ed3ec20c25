#pragma once

// Waiting on a condition from a test thread, with a deadline, instead of sleeping a fixed time.

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace edgecore::testing {

// Polls `pred` every `poll` until it holds (true at once) or `timeout` has passed; at the
// deadline pred is asked once more, so a condition that became true during the last poll
// interval still counts. For state owned by other threads (modules on their io_context, a
// child process, a broker); tests that own the io_context use runUntil (core/test_util.h).
inline bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                    std::chrono::microseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// waitFor that also measures how late this machine woke the polling thread: the largest
// overshoot of a `poll` sleep while waiting. A timing bound on another thread's timer can
// allow for it, so a test checks our deadline logic, not how busy the machine was.
struct TimedWait {
  bool held = false;
  std::chrono::milliseconds worst_lag{0};
};

inline TimedWait waitMeasuringLag(const std::function<bool()>& pred,
                                  std::chrono::milliseconds timeout,
                                  std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  TimedWait result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!(result.held = pred())) {
    const auto before = std::chrono::steady_clock::now();
    if (before >= deadline) {
      result.held = pred();
      break;
    }
    std::this_thread::sleep_for(poll);
    const auto lag = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - before - poll);
    result.worst_lag = std::max(result.worst_lag, lag);
  }
  return result;
}

}  // namespace edgecore::testing
