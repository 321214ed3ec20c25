#pragma once

// Time source injected into modules so tests control it.

#include <atomic>
#include <chrono>

namespace edgecore::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall clock (timestamps on the wire, Kubernetes times). Any thread, never blocks.
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
  // Monotonic clock (deadlines, durations). Any thread, never blocks.
  virtual std::chrono::steady_clock::time_point steadyNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::now();
  }
};

// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point wall = {},
                       std::chrono::steady_clock::time_point steady = {})
      : wall_(wall.time_since_epoch().count()), steady_(steady.time_since_epoch().count()) {}
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(wall_.load()));
  }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(steady_.load()));
  }
  void advance(std::chrono::nanoseconds d) {
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d).count();
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d).count();
  }

 private:
  std::atomic<std::chrono::system_clock::rep> wall_;
  std::atomic<std::chrono::steady_clock::rep> steady_;
};

}  // namespace edgecore::core
