// edged building blocks: cost of resolving a pod, writing its volumes and rendering logs.
// Run: build/bench/edged_parts_bench

#include <benchmark/benchmark.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "podplan/pod_plan.h"
#include "server/cri_log.h"

namespace {

using edgecore::edged::ObjectSource;
using edgecore::edged::PlanInputs;
using nlohmann::json;

class OneConfigMap : public ObjectSource {
 public:
  edgecore::core::Result<json> getConfigMap(std::string_view, std::string_view) override {
    return json{{"data", {{"app.conf", std::string(4096, 'c')}, {"LEVEL", "debug"}}}};
  }
  edgecore::core::Result<json> getSecret(std::string_view, std::string_view) override {
    return json{{"data", {{"password", "czNjcjN0"}}}};
  }
};

json typicalPod() {
  return json::parse(R"json({
    "metadata": {"name": "web", "namespace": "demo", "uid": "1111-2222", "labels": {"app": "web"}},
    "spec": {"nodeName": "edge-1",
      "volumes": [{"name": "cfg", "configMap": {"name": "app"}}, {"name": "tmp", "emptyDir": {}},
                  {"name": "creds", "secret": {"secretName": "creds"}}],
      "initContainers": [{"name": "init", "image": "busybox:local", "command": ["true"]}],
      "containers": [
        {"name": "main", "image": "busybox:local", "command": ["sh", "-c", "echo $(LEVEL)"],
         "envFrom": [{"configMapRef": {"name": "app"}}],
         "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
         "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
         "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}, {"name": "tmp", "mountPath": "/tmp"}],
         "readinessProbe": {
  "httpGet" : { "path" : "/", "port" : 8080 }}},
        {"name": "side", "image": "busybox:local", "command": ["sleep", "3600"]}]
}
})json");
}

void BM_BuildPodPlan(benchmark::State& state) {
  OneConfigMap src;
  PlanInputs in;
  in.objects = &src;
  in.resolv_conf = "";
  in.pod_ips = {"10.88.0.5"};
  const json pod = typicalPod();
  for (auto _ : state) {
    auto p = edgecore::edged::buildPodPlan(pod, in);
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_BuildPodPlan);

void BM_PrepareVolumes(benchmark::State& state) {
  OneConfigMap src;
  PlanInputs in;
  in.objects = &src;
  in.resolv_conf = "";
  in.pod_ips = {"10.88.0.5"};
  in.root_directory = std::filesystem::temp_directory_path() / "edged-bench-root";
  const json pod = typicalPod();
  auto plan = edgecore::edged::buildPodPlan(pod, in);
  for (auto _ : state) {
    auto st = edgecore::edged::prepareVolumes(pod, *plan, in);
    benchmark::DoNotOptimize(st);
  }
  (void)edgecore::edged::removePodDir(in.root_directory, "1111-2222");
  std::filesystem::remove_all(in.root_directory);
}
BENCHMARK(BM_PrepareVolumes)->Unit(benchmark::kMicrosecond);

void BM_RenderLogs(benchmark::State& state) {
  std::string log;
  for (int i = 0; i < 100000; ++i) {
    log += "2025-01-01T00:00:01.123456789Z stdout F line number " + std::to_string(i) +
           " with some text\n";
  }
  edgecore::edged::LogOptions o;
  o.tail_lines = 100;
  for (auto _ : state) {
    auto s = edgecore::edged::renderLogs(log, o);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * log.size()));
}
BENCHMARK(BM_RenderLogs)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
