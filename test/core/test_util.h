#pragma once

// Helpers for tests that drive a real io_context without sleeping.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <thread>

namespace edgecore::testing {

// Runs `ioc` on the calling thread in short steps until `pred` holds or `timeout` passes.
// Returns pred()'s final value. Restarts the context when it runs out of work, so it also
// waits for work posted by other threads (and for other threads running the same context).
inline bool runUntil(boost::asio::io_context& ioc, const std::function<bool()>& pred,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    if (ioc.stopped()) {
      ioc.restart();
    }
    if (ioc.run_for(std::chrono::milliseconds(1)) == 0) {
      std::this_thread::yield();  // nothing ran: the work is on other threads
    }
  }
  return true;
}

}  // namespace edgecore::testing
