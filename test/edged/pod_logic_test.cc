// Pure parts of edged (no containerd): the kubelet decisions, status, back-off, static manifests.

#include "pod_logic.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "runtime_view.h"
#include "static_pods.h"
#include "util/process.h"

namespace edgecore::edged {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

json podJson(const std::string& policy, bool with_init) {
  json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u1"}}},
              {"spec",
               {{"nodeName", "n"},
                {"hostNetwork", true},
                {"restartPolicy", policy},
                {"containers", json::array({{{"name", "a"}, {"image", "busybox:1"}},
                                            {{"name", "b"}, {"image", "busybox:1"}}})}}}};
  if (with_init) {
    pod["spec"]["initContainers"] = json::array({{{"name", "i"}, {"image", "busybox:1"}}});
  }
  return pod;
}

PodPlan plan(const std::string& policy, bool with_init = false) {
  PlanInputs in;
  in.node_name = "n";
  in.host_ip = "10.0.0.1";
  auto p = buildPodPlan(podJson(policy, with_init), in);
  EXPECT_TRUE(p.ok()) << p.status().toString();
  return std::move(p).value();
}

SandboxView readySandbox() {
  SandboxView s;
  s.id = "sb1";
  s.ready = true;
  s.host_network = true;
  s.created_at = 1;
  return s;
}

ContainerView container(const std::string& name, ContainerRunState st, int exit_code,
                        const std::string& hash, int64_t created, uint32_t attempt = 0) {
  ContainerView c;
  c.id = name + std::to_string(created);
  c.sandbox_id = "sb1";
  c.name = name;
  c.state = st;
  c.exit_code = exit_code;
  c.hash = hash;
  c.created_at = created;
  c.started_at = created;
  c.finished_at = st == ContainerRunState::Exited ? created + 1000 : 0;
  c.attempt = attempt;
  return c;
}

TEST(RestartBackoff, ImmediateThenDoublingCappedAndReset) {
  RestartBackoff b(10s, 300s);
  auto t0 = std::chrono::system_clock::time_point{} + 1000h;
  EXPECT_FALSE(b.inBackoffSince("k", t0, t0));  // first crash: restart at once
  EXPECT_EQ(b.next("k", t0), 10s);
  EXPECT_TRUE(b.inBackoffSince("k", t0 + 1s, t0 + 5s));
  EXPECT_FALSE(b.inBackoffSince("k", t0 + 1s, t0 + 12s));
  EXPECT_EQ(b.next("k", t0 + 12s), 20s);
  auto t = t0 + 12s;
  for (int i = 0; i < 10; ++i) {
    t += 1s;
    b.next("k", t);
  }
  EXPECT_EQ(b.next("k", t + 1s), 300s);  // capped
  // Untouched for more than 2 x cap: back to the base.
  EXPECT_FALSE(b.inBackoffSince("k", t + 11min, t + 11min));
  EXPECT_EQ(b.next("k", t + 11min), 10s);
}

TEST(PodLogic, NewPodCreatesSandboxThenInitContainerFirst) {
  PodPlan p = plan("Always", true);
  RestartBackoff b(10s, 300s);
  PodActions a = computePodActions(p, PodRuntime{}, {}, b, std::chrono::system_clock::now(), 1);
  EXPECT_TRUE(a.create_sandbox);
  ASSERT_EQ(a.start.size(), 1u);
  EXPECT_TRUE(a.start[0].init);

  // Init done: both app containers start in the existing sandbox.
  PodRuntime rt;
  rt.sandboxes.push_back(readySandbox());
  rt.containers.push_back(
      container("i", ContainerRunState::Exited, 0, p.init_containers[0].hash, 5));
  a = computePodActions(p, rt, {}, b, std::chrono::system_clock::now(), 1);
  EXPECT_FALSE(a.create_sandbox);
  EXPECT_EQ(a.sandbox_id, "sb1");
  ASSERT_EQ(a.start.size(), 2u);
  EXPECT_FALSE(a.start[0].init);
}

TEST(PodLogic, RestartPolicyDecidesAndFinishedPodsAreTerminal) {
  const auto now = std::chrono::system_clock::now();
  RestartBackoff b(10s, 300s);
  for (auto [policy, code, restart, terminal] :
       std::vector<std::tuple<std::string, int, bool, bool>>{{"Always", 0, true, false},
                                                             {"Always", 1, true, false},
                                                             {"OnFailure", 0, false, true},
                                                             {"OnFailure", 1, true, false},
                                                             {"Never", 0, false, true},
                                                             {"Never", 1, false, true}}) {
    PodPlan p = plan(policy);
    PodRuntime rt;
    rt.sandboxes.push_back(readySandbox());
    rt.containers.push_back(
        container("a", ContainerRunState::Exited, code, p.containers[0].hash, 5));
    rt.containers.push_back(
        container("b", ContainerRunState::Exited, code, p.containers[1].hash, 4));
    PodActions a = computePodActions(p, rt, {}, b, now, 1);
    EXPECT_EQ(a.terminal, terminal) << policy << " exit " << code;
    EXPECT_EQ(!a.start.empty(), restart) << policy << " exit " << code;
    if (restart) {
      EXPECT_EQ(a.start[0].attempt, 1u);
      EXPECT_TRUE(a.start[0].restart);
    }
  }
}

TEST(PodLogic, CrashLoopHoldsBackUntilTheBackoffEnds) {
  PodPlan p = plan("Always");
  RestartBackoff b(10s, 300s);
  auto now = std::chrono::system_clock::now();
  PodRuntime rt;
  rt.sandboxes.push_back(readySandbox());
  ContainerView crashed = container("a", ContainerRunState::Exited, 1, p.containers[0].hash, 5, 1);
  crashed.finished_at =
      std::chrono::duration_cast<std::chrono::nanoseconds>((now - 2s).time_since_epoch()).count();
  rt.containers.push_back(crashed);
  rt.containers.push_back(container("b", ContainerRunState::Running, 0, p.containers[1].hash, 4));
  b.next(backoffKey("u1", "a"), now - 3s);  // it was restarted once already
  PodActions a = computePodActions(p, rt, {}, b, now, 1);
  EXPECT_TRUE(a.start.empty());
  ASSERT_TRUE(a.waiting.count("a"));
  EXPECT_EQ(a.waiting["a"].reason, "CrashLoopBackOff");
  ASSERT_TRUE(a.retry_at.has_value());
  EXPECT_GT(*a.retry_at, now);

  StatusInputs in;
  json pod = podJson("Always", false);
  std::map<std::string, ProbeState> probes;
  in.pod = &pod;
  in.plan = &p;
  in.runtime = &rt;
  in.probes = &probes;
  in.waiting = &a.waiting;
  in.host_ip = "10.0.0.1";
  in.now = now;
  in.start_time = now;
  json st = computePodStatus(in);
  // Waiting after a termination counts as stopped, the other runs: Running, not Ready.
  EXPECT_EQ(st["phase"], "Running");
  EXPECT_EQ(st["containerStatuses"][0]["state"]["waiting"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(st["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 1);
  EXPECT_EQ(st["containerStatuses"][0]["restartCount"], 1);
  EXPECT_TRUE(st["containerStatuses"][1]["ready"].get<bool>());
  EXPECT_EQ(st["podIP"], "10.0.0.1");
  json patch = podStatusPatch("u1", st);
  EXPECT_EQ(patch["metadata"]["uid"], "u1");
  EXPECT_EQ(patch["status"]["$setElementOrder/conditions"].size(), st["conditions"].size());
}

TEST(PodLogic, SpecHashChangeAndLivenessFailureRecreate) {
  PodPlan p = plan("Always");
  RestartBackoff b(10s, 300s);
  PodRuntime rt;
  rt.sandboxes.push_back(readySandbox());
  rt.containers.push_back(container("a", ContainerRunState::Running, 0, "oldhash", 5));
  rt.containers.push_back(container("b", ContainerRunState::Running, 0, p.containers[1].hash, 4));
  std::map<std::string, ProbeState> probes;
  probes["b"].container_id = rt.containers[1].id;
  probes["b"].liveness_failed = true;
  PodActions a = computePodActions(p, rt, probes, b, std::chrono::system_clock::now(), 1);
  ASSERT_EQ(a.kill.size(), 2u);
  ASSERT_EQ(a.start.size(), 2u);
  EXPECT_EQ(a.start[0].attempt, 1u);
}

TEST(StaticPods, ExampleManifestIsAValidPod) {
  std::string text =
      testing::readFile(std::string(EDGECORE_SOURCE_DIR) + "/config/manifests/hello-edge.yaml");
  auto pod = staticPodFromText(text, "node1", "hello-edge.yaml");
  ASSERT_TRUE(pod.ok()) << pod.status().toString();
  EXPECT_EQ((*pod)["metadata"]["name"], "hello-edge-node1");
  EXPECT_EQ((*pod)["spec"]["nodeName"], "node1");
  EXPECT_EQ((*pod)["metadata"]["annotations"]["kubernetes.io/config.source"], "file");
  PlanInputs in;
  in.node_name = "node1";
  auto p = buildPodPlan(*pod, in);
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_TRUE(p->sandbox.host_network);
  EXPECT_EQ(p->containers[0].image, "docker.io/library/busybox:local");
  // Same text, same node: same UID; another node: another UID.
  EXPECT_EQ((*staticPodFromText(text, "node1", "x"))["metadata"]["uid"], (*pod)["metadata"]["uid"]);
  EXPECT_NE((*staticPodFromText(text, "node2", "x"))["metadata"]["uid"], (*pod)["metadata"]["uid"]);
}

TEST(StaticPods, YamlScalarsFollowKubernetesRulesAndBadFilesAreRefused) {
  json j = yamlToJson(YAML::Load("a: \"0\"\nb: 10\nc: true\nd: 1.5\ne: ~\nf: text\n"));
  EXPECT_TRUE(j["a"].is_string());
  EXPECT_EQ(j["b"], 10);
  EXPECT_EQ(j["c"], true);
  EXPECT_EQ(j["d"], 1.5);
  EXPECT_TRUE(j["e"].is_null());
  EXPECT_EQ(j["f"], "text");
  EXPECT_FALSE(staticPodFromText("kind: Service\nmetadata: {name: x}\nspec: {}\n", "n", "f").ok());
  EXPECT_FALSE(staticPodFromText("kind: Pod\nspec: {}\n", "n", "f").ok());
  EXPECT_FALSE(staticPodFromText("{not json", "n", "f").ok());
  EXPECT_TRUE(
      staticPodFromText("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"j\"},\"spec\":{}}", "n", "f")
          .ok());
}

// CRI replies -> views, as PodRuntimeManager::collect applies them (runtime_view.h).
TEST(PodLogicCriViews, RepliesBecomeViewsNewestFirst) {
  runtimeapi::Container old_c;
  old_c.set_id("c-old");
  old_c.set_pod_sandbox_id("sb");
  old_c.mutable_metadata()->set_name("meta-name");
  old_c.mutable_metadata()->set_attempt(1);
  old_c.set_state(runtimeapi::CONTAINER_EXITED);
  old_c.set_created_at(100);
  (*old_c.mutable_labels())[kLabelContainerName] = "app";
  (*old_c.mutable_annotations())[kAnnotationHash] = "abc";
  runtimeapi::Container new_c = old_c;
  new_c.set_id("c-new");
  new_c.set_created_at(200);
  new_c.mutable_labels()->clear();  // no container-name label: the metadata name is used
  new_c.set_state(runtimeapi::CONTAINER_RUNNING);
  PodRuntime rt;
  rt.containers.push_back(containerViewFromCri(old_c));
  rt.containers.push_back(containerViewFromCri(new_c));
  EXPECT_EQ(rt.containers[0].name, "app");
  EXPECT_EQ(rt.containers[0].hash, "abc");
  EXPECT_EQ(rt.containers[1].name, "meta-name");
  EXPECT_FALSE(rt.containers[0].detailed);
  runtimeapi::ContainerStatus st;
  st.set_state(runtimeapi::CONTAINER_EXITED);
  st.set_exit_code(137);
  st.set_reason("OOMKilled");
  st.set_finished_at(300);
  applyContainerStatus(st, rt.containers[0]);
  EXPECT_TRUE(rt.containers[0].detailed);
  EXPECT_EQ(rt.containers[0].exit_code, 137);
  EXPECT_EQ(rt.containers[0].reason, "OOMKilled");
  runtimeapi::PodSandbox sb;
  sb.set_id("sb");
  sb.set_state(runtimeapi::SANDBOX_READY);
  sb.set_created_at(50);
  (*sb.mutable_labels())[kLabelEdgedNode] = "node1";
  rt.sandboxes.push_back(sandboxViewFromCri(sb));
  EXPECT_TRUE(rt.sandboxes[0].ready);
  EXPECT_EQ(rt.sandboxes[0].edged_node, "node1");
  runtimeapi::PodSandboxStatus sst;
  sst.mutable_linux()->mutable_namespaces()->mutable_options()->set_network(runtimeapi::NODE);
  sst.mutable_network()->set_ip("10.0.0.9");
  SandboxNetwork net = sandboxNetworkFromCri(sst);
  EXPECT_TRUE(net.host_network);
  EXPECT_EQ(net.ip, "10.0.0.9");
  sortNewestFirst(rt);
  EXPECT_EQ(rt.containers[0].id, "c-new");
  EXPECT_EQ(rt.latest("app")->id, "c-old");
}

// The manifest bounds: a file over kMaxManifestBytes and a YAML document nested too deeply are
// reported as errors, and the other manifests of the directory still load.
TEST(StaticPods, OversizedAndTooDeepManifestsAreReportedAndOthersStillLoad) {
  edgecore::testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) { dir.write(name, text); };
  write("good.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: good}\nspec:\n  containers:\n"
        "  - {name: c, image: busybox}\n");
  write("huge.yaml",
        "kind: Pod\nmetadata: {name: huge}\n# " + std::string(kMaxManifestBytes, 'x') + "\n");
  write("deep.yaml", "kind: Pod\nmetadata: {name: deep}\nspec: " + std::string(1000, '[') +
                         std::string(1000, ']') + "\n");
  auto scan = scanStaticPods(dir.path(), "node1");
  ASSERT_TRUE(scan.ok()) << scan.status().toString();
  ASSERT_EQ(scan->pods.size(), 1u);
  EXPECT_EQ(scan->pods[0]["metadata"]["name"].get<std::string>().rfind("good", 0), 0u);
  ASSERT_EQ(scan->errors.size(), 2u);
  std::string all = scan->errors[0] + "\n" + scan->errors[1];
  EXPECT_NE(all.find("huge.yaml: unreadable or larger than 1 MiB"), std::string::npos) << all;
  EXPECT_NE(all.find("deep.yaml"), std::string::npos) << all;
}

}  // namespace
}  // namespace edgecore::edged
