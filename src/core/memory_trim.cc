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

AllocatorTrimmer::AllocatorTrimmer(boost::asio::io_context& ioc, std::chrono::milliseconds interval,
                                   size_t slack)
    : strand_(boost::asio::make_strand(ioc)), timer_(strand_), interval_(interval), slack_(slack) {}

void AllocatorTrimmer::start() {
  if (interval_.count() > 0) {
    boost::asio::post(strand_, [this] { arm(); });
  }
}

void AllocatorTrimmer::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

void AllocatorTrimmer::arm() {
  if (stopped_) {
    return;
  }
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) {
      return;  // stopping
    }
    trimAllocatorIfSlack(slack_);
    arm();
  });
}

}  // namespace edgecore::core
