// Volume attacks against the real edged on the real containerd (issue #17 item 4):
//  - a container plants a symlink to /etc (or a ".." link) in an emptyDir; another container of
//    the pod names it as subPath: edged must refuse that container (the kubelet's
//    CVE-2017-1002101 class), while a nested subPath of the same volume works;
//  - configMap volumes are mounted read-only even when the pod does not ask for it.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "edged/edged_harness.h"
#include "podplan/subpath.h"

namespace edgecore::testing {
namespace {

class EdgedVolumeSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not a skip: these checks need the real runtime and root (mounts).
    ASSERT_TRUE(containerdAvailable()) << "containerd socket " << kContainerdSocket
                                       << " missing: run scripts/test-services.sh start (root)";
    ASSERT_EQ(::geteuid(), 0u) << "edged runs as root; subPath mounts need it";
    auto c = cri::CriClient::create(cri::CriClientOptions{});
    ASSERT_TRUE(c.ok());
    cri_ = std::move(c).value();
    removeLeftoversOfDeadTestRuns(*cri_);
    ns_ = "edged-volsec-" + uniqueSuffix();
    node_ = "node-" + ns_;
    harness_ = std::make_unique<EdgedHarness>(dir_.path(), node_, edged::EdgedOptions{});
  }
  void TearDown() override {
    harness_.reset();
    if (cri_) {
      removeNamespacePods(*cri_, ns_);
    }
    // Staging mounts of pods still on disk, before the temp dir goes.
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/root/pods", ec)) {
      EXPECT_TRUE(edged::cleanSubPaths(e.path().string()).ok()) << e.path();
    }
  }

  std::map<std::string, std::string> runningIds(const std::string& pod) {
    std::map<std::string, std::string> ids;
    runtimeapi::ContainerFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    (*f.mutable_label_selector())["io.kubernetes.pod.name"] = pod;
    auto list = cri_->listContainers(f);
    if (list.ok()) {
      for (const auto& c : *list) {
        if (c.state() == runtimeapi::CONTAINER_RUNNING) {
          ids[c.labels().at("io.kubernetes.container.name")] = c.id();
        }
      }
    }
    return ids;
  }
  std::string exec(const std::string& id, const std::string& cmd, int* exit_code = nullptr) {
    auto r = cri_->execSync(id, {"sh", "-c", cmd}, 5);
    if (exit_code) *exit_code = r.ok() ? r->exit_code() : -1;
    return r.ok() ? r->stdout() + r->stderr() : "exec failed: " + r.status().message();
  }

  TempDir dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<EdgedHarness> harness_;
  std::string ns_;
  std::string node_;
};

json mountOf(const std::string& volume, const std::string& path, const std::string& sub = "") {
  json m = {{"name", volume}, {"mountPath", path}};
  if (!sub.empty()) m["subPath"] = sub;
  return m;
}

TEST_F(EdgedVolumeSecurityTest, SymlinkSubPathIsRefusedAndANestedSubPathWorks) {
  // The init container plays the attacker: it owns the emptyDir and plants links in it.
  json plant = busyboxContainer(
      "plant",
      "mkdir -p /w/data/conf && echo inside > /w/data/conf/app.txt && ln -s /etc /w/evil && "
      "ln -s .. /w/data/up");
  plant["volumeMounts"] = json::array({mountOf("work", "/w")});
  json good = busyboxContainer("good", "sleep 3600");
  good["volumeMounts"] = json::array({mountOf("work", "/conf", "data/conf")});
  json evil = busyboxContainer("evil", "sleep 3600");
  evil["volumeMounts"] = json::array({mountOf("work", "/hostetc", "evil")});
  json dotdot = busyboxContainer("dotdot", "sleep 3600");
  dotdot["volumeMounts"] = json::array({mountOf("work", "/x", "data/up/evil")});
  json pod = makePod(ns_, "subpath", node_, json::array({good, evil, dotdot}), "Always",
                     json::array({plant}));
  pod["spec"]["volumes"] = json::array({{{"name", "work"}, {"emptyDir", json::object()}}});
  ASSERT_TRUE(harness_->insert(pod).ok());

  json st;
  auto waitingOf = [&](const std::string& c) -> json {
    auto s = findContainerStatus(st, c);
    return s && (*s)["state"].contains("waiting") ? (*s)["state"]["waiting"] : json::object();
  };
  ASSERT_TRUE(waitFor(
      [&] {
        st = harness_->cloudStatus(ns_, "subpath");
        return runningIds("subpath").count("good") == 1 &&
               waitingOf("evil").value("reason", "") == "CreateContainerConfigError" &&
               waitingOf("dotdot").value("reason", "") == "CreateContainerConfigError";
      },
      40s))
      << st.dump(2);
  EXPECT_EQ(waitingOf("evil").value("message", ""),
            "failed to prepare subPath for volumeMount \"work\" of container \"evil\"");
  EXPECT_EQ(waitingOf("dotdot").value("message", ""),
            "failed to prepare subPath for volumeMount \"work\" of container \"dotdot\"");
  auto ids = runningIds("subpath");
  EXPECT_EQ(ids.count("evil"), 0u);
  EXPECT_EQ(ids.count("dotdot"), 0u);
  // The nested subPath shows the volume's file, through the staging bind mount.
  EXPECT_EQ(exec(ids["good"], "cat /conf/app.txt"), "inside\n");
  EXPECT_EQ(exec(ids["good"], "ls /conf"), "app.txt\n");
  auto status = cri_->containerStatus(ids["good"]);
  ASSERT_TRUE(status.ok());
  bool staged = false;
  for (const auto& m : status->mounts()) {
    if (m.container_path() == "/conf") {
      staged = m.host_path().find("/volume-subpaths/work/good/0") != std::string::npos;
    }
  }
  EXPECT_TRUE(staged) << status->DebugString();
  // Still refused on the following syncs (the link is still there).
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(runningIds("subpath").count("evil"), 0u);
}

TEST_F(EdgedVolumeSecurityTest, ConfigMapVolumeIsReadOnlyInTheContainer) {
  harness_->setCloudObject(ns_, "configmap", "cm",
                           json{{"apiVersion", "v1"},
                                {"kind", "ConfigMap"},
                                {"metadata", {{"name", "cm"}, {"namespace", ns_}}},
                                {"data", {{"app.conf", "mode=1\n"}}}});
  json c = busyboxContainer("main", "sleep 3600");
  // The pod does not ask for readOnly, and says readOnly: false on the second mount.
  c["volumeMounts"] = json::array(
      {mountOf("cfg", "/cfg"), json{{"name", "cfg2"}, {"mountPath", "/cfg2"}, {"readOnly", false}},
       mountOf("scratch", "/scratch")});
  json pod = makePod(ns_, "rocm", node_, json::array({c}));
  pod["spec"]["volumes"] = json::array({{{"name", "cfg"}, {"configMap", {{"name", "cm"}}}},
                                        {{"name", "cfg2"}, {"configMap", {{"name", "cm"}}}},
                                        {{"name", "scratch"}, {"emptyDir", json::object()}}});
  ASSERT_TRUE(harness_->insert(pod).ok());
  ASSERT_TRUE(waitFor([&] { return runningIds("rocm").count("main") == 1; }, 30s))
      << harness_->cloudStatus(ns_, "rocm").dump(2);
  const std::string id = runningIds("rocm")["main"];
  EXPECT_EQ(exec(id, "cat /cfg/app.conf"), "mode=1\n");
  for (const char* cmd : {"echo evil > /cfg/app.conf", "echo x > /cfg/new", "echo x > /cfg2/new"}) {
    int code = 0;
    std::string out = exec(id, cmd, &code);
    EXPECT_NE(code, 0) << cmd << ": " << out;
    EXPECT_NE(out.find("Read-only file system"), std::string::npos) << cmd << ": " << out;
  }
  EXPECT_EQ(exec(id, "cat /cfg/app.conf"), "mode=1\n");
  int code = -1;
  exec(id, "echo ok > /scratch/f", &code);
  EXPECT_EQ(code, 0);  // an emptyDir stays writable
  // What edged handed the runtime (the CRI config's mounts, as containerd reports them).
  auto status = cri_->containerStatus(id);
  ASSERT_TRUE(status.ok());
  std::map<std::string, bool> readonly;
  for (const auto& m : status->mounts()) readonly[m.container_path()] = m.readonly();
  EXPECT_TRUE(readonly.at("/cfg"));
  EXPECT_TRUE(readonly.at("/cfg2"));
  EXPECT_FALSE(readonly.at("/scratch"));
}

}  // namespace
}  // namespace edgecore::testing
