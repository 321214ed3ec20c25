// The real edgecore binary connected to the cloud simulator over real TLS, with real kubectl
// against its MetaServer: token bootstrap, a cloud insert stored and ACKed, and online reads
// (Applications, spec local-apis 4.6) answered by the simulated dynamiccontroller at once
// instead of waiting out the 10 s request deadline.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "util/cloudsim_start.h"
#include "util/edgecore_process.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kEdgecore = EDGECORE_BINARY;

class ConnectedEdgecore : public ::testing::Test {
 protected:
  void SetUp() override {
    cloudsim::Options o;
    o.node_name = "edge-1";
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    port_ = freeLoopbackPort();
    const std::string d = dir_.path();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
               "kind: EdgeCore\n"
               "database:\n"
               "  dataSource: " +
                   d +
                   "/edgecore.db\n"
                   "modules:\n" +
                   cloudEdgeHubYaml(d, sim_->httpsPort(), sim_->wsPort(), sim_->token()) +
                   "  edged:\n"
                   "    enable: false\n"
                   "    hostnameOverride: edge-1\n"
                   "  metaManager:\n"
                   "    metaServer:\n"
                   "      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kEdgecore, "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << daemon_->stderrSoFar();
  }
  void TearDown() override {
    stopAndReset(daemon_, 10s);
    sim_.reset();
  }

  ProcessResult kubectl(std::vector<std::string> args) {
    return runCommand(kubectlArgv("/usr/bin/kubectl", dir_.path(), port_, args));
  }

  TempDir dir_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  int port_ = 0;
};

TEST_F(ConnectedEdgecore, CloudInsertIsAckedAndKubectlReadsOnlinePromptly) {
  // A pod the cloud sends: stored, ACKed once, visible to kubectl (Table form, served locally).
  auto id = sim_->sendManifest(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"sent-pod","namespace":"default",)"
      R"("uid":"u-sent"},"spec":{"nodeName":"edge-1","containers":[{"name":"c","image":"busybox"}]}})",
      "insert", cloudsim::Reliability::Reliable);
  ASSERT_TRUE(id.ok()) << id.status().toString();
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->ackCount(*id) >= 1; }, 10s))
      << daemon_->stderrSoFar();
  EXPECT_EQ(sim_->ackCount(*id), 1);
  auto table = kubectl({"get", "pods"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("sent-pod"), std::string::npos) << table.out;

  // A pod only the cloud holds: a JSON GET while connected is an Application answered by the
  // cloud, well inside the 10 s the edge would otherwise wait before using its cache.
  ASSERT_TRUE(
      sim_->putObject(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"cloud-only",)"
                      R"("namespace":"default","uid":"u-cloud"},"spec":{"nodeName":"edge-1"}})")
          .ok());
  auto started = std::chrono::steady_clock::now();
  auto got = kubectl({"get", "pod", "cloud-only", "-n", "default", "-o", "json"});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(got.exit_code, 0) << got.err << "\n" << daemon_->stderrSoFar();
  EXPECT_EQ(json::parse(got.out)["metadata"]["uid"], "u-cloud");
  EXPECT_LT(took, 3s);

  started = std::chrono::steady_clock::now();
  auto list = kubectl({"get", "pods", "-n", "default", "-o", "json"});
  took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json items = json::parse(list.out)["items"];
  bool cloud_only = false;
  for (const auto& item : items) {
    cloud_only = cloud_only || item["metadata"]["name"] == "cloud-only";
  }
  EXPECT_TRUE(cloud_only) << list.out;
  EXPECT_LT(took, 3s);
  bool asked = false;
  for (const auto& m : sim_->received()) {
    asked = asked || (m.route.source == "metaserver" && m.route.group == "dynamiccontroller");
  }
  EXPECT_TRUE(asked) << "the reads went to the cloud as Applications";
  EXPECT_EQ(sim_->counters().violations, 0u);
}

}  // namespace
}  // namespace edgecore::testing
