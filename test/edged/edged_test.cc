// edged against the real containerd, with the real metamanager and a recorded cloud: pods from
// the store run, report kubelet-style status, restart by policy with back-off, follow probes,
// delete gracefully, survive an edgecore restart and a simulated reboot.

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "edged/edged_harness.h"
#include "edged/ws_channel_client.h"

namespace edgecore::testing {
namespace {

class EdgedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EC_SKIP_WITHOUT_CONTAINERD();
    cri::CriClientOptions o;
    auto c = cri::CriClient::create(o);
    ASSERT_TRUE(c.ok());
    cri_ = std::move(c).value();
    removeLeftoversOfDeadTestRuns(*cri_);
    ns_ = "edged-test-" + uniqueSuffix();
    node_ = "node-" + ns_;
  }
  void TearDown() override {
    harness_.reset();
    if (cri_) {
      removeNamespacePods(*cri_, ns_);
    }
  }

  // manifests/static.yaml: the static pod "st" (busybox sleeping) in this test's namespace.
  void writeStaticPodManifest() {
    std::filesystem::create_directories(dir_.path() + "/manifests");
    dir_.write("manifests/static.yaml",
               "apiVersion: v1\nkind: Pod\nmetadata:\n  name: st\n  namespace: " + ns_ +
                   "\nspec:\n  hostNetwork: true\n  terminationGracePeriodSeconds: 1\n  "
                   "containers:\n  - name: main\n    image: " +
                   kBusyboxImage + "\n    command: [\"sh\", \"-c\", \"sleep 3600\"]\n");
  }

  // Whether edged sent upstream a status patch of pod `name` for `uid` (with `phase`, if given).
  bool sentStatusFor(EdgedHarness& h, const std::string& name, const std::string& uid,
                     const std::string& phase) {
    for (auto& m : h.upstream()) {
      if (m.route.operation != "patch" || m.route.resource != ns_ + "/podpatch/" + name ||
          !m.content.is_string()) {
        continue;
      }
      json p = json::parse(m.content.get<std::string>(), nullptr, false);
      if (p.is_object() && p["metadata"].value("uid", "") == uid &&
          (phase.empty() || p["status"].value("phase", "") == phase)) {
        return true;
      }
    }
    return false;
  }

  EdgedHarness& start(edged::EdgedOptions o = {}, bool connected = true, int max_dead = 1,
                      bool report_event = false,
                      const std::function<void(core::EdgeCoreConfig&)>& tweak = {}) {
    harness_ = std::make_unique<EdgedHarness>(dir_.path(), node_, o, connected, max_dead,
                                              report_event, tweak);
    return *harness_;
  }

  // Containers of the pod `name` in containerd (any state), by container name.
  std::vector<runtimeapi::Container> containers(const std::string& name) {
    runtimeapi::ContainerFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    (*f.mutable_label_selector())["io.kubernetes.pod.name"] = name;
    auto list = cri_->listContainers(f);
    return list.ok() ? *list : std::vector<runtimeapi::Container>{};
  }
  std::set<std::string> runningIds(const std::string& name) {
    std::set<std::string> ids;
    for (const auto& c : containers(name)) {
      if (c.state() == runtimeapi::CONTAINER_RUNNING) {
        ids.insert(c.id());
      }
    }
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<EdgedHarness> harness_;
  std::string ns_;
  std::string node_;
};

TEST_F(EdgedTest, InitContainerThenTwoContainersRunningAndReady) {
  auto& h = start();
  json pod = makePod(
      ns_, "web", node_,
      json::array({busyboxContainer("a", "sleep 3600"), busyboxContainer("b", "sleep 3600")}),
      "Always", json::array({busyboxContainer("init", "echo init done")}));
  pod["spec"]["containers"][0]["env"] = json::array({{{"name", "GREETING"}, {"value", "hello"}}});
  ASSERT_TRUE(h.insert(pod).ok());
  json st;
  ASSERT_TRUE(waitFor(
      [&] {
        st = h.cloudStatus(ns_, "web");
        return st.value("phase", "") == "Running" && conditionStatus(st, "Ready") == "True";
      },
      30s))
      << st.dump(2);
  EXPECT_EQ(conditionStatus(st, "Initialized"), "True");
  EXPECT_EQ(conditionStatus(st, "ContainersReady"), "True");
  EXPECT_EQ(conditionStatus(st, "PodReadyToStartContainers"), "True");
  EXPECT_EQ(conditionStatus(st, "PodScheduled"), "True");
  EXPECT_EQ(st.value("qosClass", ""), "BestEffort");
  EXPECT_EQ(st.value("hostIP", ""), "127.0.0.1");
  EXPECT_EQ(st.value("podIP", ""), "127.0.0.1");  // hostNetwork
  for (const char* name : {"a", "b"}) {
    auto c = findContainerStatus(st, name);
    ASSERT_TRUE(c.has_value()) << name;
    EXPECT_TRUE((*c)["ready"].get<bool>());
    EXPECT_TRUE((*c)["started"].get<bool>());
    EXPECT_EQ((*c)["restartCount"], 0);
    EXPECT_TRUE((*c)["state"].contains("running"));
    EXPECT_EQ((*c)["containerID"].get<std::string>().rfind("containerd://", 0), 0u);
    EXPECT_EQ((*c)["image"], kBusyboxImage);
    EXPECT_FALSE((*c)["imageID"].get<std::string>().empty());
  }
  auto init = findContainerStatus(st, "init", "initContainerStatuses");
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ((*init)["state"]["terminated"]["exitCode"], 0);
  EXPECT_EQ((*init)["state"]["terminated"]["reason"], "Completed");
  EXPECT_EQ(runningIds("web").size(), 2u);

  // The mandatory labels MetaServer relies on, and the env value.
  auto list = containers("web");
  ASSERT_FALSE(list.empty());
  for (const auto& c : list) {
    EXPECT_EQ(c.labels().at("io.kubernetes.pod.name"), "web");
    EXPECT_EQ(c.labels().at("io.kubernetes.pod.namespace"), ns_);
    EXPECT_EQ(c.labels().at("io.kubernetes.pod.uid"), "uid-" + ns_ + "-web");
    EXPECT_FALSE(c.annotations().at("io.kubernetes.container.hash").empty());
    if (c.labels().at("io.kubernetes.container.name") == "a" &&
        c.state() == runtimeapi::CONTAINER_RUNNING) {
      auto out = cri_->execSync(c.id(), {"sh", "-c", "echo $GREETING"}, 5);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(out->stdout(), "hello\n");
    }
  }
  // The log layout of spec 6.3: <podLogsDir>/<ns>_<name>_<uid>/<container>/<n>.log.
  std::string init_log =
      readFile(dir_.path() + "/logs/" + ns_ + "_web_uid-" + ns_ + "-web/init/0.log");
  EXPECT_NE(init_log.find(" stdout F init done"), std::string::npos) << init_log;
}

// A ConfigMap/Secret as kube-apiserver returns it.
json apiObject(const std::string& kind, const std::string& name, json data,
               const std::string& ns = "") {
  return json{{"apiVersion", "v1"},
              {"kind", kind},
              {"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", "7"}}},
              {"data", std::move(data)}};
}

TEST_F(EdgedTest, EnvFromConfigMapAndSecretSharedEmptyDirAndConfigMapVolume) {
  auto& h = start();
  // CloudCore does not push them: edged asks for them (a query the cloud answers).
  h.setCloudObject(ns_, "configmap", "cm",
                   apiObject("ConfigMap", "cm", {{"greeting", "hello"}, {"file.txt", "from-cm"}}));
  h.setCloudObject(ns_, "secret", "sec",
                   apiObject("Secret", "sec", {{"password", "czNjcmV0"}}));  // "s3cret"
  json a = busyboxContainer("a", "sleep 3600");
  a["env"] =
      json::array({{{"name", "GREETING"},
                    {"valueFrom", {{"configMapKeyRef", {{"name", "cm"}, {"key", "greeting"}}}}}},
                   {{"name", "PASS"},
                    {"valueFrom", {{"secretKeyRef", {{"name", "sec"}, {"key", "password"}}}}}}});
  a["volumeMounts"] = json::array(
      {{{"name", "shared"}, {"mountPath", "/shared"}}, {{"name", "cfg"}, {"mountPath", "/cfg"}}});
  json b = busyboxContainer("b", "sleep 3600");
  b["volumeMounts"] = json::array({{{"name", "shared"}, {"mountPath", "/shared"}}});
  json init = busyboxContainer("init", "echo from-init > /shared/init");
  init["volumeMounts"] = b["volumeMounts"];
  json pod = makePod(ns_, "vol", node_, json::array({a, b}), "Always", json::array({init}));
  pod["spec"]["volumes"] = json::array({{{"name", "shared"}, {"emptyDir", json::object()}},
                                        {{"name", "cfg"}, {"configMap", {{"name", "cm"}}}}});
  ASSERT_TRUE(h.insert(pod).ok());
  json st;
  ASSERT_TRUE(waitFor(
      [&] {
        st = h.cloudStatus(ns_, "vol");
        return st.value("phase", "") == "Running" && conditionStatus(st, "Ready") == "True";
      },
      30s))
      << st.dump(2);
  std::map<std::string, std::string> ids;
  for (const auto& c : containers("vol")) {
    if (c.state() == runtimeapi::CONTAINER_RUNNING) {
      ids[c.labels().at("io.kubernetes.container.name")] = c.id();
    }
  }
  ASSERT_EQ(ids.size(), 2u);
  auto run = [&](const std::string& name, const std::string& cmd) {
    auto r = cri_->execSync(ids[name], {"sh", "-c", cmd}, 5);
    return r.ok() ? r->stdout() : "exec failed: " + r.status().message();
  };
  EXPECT_EQ(run("a", "echo $GREETING $PASS"), "hello s3cret\n");
  EXPECT_EQ(run("a", "cat /cfg/file.txt"), "from-cm");
  EXPECT_EQ(run("b", "cat /shared/init"), "from-init\n");
  EXPECT_EQ(run("a", "cat /shared/init"), "from-init\n");
}

TEST_F(EdgedTest, RestartPoliciesWithExitCodes) {
  edged::EdgedOptions o;
  o.backoff_base = 300ms;
  auto& h = start(o);
  struct Case {
    std::string name;
    std::string policy;
    int code;
  };
  std::vector<Case> cases = {{"always-0", "Always", 0},       {"always-1", "Always", 1},
                             {"onfailure-0", "OnFailure", 0}, {"onfailure-1", "OnFailure", 1},
                             {"never-0", "Never", 0},         {"never-1", "Never", 1}};
  for (const auto& c : cases) {
    ASSERT_TRUE(h.insert(makePod(ns_, c.name, node_,
                                 json::array({busyboxContainer(
                                     "main", "sleep 0.2; exit " + std::to_string(c.code))}),
                                 c.policy))
                    .ok());
  }
  auto restarts = [&](const std::string& name) {
    auto c = findContainerStatus(h.cloudStatus(ns_, name), "main");
    return c ? (*c)["restartCount"].get<int>() : -1;
  };
  auto phase = [&](const std::string& name) { return h.cloudStatus(ns_, name).value("phase", ""); };
  EXPECT_TRUE(waitFor([&] { return restarts("always-0") >= 2 && restarts("always-1") >= 2; }, 30s))
      << h.cloudStatus(ns_, "always-0").dump(2) << h.cloudStatus(ns_, "always-1").dump(2);
  EXPECT_TRUE(waitFor([&] { return restarts("onfailure-1") >= 2; }, 30s))
      << h.cloudStatus(ns_, "onfailure-1").dump(2);
  EXPECT_TRUE(waitFor([&] { return phase("onfailure-0") == "Succeeded"; }, 30s))
      << h.cloudStatus(ns_, "onfailure-0").dump(2);
  EXPECT_TRUE(waitFor([&] { return phase("never-0") == "Succeeded"; }, 30s));
  EXPECT_TRUE(waitFor([&] { return phase("never-1") == "Failed"; }, 30s))
      << h.cloudStatus(ns_, "never-1").dump(2);
  EXPECT_EQ(restarts("onfailure-0"), 0);
  EXPECT_EQ(restarts("never-0"), 0);
  EXPECT_EQ(restarts("never-1"), 0);
  auto t = findContainerStatus(h.cloudStatus(ns_, "never-1"), "main");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ((*t)["state"]["terminated"]["exitCode"], 1);
  EXPECT_EQ((*t)["state"]["terminated"]["reason"], "Error");
  EXPECT_EQ(conditionStatus(h.cloudStatus(ns_, "never-0"), "Ready"), "False");
  // A finished pod stays finished: no new container appears for Never/OnFailure-0.
  size_t never_count = containers("never-0").size();
  std::this_thread::sleep_for(1500ms);  // an absence: a few relists must start nothing
  EXPECT_EQ(containers("never-0").size(), never_count);
  EXPECT_TRUE(runningIds("never-0").empty());
}

TEST_F(EdgedTest, CrashLoopBackOffDoublesFromTheInjectedBase) {
  edged::EdgedOptions o;
  o.backoff_base = 500ms;
  auto& h = start(o, true, /*max_dead=*/10);
  ASSERT_TRUE(
      h.insert(makePod(ns_, "crash", node_, json::array({busyboxContainer("main", "exit 1")})))
          .ok());
  // Record every attempt's creation and finish time as containerd reports them.
  std::map<uint32_t, std::pair<int64_t, int64_t>> attempts;  // attempt -> (created, finished)
  bool saw_backoff_reason = false;
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& c : containers("crash")) {
          auto& a = attempts[c.metadata().attempt()];
          a.first = c.created_at();
          if (c.state() == runtimeapi::CONTAINER_EXITED && a.second == 0) {
            auto st = cri_->containerStatus(c.id());
            if (st.ok()) {
              a.second = st->finished_at();
            }
          }
        }
        auto cs = findContainerStatus(h.cloudStatus(ns_, "crash"), "main");
        if (cs && (*cs)["state"].contains("waiting") &&
            (*cs)["state"]["waiting"].value("reason", "") == "CrashLoopBackOff") {
          saw_backoff_reason = true;
        }
        return attempts.size() >= 5 && attempts[4].first > 0;
      },
      40s))
      << "attempts seen: " << attempts.size();
  EXPECT_TRUE(saw_backoff_reason);
  // Gap before attempt n+1: none after the first crash, then base, 2*base, 4*base.
  const double base_ms = 500;
  std::vector<double> expected = {0, base_ms, 2 * base_ms, 4 * base_ms};
  for (uint32_t n = 0; n < 4; ++n) {
    ASSERT_GT(attempts[n].second, 0) << "attempt " << n << " never finished";
    double gap_ms = (attempts[n + 1].first - attempts[n].second) / 1e6;
    EXPECT_GE(gap_ms, expected[n] * 0.9) << "attempt " << n + 1;
    EXPECT_LE(gap_ms, expected[n] + 1500) << "attempt " << n + 1;
  }
}

TEST_F(EdgedTest, LivenessFailureRestartsTheContainer) {
  auto& h = start();
  json c = busyboxContainer("main", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600");
  c["livenessProbe"] = {{"exec", {{"command", json::array({"cat", "/tmp/healthy"})}}},
                        {"periodSeconds", 1},
                        {"failureThreshold", 2}};
  ASSERT_TRUE(h.insert(makePod(ns_, "live", node_, json::array({c}))).ok());
  ASSERT_TRUE(waitFor([&] { return runningIds("live").size() == 1; }, 20s));
  std::string first = *runningIds("live").begin();
  json st;
  ASSERT_TRUE(waitFor(
      [&] {
        st = h.cloudStatus(ns_, "live");
        auto cs = findContainerStatus(st, "main");
        return cs && (*cs)["restartCount"].get<int>() >= 1 && (*cs)["state"].contains("running");
      },
      30s))
      << st.dump(2);
  auto now_running = runningIds("live");
  ASSERT_EQ(now_running.size(), 1u);
  EXPECT_NE(*now_running.begin(), first);
  auto cs = findContainerStatus(st, "main");
  EXPECT_TRUE((*cs)["lastState"].contains("terminated")) << st.dump(2);
}

TEST_F(EdgedTest, ReadinessProbeFlipsReady) {
  auto& h = start();
  json c = busyboxContainer("main", "sleep 1; touch /tmp/ready; sleep 3600");
  c["readinessProbe"] = {{"exec", {{"command", json::array({"cat", "/tmp/ready"})}}},
                         {"periodSeconds", 1},
                         {"failureThreshold", 1}};
  ASSERT_TRUE(h.insert(makePod(ns_, "ready", node_, json::array({c}))).ok());
  json st;
  // Running but not ready first.
  ASSERT_TRUE(waitFor(
      [&] {
        st = h.cloudStatus(ns_, "ready");
        return st.value("phase", "") == "Running";
      },
      20s))
      << st.dump(2);
  ASSERT_TRUE(
      waitFor([&] { return conditionStatus(h.cloudStatus(ns_, "ready"), "Ready") == "True"; }, 20s))
      << h.cloudStatus(ns_, "ready").dump(2);
  // The probe fails again: Ready goes False, the container keeps running.
  auto ids = runningIds("ready");
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_TRUE(cri_->execSync(*ids.begin(), {"rm", "/tmp/ready"}, 5).ok());
  ASSERT_TRUE(waitFor(
      [&] { return conditionStatus(h.cloudStatus(ns_, "ready"), "Ready") == "False"; }, 20s));
  EXPECT_EQ(runningIds("ready"), ids);
  auto cs = findContainerStatus(h.cloudStatus(ns_, "ready"), "main");
  ASSERT_TRUE(cs.has_value());
  EXPECT_FALSE((*cs)["ready"].get<bool>());
}

TEST_F(EdgedTest, GracefulDeleteWaitsTheGracePeriodThenConfirms) {
  auto& h = start();
  json pod = makePod(ns_, "bye", node_, json::array({busyboxContainer("main", "sleep 3600")}));
  ASSERT_TRUE(h.insert(pod).ok());
  ASSERT_TRUE(waitFor([&] { return runningIds("bye").size() == 1; }, 20s));
  // The cloud marks it for deletion (busybox sh as PID 1 ignores SIGTERM: killed after 2 s).
  pod["metadata"]["deletionTimestamp"] = "2026-11-27T10:05:00Z";
  pod["metadata"]["deletionGracePeriodSeconds"] = 2;
  pod["metadata"]["resourceVersion"] = "2";
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(h.send("update", pod).ok());
  ASSERT_TRUE(waitFor([&] { return containers("bye").empty(); }, 20s));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 1800ms);
  // Then the pod delete with the UID precondition goes to the cloud.
  bool confirmed = false;
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& m : h.upstream()) {
          if (m.route.operation == "delete" && m.route.resource == ns_ + "/pod/bye") {
            confirmed = m.content["preconditions"]["uid"] == "uid-" + ns_ + "-bye";
          }
        }
        return confirmed;
      },
      10s));
  // A direct delete (no prior update) just removes it, with no upstream delete.
  json other = makePod(ns_, "gone", node_, json::array({busyboxContainer("main", "sleep 3600")}));
  other["spec"]["terminationGracePeriodSeconds"] = 0;
  ASSERT_TRUE(h.insert(other).ok());
  ASSERT_TRUE(waitFor([&] { return runningIds("gone").size() == 1; }, 20s));
  ASSERT_TRUE(h.send("delete", other).ok());
  ASSERT_TRUE(waitFor([&] { return containers("gone").empty(); }, 20s));
  for (const auto& m : h.upstream()) {
    EXPECT_FALSE(m.route.operation == "delete" && m.route.resource == ns_ + "/pod/gone");
  }
}

TEST_F(EdgedTest, EdgecoreRestartAdoptsRunningPodsAndRebootRecreatesThem) {
  {
    auto& h = start();
    ASSERT_TRUE(h.insert(makePod(ns_, "keep", node_,
                                 json::array({busyboxContainer("a", "sleep 3600"),
                                              busyboxContainer("b", "sleep 3600")})))
                    .ok());
    ASSERT_TRUE(waitFor([&] { return runningIds("keep").size() == 2; }, 20s));
    harness_.reset();  // edgecore stops; containers keep running
  }
  auto before = runningIds("keep");
  ASSERT_EQ(before.size(), 2u);
  {
    // Restart with no cloud: the pod comes from the local store and is adopted.
    auto& h = start({}, /*connected=*/false);
    ASSERT_TRUE(waitFor(
        [&] {
          json st = h.localStatus(ns_, "keep");
          return st.is_object() && st.value("phase", "") == "Running" &&
                 conditionStatus(st, "Ready") == "True";
        },
        20s))
        << h.localStatus(ns_, "keep").dump(2);
    std::this_thread::sleep_for(1s);  // a few relists: nothing may be restarted
    EXPECT_EQ(runningIds("keep"), before);
    EXPECT_EQ(containers("keep").size(), 2u);
    auto a = findContainerStatus(h.localStatus(ns_, "keep"), "a");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ((*a)["restartCount"], 0);
    harness_.reset();
  }
  // Simulated reboot: every container and sandbox is gone, edgecore starts without a cloud.
  removeNamespacePods(*cri_, ns_);
  ASSERT_TRUE(containers("keep").empty());
  auto& h = start({}, /*connected=*/false);
  ASSERT_TRUE(waitFor([&] { return runningIds("keep").size() == 2; }, 30s));
  EXPECT_TRUE(
      waitFor([&] { return h.localStatus(ns_, "keep").value("phase", "") == "Running"; }, 10s));
  for (const auto& id : runningIds("keep")) {
    EXPECT_EQ(before.count(id), 0u) << "a new container was expected";
  }
}

TEST_F(EdgedTest, StaticPodRunsWithoutAnyCloud) {
  std::filesystem::create_directories(dir_.path() + "/manifests");
  dir_.write("manifests/static.yaml",
             "apiVersion: v1\nkind: Pod\nmetadata:\n  name: st\n  namespace: " + ns_ +
                 "\nspec:\n  hostNetwork: true\n  containers:\n  - name: main\n    image: " +
                 kBusyboxImage + "\n    command: [\"sh\", \"-c\", \"sleep 3600\"]\n");
  dir_.write("manifests/broken.yaml", "kind: [not a pod");
  auto& h = start({}, /*connected=*/false);
  std::string name = "st-" + node_;
  ASSERT_TRUE(waitFor([&] { return runningIds(name).size() == 1; }, 20s));
  EXPECT_TRUE(
      waitFor([&] { return h.localStatus(ns_, name).value("phase", "") == "Running"; }, 10s));
  // Removing the manifest removes the pod.
  std::filesystem::remove(dir_.path() + "/manifests/static.yaml");
  harness_.reset();
  edged::EdgedOptions o;
  o.static_pod_period = 300ms;
  start(o, false);
  EXPECT_TRUE(waitFor([&] { return containers(name).empty(); }, 20s));
}

TEST_F(EdgedTest, BadInputGivesReasonsAndHarmsNothing) {
  edged::EdgedOptions o;
  o.backoff_base = 300ms;
  auto& h = start(o);
  // A healthy pod next to the bad ones must keep running.
  json good = makePod(ns_, "good", node_, json::array({busyboxContainer("main", "sleep 3600")}));
  good["spec"]["someFutureField"] = {{"x", 1}};
  good["metadata"]["unknownMeta"] = "y";
  ASSERT_TRUE(h.insert(good).ok());
  // An image nobody has (no registry reachable): ErrImagePull, then ImagePullBackOff.
  json missing = makePod(ns_, "noimage", node_,
                         json::array({{{"name", "main"},
                                       {"image", "registry.invalid/none:1"},
                                       {"imagePullPolicy", "IfNotPresent"}}}));
  ASSERT_TRUE(h.insert(missing).ok());
  // Not a pod at all, and a pod without containers.
  core::Message junk = core::Message::create("edgecontroller", "resource", "insert",
                                             ns_ + "/pod/junk", "not json {");
  junk.header.resource_version = "1";
  ASSERT_TRUE(h.bus().send("metamanager", std::move(junk)).ok());
  json empty = makePod(ns_, "empty", node_, json::array());
  ASSERT_TRUE(h.insert(empty).ok());
  std::set<std::string> reasons;
  ASSERT_TRUE(waitFor(
      [&] {
        auto c = findContainerStatus(h.cloudStatus(ns_, "noimage"), "main");
        if (c && (*c)["state"].contains("waiting")) {
          reasons.insert((*c)["state"]["waiting"].value("reason", ""));
        }
        return reasons.count("ErrImagePull") && reasons.count("ImagePullBackOff");
      },
      30s))
      << h.cloudStatus(ns_, "noimage").dump(2);
  EXPECT_EQ(h.cloudStatus(ns_, "noimage").value("phase", ""), "Pending");
  ASSERT_TRUE(
      waitFor([&] { return h.cloudStatus(ns_, "empty").value("phase", "") == "Failed"; }, 20s))
      << h.cloudStatus(ns_, "empty").dump(2);
  EXPECT_FALSE(h.cloudStatus(ns_, "empty").value("message", "").empty());
  // An invalid name and a volume path escaping the pod directory: refused with a reason.
  json badname = makePod(ns_, "Bad_Name", node_, json::array({busyboxContainer("c", "true")}));
  ASSERT_TRUE(h.insert(badname).ok());
  json escape = makePod(ns_, "escape", node_, json::array({busyboxContainer("c", "sleep 3600")}));
  escape["spec"]["volumes"] = json::array({{{"name", "v"}, {"emptyDir", json::object()}}});
  escape["spec"]["containers"][0]["volumeMounts"] =
      json::array({{{"name", "v"}, {"mountPath", "/x"}, {"subPath", "../../etc"}}});
  ASSERT_TRUE(h.insert(escape).ok());
  ASSERT_TRUE(
      waitFor([&] { return !h.cloudStatus(ns_, "Bad_Name").value("reason", "").empty(); }, 20s))
      << h.cloudStatus(ns_, "Bad_Name").dump(2);
  EXPECT_NE(h.cloudStatus(ns_, "Bad_Name").value("phase", ""), "Running");
  EXPECT_TRUE(containers("Bad_Name").empty());
  // The climbing subPath refuses the container, as the kubelet does (not the pod).
  ASSERT_TRUE(waitFor(
      [&] {
        auto c = findContainerStatus(h.cloudStatus(ns_, "escape"), "c");
        return c && (*c)["state"].contains("waiting") &&
               (*c)["state"]["waiting"].value("reason", "") == "CreateContainerConfigError";
      },
      20s))
      << h.cloudStatus(ns_, "escape").dump(2);
  EXPECT_NE(h.cloudStatus(ns_, "escape").value("phase", ""), "Running");
  for (const auto& c : containers("escape")) {
    ADD_FAILURE() << "container created for the escaping subPath: " << c.id();
  }
  ASSERT_TRUE(waitFor([&] { return runningIds("good").size() == 1; }, 20s));
  EXPECT_TRUE(
      waitFor([&] { return h.cloudStatus(ns_, "good").value("phase", "") == "Running"; }, 10s));
}

TEST_F(EdgedTest, HttpServerServesHealthPodsAndContainerLogs) {
  auto& h = start();
  ASSERT_TRUE(
      h.insert(
           makePod(ns_, "talk", node_,
                   json::array({busyboxContainer(
                       "c", "echo first line; echo second line; echo to-stderr >&2; sleep 3600")})))
          .ok());
  ASSERT_TRUE(
      waitFor([&] { return h.localStatus(ns_, "talk").value("phase", "") == "Running"; }, 20s));
  ASSERT_TRUE(waitFor([&] { return h.edged()->serverPort() != 0; }, 5s));
  std::string base = "http://127.0.0.1:" + std::to_string(h.edged()->serverPort());
  auto curl = [&](const std::string& path) {
    return runCommand({"/usr/bin/curl", "-s", "--max-time", "5", base + path}).out;
  };
  EXPECT_EQ(curl("/healthz"), "ok");
  json pods = json::parse(curl("/pods"), nullptr, false);
  ASSERT_TRUE(pods.is_object());
  bool listed = false;
  for (const auto& p : pods["items"]) {
    listed =
        listed || (p["metadata"]["name"] == "talk" && p["status"].value("phase", "") == "Running");
  }
  EXPECT_TRUE(listed) << pods.dump();
  std::string logs;
  ASSERT_TRUE(waitFor(
      [&] {
        logs = curl("/containerLogs/" + ns_ + "/talk/c");
        return logs.find("to-stderr") != std::string::npos;
      },
      10s))
      << logs;
  // stdout and stderr are separate pipes: only each stream's own order is fixed, so the stderr
  // line may land anywhere between the stdout lines.
  std::string stdout_only = logs;
  if (auto at = stdout_only.find("to-stderr\n"); at != std::string::npos) stdout_only.erase(at, 10);
  EXPECT_EQ(stdout_only, "first line\nsecond line\n") << logs;
  std::string last = curl("//containerLogs/" + ns_ + "/talk/c?tailLines=1");
  EXPECT_TRUE(last == "to-stderr\n" || last == "second line\n") << last;
  EXPECT_NE(curl("/containerLogs/" + ns_ + "/nope/c").find("not found"), std::string::npos);
}

TEST_F(EdgedTest, StatusKeptWhileOfflineReachesTheCloudWhenItReturns) {
  edged::EdgedOptions o;
  o.status_period = 300ms;
  auto& h = start(o, /*connected=*/false);
  ASSERT_TRUE(
      h.insert(makePod(ns_, "late", node_, json::array({busyboxContainer("c", "sleep 3600")})))
          .ok());
  ASSERT_TRUE(
      waitFor([&] { return h.localStatus(ns_, "late").value("phase", "") == "Running"; }, 20s));
  std::this_thread::sleep_for(700ms);  // an absence: a few re-checks while offline send nothing
  EXPECT_TRUE(h.cloudStatus(ns_, "late").empty()) << "nothing can reach an absent cloud";
  // The tunnel comes up (what edgehub tells metamanager): the kept status goes out.
  ASSERT_TRUE(h.bus()
                  .send("metamanager", core::Message::create("websocket", "meta", "connect",
                                                             "node/connection", "cloud_connected"))
                  .ok());
  EXPECT_TRUE(
      waitFor([&] { return h.cloudStatus(ns_, "late").value("phase", "") == "Running"; }, 10s));
}

// CloudCore does not push a ConfigMap or Secret when a pod needing it is scheduled; edged asks
// (a query through metamanager) and, like the kubelet, asks again with back-off while it is
// missing. Before: FailedMount once, and the pod never started.
TEST_F(EdgedTest, PodWaitingForAConfigMapStartsOnceTheCloudHasIt) {
  auto& h = start();
  json c = busyboxContainer("app", "sleep 3600");
  c["env"] = json::array(
      {{{"name", "MODE"},
        {"valueFrom", {{"configMapKeyRef", {{"name", "late-env"}, {"key", "mode"}}}}}}});
  c["envFrom"] = json::array({{{"secretRef", {{"name", "late-secret"}}}}});
  c["volumeMounts"] = json::array({{{"name", "conf"}, {"mountPath", "/conf"}}});
  json pod = makePod(ns_, "late", node_, json::array({c}));
  pod["spec"]["volumes"] =
      json::array({{{"name", "conf"}, {"configMap", {{"name", "late-conf"}}}}});
  ASSERT_TRUE(h.insert(pod).ok());
  // The queries reach the cloud, more than once each (retried with back-off).
  auto queriesOf = [&](const std::string& resource) {
    int n = 0;
    for (const auto& m : h.upstream()) {
      n += m.route.operation == "query" && m.route.resource == resource ? 1 : 0;
    }
    return n;
  };
  EXPECT_TRUE(waitFor([&] { return queriesOf(ns_ + "/configmap/late-conf") >= 2; }, 10s));
  EXPECT_TRUE(runningIds("late").empty());
  h.setCloudObject(ns_, "configmap", "late-conf",
                   apiObject("ConfigMap", "late-conf", {{"f", "v1"}}));
  h.setCloudObject(ns_, "configmap", "late-env",
                   apiObject("ConfigMap", "late-env", {{"mode", "m"}}));
  h.setCloudObject(ns_, "secret", "late-secret",
                   apiObject("Secret", "late-secret", {{"TOKEN", "dG9r"}}));  // "tok"
  json st;
  ASSERT_TRUE(waitFor(
      [&] {
        st = h.cloudStatus(ns_, "late");
        return st.value("phase", "") == "Running" && conditionStatus(st, "Ready") == "True";
      },
      30s))
      << st.dump(2);
  auto ids = runningIds("late");
  ASSERT_EQ(ids.size(), 1u);
  auto r = cri_->execSync(*ids.begin(), {"sh", "-c", "echo $MODE $TOKEN $(cat /conf/f)"}, 5);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->stdout(), "m tok v1\n");
}

TEST_F(EdgedTest, NodeRegistersReportsStatusAndRenewsLease) {
  // A 4 s lease: renewed every second.
  auto& h = start({}, true, 1, false, [](core::EdgeCoreConfig& c) {
    c.modules.edged.node_lease_duration = std::chrono::seconds(4);
  });
  auto find = [&](const std::string& op, const std::string& resource) {
    for (const auto& m : h.upstream()) {
      if (m.route.operation == op && m.route.resource == resource) {
        return std::optional<core::Message>(m);
      }
    }
    return std::optional<core::Message>();
  };
  std::optional<core::Message> node, patch, lease;
  ASSERT_TRUE(waitFor(
      [&] {
        node = find("insert", "default/node/" + node_);
        patch = find("patch", "default/nodepatch/" + node_);
        lease = find("update", "kube-node-lease/lease/" + node_);
        return node && patch && lease;
      },
      20s));
  EXPECT_EQ(node->route.source, "edged");
  const json& labels = node->content["metadata"]["labels"];
  EXPECT_EQ(labels.value("node-role.kubernetes.io/edge", "x"), "");
  EXPECT_EQ(labels.value("kubernetes.io/hostname", ""), node_);
  EXPECT_EQ(node->content["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10350);
  EXPECT_EQ(node->content["status"]["nodeInfo"]["containerRuntimeVersion"].get<std::string>().rfind(
                "containerd://", 0),
            0u);
  ASSERT_TRUE(patch->content.is_string());
  json body = json::parse(patch->content.get<std::string>());
  EXPECT_TRUE(body["status"].contains("conditions"));
  // CloudStream owns the kubelet port once the node exists: patches leave it alone.
  EXPECT_FALSE(body["status"].contains("daemonEndpoints"));
  EXPECT_EQ(lease->content["spec"]["holderIdentity"], node_);
  // kube-apiserver takes a Lease update only with the resourceVersion it returned last: the
  // lease is read (query), created (insert), then every update carries the current version.
  ASSERT_TRUE(waitFor(
      [&] {
        int updates = 0;
        for (const auto& m : h.upstream()) {
          updates += m.route.operation == "update" && m.route.resource == lease->route.resource;
        }
        return updates >= 3;
      },
      10s));
  std::vector<std::string> ops;
  for (const auto& m : h.upstream()) {
    if (m.route.resource == lease->route.resource && m.route.operation != "response") {
      ops.push_back(m.route.operation);  // (metamanager ACKs each answer with a response)
    }
  }
  ASSERT_GE(ops.size(), 4u);
  EXPECT_EQ(ops[0], "query");
  EXPECT_EQ(ops[1], "insert");
  // A refused update (stale or missing resourceVersion) would be followed by a new query.
  for (size_t i = 2; i < ops.size(); ++i) {
    EXPECT_EQ(ops[i], "update") << i;
  }
}

}  // namespace
}  // namespace edgecore::testing

namespace edgecore::testing {
namespace {

// Events with reportEvent on: what the kubelet records reaches the cloud as KubeEdge's edged
// sends it (insert, then patch with the new count) and stays in meta_v2 for MetaServer.
TEST_F(EdgedTest, EventsGoUpstreamAggregatedAndStayLocal) {
  edged::EdgedOptions o;
  o.backoff_base = 300ms;
  auto& h = start(o, true, 1, /*report_event=*/true);
  json crash = makePod(ns_, "crash", node_, json::array({busyboxContainer("c", "exit 1")}));
  json never = makePod(ns_, "never", node_, json::array({busyboxContainer("n", "true")}));
  never["spec"]["containers"][0]["image"] = "example.invalid/absent:1";
  never["spec"]["containers"][0]["imagePullPolicy"] = "Never";
  json sick = makePod(ns_, "sick", node_, json::array({busyboxContainer("s", "sleep 3600")}));
  sick["spec"]["containers"][0]["livenessProbe"] = {
      {"exec", {{"command", json::array({"cat", "/tmp/nope"})}}},
      {"periodSeconds", 1},
      {"failureThreshold", 1}};
  ASSERT_TRUE(h.insert(crash).ok());
  ASSERT_TRUE(h.insert(never).ok());
  ASSERT_TRUE(h.insert(sick).ok());

  auto events = [&] {
    std::vector<core::Message> out;
    for (auto& m : h.upstream()) {
      if (m.route.resource.find("/event/") != std::string::npos) {
        out.push_back(m);
      }
    }
    return out;
  };
  // The event inside a message (insert: the content; patch: content.event).
  auto body = [](const core::Message& m) {
    return m.route.operation == "patch" ? m.content.value("event", json::object()) : m.content;
  };
  ASSERT_TRUE(waitFor(
      [&] {
        bool started3 = false;
        bool killed = false;
        for (auto& m : events()) {
          json e = body(m);
          started3 = started3 || (m.route.operation == "patch" &&
                                  e.value("reason", "") == "Started" && e.value("count", 0) >= 3);
          killed = killed ||
                   e.value("message", "") == "Container s failed liveness probe, will be restarted";
        }
        return started3 && killed;
      },
      30s));

  std::map<std::string, json> first_by_name;  // inserts, by event name
  bool saw_backoff = false;
  bool saw_never = false;
  for (auto& m : events()) {
    EXPECT_EQ(m.route.source, "edged");
    EXPECT_EQ(m.route.group, "meta");
    json e = body(m);
    std::string name = e["metadata"].value("name", "");
    EXPECT_EQ(m.route.resource, ns_ + "/event/" + name);
    EXPECT_EQ(e["metadata"].value("namespace", ""), ns_);
    EXPECT_EQ(e["source"].value("component", ""), "kubelet");
    EXPECT_EQ(e["source"].value("host", ""), node_);
    EXPECT_EQ(e.value("reportingComponent", ""), "kubelet");
    EXPECT_EQ(e["involvedObject"].value("kind", ""), "Pod");
    EXPECT_EQ(e["involvedObject"].value("apiVersion", ""), "v1");
    std::string pod = e["involvedObject"].value("name", "");
    EXPECT_EQ(name.rfind(pod + ".", 0), 0u) << name;
    EXPECT_EQ(e["involvedObject"].value("uid", ""), "uid-" + ns_ + "-" + pod);
    if (m.route.operation == "insert") {
      EXPECT_EQ(e.value("count", 0), 1);
      EXPECT_EQ(e.value("firstTimestamp", ""), e.value("lastTimestamp", "x"));
      first_by_name[name] = e;
    } else {
      ASSERT_EQ(m.route.operation, "patch");
      // The patch names the event created first and carries the merge patch client-go makes.
      ASSERT_TRUE(first_by_name.count(name)) << name;
      EXPECT_EQ(e.value("firstTimestamp", ""), first_by_name[name].value("firstTimestamp", "x"));
      json patch = json::parse(m.content.value("patchData", ""), nullptr, false);
      ASSERT_TRUE(patch.is_object()) << m.content.dump();
      EXPECT_EQ(patch.size(), 3u) << patch.dump();
      EXPECT_EQ(patch.value("count", 0), e.value("count", -1));
      EXPECT_EQ(patch.value("lastTimestamp", ""), e.value("lastTimestamp", "x"));
      EXPECT_EQ(patch.value("message", ""), e.value("message", "x"));
    }
    if (e.value("reason", "") == "BackOff" && pod == "crash") {
      saw_backoff = true;
      EXPECT_EQ(e.value("type", ""), "Warning");
      EXPECT_EQ(e["involvedObject"].value("fieldPath", ""), "spec.containers{c}");
      EXPECT_EQ(e.value("message", ""), "Back-off restarting failed container c in pod crash_" +
                                            ns_ + "(uid-" + ns_ + "-crash)");
    }
    if (e.value("reason", "") == "ErrImageNeverPull") {
      saw_never = true;
      EXPECT_EQ(e.value("type", ""), "Warning");
      EXPECT_EQ(e.value("message", ""),
                "Container image \"example.invalid/absent:1\" is not present with pull policy of "
                "Never");
    }
  }
  EXPECT_TRUE(saw_backoff);
  EXPECT_TRUE(saw_never);
  // The liveness failure: Unhealthy with the probe's combined output, then Killing.
  bool unhealthy = false;
  for (auto& m : events()) {
    json e = body(m);
    if (e.value("reason", "") == "Unhealthy") {
      unhealthy = true;
      EXPECT_EQ(e.value("type", ""), "Warning");
      EXPECT_EQ(e["involvedObject"].value("fieldPath", ""), "spec.containers{s}");
      std::string msg = e.value("message", "");
      EXPECT_EQ(msg.rfind("Liveness probe failed: ", 0), 0u) << msg;
      EXPECT_NE(msg.find("/tmp/nope"), std::string::npos) << msg;
    }
  }
  EXPECT_TRUE(unhealthy);
  std::set<std::string> crash_reasons;
  for (auto& [n, e] : first_by_name) {
    if (e["involvedObject"].value("name", "") == "crash") {
      crash_reasons.insert(e.value("reason", ""));
    }
  }
  for (const char* r : {"Pulled", "Created", "Started"}) {
    EXPECT_TRUE(crash_reasons.count(r)) << r;
  }

  // meta_v2 keeps the newest state of each event (what MetaServer and keadm describe read).
  metamanager::Gvr gvr;
  gvr.version = "v1";
  gvr.resource = "events";
  ASSERT_TRUE(waitFor(
      [&] {
        int best_upstream = 0;
        for (auto& m : events()) {
          json e = body(m);
          if (e.value("reason", "") == "Started" &&
              e["involvedObject"].value("name", "") == "crash") {
            best_upstream = std::max(best_upstream, e.value("count", 0));
          }
        }
        for (const auto& o : h.store().listObjects(gvr, ns_)) {
          json e = json::parse(o->json);
          if (e.value("reason", "") == "Started" && e.value("kind", "") == "Event" &&
              e.value("count", 0) == best_upstream) {
            return true;
          }
        }
        return false;
      },
      10s));
}

}  // namespace
}  // namespace edgecore::testing

namespace edgecore::testing {
namespace {

std::string urlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof(b), "%%%02X", c);
      out += b;
    }
  }
  return out;
}

// /exec and /attach of edged's HTTP server against a real container: CRI's streaming URL is
// proxied, the client speaks kubectl's websocket channel protocol (v4.channel.k8s.io).
TEST_F(EdgedTest, ExecAndAttachThroughTheHttpServer) {
  auto& h = start();
  json pod = makePod(ns_, "shell", node_,
                     json::array({busyboxContainer("c", "while read l; do echo got:$l; done")}));
  pod["spec"]["containers"][0]["stdin"] = true;
  ASSERT_TRUE(h.insert(pod).ok());
  ASSERT_TRUE(
      waitFor([&] { return h.localStatus(ns_, "shell").value("phase", "") == "Running"; }, 20s));
  ASSERT_TRUE(waitFor([&] { return h.edged()->serverPort() != 0; }, 5s));
  const uint16_t port = h.edged()->serverPort();

  {
    WsChannelClient ws;
    std::string target = "/exec/" + ns_ + "/shell/c?command=sh&command=-c&command=" +
                         urlEncode("echo out; echo err >&2; exit 3") + "&output=1&error=1";
    ASSERT_EQ(ws.open(port, target), 101) << ws.head();
    EXPECT_NE(ws.head().find("v4.channel.k8s.io"), std::string::npos) << ws.head();
    ASSERT_TRUE(ws.readUntil([] { return false; }, 20s));  // until the runtime closes
    EXPECT_EQ(ws.channels()[1], "out\n");
    EXPECT_EQ(ws.channels()[2], "err\n");
    json status = json::parse(ws.channels()[3], nullptr, false);
    ASSERT_TRUE(status.is_object()) << ws.channels()[3];
    EXPECT_EQ(status.value("status", ""), "Failure");
    EXPECT_EQ(status.value("reason", ""), "NonZeroExitCode");
    ASSERT_TRUE(status.contains("details")) << status.dump();
    EXPECT_EQ(status["details"]["causes"][0].value("reason", ""), "ExitCode");
    EXPECT_EQ(status["details"]["causes"][0].value("message", ""), "3");
  }
  {
    WsChannelClient ws;
    ASSERT_EQ(ws.open(port, "/exec/" + ns_ + "/shell/c?command=echo&command=fine&output=1"), 101);
    ASSERT_TRUE(ws.readUntil([] { return false; }, 20s));
    EXPECT_EQ(ws.channels()[1], "fine\n");
    EXPECT_EQ(json::parse(ws.channels()[3], nullptr, false).value("status", ""), "Success")
        << ws.channels()[3];
  }
  {
    // Attach: what we write to the container's stdin comes back through its stdout.
    WsChannelClient ws;
    ASSERT_EQ(ws.open(port, "/attach/" + ns_ + "/shell/c?input=1&output=1&error=1"), 101)
        << ws.head();
    ASSERT_TRUE(ws.send(0, "hello\n"));
    ASSERT_TRUE(ws.readUntil(
        [&] { return ws.channels()[1].find("got:hello\n") != std::string::npos; }, 20s))
        << ws.channels()[1];
    ASSERT_TRUE(ws.send(0, "again\n"));
    ASSERT_TRUE(ws.readUntil(
        [&] { return ws.channels()[1].find("got:again\n") != std::string::npos; }, 20s))
        << ws.channels()[1];
    EXPECT_EQ(ws.channels()[1], "got:hello\ngot:again\n");
  }
  // A container that is not there: no upgrade, a 404 with the reason.
  WsChannelClient missing;
  EXPECT_EQ(missing.open(port, "/exec/" + ns_ + "/nope/c?command=true&output=1"), 404);
}

}  // namespace
}  // namespace edgecore::testing

namespace edgecore::testing {
namespace {

// Lines "n-<N>-..." of a CRI log text, in order.
std::vector<long> lineNumbers(const std::string& text) {
  std::vector<long> out;
  size_t pos = 0;
  while ((pos = text.find(" n-", pos)) != std::string::npos) {
    pos += 3;
    out.push_back(std::strtol(text.c_str() + pos, nullptr, 10));
  }
  return out;
}

// containerLogMaxSize / containerLogMaxFiles: the live log is rotated through CRI
// ReopenContainerLog, older rotated files are gzipped, at most MaxFiles files remain, and no
// line is lost at a rotation.
TEST_F(EdgedTest, ContainerLogsRotateAtTheConfiguredSize) {
  edged::EdgedOptions o;
  o.log_rotation_period = 200ms;
  auto& h = start(o, true, 1, false, [](core::EdgeCoreConfig& c) {
    c.modules.edged.container_log_max_size = "4Ki";
    c.modules.edged.container_log_max_files = 3;
  });
  ASSERT_TRUE(h.insert(makePod(ns_, "chatty", node_,
                               json::array({busyboxContainer(
                                   "c",
                                   "i=0; while true; do echo n-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                                   "i=$((i+1)); sleep 0.01; done")})))
                  .ok());
  const std::string dir = dir_.path() + "/logs/" + ns_ + "_chatty_uid-" + ns_ + "-chatty/c";
  auto files = [&] {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n.rfind("0.log", 0) == 0 && !n.ends_with(".tmp")) out.push_back(n);
      }
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  ASSERT_TRUE(waitFor(
      [&] {
        auto f = files();
        int gz = 0;
        for (auto& n : f) gz += n.ends_with(".gz") ? 1 : 0;
        return gz >= 1 && f.size() == 3;
      },
      30s))
      << ::testing::PrintToString(files());
  // A consistent snapshot: the same three names before and after reading them.
  std::vector<std::string> f;
  std::string older, newest, live;
  for (int i = 0; i < 50; ++i) {
    f = files();
    if (f.size() != 3) continue;
    older = runCommand({"/bin/zcat", dir + "/" + f[1]}).out;
    newest = readFile(dir + "/" + f[2]);
    live = readFile(dir + "/0.log");
    if (files() == f) break;
  }
  ASSERT_EQ(f.size(), 3u);
  // 0.log, 0.log.<stamp>.gz, 0.log.<stamp>: only the newest rotated file stays plain.
  EXPECT_EQ(f[0], "0.log");
  EXPECT_TRUE(f[1].ends_with(".gz")) << f[1];
  EXPECT_FALSE(f[2].ends_with(".gz")) << f[2];
  EXPECT_EQ(f[1].size(), std::string("0.log.20261127-230501.gz").size()) << f[1];
  auto a = lineNumbers(older);
  auto b = lineNumbers(newest);
  auto c = lineNumbers(live);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  // Consecutive files continue each other: the runtime reopened the log without losing lines.
  EXPECT_EQ(a.back() + 1, b.front()) << older.substr(older.size() - 200) << newest.substr(0, 200);
  if (!c.empty()) {
    EXPECT_EQ(b.back() + 1, c.front());
  }
  EXPECT_GE(newest.size(), 4096u);  // rotated once over the size
}

}  // namespace
}  // namespace edgecore::testing

namespace edgecore::testing {
namespace {

// Mirror pods (kubelet mirror_client): a static pod is created upstream as `insert
// <ns>/pod/<name>` with the config.mirror annotation and the Node as owner; its status goes to
// the mirror's uid; a mirror pod the cloud sends back is never run; removing the manifest
// deletes the mirror with a uid precondition.
TEST_F(EdgedTest, StaticPodGetsAMirrorPodUpstream) {
  writeStaticPodManifest();
  edged::EdgedOptions o;
  o.static_pod_period = 300ms;
  auto& h = start(o);
  const std::string name = "st-" + node_;
  // The FakeCloud answers an insert with the object and uid "cloud-uid-<name>".
  const std::string mirror_uid = "cloud-uid-" + name;
  std::optional<core::Message> insert;
  ASSERT_TRUE(waitFor(
      [&] {
        for (auto& m : h.upstream()) {
          if (m.route.operation == "insert" && m.route.resource == ns_ + "/pod/" + name) {
            insert = m;
          }
        }
        return insert.has_value();
      },
      20s));
  EXPECT_EQ(insert->route.source, "edged");
  const json& md = insert->content["metadata"];
  ASSERT_TRUE(md.contains("annotations")) << insert->content.dump();
  EXPECT_EQ(md["annotations"].value("kubernetes.io/config.mirror", "x"),
            md["annotations"].value("kubernetes.io/config.hash", "y"));
  EXPECT_EQ(md["annotations"].value("kubernetes.io/config.source", ""), "file");
  EXPECT_EQ(insert->content["spec"].value("nodeName", ""), node_);
  if (md.contains("ownerReferences")) {
    EXPECT_EQ(md["ownerReferences"][0].value("kind", ""), "Node");
    EXPECT_EQ(md["ownerReferences"][0].value("name", ""), node_);
  }
  // Status is patched for the mirror's uid.
  ASSERT_TRUE(waitFor([&] { return sentStatusFor(h, name, mirror_uid, "Running"); }, 20s));
  // The cloud sends the mirror pod back (edgecontroller: nodeName is ours): it must not run.
  json mirror = insert->content;
  mirror["metadata"]["uid"] = mirror_uid;
  mirror["metadata"]["resourceVersion"] = "5";
  ASSERT_TRUE(h.insert(mirror).ok());
  // A pod sent after it runs: by then edged has handled the mirror (messages keep their order).
  ASSERT_TRUE(
      h.insert(makePod(ns_, "after", node_, json::array({busyboxContainer("c", "sleep 3600")})))
          .ok());
  ASSERT_TRUE(waitFor([&] { return runningIds("after").size() == 1; }, 20s));
  EXPECT_EQ(containers(name).size(), 1u);
  EXPECT_EQ(runningIds(name).size(), 1u);

  // The manifest goes: the pod stops and its mirror is deleted upstream.
  std::filesystem::remove(dir_.path() + "/manifests/static.yaml");
  ASSERT_TRUE(waitFor(
      [&] {
        for (auto& m : h.upstream()) {
          if (m.route.operation == "delete" && m.route.resource == ns_ + "/pod/" + name &&
              m.content.is_object() &&
              m.content.value("preconditions", json::object()).value("uid", "") == mirror_uid) {
            EXPECT_EQ(m.content.value("gracePeriodSeconds", -1), 0);
            return true;
          }
        }
        return false;
      },
      20s));
  EXPECT_TRUE(waitFor([&] { return containers(name).empty(); }, 20s));
}

// A node with no cloud (the quickstart): the mirror cannot be created upstream, so the static
// pod's status goes onto the copy metamanager keeps, and MetaServer (keadm ctl get pod) shows it
// Running; once the link is up the cloud's mirror takes over with its own uid.
TEST_F(EdgedTest, StaticPodStatusIsServedLocallyWhileOffline) {
  writeStaticPodManifest();
  edged::EdgedOptions o;
  o.static_pod_period = 300ms;
  o.status_period = 500ms;
  auto& h = start(o, /*connected=*/false);
  const std::string name = "st-" + node_;
  const metamanager::ObjectKey key{{"", "v1", "pods"}, ns_, name};
  auto served = [&] {
    auto obj = h.store().getObject(key);
    return obj ? json::parse(obj->json, nullptr, false) : json::object();
  };
  auto phase = [&] {
    json st = served().value("status", json::object());
    return st.is_object() ? st.value("phase", "") : "";
  };
  ASSERT_TRUE(waitFor([&] { return phase() == "Running"; }, 20s)) << served().dump();
  json pod = served();
  EXPECT_FALSE(pod["metadata"].value("creationTimestamp", "").empty());
  EXPECT_EQ(pod["status"]["containerStatuses"][0].value("ready", false), true) << pod.dump();

  // Online: the mirror is created upstream and the status goes to the cloud's uid.
  ASSERT_TRUE(h.setCloudConnected(true).ok());
  const std::string mirror_uid = "cloud-uid-" + name;
  ASSERT_TRUE(waitFor([&] { return sentStatusFor(h, name, mirror_uid, ""); }, 20s));
  std::filesystem::remove(dir_.path() + "/manifests/static.yaml");
  EXPECT_TRUE(waitFor([&] { return containers(name).empty(); }, 20s));
}

}  // namespace
}  // namespace edgecore::testing
