#pragma once

// A token bucket with explicit time, the semantics of client-go's flowcontrol token bucket
// (rate `qps` per second, capacity `burst`, starts full). Pure: the caller passes the time, so
// tests need no clock. Not thread-safe; edgehub uses it on its strand.

#include <algorithm>
#include <chrono>

namespace edgecore::edgehub {

class TokenBucket {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // qps <= 0 disables limiting (every take succeeds). burst < 1 is treated as 1.
  TokenBucket(double qps, int burst, TimePoint now)
      : qps_(qps), burst_(std::max(burst, 1)), tokens_(burst_), last_(now) {}

  // Takes one token if available and returns zero; otherwise takes nothing and returns how long
  // until one is available.
  std::chrono::nanoseconds tryTake(TimePoint now) {
    if (qps_ <= 0) {
      return std::chrono::nanoseconds(0);
    }
    refill(now);
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return std::chrono::nanoseconds(0);
    }
    double missing_s = (1.0 - tokens_) / qps_;
    return std::max(std::chrono::nanoseconds(1),
                    std::chrono::nanoseconds(static_cast<int64_t>(missing_s * 1e9)));
  }

  double tokensForTest(TimePoint now) {
    refill(now);
    return tokens_;
  }

 private:
  void refill(TimePoint now) {
    if (now > last_) {
      double dt = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(static_cast<double>(burst_), tokens_ + dt * qps_);
      last_ = now;
    }
  }

  double qps_;
  int burst_;
  double tokens_;
  TimePoint last_;
};

}  // namespace edgecore::edgehub
