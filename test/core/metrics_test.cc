// core::MetricsRegistry: the agent's one registry (families, collectors, scoped registrations)
// and the process series the daemon adds.

#include "edgecore/core/metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace edgecore::core {
namespace {

TEST(MetricsRegistry, RendersFamiliesThenCollectors) {
  MetricsRegistry r;
  double v = 3;
  r.addGauge("b_gauge", "A gauge.", [&v] { return v; });
  r.add("a_total", "A counter.", MetricType::Counter, {{"kind", "x\"y"}}, [] { return 2.5; });
  r.addCollector(
      [](std::string& out) { appendMetricFamily(out, "z_extra", "Extra.", MetricType::Gauge, 7); });
  std::string text = r.render();
  EXPECT_EQ(text,
            "# HELP a_total A counter.\n# TYPE a_total counter\na_total{kind=\"x\\\"y\"} 2.5\n"
            "# HELP b_gauge A gauge.\n# TYPE b_gauge gauge\nb_gauge 3\n"
            "# HELP z_extra Extra.\n# TYPE z_extra gauge\nz_extra 7\n");
  v = 4;
  EXPECT_NE(r.render().find("b_gauge 4\n"), std::string::npos);
}

TEST(MetricsRegistry, ScopedCollectorGoesWithItsHandle) {
  MetricsRegistry r;
  {
    auto reg = r.addScopedCollector([](std::string& out) { out += "# scoped\n"; });
    EXPECT_NE(r.render().find("# scoped\n"), std::string::npos);
    MetricsRegistry::Registration moved = std::move(reg);
    EXPECT_NE(r.render().find("# scoped\n"), std::string::npos);
  }
  EXPECT_EQ(r.render().find("# scoped\n"), std::string::npos);
  // A handle that outlives its registry does nothing when it goes.
  MetricsRegistry::Registration late;
  {
    MetricsRegistry short_lived;
    late = short_lived.addScopedCollector([](std::string&) {});
  }
  late.reset();
}

// Modules register from their strands while a scrape renders on another thread.
TEST(MetricsRegistry, ConcurrentRegistrationAndRender) {
  MetricsRegistry r;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done) {
      std::string text = r.render();
      EXPECT_TRUE(text.empty() || text.back() == '\n');
    }
  });
  std::vector<std::thread> modules;
  for (int t = 0; t < 4; ++t) {
    modules.emplace_back([&r, t] {
      for (int i = 0; i < 200; ++i) {
        auto reg = r.addScopedCollector([t](std::string& out) {
          appendMetricFamily(out, "m" + std::to_string(t), "M.", MetricType::Gauge, t);
        });
      }
    });
  }
  for (auto& m : modules) {
    m.join();
  }
  done = true;
  scraper.join();
  EXPECT_EQ(r.render(), "");
}

TEST(MetricsRegistry, ProcessSeriesReadTheRealProcess) {
  MetricsRegistry r;
  addProcessMetrics(r);
  auto value = [&r](const std::string& name) {
    std::string text = r.render();
    size_t at = text.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name << "\n" << text;
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
  };
  EXPECT_GT(value("process_resident_memory_bytes"), 1e5);
  double fds = value("process_open_fds");
  EXPECT_GT(fds, 0);
  int extra = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(extra, 0);
  EXPECT_EQ(value("process_open_fds"), fds + 1);
  ::close(extra);
  EXPECT_GT(value("process_start_time_seconds"), 1.7e9);
  EXPECT_GE(value("edgecore_uptime_seconds"), 0);
  EXPECT_GE(value("process_cpu_seconds_total"), 0);
}

}  // namespace
}  // namespace edgecore::core
