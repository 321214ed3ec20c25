// featureGates.moduleRestart with the real eventbus module and the real mosquitto
// (127.0.0.1:1883): after a failed run the daemon destroys the eventbus object and creates a new
// one with the same factory, and the new one really carries MQTT messages onto the bus again.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/eventbus/module.h"
#include "util/lines_sink.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore {
namespace {

using namespace std::chrono_literals;
using edgecore::testing::LinesSink;

std::string uniqueName(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + std::to_string(rng() % 1000000000);
}

// Stands in for devicetwin on the bus ("twin"): eventbus hands it every $hw/events/device/...
// message.
class TwinProbe final : public core::Module {
 public:
  TwinProbe(core::ModuleContext ctx, std::mutex& mu, std::vector<std::string>& got)
      : ctx_(std::move(ctx)), mu_(mu), got_(got) {}
  std::string_view name() const override { return "twin"; }
  std::string_view group() const override { return "twin"; }
  core::Status start() override {
    return ctx_.bus.subscribe("twin", "twin", ctx_.strand, [this](core::Message m) {
      std::lock_guard lock(mu_);
      got_.push_back(m.route.resource + " " + m.contentData());
    });
  }
  void stop() override { ctx_.bus.unsubscribe("twin"); }

 private:
  core::ModuleContext ctx_;
  std::mutex& mu_;
  std::vector<std::string>& got_;
};

class EventBusRestart : public ::testing::Test {
 protected:
  EventBusRestart()
      : config_(core::defaultConfig(core::HostInfo{uniqueName("node-"), "127.0.0.1"})),
        sink_(std::make_shared<LinesSink>()),
        loggers_(spdlog::level::info, sink_) {
    config_.feature_gates[std::string(core::kModuleRestartGate)] = true;
    config_.modules.event_bus.mqtt_server_external = "tcp://127.0.0.1:1883";
    config_.modules.event_bus.mqtt_sub_client_id = uniqueName("edgecore-restart-");
  }

  std::vector<core::ModuleSpec> specs() {
    core::ModuleSpec probe;
    probe.name = "twin";
    probe.config_path = "modules.deviceTwin";
    probe.enabled = true;
    probe.factory = [this](core::ModuleContext ctx) -> core::Result<core::ModulePtr> {
      return core::ModulePtr(std::make_unique<TwinProbe>(std::move(ctx), mu_, got_));
    };
    core::ModuleSpec eventbus;
    eventbus.name = "eventbus";
    eventbus.config_path = "modules.eventBus";
    eventbus.enabled = true;
    eventbus.restart_on_failure = core::hasOnFailureRestartPolicy("eventbus");
    // main.cc's factory, plus a handle on each run's report_failure to force the failure.
    eventbus.factory = [this](core::ModuleContext ctx) {
      {
        std::lock_guard lock(mu_);
        reporters_.push_back(ctx.report_failure);
      }
      return eventbus::create(ctx, nullptr);
    };
    return {probe, eventbus};
  }

  // Publishes a twin update carrying `marker` until the probe got it through eventbus.
  bool carried(const std::string& topic, const std::string& marker) {
    const std::string payload = R"({"event_id":")" + marker + R"(","timestamp":0})";
    return testing::waitFor(
        [&] {
          auto pub = testing::runCommand({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", "1883",
                                          "-q", "1", "-t", topic, "-m", payload});
          EXPECT_EQ(pub.exit_code, 0) << pub.err;
          return testing::waitFor(
              [&] {
                std::lock_guard lock(mu_);
                return std::any_of(got_.begin(), got_.end(), [&](const std::string& g) {
                  return g.rfind(topic + " ", 0) == 0 && g.find(marker) != std::string::npos;
                });
              },
              300ms);
        },
        15s, 1ms);
  }

  std::function<void(core::Status)> reporter(size_t run) {
    std::lock_guard lock(mu_);
    return run < reporters_.size() ? reporters_[run] : nullptr;
  }

  core::EdgeCoreConfig config_;
  std::shared_ptr<LinesSink> sink_;
  core::LoggerFactory loggers_;
  std::mutex mu_;
  std::vector<std::string> got_;
  std::vector<std::function<void(core::Status)>> reporters_;
};

TEST_F(EventBusRestart, RestartedEventBusCarriesMqttToTheBusAgain) {
  ASSERT_TRUE(core::hasOnFailureRestartPolicy("eventbus"));
  core::DaemonOptions options;
  options.handle_signals = false;
  options.restart_interval = 50ms;
  core::Daemon daemon(config_, loggers_, options);
  core::Status st;
  std::thread runner([&] { st = daemon.run(specs()); });
  // eventbus subscribes $hw/events/device/+/+/twin/+ (namespace/name).
  const std::string topic = "$hw/events/device/default/" + uniqueName("dev-") + "/twin/update";

  bool first_run_works = carried(topic, uniqueName("run1-"));
  auto first = reporter(0);
  if (first) {
    first(core::internalError("forced failure of run 1"));
  }
  bool restarted = testing::waitFor(
      [&] {
        return sink_->text().find("module started module=eventbus restart=1") != std::string::npos;
      },
      10s);
  bool second_run_works = restarted && carried(topic, uniqueName("run2-"));
  std::string metrics = daemon.metrics().render();
  daemon.requestStop();
  runner.join();

  ASSERT_TRUE(first_run_works) << sink_->text();
  ASSERT_TRUE(restarted) << sink_->text();
  EXPECT_TRUE(second_run_works) << sink_->text();
  EXPECT_TRUE(st.ok()) << st.toString();
  EXPECT_EQ(reporters_.size(), 2u);  // the factory ran once per run
  EXPECT_NE(sink_->text().find("module restarting module=eventbus restart=1 err=\"forced "
                               "failure of run 1\""),
            std::string::npos)
      << sink_->text();
  EXPECT_NE(metrics.find("edgecore_module_restarts_total{module=\"eventbus\"} 1"),
            std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace edgecore
