#pragma once

// MetaServer's own request counters and latency histogram, rendered through a MetricsRegistry
// collector. record() is called once per request from connection strands; a short mutex is
// cheaper than the request itself by orders of magnitude.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace edgecore::metaserver {

class ServerMetrics {
 public:
  static constexpr size_t kBuckets = 15;
  static const std::array<double, kBuckets> kBounds;

  void record(std::string_view verb, int code, double seconds);
  void render(std::string& out) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
};

}  // namespace edgecore::metaserver
