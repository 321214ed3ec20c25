#pragma once

// Capped exponential backoff, jittered in [base/2, base] (STYLE 3: about 1 s -> 30 s). During the
// first minute of an outage the base stays at most 1.5 s, so a cloud back after a short outage (a
// restart, a flapping link) is found within two seconds; after that it grows x1.5 per attempt to
// the cap, so a long outage costs little. Pure apart from the random source, which the caller
// seeds (tests use a fixed seed).

#include <algorithm>
#include <chrono>
#include <random>

namespace edgecore::edgehub {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, uint64_t seed)
      : initial_(std::max(initial, std::chrono::milliseconds(1))), cap_(cap), rng_(seed) {}

  // The delay before the next attempt; grows x1.5 per call up to the cap.
  std::chrono::milliseconds next() {
    double grown = static_cast<double>(initial_.count());
    for (int i = 0; i < attempt_ && grown < static_cast<double>(cap_.count()); ++i) {
      grown *= 1.5;
    }
    auto base = std::min(cap_, std::chrono::milliseconds(static_cast<int64_t>(grown)));
    if (waited_ < kFastPhase) {
      base = std::min(base, kFastCap);
    }
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist(base.count() / 2, base.count());
    auto delay = std::chrono::milliseconds(dist(rng_));
    waited_ += delay;
    return delay;
  }
  void reset() {
    attempt_ = 0;
    waited_ = std::chrono::milliseconds(0);
  }
  int attempts() const { return attempt_; }

 private:
  static constexpr std::chrono::milliseconds kFastPhase{60000};
  static constexpr std::chrono::milliseconds kFastCap{1500};

  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds waited_{0};  // sum of the delays handed out since reset()
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace edgecore::edgehub
