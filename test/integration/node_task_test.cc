// Node tasks end to end: the real edgecore binary (taskManager on) connected to the cloud
// simulator, which sends v1alpha2 node tasks and collects the UpdateNodeActionStatus reports.
// keadm is the stand-in test/data/taskmanager/fake_keadm.sh (EDGECORE_KEADM), which records
// its argument vector. NodeTaskCloudContainerd.* pull through the real containerd, and
// NodeTaskCloudRegistry.* pull through it from two docker-registry processes on loopback (one
// plain, one TLS + basic auth) with the pull secret the cloud sent.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "edgecore/core/base64.h"
#include "edgecore/cri/cri_client.h"
#include "util/cloudsim_start.h"
#include "util/edgecore_process.h"
#include "util/local_registry.h"
#include "util/node_task_reports.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kEdgecore = EDGECORE_BINARY;

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
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ ") << daemon_->stderrSoFar();
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
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade+ ")
      << daemon_->stderrSoFar();
  EXPECT_EQ(rs[2].body["extend"], ",v1.22.0");
  EXPECT_EQ(rs[3].body["extend"], "v1.22.0,v1.23.1");
}

TEST_F(NodeTaskCloud, InjectedVersionIsRefusedWithoutStartingKeadm) {
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "evil", "Upgrade",
                                 {{"version", "v1.0.0; touch /tmp/pwned"}})
                  .ok());
  auto rs = waitReports("evil", 1);
  ASSERT_EQ(reportedActions(rs), "Upgrade- ");
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
  ASSERT_EQ(reportedActions(waitReports("cu1", 3)), "Check+ BackUp+ Update+ ")
      << daemon_->stderrSoFar();
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
  ASSERT_EQ(reportedActions(rs), "Check+ Pull- ") << daemon_->stderrSoFar();
  EXPECT_EQ(rs[1].body["reason"], "there were some failures when pulling images");
  json images = json::parse(rs[1].body["extend"].get<std::string>());
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0]["status"], "True") << images.dump();
  EXPECT_EQ(images[1]["status"], "True") << images.dump();
  EXPECT_EQ(images[2]["status"], "False") << images.dump();
}

// Two registries on loopback, each holding one image under a tag no earlier run used (a pull
// that fails still counts when containerd already has the image, docs/node-tasks.md 10.2).
class NodeTaskCloudRegistry : public NodeTaskCloud {
 protected:
  void SetUp() override {
    auto hosts_dir = containerdReadsHostsDir();
    ASSERT_TRUE(hosts_dir.ok()) << hosts_dir.message();
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    dir_.write("ca.crt", pki->ca_cert_pem);
    dir_.write("server.crt", pki->server_cert_pem);
    dir_.write("server.key", pki->server_key_pem);
    auto plain = LocalRegistry::start({});
    ASSERT_TRUE(plain.ok()) << plain.status().toString();
    plain_ = std::move(*plain);
    auto authed = LocalRegistry::start({"puller", "s3cret pass", dir_.file("ca.crt"),
                                        dir_.file("server.crt"), dir_.file("server.key")});
    ASSERT_TRUE(authed.ok()) << authed.status().toString();
    authed_ = std::move(*authed);
    const std::string tag =
        "t" + std::to_string(::getpid()) + "-" +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    auto open_ref = plain_->pushImage("open/app", tag, "open image");
    ASSERT_TRUE(open_ref.ok()) << open_ref.status().toString() << plain_->logSoFar();
    auto private_ref = authed_->pushImage("private/app", tag, "private image");
    ASSERT_TRUE(private_ref.ok()) << private_ref.status().toString() << authed_->logSoFar();
    images_ = {*open_ref, *private_ref};
    auto cri = cri::CriClient::create({});
    ASSERT_TRUE(cri.ok()) << cri.status().toString();
    cri_ = std::move(*cri);
    // Without credentials the second registry refuses (so the secret is what lets it through).
    auto anon = runCommand({"/usr/bin/curl", "-sS", "--cacert", dir_.file("ca.crt"), "-o",
                            "/dev/null", "-w", "%{http_code}",
                            "https://" + authed_->host() + "/v2/private/app/manifests/" + tag});
    ASSERT_EQ(anon.out, "401") << anon.err;
    // edgecore (NodeTaskCloud::SetUp) starts once the registries hold the images.
    NodeTaskCloud::SetUp();
  }
  void TearDown() override {
    NodeTaskCloud::TearDown();
    if (cri_) {
      for (const auto& image : images_) (void)cri_->removeImage(image);
    }
    plain_.reset();
    authed_.reset();
  }

  // The cloud's insert of a kubernetes.io/dockerconfigjson Secret, ACKed = stored on the edge.
  // Docker's {"auths":{host:{...}}} document, or with `auth_config_shape` the one CRI
  // AuthConfig object KubeEdge decodes the field as (docs/node-tasks.md 2.2).
  void sendPullSecret(const std::string& name, const std::string& password,
                      bool auth_config_shape = false) {
    json entry = {{"username", "puller"},
                  {"password", password},
                  {"auth", core::base64Encode("puller:" + password)}};
    json config = auth_config_shape ? entry : json{{"auths", {{authed_->host(), entry}}}};
    json secret = {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "u-" + name}}},
                   {"type", "kubernetes.io/dockerconfigjson"},
                   {"data", {{".dockerconfigjson", core::base64Encode(config.dump())}}}};
    auto id = sim_->sendManifest(secret.dump(), "insert", cloudsim::Reliability::Reliable);
    ASSERT_TRUE(id.ok()) << id.status().toString();
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->ackCount(*id) >= 1; }, 10s))
        << daemon_->stderrSoFar();
  }

  json prePullSpec(const std::string& secret) const {
    return {{"imagePrePullTemplate",
             {{"images", images_},
              {"checkItems", json::array()},
              {"imageSecrets", secret},
              {"retryTimes", 0}}}};
  }

  bool runtimeHas(const std::string& image) {
    auto st = cri_->imageStatus(image);
    return st.ok() && st->has_value();
  }

  std::unique_ptr<LocalRegistry> plain_;
  std::unique_ptr<LocalRegistry> authed_;
  std::vector<std::string> images_;
  cri::CriClientPtr cri_;
};

TEST_F(NodeTaskCloudRegistry, PullsFromBothRegistriesWithTheSecretTheJobNames) {
  ASSERT_NO_FATAL_FAILURE(sendPullSecret("regcred", "s3cret pass"));
  ASSERT_FALSE(runtimeHas(images_[0]) || runtimeHas(images_[1]));
  ASSERT_TRUE(
      sim_->sendNodeTask("imageprepulljob", "pp-reg", "Check", prePullSpec("default/regcred"))
          .ok());
  auto rs = waitReports("pp-reg", 2, 60s);
  ASSERT_EQ(reportedActions(rs), "Check+ Pull+ ") << daemon_->stderrSoFar() << authed_->logSoFar();
  json images = json::parse(rs[1].body["extend"].get<std::string>());
  ASSERT_EQ(images.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(images[i]["image"], images_[i]) << images.dump();
    EXPECT_EQ(images[i]["status"], "True") << images.dump();
  }
  EXPECT_TRUE(runtimeHas(images_[0]));
  EXPECT_TRUE(runtimeHas(images_[1]));
}

// v1alpha1 as a v1.17 CloudCore drives it: one request per node state, the next state from the
// cloud's rule table applied to each answer (docs/node-tasks.md 1.2, 10.1a).
TEST_F(NodeTaskCloudRegistry, V1alpha1PrePullWalksTheV117CloudsStatesWithTheSecret) {
  ASSERT_NO_FATAL_FAILURE(sendPullSecret("regcred", "s3cret pass"));
  ASSERT_FALSE(runtimeHas(images_[0]) || runtimeHas(images_[1]));
  const json request = {{"Images", images_},
                        {"NodeName", "edge-1"},
                        {"Secret", "default/regcred"},
                        {"RetryTimes", 0},
                        {"CheckItems", json::array()}};
  std::string state;  // the cloud starts with an empty node state
  std::string walked;
  cloudsim::V1alpha1Answer last;
  for (int step = 0; step < 5 && !cloudsim::v1alpha1Final(state); ++step) {
    const size_t before = sim_->v1alpha1Answers("pp-v1").size();
    ASSERT_TRUE(sim_->sendV1alpha1Task("prepull", "pp-v1", state, request).ok());
    ASSERT_TRUE(
        sim_->waitUntil([&] { return sim_->v1alpha1Answers("pp-v1").size() > before; }, 60s))
        << "no answer in state " << state << daemon_->stderrSoFar();
    last = sim_->v1alpha1Answers("pp-v1").back();
    const std::string event = last.body.value("Event", "");
    const std::string action = last.body.value("Action", "");
    walked += event + "/" + action + " ";
    auto next = cloudsim::v1alpha1NextState("prepull", state, event, action);
    ASSERT_TRUE(next.has_value()) << "the cloud has no rule for " << state << "/" << event << "/"
                                  << action;
    state = *next;
  }
  EXPECT_EQ(walked, "Init/Success Check/Success Pull/Success ") << last.body.dump();
  EXPECT_EQ(state, "Successful");
  EXPECT_EQ(last.node, "edge-1");
  EXPECT_EQ(last.body["NodeName"], "edge-1");
  json images = json::parse(last.body["ExternalMessage"].get<std::string>());
  ASSERT_EQ(images.size(), 2u) << images.dump();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(images[i]["image"], images_[i]) << images.dump();
    EXPECT_EQ(images[i]["state"], "Successful") << images.dump();
  }
  EXPECT_TRUE(runtimeHas(images_[0]));
  EXPECT_TRUE(runtimeHas(images_[1]));
}

TEST_F(NodeTaskCloudRegistry, ASecretInKubeEdgesAuthConfigShapeWorksToo) {
  ASSERT_NO_FATAL_FAILURE(sendPullSecret("kecred", "s3cret pass", true));
  ASSERT_TRUE(
      sim_->sendNodeTask("imageprepulljob", "pp-ke", "Check", prePullSpec("default/kecred")).ok());
  auto rs = waitReports("pp-ke", 2, 60s);
  ASSERT_EQ(reportedActions(rs), "Check+ Pull+ ") << daemon_->stderrSoFar();
  EXPECT_TRUE(runtimeHas(images_[1]));
}

TEST_F(NodeTaskCloudRegistry, AWrongPasswordFailsOnlyTheAuthImageWithTheRegistrysReason) {
  ASSERT_NO_FATAL_FAILURE(sendPullSecret("badcred", "not the password"));
  ASSERT_TRUE(
      sim_->sendNodeTask("imageprepulljob", "pp-bad", "Check", prePullSpec("default/badcred"))
          .ok());
  auto rs = waitReports("pp-bad", 2, 60s);
  ASSERT_EQ(reportedActions(rs), "Check+ Pull- ") << daemon_->stderrSoFar();
  EXPECT_EQ(rs[1].body["reason"], "there were some failures when pulling images");
  json images = json::parse(rs[1].body["extend"].get<std::string>());
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0]["status"], "True") << images.dump();
  EXPECT_EQ(images[1]["status"], "False") << images.dump();
  EXPECT_NE(images[1].value("reason", "").find("401"), std::string::npos) << images.dump();
  EXPECT_TRUE(runtimeHas(images_[0]));
  EXPECT_FALSE(runtimeHas(images_[1]));
}

TEST_F(NodeTaskCloudRegistry, ASecretTheEdgeDoesNotHoldFailsThePullNamingIt) {
  ASSERT_TRUE(
      sim_->sendNodeTask("imageprepulljob", "pp-none", "Check", prePullSpec("default/nosuchcred"))
          .ok());
  auto rs = waitReports("pp-none", 2, 60s);
  ASSERT_EQ(reportedActions(rs), "Check+ Pull- ") << daemon_->stderrSoFar();
  EXPECT_NE(rs[1].body["reason"].get<std::string>().find("failed to get secret default/nosuchcred"),
            std::string::npos)
      << rs[1].body.dump();
  EXPECT_FALSE(runtimeHas(images_[0]));
  EXPECT_FALSE(runtimeHas(images_[1]));
}

}  // namespace
}  // namespace edgecore::testing
