#include "podplan/pod_plan.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "podplan/sa_token.h"
#include "podplan/subpath.h"
#include "util/process.h"

namespace edgecore::edged {
namespace {

using nlohmann::json;
using testing::TempDir;

class MapObjectSource : public ObjectSource {
 public:
  std::map<std::string, json> configmaps;
  std::map<std::string, json> secrets;
  int calls = 0;

  Result<json> getConfigMap(std::string_view ns, std::string_view name) override {
    return get(configmaps, ns, name, "configmap");
  }
  Result<json> getSecret(std::string_view ns, std::string_view name) override {
    return get(secrets, ns, name, "secret");
  }

 private:
  Result<json> get(const std::map<std::string, json>& m, std::string_view ns, std::string_view name,
                   const char* kind) {
    ++calls;
    auto it = m.find(std::string(ns) + "/" + std::string(name));
    if (it == m.end()) return notFound(std::string(kind) + " not found");
    return it->second;
  }
};

json basePod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "demo", "uid": "1111-2222",
                 "labels": {"app": "web"}, "annotations": {"note": "x"}},
    "spec": {"nodeName": "edge-1", "serviceAccountName": "sa1",
             "containers": [{"name": "main", "image": "busybox:local"}]}
  })");
}

class PodPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in.objects = &objects;
    in.node_name = "edge-1";
    in.host_ip = "192.168.1.20";
    in.root_directory = dir.path() + "/kubelet";
    in.pod_logs_dir = dir.path() + "/pods-logs";
    in.resolv_conf = dir.file("resolv.conf");
    dir.write("resolv.conf",
              "# comment\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch lan corp\noptions "
              "ndots:2 edns0\n");
    in.node_memory_capacity_bytes = 8LL * 1024 * 1024 * 1024;
    in.node_cpu_milli = 4000;
  }
  PodPlan build(const json& pod) {
    auto r = buildPodPlan(pod, in);
    EXPECT_TRUE(r.ok()) << r.status().toString();
    return r.ok() ? *r : PodPlan{};
  }

  TempDir dir;
  MapObjectSource objects;
  PlanInputs in;
};

TEST(ObjectRefsTest, EveryPlaceAPodNamesAConfigMapOrSecret) {
  json pod = json::parse(R"({"spec":{
    "volumes":[{"name":"a","configMap":{"name":"cm-vol"}},{"name":"b","secret":{"secretName":"s-vol"}},
      {"name":"c","projected":{"sources":[{"configMap":{"name":"kube-root-ca.crt"}},
        {"secret":{"name":"s-proj"}},{"serviceAccountToken":{"path":"token"}}]}}],
    "initContainers":[{"name":"i","envFrom":[{"configMapRef":{"name":"cm-from"}}]}],
    "containers":[{"name":"c","env":[{"name":"X","valueFrom":{"secretKeyRef":{"name":"s-env","key":"k"}}},
      {"name":"Y","valueFrom":{"configMapKeyRef":{"name":"cm-vol","key":"k"}}},{"name":"Z","value":"z"}],
      "envFrom":[{"secretRef":{"name":"s-from"}}]}],
    "imagePullSecrets":[{"name":"regcred"},{"name":""}]}})");
  using K = ObjectRef::Kind;
  std::vector<ObjectRef> want = {
      {K::ConfigMap, "cm-vol"}, {K::Secret, "s-vol"},      {K::ConfigMap, "kube-root-ca.crt"},
      {K::Secret, "s-proj"},    {K::ConfigMap, "cm-from"}, {K::Secret, "s-from"},
      {K::Secret, "s-env"},     {K::Secret, "regcred"}};
  EXPECT_EQ(referencedObjects(pod), want);
  EXPECT_TRUE(referencedObjects(json::parse(R"({"spec":{"volumes":7}})")).empty());
  EXPECT_TRUE(referencedObjects(json::array()).empty());
}

TEST(ObjectRefsTest, QueryAnswersFromTheCloudAndFromTheStore) {
  ObjectRef cm{ObjectRef::Kind::ConfigMap, "web"};
  json obj = {{"kind", "ConfigMap"}, {"metadata", {{"name", "web"}}}, {"data", {{"k", "v"}}}};
  auto from_cloud = objectFromQueryAnswer(obj, cm);
  ASSERT_TRUE(from_cloud && from_cloud->ok());
  EXPECT_EQ((**from_cloud)["data"]["k"], "v");
  auto missing = objectFromQueryAnswer(
      json::parse(
          R"({"ErrStatus":{"reason":"NotFound","message":"configmaps \"web\" not found"}})"),
      cm);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status().code(), core::StatusCode::NotFound);
  EXPECT_EQ(missing->status().message(), "configmap \"web\" not found");
  // Another cloud error, or an error text: the store decides.
  EXPECT_FALSE(objectFromQueryAnswer(json::parse(R"({"ErrStatus":{"reason":"Forbidden"}})"), cm));
  EXPECT_FALSE(objectFromQueryAnswer("failed to process remote: timeout", cm));
  // Offline: metamanager's rows.
  auto stored = objectFromQueryAnswer(json::array({obj.dump()}), cm);
  ASSERT_TRUE(stored && stored->ok());
  EXPECT_EQ((**stored)["metadata"]["name"], "web");
  auto none = objectFromQueryAnswer(json::array(), cm);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status().code(), core::StatusCode::NotFound);
}

TEST(QuantityTest, ParsesKubernetesForms) {
  EXPECT_EQ(*parseQuantityMilli("100m"), 100);
  EXPECT_EQ(*parseQuantityMilli("1.5"), 1500);
  EXPECT_EQ(*parseQuantityMilli("2"), 2000);
  EXPECT_EQ(*parseQuantityMilli("0.1"), 100);
  EXPECT_EQ(*parseQuantityMilli("1e3"), 1000000);
  EXPECT_EQ(*parseQuantityValue("64Mi"), 64LL * 1024 * 1024);
  EXPECT_EQ(*parseQuantityValue("1G"), 1000000000LL);
  EXPECT_EQ(*parseQuantityValue("1e3"), 1000);
  EXPECT_EQ(*parseQuantityValue("1.5Gi"), 1610612736LL);
  EXPECT_EQ(*parseQuantityValue("128974848"), 128974848LL);
  EXPECT_EQ(*parseQuantityValue("100m"), 1);  // rounds up like Value()
  EXPECT_EQ(*parseQuantityMilli("1u"), 1);    // rounds up like MilliValue()
  EXPECT_EQ(*parseQuantityValue("1Ki"), 1024);
  for (const char* bad : {"", "abc", "1.5.5", "10Qi", "1e", "--1", "Mi", "1 Mi", "1e99999"}) {
    EXPECT_FALSE(parseQuantityValue(bad).ok()) << bad;
  }
  EXPECT_FALSE(parseQuantityValue("99999999999999999999999Ei").ok());
}

TEST_F(PodPlanTest, ResourcesAsTheKubeletComputesThem) {
  json pod = basePod();
  pod["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "500m"}, {"memory", "128Mi"}}}};
  PodPlan p = build(pod);
  const auto& r = p.containers[0].resources;
  EXPECT_EQ(r.cpu_shares, 512);  // request defaults to limit
  EXPECT_EQ(r.cpu_period, 100000);
  EXPECT_EQ(r.cpu_quota, 50000);
  EXPECT_EQ(r.memory_limit_in_bytes, 134217728);
  EXPECT_EQ(p.qos, QosClass::Guaranteed);
  EXPECT_EQ(r.oom_score_adj, -997);
  EXPECT_EQ(p.sandbox.cgroup_parent, "/kubepods/pod1111-2222");

  pod["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "1m"}, {"memory", "1Gi"}}},
                                               {"limits", {{"cpu", "5m"}}}};
  p = build(pod);
  EXPECT_EQ(p.containers[0].resources.cpu_shares, 2);    // 1m -> 1 share -> min 2
  EXPECT_EQ(p.containers[0].resources.cpu_quota, 1000);  // 500 -> min quota 1000
  EXPECT_EQ(p.containers[0].resources.memory_limit_in_bytes, 0);
  EXPECT_EQ(p.qos, QosClass::Burstable);
  EXPECT_EQ(p.containers[0].resources.oom_score_adj, 1000 - 1000 / 8);  // 1Gi of 8Gi
  EXPECT_EQ(p.sandbox.cgroup_parent, "/kubepods/burstable/pod1111-2222");

  pod["spec"]["containers"][0].erase("resources");
  p = build(pod);
  EXPECT_EQ(p.containers[0].resources.cpu_shares, 2);
  EXPECT_EQ(p.containers[0].resources.cpu_quota, 0);
  EXPECT_EQ(p.qos, QosClass::BestEffort);
  EXPECT_EQ(p.containers[0].resources.oom_score_adj, 1000);
  in.cgroup_driver = "systemd";
  p = build(pod);
  EXPECT_EQ(p.sandbox.cgroup_parent,
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1111_2222.slice");
  EXPECT_EQ(qosClassName(p.qos), "BestEffort");
}

TEST_F(PodPlanTest, SandboxFields) {
  json pod = basePod();
  pod["spec"]["containers"][0]["ports"] = {
      {{"containerPort", 80}, {"hostPort", 8080}},
      {{"containerPort", 53}, {"protocol", "UDP"}, {"name", "dns"}}};
  pod["spec"]["securityContext"] = {
      {"sysctls", {{{"name", "net.ipv4.ip_forward"}, {"value", "1"}}}}, {"runAsUser", 1000}};
  pod["spec"]["hostPID"] = true;
  pod["spec"]["containers"][0]["securityContext"] = {{"privileged", true}};
  pod["spec"]["futureField"] = {{"anything", 1}};  // unknown fields are ignored
  PodPlan p = build(pod);
  const auto& s = p.sandbox;
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.ns, "demo");
  EXPECT_EQ(s.uid, "1111-2222");
  EXPECT_EQ(s.hostname, "web");
  EXPECT_EQ(s.log_directory, in.pod_logs_dir + "/demo_web_1111-2222");
  EXPECT_EQ(s.labels.at("app"), "web");
  EXPECT_EQ(s.labels.at("io.kubernetes.pod.name"), "web");
  EXPECT_EQ(s.labels.at("io.kubernetes.pod.namespace"), "demo");
  EXPECT_EQ(s.labels.at("io.kubernetes.pod.uid"), "1111-2222");
  EXPECT_EQ(s.annotations.at("note"), "x");
  ASSERT_EQ(s.port_mappings.size(), 2u);
  EXPECT_EQ(s.port_mappings[0].host_port, 8080);
  EXPECT_EQ(s.port_mappings[1].protocol, Protocol::Udp);
  EXPECT_EQ(s.sysctls.at("net.ipv4.ip_forward"), "1");
  EXPECT_TRUE(s.privileged);
  EXPECT_EQ(s.pid_mode, NamespaceMode::Node);
  EXPECT_EQ(s.network_mode, NamespaceMode::Pod);
  EXPECT_EQ(p.containers[0].security.run_as_user, 1000);
  EXPECT_EQ(p.containers[0].security.pid_mode, NamespaceMode::Node);
  EXPECT_EQ(p.restart_policy, RestartPolicy::Always);
  EXPECT_EQ(p.termination_grace_period_seconds, 30);

  pod["spec"]["hostNetwork"] = true;
  p = build(pod);
  EXPECT_EQ(p.sandbox.hostname, "");
  EXPECT_EQ(p.sandbox.network_mode, NamespaceMode::Node);
}

TEST_F(PodPlanTest, ContainerConfigFields) {
  json pod = basePod();
  auto& c = pod["spec"]["containers"][0];
  c["command"] = {"sh", "-c"};
  c["args"] = {"echo $(GREETING) $$(NOT) $(MISSING)"};
  c["workingDir"] = "/work";
  c["env"] = {{{"name", "GREETING"}, {"value", "hello-$(NAME)"}},
              {{"name", "NAME"}, {"value", "x"}}};
  c["securityContext"] = {{"allowPrivilegeEscalation", false},
                          {"readOnlyRootFilesystem", true},
                          {"capabilities", {{"add", {"NET_ADMIN"}}, {"drop", {"ALL"}}}}};
  c["livenessProbe"] = {{"httpGet", {{"path", "healthz"}, {"port", "http"}}}, {"periodSeconds", 3}};
  c["ports"] = {{{"name", "http"}, {"containerPort", 8080}}};
  c["lifecycle"] = {{"preStop", {{"exec", {{"command", {"sleep", "1"}}}}}}};
  c["tty"] = true;
  pod["spec"]["terminationGracePeriodSeconds"] = 5;
  pod["spec"]["restartPolicy"] = "OnFailure";
  PodPlan p = build(pod);
  const auto& cp = p.containers[0];
  EXPECT_EQ(cp.command, (std::vector<std::string>{"sh", "-c"}));
  // NAME is defined after GREETING, so GREETING keeps the literal reference (kubelet order).
  EXPECT_EQ(cp.args[0], "echo hello-$(NAME) $(NOT) $(MISSING)");
  EXPECT_EQ(cp.working_dir, "/work");
  EXPECT_TRUE(cp.security.no_new_privs);
  EXPECT_TRUE(cp.security.readonly_rootfs);
  EXPECT_EQ(cp.security.capabilities_add, (std::vector<std::string>{"NET_ADMIN"}));
  ASSERT_TRUE(cp.liveness);
  EXPECT_EQ(cp.liveness->action.kind, Action::Kind::HttpGet);
  EXPECT_EQ(cp.liveness->action.port, 8080);
  EXPECT_EQ(cp.liveness->action.path, "/healthz");
  EXPECT_EQ(cp.liveness->period_seconds, 3);
  EXPECT_EQ(cp.liveness->failure_threshold, 3);
  ASSERT_TRUE(cp.pre_stop);
  EXPECT_EQ(cp.pre_stop->command, (std::vector<std::string>{"sleep", "1"}));
  EXPECT_TRUE(cp.tty);
  EXPECT_EQ(cp.image, "busybox:local");
  EXPECT_EQ(cp.pull_policy, PullPolicy::IfNotPresent);
  EXPECT_EQ(cp.labels.at("io.kubernetes.container.name"), "main");
  EXPECT_EQ(cp.labels.at("io.kubernetes.pod.name"), "web");
  EXPECT_EQ(cp.annotations.at("io.kubernetes.container.hash"), cp.hash);
  EXPECT_EQ(cp.annotations.at("io.kubernetes.container.restartCount"), "0");
  EXPECT_EQ(cp.annotations.at("io.kubernetes.pod.terminationGracePeriod"), "5");
  EXPECT_EQ(json::parse(cp.annotations.at("io.kubernetes.container.ports"))[0]["containerPort"],
            8080);
  EXPECT_TRUE(cp.annotations.count("io.kubernetes.container.preStopHandler"));
  EXPECT_EQ(cp.log_path, "main/0.log");
  EXPECT_EQ(p.restart_policy, RestartPolicy::OnFailure);
  EXPECT_EQ(p.termination_grace_period_seconds, 5);
  ASSERT_GE(cp.mounts.size(), 2u);
  EXPECT_EQ(cp.mounts[cp.mounts.size() - 2].container_path, "/etc/hosts");
  EXPECT_EQ(cp.mounts.back().container_path, "/dev/termination-log");
  EXPECT_EQ(cp.mounts.back().host_path, cp.termination_log_host_path);

  ContainerPlan copy = cp;
  setContainerAttempt(copy, 3);
  EXPECT_EQ(copy.log_path, "main/3.log");
  EXPECT_EQ(copy.annotations.at("io.kubernetes.container.restartCount"), "3");

  // The hash is stable for the same spec and changes with it.
  EXPECT_EQ(build(pod).containers[0].hash, cp.hash);
  pod["spec"]["containers"][0]["image"] = "busybox:other";
  EXPECT_NE(build(pod).containers[0].hash, cp.hash);
}

TEST_F(PodPlanTest, EnvFromConfigMapsSecretsAndFields) {
  objects.configmaps["demo/cfg"] = {
      {"data", {{"LEVEL", "debug"}, {"bad key", "skipped"}, {"PORT", "80"}}}};
  objects.secrets["demo/creds"] = {{"data", {{"password", "czNjcjN0"}}}};  // "s3cr3t"
  json pod = basePod();
  auto& c = pod["spec"]["containers"][0];
  c["envFrom"] = {{{"configMapRef", {{"name", "cfg"}}}, {"prefix", "APP_"}},
                  {{"secretRef", {{"name", "absent"}, {"optional", true}}}}};
  c["env"] = {
      {{"name", "PASS"},
       {"valueFrom", {{"secretKeyRef", {{"name", "creds"}, {"key", "password"}}}}}},
      {{"name", "LVL"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "LEVEL"}}}}}},
      {{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "NS"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
      {{"name", "UID"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.uid"}}}}}},
      {{"name", "APPL"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['app']"}}}}}},
      {{"name", "NODE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "SA"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.serviceAccountName"}}}}}},
      {{"name", "HOST_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIP"}}}}}},
      {{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
      {{"name", "MEM"},
       {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.memory"}, {"divisor", "1Mi"}}}}}},
      {{"name", "URL"}, {"value", "http://$(POD):$(APP_PORT)"}},
      {{"name", "OPT"},
       {"valueFrom",
        {{"configMapKeyRef", {{"name", "cfg"}, {"key", "nope"}, {"optional", true}}}}}},
  };
  c["args"] = {"$(URL)"};
  c["resources"] = {{"limits", {{"memory", "64Mi"}}}};
  PodPlan p = build(pod);
  ASSERT_FALSE(p.containers[0].error) << p.containers[0].error->message;
  std::map<std::string, std::string> env;
  for (const auto& kv : p.containers[0].envs) env[kv.key] = kv.value;
  EXPECT_EQ(env["APP_LEVEL"], "debug");
  EXPECT_EQ(env["APP_PORT"], "80");
  EXPECT_EQ(env.count("APP_bad key"), 0u);
  EXPECT_EQ(env["PASS"], "s3cr3t");
  EXPECT_EQ(env["LVL"], "debug");
  EXPECT_EQ(env["POD"], "web");
  EXPECT_EQ(env["NS"], "demo");
  EXPECT_EQ(env["UID"], "1111-2222");
  EXPECT_EQ(env["APPL"], "web");
  EXPECT_EQ(env["NODE"], "edge-1");
  EXPECT_EQ(env["SA"], "sa1");
  EXPECT_EQ(env["HOST_IP"], "192.168.1.20");
  EXPECT_EQ(env["POD_IP"], "");
  EXPECT_EQ(env["MEM"], "64");
  EXPECT_EQ(env["URL"], "http://web:80");
  EXPECT_EQ(env.count("OPT"), 0u);
  EXPECT_EQ(p.containers[0].args[0], "http://web:80");
  EXPECT_TRUE(p.needs_pod_ips);
  // envFrom keys come first, in key order, then env in spec order.
  EXPECT_EQ(p.containers[0].envs[0].key, "APP_LEVEL");

  // Late fill: the same pod built with the IPs from PodSandboxStatus.
  in.pod_ips = {"10.88.0.5"};
  PodPlan p2 = build(pod);
  EXPECT_FALSE(p2.needs_pod_ips);
  for (const auto& kv : p2.containers[0].envs) {
    if (kv.key == "POD_IP") {
      EXPECT_EQ(kv.value, "10.88.0.5");
    }
  }
}

TEST_F(PodPlanTest, MissingConfigReportsPerContainerReason) {
  json pod = basePod();
  pod["spec"]["containers"].push_back({{"name", "side"}, {"image", "busybox:local"}});
  pod["spec"]["containers"][0]["env"] = {
      {{"name", "X"},
       {"valueFrom", {{"configMapKeyRef", {{"name", "app-config"}, {"key", "k"}}}}}}};
  PodPlan p = build(pod);
  ASSERT_TRUE(p.containers[0].error);
  EXPECT_EQ(p.containers[0].error->reason, "CreateContainerConfigError");
  EXPECT_EQ(p.containers[0].error->message, "configmap \"app-config\" not found");
  EXPECT_FALSE(p.containers[1].error);  // the other container still starts

  objects.configmaps["demo/app-config"] = {{"data", {{"other", "1"}}}};
  p = build(pod);
  ASSERT_TRUE(p.containers[0].error);
  EXPECT_EQ(p.containers[0].error->message, "couldn't find key k in ConfigMap demo/app-config");

  pod["spec"]["containers"][0]["env"] = {
      {{"name", "X"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}}};
  p = build(pod);
  ASSERT_TRUE(p.containers[0].error);
  EXPECT_EQ(p.containers[0].error->message, "secret \"s\" not found");

  // A 5 MiB configmap in envFrom: bounded, a clear reason.
  objects.configmaps["demo/huge"] = {{"data", {{"BIG", std::string(5 << 20, 'x')}}}};
  pod["spec"]["containers"][0]["env"] = json::array();
  pod["spec"]["containers"][0]["envFrom"] = {{{"configMapRef", {{"name", "huge"}}}}};
  p = build(pod);
  ASSERT_TRUE(p.containers[0].error);
  EXPECT_EQ(p.containers[0].error->reason, "CreateContainerConfigError");
  EXPECT_NE(p.containers[0].error->message.find("exceeds"), std::string::npos);
}

TEST_F(PodPlanTest, ImageNamesAndPullPolicies) {
  json pod = basePod();
  pod["spec"]["containers"][0]["image"] = "busybox";
  PodPlan p = build(pod);
  EXPECT_EQ(p.containers[0].image, "busybox:latest");
  EXPECT_EQ(p.containers[0].pull_policy, PullPolicy::Always);
  pod["spec"]["containers"][0]["image"] = "registry.k8s.io:5000/pause:3.6";
  pod["spec"]["containers"][0]["imagePullPolicy"] = "Never";
  p = build(pod);
  EXPECT_EQ(p.containers[0].image, "registry.k8s.io:5000/pause:3.6");
  EXPECT_EQ(p.containers[0].pull_policy, PullPolicy::Never);
  pod["spec"]["containers"][0]["image"] =
      "docker.io/library/"
      "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  pod["spec"]["containers"][0].erase("imagePullPolicy");
  p = build(pod);
  EXPECT_EQ(p.containers[0].pull_policy, PullPolicy::IfNotPresent);
  for (const char* good :
       {"localhost:5000/a/b-c__d.e:v1.2_x", "a", "a.b/c", "Example.COM/x", "x:Tag_1-.",
        "my-registry:443/ns/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef",
        "a---b/c__d:1", "registry/x@sha256+b64.v2:0123456789ABCDEF0123456789abcdef"}) {
    pod["spec"]["containers"][0]["image"] = good;
    p = build(pod);
    EXPECT_FALSE(p.containers[0].error) << good;
  }
  for (const char* bad : {"", "Busybox:UPPER repo", "busybox::1", "-bad/x", "a//b", "a/", "a._b",
                          "a___b", "x:.tag", "x@sha256:abc", "x@:0123456789abcdef0123456789abcdef",
                          "host:port/x", "a:b/c", "x@1sha:0123456789abcdef0123456789abcdef"}) {
    pod["spec"]["containers"][0]["image"] = bad;
    p = build(pod);
    ASSERT_TRUE(p.containers[0].error) << bad;
    EXPECT_EQ(p.containers[0].error->reason, "InvalidImageName") << bad;
  }
}

// Found by the pod_spec fuzzer: a failing 40-character image name took libstdc++'s backtracking
// regex tens of seconds (exponential in the length of the name's runs). The check is linear now.
TEST_F(PodPlanTest, FailingImageNamesAreRefusedQuickly) {
  json pod = basePod();
  for (std::string bad : {std::string("docker.io/library/busybox:locabox:local"),
                          std::string(200, 'a') + "-" + std::string(200, 'b') + "::x",
                          "a/" + std::string(250, 'a') + "._" + std::string(250, 'b')}) {
    pod["spec"]["containers"][0]["image"] = bad;
    auto start = std::chrono::steady_clock::now();
    PodPlan p = build(pod);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << bad;
    ASSERT_TRUE(p.containers[0].error) << bad;
    EXPECT_EQ(p.containers[0].error->reason, "InvalidImageName") << bad;
  }
}

TEST_F(PodPlanTest, DnsPolicies) {
  json pod = basePod();
  in.cluster_dns = {"10.96.0.10"};
  PodPlan p = build(pod);  // ClusterFirst by default
  EXPECT_EQ(p.sandbox.dns.servers, (std::vector<std::string>{"10.96.0.10"}));
  EXPECT_EQ(p.sandbox.dns.searches,
            (std::vector<std::string>{"demo.svc.cluster.local", "svc.cluster.local",
                                      "cluster.local", "lan", "corp"}));
  EXPECT_EQ(p.sandbox.dns.options, (std::vector<std::string>{"ndots:5"}));

  pod["spec"]["hostNetwork"] = true;  // ClusterFirst + hostNetwork = host resolv.conf
  p = build(pod);
  EXPECT_EQ(p.sandbox.dns.servers, (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(p.sandbox.dns.searches, (std::vector<std::string>{"lan", "corp"}));
  EXPECT_EQ(p.sandbox.dns.options, (std::vector<std::string>{"ndots:2", "edns0"}));

  pod["spec"]["dnsPolicy"] = "ClusterFirstWithHostNet";
  p = build(pod);
  EXPECT_EQ(p.sandbox.dns.servers, (std::vector<std::string>{"10.96.0.10"}));

  pod["spec"]["dnsPolicy"] = "None";
  pod["spec"]["dnsConfig"] = {
      {"nameservers", {"1.1.1.1"}},
      {"searches", {"a.example"}},
      {"options", {{{"name", "ndots"}, {"value", "1"}}, {{"name", "rotate"}}}}};
  p = build(pod);
  EXPECT_EQ(p.sandbox.dns.servers, (std::vector<std::string>{"1.1.1.1"}));
  EXPECT_EQ(p.sandbox.dns.searches, (std::vector<std::string>{"a.example"}));
  EXPECT_EQ(p.sandbox.dns.options, (std::vector<std::string>{"ndots:1", "rotate"}));

  pod["spec"]["dnsPolicy"] = "Default";
  pod["spec"]["dnsConfig"] = {{"options", {{{"name", "ndots"}, {"value", "7"}}}}};
  p = build(pod);
  EXPECT_EQ(p.sandbox.dns.servers, (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(p.sandbox.dns.options, (std::vector<std::string>{"ndots:7", "edns0"}));

  in.cluster_dns.clear();  // ClusterFirst without clusterDNS falls back to the host
  pod["spec"]["dnsPolicy"] = "ClusterFirst";
  pod["spec"]["hostNetwork"] = false;
  pod["spec"].erase("dnsConfig");
  p = build(pod);
  EXPECT_EQ(p.sandbox.dns.servers, (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
}

TEST_F(PodPlanTest, BadInputIsAnErrorNotACrash) {
  auto reason = [&](const json& pod) {
    auto r = buildPodPlan(pod, in);
    EXPECT_FALSE(r.ok());
    return r.ok() ? PlanError{} : planErrorFromStatus(r.status());
  };
  EXPECT_EQ(reason(json::array()).reason, "InvalidPodSpec");
  EXPECT_EQ(reason(json("pod")).reason, "InvalidPodSpec");
  json pod = basePod();
  pod["spec"]["containers"] = "x";
  EXPECT_EQ(reason(pod).reason, "InvalidPodSpec");
  pod = basePod();
  pod["metadata"]["name"] = "Bad_Name";
  EXPECT_NE(reason(pod).message.find("invalid pod name"), std::string::npos);
  pod = basePod();
  pod["metadata"]["uid"] = "../../etc";
  EXPECT_EQ(reason(pod).reason, "InvalidPodSpec");
  pod = basePod();
  pod["spec"]["containers"][0]["name"] = 42;
  EXPECT_NE(reason(pod).message.find("expected a string"), std::string::npos);
  pod = basePod();
  pod["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "lots"}}}};
  EXPECT_EQ(reason(pod).reason, "InvalidPodSpec");
  // A subPath that climbs or is absolute: the container is refused (the kubelet's words), the
  // pod is not.
  for (auto [sub, message] : std::vector<std::pair<std::string, std::string>>{
           {"../../etc", "unable to provision SubPath `../../etc`: must not contain '..'"},
           {"a/../../x", "unable to provision SubPath `a/../../x`: must not contain '..'"},
           {"/etc", "error SubPath `/etc` must not be an absolute path"}}) {
    pod = basePod();
    pod["spec"]["containers"][0]["volumeMounts"] = {
        {{"name", "v"}, {"mountPath", "/x"}, {"subPath", sub}}};
    pod["spec"]["volumes"] = {{{"name", "v"}, {"emptyDir", json::object()}}};
    auto plan = buildPodPlan(pod, in);
    ASSERT_TRUE(plan.ok()) << plan.status().toString();
    ASSERT_TRUE(plan->containers[0].error.has_value()) << sub;
    EXPECT_EQ(plan->containers[0].error->reason, "CreateContainerConfigError");
    EXPECT_EQ(plan->containers[0].error->message, message);
  }
  pod = basePod();
  pod["spec"]["volumes"] = {{{"name", "v"}, {"nfs", {{"server", "x"}}}}};
  EXPECT_EQ(reason(pod).reason, "FailedMount");
  pod = basePod();
  pod["spec"]["containers"].push_back(pod["spec"]["containers"][0]);
  EXPECT_NE(reason(pod).message.find("duplicate"), std::string::npos);
  pod = basePod();
  pod["spec"]["containers"] = json::array();
  EXPECT_EQ(reason(pod).reason, "InvalidPodSpec");
  // prepareVolumes with a pod that does not match a plan, or is not a pod at all.
  PodPlan p = build(basePod());
  EXPECT_FALSE(prepareVolumes(json::object(), p, in).ok());
  EXPECT_FALSE(prepareVolumes(json("x"), p, in).ok());
  EXPECT_FALSE(prepareVolumes(basePod(), PodPlan{}, in).ok());
}

class VolumesTest : public PodPlanTest {
 protected:
  json volumePod() {
    json pod = basePod();
    pod["spec"]["volumes"] = json::parse(R"([
      {"name": "scratch", "emptyDir": {}},
      {"name": "cfg", "configMap": {"name": "app", "defaultMode": 384,
        "items": [{"key": "a.conf", "path": "conf/a.conf"}, {"key": "b", "path": "b", "mode": 256}]}},
      {"name": "all", "configMap": {"name": "app"}},
      {"name": "creds", "secret": {"secretName": "creds"}},
      {"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "main", "resource": "limits.cpu", "divisor": "1m"}}]}},
      {"name": "proj", "projected": {"sources": [
        {"configMap": {"name": "app", "items": [{"key": "b", "path": "from-cm"}]}},
        {"secret": {"name": "creds"}},
        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        {"serviceAccountToken": {"path": "token"}}]}},
      {"name": "host", "hostPath": {"path": "HOSTDIR", "type": "DirectoryOrCreate"}}
    ])");
    pod["spec"]["volumes"][6]["hostPath"]["path"] = dir.path() + "/host/data";
    pod["spec"]["containers"][0]["volumeMounts"] = json::parse(R"([
      {"name": "scratch", "mountPath": "/scratch"}, {"name": "cfg", "mountPath": "/etc/app", "readOnly": true},
      {"name": "host", "mountPath": "/data", "subPath": "sub"}])");
    pod["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "250m"}}}};
    objects.configmaps["demo/app"] = {{"data", {{"a.conf", "A=1\n"}, {"b", "bee"}}},
                                      {"binaryData", {{"bin", "AAEC"}}}};
    objects.secrets["demo/creds"] = {{"data", {{"password", "czNjcjN0"}}}};
    std::map<std::string, Result<std::string>> fetched;
    fetched.emplace(TokenSourceRef{"sa1", "", kDefaultTokenExpirationSeconds}.key(),
                    std::string("jwt-of-web"));
    tokens = makeFetchedTokenSource(std::move(fetched));
    in.tokens = tokens.get();
    return pod;
  }
  std::unique_ptr<ServiceAccountTokenSource> tokens;
  std::string volDir(const std::string& plugin, const std::string& name) {
    return in.root_directory + "/pods/1111-2222/volumes/" + plugin + "/" + name;
  }
  static uint32_t modeOf(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 0777;
  }
};

TEST_F(VolumesTest, MaterialisesEveryVolumeType) {
  json pod = volumePod();
  in.pod_ips = {"10.88.0.7"};
  PodPlan p = build(pod);
  ASSERT_TRUE(prepareVolumes(pod, p, in).ok());
  const auto& mounts = p.containers[0].mounts;
  EXPECT_EQ(mounts[0].host_path, volDir("kubernetes.io~empty-dir", "scratch"));
  EXPECT_TRUE(std::filesystem::is_directory(mounts[0].host_path));
  EXPECT_EQ(mounts[1].host_path, volDir("kubernetes.io~configmap", "cfg"));
  EXPECT_TRUE(mounts[1].readonly);
  EXPECT_EQ(mounts[2].host_path, dir.path() + "/host/data/sub");
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/host/data"));

  const std::string cfg = volDir("kubernetes.io~configmap", "cfg");
  EXPECT_EQ(testing::readFile(cfg + "/conf/a.conf"), "A=1\n");
  EXPECT_EQ(modeOf(cfg + "/conf/a.conf"), 0600u);
  EXPECT_EQ(testing::readFile(cfg + "/b"), "bee");
  EXPECT_EQ(modeOf(cfg + "/b"), 0400u);
  EXPECT_FALSE(std::filesystem::exists(cfg + "/a.conf"));  // items select keys
  EXPECT_EQ(testing::readFile(volDir("kubernetes.io~configmap", "all") + "/bin"),
            std::string("\x00\x01\x02", 3));
  EXPECT_EQ(modeOf(volDir("kubernetes.io~configmap", "all") + "/b"), 0644u);
  EXPECT_EQ(testing::readFile(volDir("kubernetes.io~secret", "creds") + "/password"), "s3cr3t");
  const std::string info = volDir("kubernetes.io~downward-api", "info");
  EXPECT_EQ(testing::readFile(info + "/labels"), "app=\"web\"");
  EXPECT_EQ(testing::readFile(info + "/name"), "web");
  EXPECT_EQ(testing::readFile(info + "/cpu"), "250");
  const std::string proj = volDir("kubernetes.io~projected", "proj");
  EXPECT_EQ(testing::readFile(proj + "/from-cm"), "bee");
  EXPECT_EQ(testing::readFile(proj + "/password"), "s3cr3t");
  EXPECT_EQ(testing::readFile(proj + "/ns"), "demo");
  EXPECT_EQ(testing::readFile(proj + "/token"), "jwt-of-web");
  EXPECT_EQ(modeOf(proj + "/token"), 0644u);

  const std::string hosts = testing::readFile(p.etc_hosts);
  EXPECT_NE(hosts.find("# Kubernetes-managed hosts file."), std::string::npos);
  EXPECT_NE(hosts.find("10.88.0.7\tweb\n"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_regular_file(p.containers[0].termination_log_host_path));
  EXPECT_EQ(modeOf(p.containers[0].termination_log_host_path), 0666u);

  // Refresh: a changed configmap rewrites files and drops removed keys; no temp files remain.
  objects.configmaps["demo/app"] = {{"data", {{"a.conf", "A=2\n"}, {"b", "bee"}}}};
  ASSERT_TRUE(prepareVolumes(pod, p, in).ok());
  EXPECT_EQ(testing::readFile(cfg + "/conf/a.conf"), "A=2\n");
  EXPECT_FALSE(std::filesystem::exists(volDir("kubernetes.io~configmap", "all") + "/bin"));
  for (const auto& e : std::filesystem::recursive_directory_iterator(in.root_directory)) {
    EXPECT_EQ(e.path().filename().string().rfind(".tmp.", 0), std::string::npos) << e.path();
  }

  ASSERT_TRUE(removePodDir(in.root_directory, "1111-2222").ok());
  EXPECT_FALSE(std::filesystem::exists(p.pod_dir));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/host/data"));  // hostPath untouched
}

TEST_F(VolumesTest, PathsCannotEscapeThePodDirectory) {
  for (const char* evil : {"../escape", "/etc/passwd", "a/../../x", "..data"}) {
    json pod = volumePod();
    pod["spec"]["volumes"][1]["configMap"]["items"][0]["path"] = evil;
    PodPlan p = build(pod);
    Status st = prepareVolumes(pod, p, in);
    ASSERT_FALSE(st.ok()) << evil;
    PlanError e = planErrorFromStatus(st);
    EXPECT_EQ(e.reason, "FailedMount");
    EXPECT_NE(e.message.find("must be relative"), std::string::npos) << e.message;
  }
  EXPECT_FALSE(std::filesystem::exists(in.root_directory + "/pods/escape"));
  EXPECT_FALSE(std::filesystem::exists(in.root_directory + "/pods/1111-2222/volumes/escape"));
}

TEST_F(VolumesTest, FailuresCarryKubeletMessages) {
  json pod = volumePod();
  objects.configmaps.erase("demo/app");
  PodPlan p = build(pod);
  PlanError e = planErrorFromStatus(prepareVolumes(pod, p, in));
  EXPECT_EQ(e.reason, "FailedMount");
  EXPECT_EQ(e.message, "MountVolume.SetUp failed for volume \"cfg\" : configmap \"app\" not found");

  pod = volumePod();
  pod["spec"]["volumes"][1]["configMap"]["items"][0]["key"] = "nope";
  p = build(pod);
  e = planErrorFromStatus(prepareVolumes(pod, p, in));
  EXPECT_NE(e.message.find("references non-existent config key: nope"), std::string::npos);

  pod = volumePod();
  pod["spec"]["volumes"][6]["hostPath"] = {{"path", dir.path() + "/missing"},
                                           {"type", "Directory"}};
  p = build(pod);
  e = planErrorFromStatus(prepareVolumes(pod, p, in));
  EXPECT_NE(
      e.message.find("hostPath type check failed: " + dir.path() + "/missing is not a directory"),
      std::string::npos);

  // 5 MiB configmap volume: refused with a clear message, nothing written for it.
  pod = volumePod();
  objects.configmaps["demo/app"] = {
      {"data", {{"a.conf", std::string(5 << 20, 'x')}, {"b", "bee"}}}};
  p = build(pod);
  e = planErrorFromStatus(prepareVolumes(pod, p, in));
  EXPECT_EQ(e.reason, "FailedMount");
  EXPECT_NE(e.message.find("exceeds the limit of 4194304 bytes"), std::string::npos) << e.message;
  // An earlier call wrote the small version; the oversized one never reached the disk.
  EXPECT_EQ(testing::readFile(volDir("kubernetes.io~configmap", "cfg") + "/conf/a.conf"), "A=1\n");

  pod = volumePod();
  objects.configmaps["demo/app"] = {{"data", {{"a.conf", "x"}, {"b", "y"}}}};
  pod["spec"]["volumes"][1]["configMap"]["optional"] = true;
  objects.configmaps.erase("demo/app");
  pod["spec"]["volumes"][2]["configMap"]["optional"] = true;
  pod["spec"]["volumes"][5]["projected"]["sources"][0]["configMap"]["optional"] = true;
  p = build(pod);
  EXPECT_TRUE(prepareVolumes(pod, p, in).ok());  // optional and absent: empty volume
}

TEST_F(VolumesTest, HostNetworkEtcHostsCopiesTheNodeFile) {
  dir.write("hosts", "127.0.0.1 localhost\n10.1.1.1 gateway\n");
  in.host_etc_hosts = dir.file("hosts");
  json pod = basePod();
  pod["spec"]["hostNetwork"] = true;
  pod["spec"]["hostAliases"] = {{{"ip", "10.2.2.2"}, {"hostnames", {"db", "db.local"}}}};
  PodPlan p = build(pod);
  ASSERT_TRUE(prepareVolumes(pod, p, in).ok());
  EXPECT_EQ(testing::readFile(p.etc_hosts),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n10.1.1.1 "
            "gateway\n\n# Entries added by HostAliases.\n10.2.2.2\tdb\tdb.local\n");
}

// ---------------------------------------------------------------------------------------------
// subPath on disk (podplan/subpath.h): the kubelet's CVE-2017-1002101 class. These bind-mount for
// real (edged runs as root); TearDown unmounts before the temp dir is deleted, and the "host"
// directory a symlink points at is a decoy inside the temp dir, so a broken check could never make
// the cleanup reach real host files.

bool isMountPoint(const std::string& path) {
  const std::string mountinfo = testing::readFile("/proc/self/mountinfo");
  return mountinfo.find(" " + path + " ") != std::string::npos;
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

class SubPathTest : public VolumesTest {
 protected:
  void SetUp() override {
    VolumesTest::SetUp();
    ASSERT_EQ(::geteuid(), 0u) << "subPath mounts need root (edged runs as root)";
    std::filesystem::create_directories(dir.path() + "/decoy");
    dir.write("decoy/secret.txt", "host secret");
  }
  void TearDown() override {
    if (!pod_dir.empty()) {
      EXPECT_TRUE(cleanSubPaths(pod_dir).ok());
    }
  }
  // A pod with one emptyDir "work" mounted at /w with `sub`; volumes prepared.
  PodPlan workPod(const std::string& sub) {
    json pod = basePod();
    pod["spec"]["volumes"] = {{{"name", "work"}, {"emptyDir", json::object()}}};
    pod["spec"]["containers"][0]["volumeMounts"] = {
        {{"name", "work"}, {"mountPath", "/w"}, {"subPath", sub}}};
    PodPlan p = build(pod);
    EXPECT_TRUE(prepareVolumes(pod, p, in).ok());
    pod_dir = p.pod_dir;
    return p;
  }
  std::string vol() { return volDir("kubernetes.io~empty-dir", "work"); }
  std::string pod_dir;
};

TEST_F(SubPathTest, OpenBeneathRefusesEverySymlinkAndEscape) {
  const std::string root = dir.path() + "/vol";
  std::filesystem::create_directories(root + "/a/b");
  dir.write("vol/a/b/file.txt", "inside");
  std::filesystem::create_directory_symlink("/etc", root + "/evil");
  std::filesystem::create_directory_symlink("..", root + "/up");
  std::filesystem::create_directory_symlink(dir.path() + "/decoy", root + "/a/decoy");
  std::filesystem::create_directory_symlink("../a", root + "/a/rel");  // stays inside: refused too
  std::filesystem::create_symlink("b/file.txt", root + "/a/link.txt");
  int root_fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root_fd, 0);
  for (auto how : {SubPathResolve::Auto, SubPathResolve::ComponentWise}) {
    for (const char* evil :
         {"evil", "evil/passwd", "up/vol/a", "up/decoy", "a/decoy/secret.txt", "a/rel/b",
          "a/link.txt", "../decoy", "a/../../decoy", "/etc", "a/b/../../../decoy"}) {
      int fd = openBeneath(root_fd, evil, how);
      EXPECT_LT(fd, 0) << evil << " mode " << static_cast<int>(how);
      if (fd >= 0) ::close(fd);
    }
    for (const char* good : {"a/b/file.txt", "a/./b//file.txt", "a/b/"}) {
      int fd = openBeneath(root_fd, good, how);
      ASSERT_GE(fd, 0) << good << ": " << std::strerror(-fd);
      struct stat st {};
      ASSERT_EQ(::fstat(fd, &st), 0);
      const std::string want = std::string(good) == "a/b/" ? root + "/a/b" : root + "/a/b/file.txt";
      EXPECT_EQ(st.st_ino, inodeOf(want)) << good;
      ::close(fd);
    }
    EXPECT_EQ(openBeneath(root_fd, "a/missing", how), -ENOENT);
  }
  ::close(root_fd);
}

TEST_F(SubPathTest, SymlinkPlantedInAnEmptyDirIsRefused) {
  PodPlan p = workPod("evil");
  std::filesystem::create_directory_symlink(dir.path() + "/decoy", vol() + "/evil");
  auto mounts = p.containers[0].mounts;
  std::string detail;
  auto err = prepareSubPaths(p.pod_dir, "main", mounts, &detail);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->reason, "CreateContainerConfigError");
  EXPECT_EQ(err->message,
            "failed to prepare subPath for volumeMount \"work\" of container \"main\"");
  EXPECT_NE(detail.find("symbolic link"), std::string::npos) << detail;
  EXPECT_EQ(err->message.find("decoy"), std::string::npos);  // nothing about the host's files
  EXPECT_FALSE(isMountPoint(p.pod_dir + "/volume-subpaths/work/main/0"));
  EXPECT_EQ(mounts[0].host_path, vol() + "/evil");  // untouched: the caller refuses the container

  // A link deeper in the path, and one climbing out through "..": refused the same way.
  for (const char* sub : {"evil/secret.txt", "dir/up/decoy"}) {
    std::filesystem::create_directories(vol() + "/dir");
    std::error_code ec;
    std::filesystem::create_directory_symlink(dir.path(), vol() + "/dir/up", ec);
    PodPlan q = workPod(sub);
    auto m = q.containers[0].mounts;
    EXPECT_TRUE(prepareSubPaths(q.pod_dir, "main", m, nullptr).has_value()) << sub;
  }
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(pod_dir + "/volume-subpaths/work/main", ec) || ec);
}

TEST_F(SubPathTest, NestedSubPathIsBoundFromTheCheckedInode) {
  PodPlan p = workPod("data/conf");
  std::filesystem::create_directories(vol() + "/data/conf");
  dir.write("kubelet/pods/1111-2222/volumes/kubernetes.io~empty-dir/work/data/conf/app.txt",
            "app config");
  auto mounts = p.containers[0].mounts;
  ASSERT_FALSE(prepareSubPaths(p.pod_dir, "main", mounts, nullptr).has_value());
  const std::string staged = p.pod_dir + "/volume-subpaths/work/main/0";
  EXPECT_EQ(mounts[0].host_path, staged);
  EXPECT_EQ(mounts[0].container_path, "/w");
  EXPECT_TRUE(isMountPoint(staged));
  EXPECT_EQ(testing::readFile(staged + "/app.txt"), "app config");
  // The container swaps the directory for a symlink after the check: the runtime still gets the
  // inode that was checked.
  std::filesystem::rename(vol() + "/data/conf", vol() + "/data/old");
  std::filesystem::create_directory_symlink(dir.path() + "/decoy", vol() + "/data/conf");
  EXPECT_EQ(testing::readFile(staged + "/app.txt"), "app config");
  EXPECT_FALSE(std::filesystem::exists(staged + "/secret.txt"));

  // Prepared again (a restart): the swapped path is refused now, the old mount is gone.
  mounts = p.containers[0].mounts;
  EXPECT_TRUE(prepareSubPaths(p.pod_dir, "main", mounts, nullptr).has_value());
  EXPECT_FALSE(isMountPoint(staged));
}

TEST_F(SubPathTest, MissingSubPathIsCreatedAndFilesAreBoundToo) {
  json pod = basePod();
  pod["spec"]["volumes"] = {{{"name", "work"}, {"emptyDir", json::object()}}};
  pod["spec"]["containers"][0]["volumeMounts"] = json::parse(R"([
    {"name": "work", "mountPath": "/new", "subPath": "made/here"},
    {"name": "work", "mountPath": "/etc/app.txt", "subPath": "made/app.txt"}])");
  PodPlan p = build(pod);
  ASSERT_TRUE(prepareVolumes(pod, p, in).ok());
  pod_dir = p.pod_dir;
  auto mounts = p.containers[0].mounts;
  mounts.resize(1);  // the file does not exist yet: first the directory
  ASSERT_FALSE(prepareSubPaths(p.pod_dir, "main", mounts, nullptr).has_value());
  EXPECT_TRUE(std::filesystem::is_directory(vol() + "/made/here"));
  struct stat st {};
  ASSERT_EQ(::stat((vol() + "/made/here").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0777u);  // the volume root's mode, as the kubelet does
  EXPECT_TRUE(isMountPoint(p.pod_dir + "/volume-subpaths/work/main/0"));

  dir.write("kubelet/pods/1111-2222/volumes/kubernetes.io~empty-dir/work/made/app.txt", "file");
  mounts = p.containers[0].mounts;
  ASSERT_FALSE(prepareSubPaths(p.pod_dir, "main", mounts, nullptr).has_value());
  const std::string file_target = p.pod_dir + "/volume-subpaths/work/main/1";
  EXPECT_EQ(mounts[1].host_path, file_target);
  EXPECT_TRUE(std::filesystem::is_regular_file(file_target));
  EXPECT_EQ(testing::readFile(file_target), "file");

  // Removing the pod unmounts the staging paths before deleting; the volume's files outside the
  // pod dir (the decoy) are untouched.
  ASSERT_TRUE(removePodDir(in.root_directory, "1111-2222").ok());
  EXPECT_FALSE(isMountPoint(p.pod_dir + "/volume-subpaths/work/main/0"));
  EXPECT_FALSE(std::filesystem::exists(p.pod_dir));
  EXPECT_EQ(testing::readFile(dir.path() + "/decoy/secret.txt"), "host secret");
  pod_dir.clear();
}

TEST_F(VolumesTest, ApiVolumesAreAlwaysReadOnly) {
  json pod = volumePod();
  pod["spec"]["containers"][0]["volumeMounts"] = json::parse(R"([
    {"name": "scratch", "mountPath": "/scratch"},
    {"name": "all", "mountPath": "/cm"},
    {"name": "creds", "mountPath": "/secret", "readOnly": false},
    {"name": "info", "mountPath": "/info"},
    {"name": "proj", "mountPath": "/proj"},
    {"name": "host", "mountPath": "/host"}])");
  PodPlan p = build(pod);
  const auto& m = p.containers[0].mounts;
  ASSERT_GE(m.size(), 6u);
  EXPECT_FALSE(m[0].readonly);  // emptyDir: writable unless asked
  EXPECT_TRUE(m[1].readonly);   // configMap
  EXPECT_TRUE(m[2].readonly);   // secret, even with readOnly: false
  EXPECT_TRUE(m[3].readonly);   // downwardAPI
  EXPECT_TRUE(m[4].readonly);   // projected
  EXPECT_FALSE(m[5].readonly);  // hostPath: as the pod says
}

// requireAuthorization: MetaServer publishes its dummy address in METASERVER_DUMMY_IP/PORT and
// every container gets KUBERNETES_SERVICE_HOST/PORT pointing there (overriding the pod's own, as
// KubeEdge's kubelet appends them last); without it nothing is added.
TEST_F(PodPlanTest, KubernetesServiceEnvPointsAtTheMetaServerDummyAddress) {
  ::unsetenv("METASERVER_DUMMY_IP");
  ::unsetenv("METASERVER_DUMMY_PORT");
  json pod = basePod();
  pod["spec"]["containers"][0]["env"] = {
      {{"name", "KUBERNETES_SERVICE_HOST"}, {"value", "10.96.0.1"}}};
  auto envOf = [&](const PodPlan& p) {
    std::map<std::string, std::string> env;
    for (const auto& kv : p.containers[0].envs) env[kv.key] = kv.value;
    return env;
  };
  auto off = envOf(build(pod));
  EXPECT_EQ(off["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
  EXPECT_EQ(off.count("KUBERNETES_SERVICE_PORT"), 0u);

  ::setenv("METASERVER_DUMMY_IP", "169.254.30.10", 1);
  ::setenv("METASERVER_DUMMY_PORT", "10550", 1);
  auto on = envOf(build(pod));
  ::unsetenv("METASERVER_DUMMY_IP");
  ::unsetenv("METASERVER_DUMMY_PORT");
  EXPECT_EQ(on["KUBERNETES_SERVICE_HOST"], "169.254.30.10");
  EXPECT_EQ(on["KUBERNETES_SERVICE_PORT"], "10550");
}

}  // namespace
}  // namespace edgecore::edged
