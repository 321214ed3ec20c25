#include "memory_trim.h"

#include <malloc.h>

#include <boost/asio/post.hpp>

#include "edgecore/core/daemon.h"

namespace edgecore::core {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcAllocator = false;
#else
constexpr bool kGlibcAllocator = true;
#endif

}  // namespace

size_t allocatorFreeBytes() {
  if constexpr (!kGlibcAllocator) {
    return 0;
  }
  return mallinfo2().fordblks;
}

bool trimAllocatorIfSlack(size_t slack) {
  if constexpr (!kGlibcAllocator) {
    return false;
  }
  if (allocatorFreeBytes() <= slack) {
    return false;
  }
  malloc_trim(0);
  return true;
}

void useOneAllocatorArena() {
  if constexpr (kGlibcAllocator) {
    mallopt(M_ARENA_MAX, 1);
  }
}

AllocatorTrimmer::State::State(boost::asio::io_context& ioc, std::chrono::milliseconds i, size_t s)
    : strand(boost::asio::make_strand(ioc)), timer(strand), interval(i), slack(s) {}

AllocatorTrimmer::AllocatorTrimmer(boost::asio::io_context& ioc, std::chrono::milliseconds interval,
                                   size_t slack)
    : state_(std::make_shared<State>(ioc, interval, slack)) {}

void AllocatorTrimmer::start() {
  if (state_->interval.count() > 0) {
    boost::asio::post(state_->strand, [state = state_] { arm(state); });
  }
}

void AllocatorTrimmer::stop() {
  boost::asio::post(state_->strand, [state = state_] {
    state->stopped = true;
    state->timer.cancel();
  });
}

void AllocatorTrimmer::arm(const std::shared_ptr<State>& state) {
  if (state->stopped) {
    return;
  }
  state->timer.expires_after(state->interval);
  state->timer.async_wait([state](const boost::system::error_code& ec) {
    if (ec || state->stopped) {
      return;  // stopping
    }
    trimAllocatorIfSlack(state->slack);
    arm(state);
  });
}

}  // namespace edgecore::core
