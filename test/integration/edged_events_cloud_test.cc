// The real edgecore binary with edged on the real containerd, connected to the cloud simulator
// over real TLS, reportEvent on: a pod the cloud sends crashes; its kubelet events reach the
// cloud as KubeEdge's edged sends them (insert `<ns>/event/<name>`, then patch with the new count)
// and MetaServer keeps them for `kubectl get events` / `keadm ctl describe`.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "edgecore/cri/cri_client.h"
#include "util/cloudsim_start.h"
#include "util/edgecore_process.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kSocket = "/run/containerd/containerd.sock";

class EdgedEventsCloud : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kSocket, F_OK) != 0) {
      GTEST_SKIP() << "containerd socket missing: scripts/test-services.sh start (root)";
    }
    auto cri = cri::CriClient::create({});
    ASSERT_TRUE(cri.ok()) << cri.status().message();
    cri_ = std::move(cri).value();
    node_ = "edge-ev-" + std::to_string(::getpid());
    ns_ = "events-" + std::to_string(::getpid());
    cloudsim::Options o;
    o.node_name = node_;
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    port_ = freeLoopbackPort();
    const std::string d = dir_.path();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
               "database:\n  dataSource: " +
                   d + "/edgecore.db\nmodules:\n" +
                   cloudEdgeHubYaml(d, sim_->httpsPort(), sim_->wsPort(), sim_->token()) +
                   "  edged:\n    enable: true\n    reportEvent: true\n    hostnameOverride: " +
                   node_ + "\n    rootDirectory: " + d +
                   "/kubelet\n    tailoredKubeletConfig:\n      readOnlyPort: 0\n"
                   "      staticPodPath: " +
                   d + "/manifests\n      podLogsDir: " + d +
                   "/logs\n  metaManager:\n    metaServer:\n      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/env", "EDGECORE_EDGED_BACKOFF_BASE_MS=300",
                                 EDGECORE_BINARY, "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << daemon_->stderrSoFar();
  }

  void TearDown() override {
    stopAndReset(daemon_, 10s);
    sim_.reset();
    if (!cri_) return;
    runtimeapi::PodSandboxFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto list = cri_->listPodSandbox(f);
    if (!list.ok()) return;
    for (const auto& sb : *list) {
      runtimeapi::ContainerFilter cf;
      cf.set_pod_sandbox_id(sb.id());
      if (auto cs = cri_->listContainers(cf); cs.ok()) {
        for (const auto& c : *cs) {
          (void)cri_->stopContainer(c.id(), 0);
          (void)cri_->removeContainer(c.id());
        }
      }
      (void)cri_->stopPodSandbox(sb.id());
      (void)cri_->removePodSandbox(sb.id());
    }
  }

  std::vector<core::Message> eventMessages() {
    std::vector<core::Message> out;
    for (auto& m : sim_->received()) {
      if (m.route.resource.find("/event/") != std::string::npos) out.push_back(m);
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  std::string node_;
  std::string ns_;
  int port_ = 0;
};

TEST_F(EdgedEventsCloud, CrashingPodEventsReachTheCloudAndStayLocal) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "crasher"}, {"namespace", ns_}, {"uid", "u-" + ns_}}},
              {"spec",
               {{"nodeName", node_},
                {"hostNetwork", true},
                {"terminationGracePeriodSeconds", 1},
                {"containers",
                 {{{"name", "main"},
                   {"image", "docker.io/library/busybox:local"},
                   {"command", {"sh", "-c", "exit 1"}}}}}}}};
  auto id = sim_->sendManifest(pod.dump(), "insert", cloudsim::Reliability::Reliable);
  ASSERT_TRUE(id.ok()) << id.status().toString();

  // Started three times: created once (insert), then folded into patches of the same event; and
  // a BackOff once the back-off (doubling from 300 ms) outlasts a relist period.
  std::string started_name;
  ASSERT_TRUE(sim_->waitUntil(
      [&] {
        bool backoff_seen = false;
        for (auto& m : eventMessages()) {
          json e = m.route.operation == "patch" && m.content.is_object()
                       ? m.content.value("event", json::object())
                       : m.content;
          if (!e.is_object()) continue;
          backoff_seen = backoff_seen || e.value("reason", "") == "BackOff";
          if (m.route.operation == "patch" && e.value("reason", "") == "Started" &&
              e.value("count", 0) >= 3) {
            started_name = e["metadata"].value("name", "");
          }
        }
        return backoff_seen && !started_name.empty();
      },
      40s))
      << daemon_->stderrSoFar();
  bool inserted = false;
  bool backoff = false;
  for (auto& m : eventMessages()) {
    EXPECT_EQ(m.route.source, "edged");
    EXPECT_EQ(m.route.group, "meta");
    if (m.route.operation == "insert" && m.content.value("reason", "") == "Started") {
      inserted = true;
      EXPECT_EQ(m.route.resource, ns_ + "/event/" + started_name);
      EXPECT_EQ(m.content.value("count", 0), 1);
      EXPECT_EQ(m.content["involvedObject"].value("uid", ""), "u-" + ns_);
      EXPECT_EQ(m.content["involvedObject"].value("fieldPath", ""), "spec.containers{main}");
      EXPECT_EQ(m.content["source"].value("host", ""), node_);
    }
    if (m.route.operation == "patch") {
      json patch = json::parse(m.content.value("patchData", ""), nullptr, false);
      EXPECT_TRUE(patch.is_object() && patch.contains("count") && patch.contains("lastTimestamp"))
          << m.content.dump();
    }
    json e = m.route.operation == "patch" ? m.content.value("event", json::object()) : m.content;
    backoff = backoff || (e.value("reason", "") == "BackOff" && e.value("type", "") == "Warning");
  }
  std::string seen;
  for (auto& m : eventMessages()) {
    seen +=
        m.route.operation + " " + m.route.resource + " " + m.content.dump().substr(0, 300) + "\n";
  }
  EXPECT_TRUE(inserted) << seen;
  EXPECT_TRUE(backoff) << seen;

  // Offline, MetaServer serves the events it kept (online, a list goes to the cloud).
  sim_->setRefuseConnections(true);
  sim_->dropConnections();
  ASSERT_TRUE(sim_->waitUntil([&] { return !sim_->connected(); }, 10s));
  ProcessResult got;
  ASSERT_TRUE(sim_->waitUntil(
      [&] {
        got = runCommand({"/usr/bin/env", "HOME=" + dir_.path(), "/usr/bin/kubectl", "--server",
                          "http://127.0.0.1:" + std::to_string(port_), "get", "event", started_name,
                          "-n", ns_, "-o", "json"});
        return got.exit_code == 0;
      },
      15s))
      << got.err;
  json ev = json::parse(got.out);
  EXPECT_EQ(ev.value("reason", ""), "Started");
  EXPECT_GE(ev.value("count", 0), 3);
  EXPECT_EQ(ev.value("kind", ""), "Event");
}

}  // namespace
}  // namespace edgecore::testing
