#include "edgecore/metaserver/metrics.h"

#include "server_metrics.h"

namespace edgecore::metaserver {

const std::array<double, ServerMetrics::kBuckets> ServerMetrics::kBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

void ServerMetrics::record(std::string_view verb, int code, double seconds) {
  std::lock_guard lock(mu_);
  requests_[{std::string(verb), code}]++;
  auto& h = latency_[std::string(verb)];
  for (size_t i = 0; i < kBuckets; ++i) {
    if (seconds <= kBounds[i]) h.buckets[i]++;
  }
  h.count++;
  h.sum += seconds;
}

void ServerMetrics::render(std::string& out) const {
  std::lock_guard lock(mu_);
  out += "# HELP metaserver_requests_total Requests served, by verb and HTTP code.\n";
  out += "# TYPE metaserver_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    out += "metaserver_requests_total{verb=\"" + escapeLabelValue(k.first) + "\",code=\"" +
           std::to_string(k.second) + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP metaserver_request_duration_seconds Time to produce a response (watches: to "
      "the first byte), by verb.\n";
  out += "# TYPE metaserver_request_duration_seconds histogram\n";
  for (const auto& [verb, h] : latency_) {
    std::string v = escapeLabelValue(verb);
    for (size_t i = 0; i < kBuckets; ++i) {
      out += "metaserver_request_duration_seconds_bucket{verb=\"" + v + "\",le=\"" +
             formatMetricValue(kBounds[i]) + "\"} " + std::to_string(h.buckets[i]) + "\n";
    }
    out += "metaserver_request_duration_seconds_bucket{verb=\"" + v + "\",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "metaserver_request_duration_seconds_sum{verb=\"" + v + "\"} " +
           formatMetricValue(h.sum) + "\n";
    out += "metaserver_request_duration_seconds_count{verb=\"" + v + "\"} " +
           std::to_string(h.count) + "\n";
  }
}

}  // namespace edgecore::metaserver
