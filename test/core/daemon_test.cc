#include "edgecore/core/daemon.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgecore/core/config.h"
#include "util/wait.h"

namespace edgecore::core {
namespace {

using namespace std::chrono_literals;

// Records start/stop calls into a shared journal, in the order they happen.
class JournalModule final : public Module {
 public:
  JournalModule(std::string name, std::vector<std::string>& journal, std::mutex& mu,
                Status start_result = {}, std::chrono::milliseconds stop_delay = 0ms)
      : name_(std::move(name)),
        journal_(journal),
        mu_(mu),
        start_result_(std::move(start_result)),
        stop_delay_(stop_delay) {}

  // core::Module
  std::string_view name() const override { return name_; }
  std::string_view group() const override { return name_; }
  Status start() override {
    record("start " + name_);
    return start_result_;
  }
  void stop() override {
    std::this_thread::sleep_for(stop_delay_);  // a module slow to stop: its stop takes this long
    record("stop " + name_);
  }

 private:
  void record(std::string line) {
    std::lock_guard lock(mu_);
    journal_.push_back(std::move(line));
  }
  std::string name_;
  std::vector<std::string>& journal_;
  std::mutex& mu_;
  Status start_result_;
  std::chrono::milliseconds stop_delay_;
};

DaemonOptions testOptions() {
  DaemonOptions options;
  options.handle_signals = false;
  return options;
}

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest()
      : config_(defaultConfig(HostInfo{"edge-test", "127.0.0.1"})),
        loggers_(spdlog::level::info, std::make_shared<spdlog::sinks::ostream_sink_mt>(logs_)) {}

  ModuleSpec spec(const std::string& name, Status start_result = {},
                  std::chrono::milliseconds stop_delay = 0ms, bool enabled = true) {
    ModuleSpec s;
    s.name = name;
    s.config_path = "modules." + name;
    s.enabled = enabled;
    s.factory = [this, name, start_result, stop_delay](ModuleContext) -> Result<ModulePtr> {
      return ModulePtr(
          std::make_unique<JournalModule>(name, journal_, mu_, start_result, stop_delay));
    };
    return s;
  }

  std::vector<std::string> journal() {
    std::lock_guard lock(mu_);
    return journal_;
  }

  EdgeCoreConfig config_;
  std::ostringstream logs_;
  LoggerFactory loggers_;
  std::mutex mu_;
  std::vector<std::string> journal_;
};

TEST_F(DaemonTest, StartsInOrderAndStopsInReverse) {
  Daemon daemon(config_, loggers_, testOptions());
  std::vector<ModuleSpec> specs{spec("a"), spec("b"), spec("c")};
  std::thread stopper([&] {
    // Stop once all three have started.
    (void)edgecore::testing::waitFor([&] { return journal().size() >= 3; }, 1s, 2ms);
    daemon.requestStop();
  });
  Status st = daemon.run(std::move(specs));
  stopper.join();
  ASSERT_TRUE(st.ok()) << st.toString();
  EXPECT_EQ(journal(), (std::vector<std::string>{"start a", "start b", "start c", "stop c",
                                                 "stop b", "stop a"}));
}

TEST_F(DaemonTest, FailedStartStopsEarlierModulesAndSkipsLaterOnes) {
  Daemon daemon(config_, loggers_, testOptions());
  std::vector<ModuleSpec> specs{spec("a"), spec("b", unavailable("socket busy")), spec("c")};
  Status st = daemon.run(std::move(specs));
  EXPECT_EQ(st.code(), StatusCode::Unavailable);
  EXPECT_EQ(st.message(), "starting module b: socket busy");
  EXPECT_EQ(journal(), (std::vector<std::string>{"start a", "start b", "stop a"}));
}

TEST_F(DaemonTest, DisabledAndUnbuiltModulesAreNotStartedAndSaySo) {
  Daemon daemon(config_, loggers_, testOptions());
  ModuleSpec unbuilt;
  unbuilt.name = "edgestream";
  unbuilt.config_path = "modules.edgeStream";
  unbuilt.enabled = true;
  unbuilt.missing_note = "(issue #8)";
  std::vector<ModuleSpec> specs{spec("a", {}, 0ms, /*enabled=*/false), unbuilt};
  daemon.requestStop();
  ASSERT_TRUE(daemon.run(std::move(specs)).ok());
  EXPECT_TRUE(journal().empty());
  std::string logs = logs_.str();
  EXPECT_NE(logs.find("module disabled module=a config=modules.a.enable=false"), std::string::npos)
      << logs;
  EXPECT_NE(logs.find("module not started module=edgestream"), std::string::npos) << logs;
  EXPECT_NE(logs.find("(issue #8)"), std::string::npos) << logs;
}

TEST_F(DaemonTest, StopOverrunningDeadlineIsReported) {
  std::atomic<int64_t> overrun_after_ms{-1};
  auto t0 = std::chrono::steady_clock::now();
  DaemonOptions options = testOptions();
  options.stop_deadline = 100ms;
  options.on_stop_overrun = [&] {
    overrun_after_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
  };
  Daemon daemon(config_, loggers_, options);
  std::vector<ModuleSpec> specs{spec("slow", {}, 400ms)};
  daemon.requestStop();
  Status st = daemon.run(std::move(specs));
  EXPECT_EQ(st.code(), StatusCode::DeadlineExceeded) << st.toString();
  // The overrun is declared at the deadline, not when the slow module finally returns.
  EXPECT_GE(overrun_after_ms.load(), 90);
  EXPECT_LT(overrun_after_ms.load(), 350);
  EXPECT_NE(logs_.str().find("shutdown overran deadline deadline_ms=100 waiting_for=slow"),
            std::string::npos)
      << logs_.str();
}

// A module whose ioc has a handler pending at shutdown that holds a strand of the blocking pool
// (a timer wait never completed: what a module's coroutine waiting on a pool strand leaves
// behind). Destroying the daemon must destroy that handler while the pool still exists (ASan
// reported a use after free when the pool went first).
class PendingAcrossContextsModule final : public Module {
 public:
  explicit PendingAcrossContextsModule(ModuleContext ctx) : ctx_(std::move(ctx)) {}
  std::string_view name() const override { return "pending"; }
  std::string_view group() const override { return "pending"; }
  Status start() override {
    auto timer = std::make_shared<asio::steady_timer>(ctx_.strand, std::chrono::hours(1));
    auto on_pool = asio::make_strand(ctx_.blocking);
    timer->async_wait([timer, on_pool](const boost::system::error_code&) {});
    // And the other way round: a pool handler queued behind a busy one on a pool strand when
    // the pool stops, holding a strand of the ioc.
    asio::post(on_pool, [] { std::this_thread::sleep_for(50ms); });
    asio::post(on_pool, [on_ioc = ctx_.strand] {});
    return {};
  }
  void stop() override {}

 private:
  ModuleContext ctx_;
};

TEST_F(DaemonTest, HandlersPendingAtShutdownAreDestroyedBeforeEitherContextGoes) {
  bool started = false;
  {
    // The timer is never cancelled, so the I/O threads only end through the overrun path, which
    // stops the io_context with the handler still queued (the process would exit there by
    // default; a test goes on to the destructor).
    DaemonOptions options = testOptions();
    options.stop_deadline = 200ms;
    options.on_stop_overrun = [] {};
    Daemon daemon(config_, loggers_, options);
    ModuleSpec s;
    s.name = "pending";
    s.config_path = "modules.pending";
    s.enabled = true;
    s.factory = [&started](ModuleContext ctx) -> Result<ModulePtr> {
      started = true;
      return ModulePtr(std::make_unique<PendingAcrossContextsModule>(std::move(ctx)));
    };
    daemon.requestStop();
    EXPECT_EQ(daemon.run({s}).code(), StatusCode::DeadlineExceeded);
  }  // the destructor: under ASan a use after free here fails the test binary
  EXPECT_TRUE(started);
}

}  // namespace
}  // namespace edgecore::core
