#include "edgecore/metaserver/metrics.h"

#include <cmath>
#include <cstdio>

#include "server_metrics.h"

namespace edgecore::metaserver {

std::string formatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void MetricsRegistry::add(std::string name, std::string help, MetricType type, Labels labels,
                          ValueFn fn) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(std::move(name));
  if (inserted) {
    it->second.help = std::move(help);
    it->second.type = type;
  }
  it->second.samples.push_back(Sample{std::move(labels), std::move(fn)});
}

void MetricsRegistry::addCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + (fam.type == MetricType::Counter ? " counter\n" : " gauge\n");
    for (const auto& s : fam.samples) {
      out += name;
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out += ',';
          out += s.labels[i].first + "=\"" + escapeLabelValue(s.labels[i].second) + "\"";
        }
        out += '}';
      }
      out += ' ';
      out += formatMetricValue(s.fn ? s.fn() : 0.0);
      out += '\n';
    }
  }
  for (const auto& c : collectors_) c(out);
  return out;
}

// ---------------------------------------------------------------------------------------------

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
