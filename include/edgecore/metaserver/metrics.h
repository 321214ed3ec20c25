#pragma once

// A small Prometheus text-format registry. MetaServer registers its own series (requests by verb
// and code, latency histogram, watchers) and serves the whole registry on GET /metrics; the daemon
// adds its own through the same object (store batch sizes, bus drops, uptime) as callbacks that
// read the live value when /metrics is scraped, so nothing is pushed on the hot path.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace edgecore::metaserver {

enum class MetricType { Counter, Gauge };

class MetricsRegistry {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Reads the current value; called on the scraping connection's thread, must not block.
  using ValueFn = std::function<double()>;

  // Adds one sample of family `name` (valid Prometheus name, e.g. "edgecore_bus_drops_total").
  // Samples of one family share `help` and `type` (the first registration's are kept). Any thread.
  void add(std::string name, std::string help, MetricType type, Labels labels, ValueFn fn);
  void addCounter(std::string name, std::string help, ValueFn fn) {
    add(std::move(name), std::move(help), MetricType::Counter, {}, std::move(fn));
  }
  void addGauge(std::string name, std::string help, ValueFn fn) {
    add(std::move(name), std::move(help), MetricType::Gauge, {}, std::move(fn));
  }

  // Free-form text appended by a collector (for histograms and labelled families that change at
  // run time). It must write complete "# HELP/# TYPE" blocks. Any thread.
  using Collector = std::function<void(std::string& out)>;
  void addCollector(Collector collector);

  // The exposition text (text/plain; version=0.0.4). Any thread.
  std::string render() const;

 private:
  struct Sample {
    Labels labels;
    ValueFn fn;
  };
  struct Family {
    std::string help;
    MetricType type;
    std::vector<Sample> samples;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<Collector> collectors_;
};
using MetricsRegistrySharedPtr = std::shared_ptr<MetricsRegistry>;

// Formats a sample value the way Prometheus expects ("1", "0.25", "+Inf", "NaN").
std::string formatMetricValue(double v);
// Escapes a label value (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view v);

}  // namespace edgecore::metaserver
