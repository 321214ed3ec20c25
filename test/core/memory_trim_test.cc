#include "core/memory_trim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace edgecore::core {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// The sanitizers' allocators replace glibc's: there is nothing for malloc_trim to return.
TEST(MemoryTrim, DeclinesUnderASanitizerAllocator) {
  EXPECT_EQ(allocatorFreeBytes(), 0u);
  EXPECT_FALSE(trimAllocatorIfSlack(0));
}
#else
long residentKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  ADD_FAILURE() << "no VmRSS in /proc/self/status";
  return -1;
}

// 64 KiB blocks (below the mmap threshold, so inside the heap), touched; every other one is freed,
// 32 MiB in all. The blocks kept between them stop the freed ones from merging into the heap top,
// which glibc would shrink by itself.
TEST(MemoryTrim, ReturnsFreedHeapPagesToTheKernel) {
  constexpr size_t kBlock = 64 * 1024;
  constexpr size_t kBlocks = 1024;
  std::vector<void*> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    void* p = std::malloc(kBlock);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x5a, kBlock);
    blocks.push_back(p);
  }
  for (size_t i = 0; i < kBlocks; i += 2) std::free(blocks[i]);

  EXPECT_GE(allocatorFreeBytes(), kBlock * kBlocks / 2);
  EXPECT_FALSE(trimAllocatorIfSlack(size_t{1} << 40)) << "below the slack nothing is trimmed";
  const long before = residentKib();
  EXPECT_TRUE(trimAllocatorIfSlack(size_t{1} << 20));
  const long after = residentKib();
  for (size_t i = 1; i < kBlocks; i += 2) std::free(blocks[i]);
  EXPECT_LT(after, before - 24 * 1024) << "before " << before << " KiB, after " << after << " KiB";
}
#endif

TEST(MemoryTrim, TrimmerStopsWithTheLoop) {
  boost::asio::io_context ioc;
  AllocatorTrimmer trimmer(ioc, std::chrono::milliseconds(1), 0);
  trimmer.start();
  ioc.run_for(std::chrono::milliseconds(20));  // several rounds of the timer
  trimmer.stop();
  // With the timer cancelled nothing is left to run: run() returns instead of waiting forever.
  ioc.restart();
  EXPECT_GE(ioc.run_for(std::chrono::seconds(5)), 1u);
  EXPECT_TRUE(ioc.stopped());
}

// A shutdown that gives up on its I/O threads destroys the trimmer while the loop may still run
// its handlers: they keep what they touch alive.
TEST(MemoryTrim, TrimmerDestroyedBeforeTheLoopStops) {
  boost::asio::io_context ioc;
  {
    AllocatorTrimmer trimmer(ioc, std::chrono::milliseconds(1), 0);
    trimmer.start();
    ioc.run_for(std::chrono::milliseconds(5));
  }
  ioc.run_for(std::chrono::milliseconds(20));  // the timer still fires, on its own state
  EXPECT_FALSE(ioc.stopped()) << "the trimmer keeps checking until stopped";
}

}  // namespace
}  // namespace edgecore::core
