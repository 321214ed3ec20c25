#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

namespace edgecore::core {

// Gives free heap pages back to the kernel once they pile up. glibc keeps what a burst freed in
// its arenas: after 8 concurrent LISTs of 1000 pods (each response a few MB, built on whichever
// thread's arena served it) RSS stayed at the burst's level for good (docs/performance.md).

// The bytes free inside the allocator's arenas (glibc mallinfo2().fordblks); 0 where the
// allocator is not glibc's (sanitizer builds).
size_t allocatorFreeBytes();

// malloc_trim(0) when more than `slack` bytes are free in the arenas. Returns whether it trimmed;
// always false under AddressSanitizer or ThreadSanitizer, whose allocators replace glibc's.
bool trimAllocatorIfSlack(size_t slack);

// Checks every `interval` on `ioc` and trims when more than `slack` bytes are free: after a
// burst, within one interval. The check is a walk of the free lists, microseconds when idle.
class AllocatorTrimmer {
 public:
  AllocatorTrimmer(boost::asio::io_context& ioc, std::chrono::milliseconds interval, size_t slack);
  void start();
  void stop();  // any thread; the loop must still run (or never have run) for it to take effect

 private:
  // Owned by the pending handlers too: a shutdown that gives up on the I/O threads may destroy
  // the trimmer while one of them still runs its handler.
  struct State {
    State(boost::asio::io_context& ioc, std::chrono::milliseconds i, size_t s);
    // Two I/O threads run the loop: the timer and `stopped` are touched on this strand only.
    boost::asio::strand<boost::asio::io_context::executor_type> strand;
    boost::asio::steady_timer timer;
    bool stopped = false;
    std::chrono::milliseconds interval;
    size_t slack;
  };
  static void arm(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
};

}  // namespace edgecore::core
