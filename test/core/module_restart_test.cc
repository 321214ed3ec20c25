// featureGates.moduleRestart in the daemon (docs/node-tasks.md section 6): a failed module run is
// stopped, the module destroyed and created again after 1 s, 2 s, 4 s ... capped at 30 s (here
// shortened through DaemonOptions), counted on /metrics; without the gate a failed run stops the
// daemon with the error.

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "util/lines_sink.h"
#include "util/wait.h"

namespace edgecore::core {
namespace {

using namespace std::chrono_literals;
using edgecore::testing::LinesSink;
using edgecore::testing::waitFor;

// What every run of the test module did, in order; shared by the runs' objects.
struct Journal {
  std::mutex mu;
  std::vector<std::string> events;
  std::vector<std::chrono::steady_clock::time_point> starts;
  std::vector<std::function<void(Status)>> reporters;  // each run's report_failure

  void add(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> copy() {
    std::lock_guard lock(mu);
    return events;
  }
  size_t startCount() {
    std::lock_guard lock(mu);
    return starts.size();
  }
};

// How run n (1-based) of the flaky module ends.
enum class RunEnd { Healthy, FactoryError, StartError, ReportsFailure };

// Reports its failure from its strand after start(), as a module's coroutine would.
class FlakyModule final : public Module {
 public:
  FlakyModule(ModuleContext ctx, Journal& journal, int run, RunEnd end)
      : ctx_(std::move(ctx)), journal_(journal), run_(run), end_(end) {
    journal_.add("create " + std::to_string(run_));
  }
  ~FlakyModule() override { journal_.add("destroy " + std::to_string(run_)); }

  // core::Module
  std::string_view name() const override { return "flaky"; }
  std::string_view group() const override { return "flaky"; }
  Status start() override {
    {
      std::lock_guard lock(journal_.mu);
      journal_.events.push_back("start " + std::to_string(run_));
      journal_.starts.push_back(std::chrono::steady_clock::now());
      journal_.reporters.push_back(ctx_.report_failure);
    }
    if (end_ == RunEnd::StartError) {
      return unavailable("port taken in run " + std::to_string(run_));
    }
    if (end_ == RunEnd::ReportsFailure) {
      asio::post(ctx_.strand, [report = ctx_.report_failure, run = run_] {
        report(internalError("loop ended in run " + std::to_string(run)));
      });
    }
    return {};
  }
  void stop() override { journal_.add("stop " + std::to_string(run_)); }

 private:
  ModuleContext ctx_;
  Journal& journal_;
  int run_;
  RunEnd end_;
};

DaemonOptions shortRestarts() {
  DaemonOptions options;
  options.handle_signals = false;
  options.restart_interval = 40ms;
  options.restart_interval_limit = 160ms;
  return options;
}

class ModuleRestartTest : public ::testing::Test {
 protected:
  ModuleRestartTest()
      : config_(defaultConfig(HostInfo{"edge-test", "127.0.0.1"})),
        sink_(std::make_shared<LinesSink>()),
        loggers_(spdlog::level::info, sink_) {}

  void setGate(bool on) { config_.feature_gates[std::string(kModuleRestartGate)] = on; }

  // The flaky module: run n ends as ends[n-1]; runs past the list are healthy.
  ModuleSpec flaky(std::vector<RunEnd> ends, bool restart_on_failure = true) {
    ModuleSpec s;
    s.name = "flaky";
    s.config_path = "modules.flaky";
    s.enabled = true;
    s.restart_on_failure = restart_on_failure;
    s.factory = [this, ends,
                 runs = std::make_shared<int>(0)](ModuleContext ctx) -> Result<ModulePtr> {
      int run = ++*runs;
      RunEnd end = run <= static_cast<int>(ends.size()) ? ends[run - 1] : RunEnd::Healthy;
      if (end == RunEnd::FactoryError) {
        std::lock_guard lock(journal_.mu);
        journal_.events.push_back("factory error " + std::to_string(run));
        journal_.reporters.push_back(ctx.report_failure);  // a factory may keep it
        return unavailable("certificate missing in run " + std::to_string(run));
      }
      return ModulePtr(std::make_unique<FlakyModule>(std::move(ctx), journal_, run, end));
    };
    return s;
  }

  // A healthy module started before the flaky one: a restart must not touch it.
  ModuleSpec steady() {
    ModuleSpec s;
    s.name = "steady";
    s.config_path = "modules.steady";
    s.enabled = true;
    s.factory = [this](ModuleContext) -> Result<ModulePtr> {
      class Steady final : public Module {
       public:
        explicit Steady(Journal& j) : j_(j) {}
        std::string_view name() const override { return "steady"; }
        std::string_view group() const override { return "steady"; }
        Status start() override {
          j_.add("start steady");
          return {};
        }
        void stop() override { j_.add("stop steady"); }

       private:
        Journal& j_;
      };
      return ModulePtr(std::make_unique<Steady>(journal_));
    };
    return s;
  }

  // The restart_in_ms values of the daemon's "module failed" lines, in order.
  std::vector<int> loggedDelays() {
    std::vector<int> delays;
    std::string text = sink_->text();
    std::regex re("module failed module=flaky err=\"[^\"]*\" restart_in_ms=([0-9]+)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it) {
      delays.push_back(std::stoi((*it)[1].str()));
    }
    return delays;
  }

  bool logged(const std::string& s) { return sink_->text().find(s) != std::string::npos; }

  EdgeCoreConfig config_;
  std::shared_ptr<LinesSink> sink_;
  LoggerFactory loggers_;
  Journal journal_;
};

TEST_F(ModuleRestartTest, FailedRunsRestartWithDoublingDelayCappedAndCounted) {
  setGate(true);
  Daemon daemon(config_, loggers_, shortRestarts());
  std::vector<RunEnd> ends(5, RunEnd::ReportsFailure);  // run 6 stays up
  Status st;
  std::thread runner([&] { st = daemon.run({steady(), flaky(ends)}); });
  bool sixth = waitFor([&] { return journal_.startCount() >= 6; }, 10s);
  std::this_thread::sleep_for(300ms);  // long enough for a wrong seventh run to show
  std::string metrics = daemon.metrics().render();
  daemon.requestStop();
  runner.join();
  ASSERT_TRUE(sixth) << sink_->text();
  ASSERT_TRUE(st.ok()) << st.toString();

  // 40 ms doubling, capped at 160 ms: beehive's 1, 2, 4 ... 30 s sequence, shortened.
  EXPECT_EQ(loggedDelays(), (std::vector<int>{40, 80, 160, 160, 160})) << sink_->text();
  std::vector<std::chrono::milliseconds> expected{40ms, 80ms, 160ms, 160ms, 160ms};
  {
    std::lock_guard lock(journal_.mu);
    ASSERT_EQ(journal_.starts.size(), 6u);
    for (size_t i = 1; i < journal_.starts.size(); ++i) {
      EXPECT_GE(journal_.starts[i] - journal_.starts[i - 1], expected[i - 1]) << "restart " << i;
    }
  }
  EXPECT_NE(metrics.find("# TYPE edgecore_module_restarts_total counter"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("edgecore_module_restarts_total{module=\"flaky\"} 5"), std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("module=\"steady\""), std::string::npos) << metrics;
  EXPECT_TRUE(logged("module restarting module=flaky restart=1 err=\"loop ended in run 1\""));
  EXPECT_TRUE(logged("module restarting module=flaky restart=5 err=\"loop ended in run 5\""));
  EXPECT_TRUE(logged("module started module=flaky restart=5"));

  // Each failed object is stopped and destroyed before its successor is created; the healthy
  // module is left alone until the daemon stops.
  std::vector<std::string> events = journal_.copy();
  std::vector<std::string> want{"start steady"};
  for (int run = 1; run <= 5; ++run) {
    std::string n = std::to_string(run);
    for (const char* e : {"create ", "start ", "stop ", "destroy "}) {
      want.push_back(e + n);
    }
  }
  for (const char* e : {"create 6", "start 6", "stop 6", "stop steady", "destroy 6"}) {
    want.push_back(e);
  }
  EXPECT_EQ(events, want);
}

TEST_F(ModuleRestartTest, FactoryAndStartErrorsAreFailedRunsToo) {
  setGate(true);
  Daemon daemon(config_, loggers_, shortRestarts());
  Status st;
  std::thread runner([&] {
    st = daemon.run({flaky({RunEnd::FactoryError, RunEnd::StartError}), steady()});
  });
  // The failed first run does not hold up the modules after it.
  bool up = waitFor([&] { return journal_.startCount() >= 2; }, 10s);
  std::string metrics = daemon.metrics().render();
  daemon.requestStop();
  runner.join();
  ASSERT_TRUE(up) << sink_->text();
  ASSERT_TRUE(st.ok()) << st.toString();
  std::vector<std::string> events = journal_.copy();
  EXPECT_EQ(events, (std::vector<std::string>{"factory error 1", "start steady", "create 2",
                                              "start 2", "stop 2", "destroy 2", "create 3",
                                              "start 3", "stop steady", "stop 3", "destroy 3"}));
  EXPECT_EQ(loggedDelays(), (std::vector<int>{40, 80}));
  EXPECT_TRUE(
      logged("module restarting module=flaky restart=1 err=\"creating module flaky: "
             "certificate missing in run 1\""))
      << sink_->text();
  EXPECT_TRUE(
      logged("module restarting module=flaky restart=2 err=\"starting module flaky: port "
             "taken in run 2\""))
      << sink_->text();
  EXPECT_NE(metrics.find("edgecore_module_restarts_total{module=\"flaky\"} 2"), std::string::npos)
      << metrics;
}

TEST_F(ModuleRestartTest, ReportsFromAnEndedRunAndRepeatsAreIgnored) {
  setGate(true);
  DaemonOptions options = shortRestarts();
  Daemon daemon(config_, loggers_, options);
  Status st;
  std::thread runner([&] { st = daemon.run({flaky({RunEnd::ReportsFailure})}); });
  bool second = waitFor([&] { return journal_.startCount() >= 2; }, 10s);
  std::function<void(Status)> first_run_report;
  std::function<void(Status)> second_run_report;
  if (second) {
    std::lock_guard lock(journal_.mu);
    first_run_report = journal_.reporters[0];
    second_run_report = journal_.reporters[1];
  }
  if (first_run_report) {
    first_run_report(internalError("late report from run 1"));
  }
  std::this_thread::sleep_for(200ms);
  size_t starts_after_stale = journal_.startCount();
  // Two reports of the live run: one restart.
  if (second_run_report) {
    second_run_report(internalError("run 2 broke"));
    second_run_report(internalError("run 2 broke again"));
  }
  bool third = waitFor([&] { return journal_.startCount() >= 3; }, 10s);
  std::this_thread::sleep_for(400ms);
  std::string metrics = daemon.metrics().render();
  daemon.requestStop();
  runner.join();
  ASSERT_TRUE(second && third) << sink_->text();
  ASSERT_TRUE(st.ok()) << st.toString();
  EXPECT_EQ(starts_after_stale, 2u);
  EXPECT_EQ(journal_.startCount(), 3u);
  EXPECT_EQ(loggedDelays(), (std::vector<int>{40, 80}));
  EXPECT_FALSE(logged("late report from run 1"));
  EXPECT_FALSE(logged("run 2 broke again"));
  EXPECT_NE(metrics.find("edgecore_module_restarts_total{module=\"flaky\"} 2"), std::string::npos)
      << metrics;
}

TEST_F(ModuleRestartTest, AReportForARunWhoseFactoryFailedIsIgnored) {
  setGate(true);
  DaemonOptions options = shortRestarts();
  options.restart_interval = 300ms;
  Daemon daemon(config_, loggers_, options);
  Status st;
  std::thread runner([&] { st = daemon.run({flaky({RunEnd::FactoryError})}); });
  bool got = waitFor(
      [&] {
        std::lock_guard lock(journal_.mu);
        return !journal_.reporters.empty();
      },
      10s);
  std::function<void(Status)> report;
  if (got) {
    std::lock_guard lock(journal_.mu);
    report = journal_.reporters[0];
  }
  if (report) {
    report(internalError("report from a run that never started"));
  }
  bool second = waitFor([&] { return journal_.startCount() >= 1; }, 10s);
  daemon.requestStop();
  runner.join();
  ASSERT_TRUE(got && second) << sink_->text();
  ASSERT_TRUE(st.ok()) << st.toString();
  EXPECT_EQ(loggedDelays(), (std::vector<int>{300})) << sink_->text();
  EXPECT_FALSE(logged("never started")) << sink_->text();
}

TEST_F(ModuleRestartTest, StopDuringTheRestartDelayEndsCleanly) {
  setGate(true);
  DaemonOptions options = shortRestarts();
  options.restart_interval = 30s;  // beehive's cap: the stop must not wait for it
  Daemon daemon(config_, loggers_, options);
  Status st;
  auto t0 = std::chrono::steady_clock::now();
  std::thread runner([&] { st = daemon.run({flaky({RunEnd::ReportsFailure})}); });
  bool failed = waitFor([&] { return logged("restart_in_ms=30000"); }, 10s);
  daemon.requestStop();
  runner.join();
  ASSERT_TRUE(failed) << sink_->text();
  ASSERT_TRUE(st.ok()) << st.toString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(journal_.copy(),
            (std::vector<std::string>{"create 1", "start 1", "stop 1", "destroy 1"}));
}

TEST_F(ModuleRestartTest, WithoutTheGateAFailedRunStopsTheDaemonWithItsError) {
  setGate(false);
  Daemon daemon(config_, loggers_, shortRestarts());
  Status st = daemon.run({steady(), flaky({RunEnd::ReportsFailure})});
  EXPECT_EQ(st.code(), StatusCode::Internal) << st.toString();
  EXPECT_EQ(st.message(), "module flaky failed: loop ended in run 1");
  EXPECT_EQ(journal_.copy(), (std::vector<std::string>{"start steady", "create 1", "start 1",
                                                       "stop 1", "stop steady", "destroy 1"}));
  EXPECT_TRUE(logged("module failed module=flaky err=\"loop ended in run 1\""));
  EXPECT_TRUE(logged("stopping reason=module flaky failed"));
  EXPECT_EQ(daemon.metrics().render().find("edgecore_module_restarts_total"), std::string::npos);
}

TEST_F(ModuleRestartTest, WithoutTheGateAStartErrorStillEndsStartup) {
  setGate(false);
  Daemon daemon(config_, loggers_, shortRestarts());
  Status st = daemon.run({steady(), flaky({RunEnd::StartError})});
  EXPECT_EQ(st.code(), StatusCode::Unavailable) << st.toString();
  EXPECT_EQ(st.message(), "starting module flaky: port taken in run 1");
  EXPECT_EQ(journal_.copy(), (std::vector<std::string>{"start steady", "create 1", "start 1",
                                                       "destroy 1", "stop steady"}));
}

TEST_F(ModuleRestartTest, GateOnButNoRestartPolicyStopsTheDaemon) {
  setGate(true);
  Daemon daemon(config_, loggers_, shortRestarts());
  Status st = daemon.run({flaky({RunEnd::ReportsFailure}, /*restart_on_failure=*/false)});
  EXPECT_EQ(st.message(), "module flaky failed: loop ended in run 1");
  EXPECT_EQ(journal_.startCount(), 1u);
}

TEST(ModuleRestartPolicy, TheOriginalsOnFailureModules) {
  for (const char* name : {"twin", "edged", "websocket", "edgestream", "eventbus", "metamanager",
                           "servicebus", "taskmanager"}) {
    EXPECT_TRUE(hasOnFailureRestartPolicy(name)) << name;
  }
  EXPECT_FALSE(hasOnFailureRestartPolicy("metaserver"));
  EXPECT_FALSE(hasOnFailureRestartPolicy("edgehub"));  // our module list calls it websocket
  DaemonOptions defaults;
  EXPECT_EQ(defaults.restart_interval, 1s);
  EXPECT_EQ(defaults.restart_interval_limit, 30s);
}

}  // namespace
}  // namespace edgecore::core
