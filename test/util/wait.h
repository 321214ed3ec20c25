#pragma once

// Waiting on a condition from a test thread, with a deadline, instead of sleeping a fixed time.

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

}  // namespace edgecore::testing
