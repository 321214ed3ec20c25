// `keadm ctl unhold-upgrade` end to end: the real keadm against the real edgecore (MetaServer,
// metamanager on a temp SQLite database, and for KeadmUnholdContainerd the real edged on the
// real containerd). Suites:
//   KeadmUnhold            edged disabled, no external services (label integration)
//   KeadmUnholdContainerd  pods held by edged at start, released by keadm (label containerd)

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "edgecore/cri/cri_client.h"
#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/sqlite_shell.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kEdgecore = EDGECORE_BINARY;
const std::string kKeadm = KEADM_BINARY;
const std::string kFixture =
    std::string(EDGECORE_TEST_DATA_DIR) + "/metamanager/kubeedge-v1.20.sql";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A pod as the cloud sent it: the `meta` row (what edged loads at start) and the meta_v2 row
// (what MetaServer reads).
std::string podRows(const json& p, int rv) {
  const std::string ns = p["metadata"]["namespace"];
  const std::string name = p["metadata"]["name"];
  json o = p;
  o["metadata"]["resourceVersion"] = std::to_string(rv);
  return "INSERT OR REPLACE INTO meta (key, type, value) VALUES (" + sqlQuote(ns + "/pod/" + name) +
         ", 'pod', " + sqlQuote(o.dump()) +
         ");\nINSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace, name, "
         "resourceversion, value) VALUES (" +
         sqlQuote("/core/v1/pods/" + ns + "/" + name) + ", '/v1, Resource=pods', " + sqlQuote(ns) +
         ", " + sqlQuote(name) + ", " + std::to_string(rv) + ", " + sqlQuote(o.dump()) + ");\n";
}

// A busybox pod on edge-1 with the hold-upgrade annotation; `phase` as the cloud reported it.
json heldPod(const std::string& ns, const std::string& name, const std::string& phase,
             bool annotated = true) {
  json p = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"uid", "uid-" + ns + "-" + name},
        {"creationTimestamp", "2026-12-01T10:00:00Z"}}},
      {"spec",
       {{"nodeName", "edge-1"},
        {"hostNetwork", true},
        {"terminationGracePeriodSeconds", 1},
        {"containers", json::array({{{"name", "main"},
                                     {"image", "docker.io/library/busybox:local"},
                                     {"imagePullPolicy", "Never"},
                                     {"command", json::array({"sh", "-c", "sleep 3600"})}}})}}},
      {"status", {{"phase", phase}}}};
  if (annotated) p["metadata"]["annotations"] = {{"edge.kubeedge.io/hold-upgrade", "true"}};
  return p;
}

class KeadmUnhold : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = "keadm-hold-" + std::to_string(::getpid());
    start("  edged: {enable: false, hostnameOverride: edge-1}\n");
  }
  void TearDown() override { stop(); }

  void start(const std::string& edged_yaml) {
    const std::string db = dir_.file("edgecore.db");
    ProcessResult load = sqliteRead(db, kFixture);
    ASSERT_EQ(load.exit_code, 0) << load.err;
    // Only this test's pods are for edged (the fixture's nginx would need a registry).
    dir_.write("seed.sql", "DELETE FROM meta WHERE type = 'pod';\n" +
                               podRows(heldPod(ns_, "held", "Pending"), 7001) +
                               podRows(heldPod(ns_, "held2", "Pending"), 7002) +
                               podRows(heldPod(ns_, "running", "Running"), 7003) +
                               podRows(heldPod(ns_, "plain", "Pending", false), 7004));
    ProcessResult seeded = sqliteRead(db, dir_.file("seed.sql"));
    ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
    port_ = freeLoopbackPort();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
               "database:\n  dataSource: " +
                   db + "\nmodules:\n  deviceTwin: {enable: false}\n  edgeHub: {enable: false}\n" +
                   edged_yaml +
                   "  eventBus: {enable: false}\n  metaManager:\n    metaServer:\n"
                   "      enable: true\n      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kEdgecore, "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(waitUntilRunning(*daemon_, 10s)) << daemon_->stderrSoFar();
  }

  void stop() {
    if (!daemon_) return;
    auto result = terminate(*daemon_, 10s);
    ASSERT_TRUE(result.has_value()) << daemon_->stderrSoFar();
    EXPECT_EQ(result->exit_code, 0) << result->err;
    daemon_.reset();
  }

  ProcessResult keadm(std::vector<std::string> args) {
    return runCommand(keadmCtlArgv(kKeadm, dir_.path(), dir_.file("edgecore.yaml"), args), 60s);
  }

  TempDir dir_;
  std::string ns_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(KeadmUnhold, HelpAndErrors) {
  ProcessResult help = keadm({"unhold-upgrade", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "--namespace")) << help.out;
  EXPECT_TRUE(contains(help.out, "hold-upgrade")) << help.out;

  ProcessResult none = keadm({"unhold-upgrade"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "resource-type-and-name")) << none.err;
  ProcessResult no_name = keadm({"unhold-upgrade", "pod"});
  EXPECT_EQ(no_name.exit_code, 1);
  EXPECT_EQ(no_name.err, "error: pod name is required\n");
  ProcessResult unknown_type = keadm({"unhold-upgrade", "deployment", "x"});
  EXPECT_EQ(unknown_type.exit_code, 1);
  EXPECT_EQ(unknown_type.err, "error: unknown resource type: deployment\n");

  ProcessResult unknown = keadm({"unhold-upgrade", "pod", "nope", "-n", ns_});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.err,
            "error: failed to unhold pods upgrade, status code: 404, message: pod not found: "
            "pods \"nope\" not found\n");
  ProcessResult plain = keadm({"unhold-upgrade", "pod", "plain", "--namespace", ns_});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_TRUE(contains(plain.err,
                       "status code: 400, message: pod is not marked with "
                       "hold-upgrade annotation"))
      << plain.err;
  ProcessResult running = keadm({"unhold-upgrade", "pod", "running", "-n", ns_});
  EXPECT_EQ(running.exit_code, 1);
  EXPECT_TRUE(contains(running.err, "status code: 400, message: pod is not in pending phase"))
      << running.err;
  ProcessResult no_node = keadm({"unhold-upgrade", "node", "edge-9"});
  EXPECT_EQ(no_node.exit_code, 1);
  EXPECT_TRUE(contains(no_node.err,
                       "failed to unhold nodes upgrade, status code: 404, message: "
                       "node not found: nodes \"edge-9\" not found"))
      << no_node.err;
  // edged is disabled here: nothing can take the release, and keadm says so.
  ProcessResult no_edged = keadm({"unhold-upgrade", "pod", "held", "-n", ns_});
  EXPECT_EQ(no_edged.exit_code, 1);
  EXPECT_TRUE(contains(no_edged.err, "status code: 503, message: unhold not delivered to edged"))
      << no_edged.err;

  stop();
  ProcessResult down = keadm({"unhold-upgrade", "node"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(contains(down.err, "is edgecore running?")) << down.err;
}

class KeadmUnholdContainerd : public KeadmUnhold {
 protected:
  void SetUp() override {
    // Not a skip: without containerd the check cannot run, and that must show.
    ASSERT_EQ(::access("/run/containerd/containerd.sock", F_OK), 0)
        << "containerd socket missing: scripts/test-services.sh start (root)";
    auto cri = cri::CriClient::create({});
    ASSERT_TRUE(cri.ok()) << cri.status().message();
    cri_ = std::move(*cri);
    ns_ = "keadm-hold-" + std::to_string(::getpid());
    start("  edged:\n    enable: true\n    hostnameOverride: edge-1\n    rootDirectory: " +
          dir_.file("root") + "\n    tailoredKubeletConfig:\n      address: 127.0.0.1\n" +
          "      readOnlyPort: " + std::to_string(freeLoopbackPort()) +
          "\n      podLogsDir: " + dir_.file("logs") + "\n");
  }

  void TearDown() override {
    stop();
    if (!cri_) return;
    runtimeapi::PodSandboxFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto list = cri_->listPodSandbox(f);
    if (!list.ok()) return;
    for (const auto& sb : *list) {
      (void)cri_->stopPodSandbox(sb.id());
      (void)cri_->removePodSandbox(sb.id());
    }
  }

  bool running(const std::string& pod) {
    runtimeapi::ContainerFilter cf;
    (*cf.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    (*cf.mutable_label_selector())["io.kubernetes.pod.name"] = pod;
    auto cs = cri_->listContainers(cf);
    if (!cs.ok()) return false;
    for (const auto& c : *cs) {
      if (c.state() == runtimeapi::CONTAINER_RUNNING) return true;
    }
    return false;
  }

  std::unique_ptr<cri::CriClient> cri_;
};

TEST_F(KeadmUnholdContainerd, HeldPodsStartOnlyWhenReleased) {
  // Annotated and Pending in the store: edged holds them at start; "running" is not held.
  ASSERT_TRUE(waitFor([&] { return running("running"); }, 60s)) << daemon_->stderrSoFar();
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(running("held"));
  EXPECT_FALSE(running("held2"));

  ProcessResult pod = keadm({"unhold-upgrade", "pod", "held", "-n", ns_});
  EXPECT_EQ(pod.exit_code, 0) << pod.err;
  EXPECT_EQ(pod.out, "unhold-upgrade sent for pod " + ns_ + "/held\n");
  EXPECT_TRUE(waitFor([&] { return running("held"); }, 30s)) << daemon_->stderrSoFar();
  EXPECT_FALSE(running("held2"));

  // The node (edge-1 from modules.edged.hostnameOverride) releases every held pod left.
  ProcessResult node = keadm({"unhold-upgrade", "node"});
  EXPECT_EQ(node.exit_code, 0) << node.err;
  EXPECT_EQ(node.out, "unhold-upgrade sent for node edge-1\n");
  EXPECT_TRUE(waitFor([&] { return running("held2"); }, 30s)) << daemon_->stderrSoFar();
}

}  // namespace
}  // namespace edgecore::testing
