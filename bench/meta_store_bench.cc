// MetaStore figures: batched ingest of realistic pods with synchronous=FULL, and in-memory
// GET/LIST of 1000 pods. Also prints the resident memory 1000 loaded pods cost.

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const Gvr kPods{"", "v1", "pods"};

// A pod JSON about 3 KiB long, shaped like what the cloud sends (labels, annotations, env,
// volumes, status with conditions).
std::string podJson(const std::string& name, uint64_t rv) {
  json env = json::array();
  for (int i = 0; i < 12; ++i) {
    env.push_back(
        {{"name", "SETTING_" + std::to_string(i)}, {"value", "value-" + std::to_string(i)}});
  }
  json conditions = json::array();
  for (const char* t : {"Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
    conditions.push_back({{"type", t},
                          {"status", "True"},
                          {"lastProbeTime", nullptr},
                          {"lastTransitionTime", "2024-05-01T10:00:00Z"}});
  }
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", "default"},
        {"uid", "0f6c1a2e-9b1d-4c47-8f0e-" + std::to_string(100000000000 + rv)},
        {"resourceVersion", std::to_string(rv)},
        {"creationTimestamp", "2024-05-01T10:00:00Z"},
        {"labels", {{"app", "sensor-gateway"}, {"tier", "edge"}, {"pod-template-hash", "7d9f8c"}}},
        {"annotations",
         {{"kubernetes.io/config.source", "api"},
          {"kubectl.kubernetes.io/last-applied-configuration", std::string(1100, 'a')}}},
        {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                          {"kind", "ReplicaSet"},
                                          {"name", "sensor-gateway-7d9f8c"},
                                          {"uid", "5b1e3c4d-0000-4000-8000-000000000001"},
                                          {"controller", true}}})}}},
      {"spec",
       {{"nodeName", "edge-1"},
        {"restartPolicy", "Always"},
        {"containers",
         json::array({{{"name", "gateway"},
                       {"image", "registry.example.com/iot/sensor-gateway:1.4.2"},
                       {"env", env},
                       {"ports", json::array({{{"containerPort", 8080}, {"protocol", "TCP"}}})},
                       {"resources",
                        {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}},
                         {"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}},
                       {"volumeMounts",
                        json::array({{{"name", "config"}, {"mountPath", "/etc/gateway"}}})}}})},
        {"volumes",
         json::array({{{"name", "config"}, {"configMap", {{"name", "gateway-config"}}}}})}}},
      {"status",
       {{"phase", "Running"},
        {"hostIP", "192.168.1.20"},
        {"podIP", "10.88.0.12"},
        {"conditions", conditions}}}};
  return pod.dump();
}

std::string tempDb() {
  std::string tmpl = (fs::temp_directory_path() / "metastore-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::abort();
  }
  return tmpl + "/edgecore.db";
}

std::unique_ptr<MetaStore> openStore(const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  auto store = openSqliteMetaStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().toString().c_str());
    std::abort();
  }
  return std::move(*store);
}

WriteOp upsert(const std::string& name, uint64_t rv) {
  WriteOp op{};
  op.kind = WriteOp::Kind::UpsertObject;
  op.object_key.gvr = kPods;
  op.value = podJson(name, rv);
  return op;
}

// Each iteration submits 1000 single-pod batches (as 1000 cloud messages would) and waits for
// all their acknowledgements.
void BM_IngestPods(benchmark::State& state) {
  std::string path = tempDb();
  auto store = openStore(path);
  std::vector<WriteOp> ops;
  for (int i = 0; i < 1000; ++i) {
    ops.push_back(upsert("pod-" + std::to_string(i), i + 1));
  }
  std::mutex mu;
  std::condition_variable cv;
  size_t acked = 0;
  for (auto _ : state) {
    {
      std::lock_guard lock(mu);
      acked = 0;
    }
    for (const WriteOp& op : ops) {
      Status st = store->submit({op}, [&](Status s) {
        if (!s.ok()) {
          std::abort();
        }
        std::lock_guard lock(mu);
        ++acked;
        cv.notify_one();
      });
      if (!st.ok()) {
        std::abort();
      }
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return acked == ops.size(); });
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops.size()));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * ops.size() * ops[0].value.size()));
  auto stats = store->stats();
  state.counters["ops_per_txn"] = static_cast<double>(stats.ops) / stats.transactions;
  state.counters["pod_bytes"] = static_cast<double>(ops[0].value.size());
  store.reset();
  fs::remove_all(fs::path(path).parent_path());
}
BENCHMARK(BM_IngestPods)->Unit(benchmark::kMillisecond)->UseRealTime();

long rssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

struct Loaded {
  std::string path;
  std::unique_ptr<MetaStore> store;
  long rss_delta_kib = 0;
};

// 1000 pods written once, then loaded by a fresh open (as at startup).
Loaded& loaded() {
  static Loaded* l = [] {
    auto* out = new Loaded;
    out->path = tempDb();
    {
      auto store = openStore(out->path);
      std::vector<WriteOp> ops;
      for (int i = 0; i < 1000; ++i) {
        ops.push_back(upsert("pod-" + std::to_string(i), i + 1));
      }
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      (void)store->submit(std::move(ops), [&](Status) {
        std::lock_guard lock(mu);
        done = true;
        cv.notify_one();
      });
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done; });
    }
    malloc_trim(0);  // hand back what writing freed, so the figure is the load alone
    long before = rssKiB();
    out->store = openStore(out->path);
    out->rss_delta_kib = rssKiB() - before;
    std::fprintf(stderr, "RSS of opening a store with 1000 pods: +%ld KiB (VmRSS now %ld KiB)\n",
                 out->rss_delta_kib, rssKiB());
    return out;
  }();
  return *l;
}

void BM_GetObject(benchmark::State& state) {
  auto& store = *loaded().store;
  size_t i = 0;
  std::vector<ObjectKey> keys;
  for (int n = 0; n < 1000; ++n) {
    keys.push_back({kPods, "default", "pod-" + std::to_string(n)});
  }
  for (auto _ : state) {
    auto obj = store.getObject(keys[i++ % keys.size()]);
    benchmark::DoNotOptimize(obj);
  }
  state.counters["rss_delta_kib"] = static_cast<double>(loaded().rss_delta_kib);
}
BENCHMARK(BM_GetObject)->ThreadRange(1, 4);

void BM_ListObjects1000(benchmark::State& state) {
  auto& store = *loaded().store;
  for (auto _ : state) {
    uint64_t rev = 0;
    auto list = store.listObjects(kPods, "default", &rev);
    if (list.size() != 1000) {
      std::abort();
    }
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(BM_ListObjects1000)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 4);

}  // namespace
}  // namespace edgecore::metamanager

BENCHMARK_MAIN();
