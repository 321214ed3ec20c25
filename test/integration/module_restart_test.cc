// featureGates.moduleRestart in the real edgecore binary. eventbus is made to fail every run: its
// broker address has no port, so its factory refuses it (config loading does not check it). With
// the gate the daemon keeps serving and restarts eventbus after 1 s, 2 s ..., logging each
// restart and counting it on MetaServer's /metrics; without the gate edgecore exits with the
// error, as before.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <regex>
#include <string>

#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;

const std::string kEdgecore = EDGECORE_BINARY;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ModuleRestartProcess : public ::testing::Test {
 protected:
  // edgecore with MetaServer (for /metrics) and an eventbus that cannot be created.
  std::unique_ptr<ChildProcess> start(bool gate) {
    port_ = freeLoopbackPort();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
               "kind: EdgeCore\n"
               "featureGates:\n"
               "  moduleRestart: " +
                   std::string(gate ? "true" : "false") +
                   "\n"
                   "database:\n"
                   "  dataSource: " +
                   dir_.file("edgecore.db") +
                   "\n"
                   "modules:\n"
                   "  deviceTwin: {enable: false}\n"
                   "  edgeHub: {enable: false}\n"
                   "  edged: {enable: false, hostnameOverride: edge-1}\n"
                   "  eventBus:\n"
                   "    enable: true\n"
                   "    mqttMode: 2\n"
                   "    mqttServerExternal: tcp://broker-without-port\n"
                   "  metaManager:\n"
                   "    metaServer:\n"
                   "      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{kEdgecore, "--config", dir_.file("edgecore.yaml")});
  }

  std::string scrapeMetrics() {
    ProcessResult r = runCommand(
        {"/usr/bin/curl", "-sS", "http://127.0.0.1:" + std::to_string(port_) + "/metrics"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  TempDir dir_;
  int port_ = 0;
};

TEST_F(ModuleRestartProcess, GateOnRestartsTheFailedModuleAndCountsIt) {
  auto edgecore = start(true);
  ASSERT_TRUE(waitUntilRunning(*edgecore, 10s)) << edgecore->stderrSoFar();
  // The first restart after 1 s, the second 2 s after that.
  ASSERT_TRUE(waitFor(
      [&] {
        return contains(edgecore->stderrSoFar(), "module started module=eventbus restart=2") ||
               contains(edgecore->stderrSoFar(), "module restarting module=eventbus restart=2");
      },
      15s))
      << edgecore->stderrSoFar();
  std::string metrics = scrapeMetrics();
  std::string logs = edgecore->stderrSoFar();

  std::regex failed(
      "module failed module=eventbus err=\"creating module eventbus: .*\" restart_in_ms=([0-9]+)");
  std::vector<std::string> delays;
  for (auto it = std::sregex_iterator(logs.begin(), logs.end(), failed);
       it != std::sregex_iterator(); ++it) {
    delays.push_back((*it)[1].str());
  }
  ASSERT_GE(delays.size(), 2u) << logs;
  EXPECT_EQ(delays[0], "1000");
  EXPECT_EQ(delays[1], "2000");
  if (delays.size() > 2) {
    EXPECT_EQ(delays[2], "4000");
  }
  EXPECT_TRUE(contains(logs,
                       "module restarting module=eventbus restart=1 err=\"creating module "
                       "eventbus: "))
      << logs;
  EXPECT_TRUE(contains(logs, "broker-without-port")) << logs;
  // Scraped after the second restart began and well before the third (4 s later).
  EXPECT_TRUE(contains(metrics, "# TYPE edgecore_module_restarts_total counter")) << metrics;
  EXPECT_TRUE(contains(metrics, "edgecore_module_restarts_total{module=\"eventbus\"} 2"))
      << metrics;
  // MetaServer has no restart policy upstream: no series, and it kept serving throughout.
  EXPECT_FALSE(contains(metrics, "module=\"metaserver\"")) << metrics;

  auto result = terminate(*edgecore, 5s);
  ASSERT_TRUE(result.has_value()) << edgecore->stderrSoFar();
  EXPECT_EQ(result->exit_code, 0) << result->err;
}

TEST_F(ModuleRestartProcess, GateOffStopsWithTheErrorAsBefore) {
  auto edgecore = start(false);
  auto result = edgecore->wait(10s);
  ASSERT_TRUE(result.has_value()) << edgecore->stderrSoFar();
  EXPECT_EQ(result->exit_code, 1) << result->err;
  EXPECT_TRUE(contains(result->err, "startup failed err=\"creating module eventbus: "))
      << result->err;
  EXPECT_TRUE(contains(result->err, "edgecore exiting")) << result->err;
  EXPECT_FALSE(contains(result->err, "module restarting")) << result->err;
}

}  // namespace
}  // namespace edgecore::testing
