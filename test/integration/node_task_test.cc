// Node tasks end to end: the real edgecore binary (taskManager on) connected to the cloud
// simulator, which sends v1alpha2 node tasks and collects the UpdateNodeActionStatus reports.
// keadm is the stand-in test/data/taskmanager/fake_keadm.sh (EDGECORE_KEADM), which records
// its argument vector. NodeTaskCloudContainerd.* pull through the real containerd.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
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

std::string actions(const std::vector<cloudsim::NodeTaskReport>& rs) {
  std::string out;
  for (const auto& r : rs) {
    out += r.body.value("action", "?") + (r.body.value("succ", false) ? "+" : "-") + " ";
  }
  return out;
}

class NodeTaskCloud : public ::testing::Test {
 protected:
  void SetUp() override {
    cloudsim::Options o;
    o.node_name = "edge-1";
    o.control_port = 0;  // ephemeral; the control API test uses it
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    port_ = freeLoopbackPort();
    const std::string d = dir_.path();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
               "database:\n  dataSource: " +
                   d +
                   "/edgecore.db\n"
                   "modules:\n" +
                   cloudEdgeHubYaml(d, sim_->httpsPort(), sim_->wsPort(), sim_->token()) +
                   "  edged:\n    enable: false\n    hostnameOverride: edge-1\n"
                   "  taskManager:\n    enable: true\n"
                   "  metaManager:\n    metaServer:\n      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    daemon_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/env",
        "EDGECORE_KEADM=" + std::string(EDGECORE_TEST_DATA_DIR) + "/taskmanager/fake_keadm.sh",
        "EDGECORE_KEADM_LOG=" + d + "/keadm.log", "EDGECORE_UPGRADE_REPORT=" + d + "/report.json",
        "FAKE_KEADM_ARGS=" + d + "/argv", kEdgecore, "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << daemon_->stderrSoFar();
  }
  void TearDown() override {
    stopAndReset(daemon_, 10s);
    sim_.reset();
  }

  std::vector<cloudsim::NodeTaskReport> waitReports(const std::string& job, size_t n,
                                                    std::chrono::milliseconds timeout = 20s) {
    (void)sim_->waitUntil([&] { return sim_->nodeTaskReports(job).size() >= n; }, timeout);
    return sim_->nodeTaskReports(job);
  }

  std::vector<std::string> keadmRuns() {
    std::vector<std::string> lines;
    std::ifstream in(dir_.path() + "/argv");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  TempDir dir_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  int port_ = 0;
};

TEST_F(NodeTaskCloud, UpgradeConfirmedOfflineReportsBackUpAndUpgradeAfterReconnect) {
  json spec = {{"version", "v1.23.1"},
               {"image", "kubeedge/installation-package"},
               {"imageDigestGatter", nullptr},
               {"checkItems", json::array()},
               {"requireConfirmation", true}};
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "up1", "Check", spec).ok());
  auto rs = waitReports("up1", 2);
  ASSERT_EQ(actions(rs), "Check+ WaitingConfirmation+ ") << daemon_->stderrSoFar();
  EXPECT_EQ(rs[0].type, "nodeupgradejob");
  EXPECT_EQ(rs[0].node, "edge-1");
  for (const char* key : {"action", "succ", "finishTime", "reason", "extend"}) {
    EXPECT_TRUE(rs[0].body.contains(key)) << key;
  }
  EXPECT_TRUE(keadmRuns().empty());

  // The cloud goes away; the operator confirms on the node (MetaServer's route).
  sim_->setRefuseConnections(true);
  sim_->dropConnections();
  ASSERT_TRUE(sim_->waitUntil([&] { return !sim_->connected(); }, 10s));
  auto confirmed = runCommand(
      {"/usr/bin/curl", "-sS", "-w", "\n%{http_code}", "-X", "POST",
       "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/taskupgrade/confirm-upgrade"});
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.err;
  EXPECT_NE(confirmed.out.find("\n200"), std::string::npos) << confirmed.out;
  EXPECT_NE(confirmed.out.find("up1"), std::string::npos) << confirmed.out;
  for (int i = 0; i < 200 && keadmRuns().size() < 2; ++i) std::this_thread::sleep_for(50ms);
  // keadm is pointed at the file this edgecore runs with, not at its default path.
  const std::string config = "|--config|" + dir_.file("edgecore.yaml");
  EXPECT_EQ(keadmRuns(),
            (std::vector<std::string>{"backup|edge" + config,
                                      "upgrade|edge|--force|--toVersion|v1.23.1|--image|kubeedge/"
                                      "installation-package" +
                                          config}))
      << daemon_->stderrSoFar();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(sim_->nodeTaskReports("up1").size(), 2u) << "nothing reaches a disconnected cloud";

  // Back online: the reports made offline arrive from edgehub's outbox.
  sim_->setRefuseConnections(false);
  rs = waitReports("up1", 4, 60s);
  ASSERT_EQ(actions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade+ ") << daemon_->stderrSoFar();
  EXPECT_EQ(rs[2].body["extend"], ",v1.22.0");
  EXPECT_EQ(rs[3].body["extend"], "v1.22.0,v1.23.1");
}

TEST_F(NodeTaskCloud, InjectedVersionIsRefusedWithoutStartingKeadm) {
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "evil", "Upgrade",
                                 {{"version", "v1.0.0; touch /tmp/pwned"}})
                  .ok());
  auto rs = waitReports("evil", 1);
  ASSERT_EQ(actions(rs), "Upgrade- ");
  EXPECT_NE(rs[0].body["reason"].get<std::string>().find("invalid version format"),
            std::string::npos);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sim_->nodeTaskReports("evil").size(), 1u) << "no RollBack after a refused spec";
  EXPECT_TRUE(keadmRuns().empty());
}

TEST_F(NodeTaskCloud, ControlApiSendsAConfigUpdateAndListsItsReports) {
  const std::string base = "http://127.0.0.1:" + std::to_string(sim_->controlPort());
  auto sent = runCommand({"/usr/bin/curl", "-sS", "-f", "-X", "POST", "--data-binary",
                          R"({"updateFields":{"modules.edgeHub.heartbeat":"20"}})",
                          base + "/nodetask?type=configupdatejob&job=cu1"});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_TRUE(json::parse(sent.out).contains("msg_id")) << sent.out;
  ASSERT_EQ(actions(waitReports("cu1", 3)), "Check+ BackUp+ Update+ ") << daemon_->stderrSoFar();
  auto listed = runCommand({"/usr/bin/curl", "-sS", "-f", base + "/nodetask/reports?job=cu1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json reports = json::parse(listed.out);
  ASSERT_EQ(reports.size(), 3u) << listed.out;
  EXPECT_EQ(reports[2]["type"], "configupdatejob");
  EXPECT_EQ(reports[2]["body"]["action"], "Update");
  const std::string config = "|--config|" + dir_.file("edgecore.yaml");
  EXPECT_EQ(keadmRuns(), (std::vector<std::string>{
                             "backup|edge" + config,
                             "config-update|--set|modules.edgeHub.heartbeat=20" + config}));
  auto bad = runCommand({"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X",
                         "POST", "--data-binary", "{}", base + "/nodetask?type=x&job=a/b"});
  EXPECT_EQ(bad.out, "400");
}

using NodeTaskCloudContainerd = NodeTaskCloud;

TEST_F(NodeTaskCloudContainerd, PrePullReportsCheckThenEveryImage) {
  json spec = {{"imagePrePullTemplate",
                {{"images",
                  {"docker.io/library/busybox:local", "registry.k8s.io/pause:3.6",
                   "127.0.0.1:1/nothing/here:1"}},
                 {"checkItems", json::array()},
                 {"retryTimes", 0}}}};
  ASSERT_TRUE(sim_->sendNodeTask("imageprepulljob", "pp1", "Check", spec).ok());
  auto rs = waitReports("pp1", 2, 60s);
  ASSERT_EQ(actions(rs), "Check+ Pull- ") << daemon_->stderrSoFar();
  EXPECT_EQ(rs[1].body["reason"], "there were some failures when pulling images");
  json images = json::parse(rs[1].body["extend"].get<std::string>());
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0]["status"], "True") << images.dump();
  EXPECT_EQ(images[1]["status"], "True") << images.dump();
  EXPECT_EQ(images[2]["status"], "False") << images.dump();
}

}  // namespace
}  // namespace edgecore::testing
