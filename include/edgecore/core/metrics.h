#pragma once

// The agent's one Prometheus text-format registry. The daemon owns it and hands it to every
// module through ModuleContext::metrics; modules add their series, and every /metrics endpoint
// (MetaServer's, the edged server's, which the cloud scrapes through the stream tunnel) renders
// the same registry, so there is one implementation and one set of series.
//
// Values are read when /metrics is scraped (callbacks), so nothing is pushed on hot paths.
// Thread-safety: every method may be called from any thread (modules run on different strands).
// render() holds the registry's lock while it calls the callbacks: a callback must be quick,
// must not block and must not call back into the registry.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace edgecore::core {

enum class MetricType { Counter, Gauge };

class MetricsRegistry {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Reads the current value; called on the scraping connection's thread, must not block.
  using ValueFn = std::function<double()>;
  // Free-form text appended at render time (histograms, labelled families that change at run
  // time, another module's snapshot). It must write complete "# HELP/# TYPE" blocks.
  using Collector = std::function<void(std::string& out)>;

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Removes its collector when destroyed (or reset()); once that returns, the collector is not
  // running and will not run again, so the objects it reads may go. Move-only.
  class [[nodiscard]] Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    ~Registration() { reset(); }
    void reset();

   private:
    friend class MetricsRegistry;
    Registration(std::weak_ptr<MetricsRegistry*> owner, uint64_t id)
        : owner_(std::move(owner)), id_(id) {}
    std::weak_ptr<MetricsRegistry*> owner_;
    uint64_t id_ = 0;
  };

  // Adds one sample of family `name` (valid Prometheus name, e.g. "edgecore_bus_drops_total"),
  // kept for the registry's lifetime. Samples of one family share `help` and `type` (the first
  // registration's are kept).
  void add(std::string name, std::string help, MetricType type, Labels labels, ValueFn fn);
  void addCounter(std::string name, std::string help, ValueFn fn) {
    add(std::move(name), std::move(help), MetricType::Counter, {}, std::move(fn));
  }
  void addGauge(std::string name, std::string help, ValueFn fn) {
    add(std::move(name), std::move(help), MetricType::Gauge, {}, std::move(fn));
  }
  // A collector kept for the registry's lifetime (what it reads must live as long).
  void addCollector(Collector collector);
  // A collector that lives as long as the returned handle: what a module registers, so that a
  // scrape never reaches a module that is gone.
  Registration addScopedCollector(Collector collector);

  // The exposition text (text/plain; version=0.0.4).
  std::string render() const;

 private:
  void remove(uint64_t id);

  struct Sample {
    Labels labels;
    ValueFn fn;
  };
  struct Family {
    std::string help;
    MetricType type = MetricType::Gauge;
    std::vector<Sample> samples;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::map<uint64_t, Collector> collectors_;  // by registration order
  uint64_t next_id_ = 1;
  // Registrations hold a weak reference: a handle outliving the registry does nothing.
  std::shared_ptr<MetricsRegistry*> self_ = std::make_shared<MetricsRegistry*>(this);
};
using MetricsRegistrySharedPtr = std::shared_ptr<MetricsRegistry>;

// Formats a sample value the way Prometheus expects ("1", "0.25", "+Inf", "NaN").
std::string formatMetricValue(double v);
// Escapes a label value (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view v);
// Appends one complete unlabelled family: "# HELP", "# TYPE" and the sample. For collectors.
void appendMetricFamily(std::string& out, std::string_view name, std::string_view help,
                        MetricType type, double value);

// The content type of render()'s text.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Adds the process series every agent exports: process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds, process_cpu_seconds_total (from /proc/self) and
// edgecore_uptime_seconds. Called once by the daemon.
void addProcessMetrics(MetricsRegistry& registry);

}  // namespace edgecore::core
