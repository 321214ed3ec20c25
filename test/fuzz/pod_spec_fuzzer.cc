// libFuzzer target for edged's pod spec parsing (src/edged/podplan): a Pod JSON from the cloud
// through buildPodPlan (env and envFrom, $(VAR) expansion, downward API, volumes and mounts with
// subPath, probes and lifecycle handlers, resource quantities, security context) with configmaps
// and secrets from an in-memory source, then prepareVolumes writing the volumes for real under a
// temporary root on tmpfs (hostPath volumes turned into emptyDirs first, so nothing is created
// outside it), then removePodDir. Every quantity string of the pod also goes through
// parseQuantityMilli / parseQuantityValue.
//
// Input: the Pod JSON text.
// Checks: no crash, no sanitizer report, no exception; a refusal is InvalidArgument with a known
// "<reason>: <message>"; every mount of a plan lands inside the pod directory or inside a
// hostPath volume's path (no ".." escape through subPath or names); prepareVolumes writes only
// under <root>/pods/<uid>/ and creates no symlink; removePodDir leaves <root>/pods empty; the two
// quantity parsers agree with each other.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/message.h"
#include "podplan/plan_util.h"
#include "podplan/pod_plan.h"

namespace {

namespace ed = edgecore::edged;
namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "pod_spec invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

class MapSource final : public ed::ObjectSource {
 public:
  ed::Result<json> getConfigMap(std::string_view ns, std::string_view name) override {
    if (ns == "default" && name == "app-config") {
      return json{{"metadata", {{"name", "app-config"}, {"namespace", "default"}}},
                  {"data", {{"mode", "fast"}, {"config.yaml", "a: 1\n"}, {"LEVEL", "debug"}}},
                  {"binaryData", {{"blob", "AAECAw=="}}}};
    }
    return ed::notFound("configmap not found");
  }
  ed::Result<json> getSecret(std::string_view ns, std::string_view name) override {
    if (ns == "default" && name == "app-secret") {
      return json{{"metadata", {{"name", "app-secret"}, {"namespace", "default"}}},
                  {"data", {{"password", "c2VjcmV0"}, {"TOKEN", "dG9rZW4="}}}};
    }
    return ed::notFound("secret not found");
  }
};

struct World {
  World() {
    base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    base /= "edgecore-fuzz-podspec-" + std::to_string(::getpid());
    fs::remove_all(base);
    fs::create_directories(base / "root");
    in.objects = &source;
    in.node_name = "node-1";
    in.host_ip = "10.0.0.2";
    in.pod_ips = {"10.88.0.5"};
    in.root_directory = (base / "root").string();
    in.pod_logs_dir = (base / "root" / "logs").string();
    in.resolv_conf = "";
    in.host_etc_hosts = "";
    in.cluster_dns = {"10.96.0.10"};
    in.node_memory_capacity_bytes = int64_t{8} << 30;
    in.node_cpu_milli = 4000;
    in.max_volume_bytes = 64 * 1024;  // small, so the bound is reachable
  }
  fs::path base;
  MapSource source;
  ed::PlanInputs in;
};

bool within(const fs::path& p, const fs::path& dir) {
  fs::path np = p.lexically_normal();
  fs::path nd = dir.lexically_normal();
  auto [a, b] = std::mismatch(nd.begin(), nd.end(), np.begin(), np.end());
  return a == nd.end() || (std::next(a) == nd.end() && a->empty());
}

void checkRefusal(const ed::Status& st) {
  if (st.code() != edgecore::core::StatusCode::InvalidArgument) {
    fail("a refused pod is not InvalidArgument", st.toString());
  }
  ed::PlanError e = ed::planErrorFromStatus(st);
  if (e.reason.empty() || e.message.empty()) {
    fail("a refusal without reason and message", st.toString());
  }
}

// Every "quantity-looking" string under resources/limits/requests/sizeLimit/divisor.
void checkQuantities(const json& j, int depth) {
  if (depth > 64) {
    return;
  }
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if ((k == "limits" || k == "requests") && it->is_object()) {
        for (const auto& q : *it) {
          if (q.is_string()) {
            auto milli = ed::parseQuantityMilli(q.get<std::string>());
            auto value = ed::parseQuantityValue(q.get<std::string>());
            if (milli.ok() && !value.ok()) {
              fail("a quantity parses in milli but not as a value", q.get<std::string>());
            }
            if (milli.ok() && value.ok() && *value > 0 &&
                *value < std::numeric_limits<int64_t>::max() / 1000 &&
                (*milli > *value * 1000 || *milli <= (*value - 1) * 1000)) {
              fail("milli and value disagree", q.get<std::string>());
            }
          }
        }
      }
      checkQuantities(*it, depth + 1);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) {
      checkQuantities(e, depth + 1);
    }
  }
}

void checkMounts(const ed::PodPlan& plan, const json& pod, const ed::PlanInputs& in) {
  std::vector<fs::path> allowed = {fs::path(plan.pod_dir)};
  auto vols = ed::plan::podVolumes(pod, in);
  if (vols.ok()) {
    for (const auto& v : *vols) {
      if (v.type == "hostPath") {
        allowed.emplace_back(v.host_path);
      } else if (!within(v.host_path, plan.pod_dir)) {
        fail("a volume outside the pod directory", v.host_path);
      }
    }
  }
  for (const auto* list : {&plan.init_containers, &plan.containers}) {
    for (const auto& c : *list) {
      for (const auto& m : c.mounts) {
        if (m.container_path.empty()) {
          fail("a mount without a container path", c.name);
        }
        bool ok = false;
        for (const auto& a : allowed) {
          ok = ok || within(m.host_path, a);
        }
        if (!ok) {
          fail("a mount escapes its volume", m.host_path);
        }
      }
    }
  }
}

// hostPath volumes become emptyDirs, so prepareVolumes never touches the real host.
json withoutHostPaths(json pod) {
  if (pod.contains("spec") && pod["spec"].is_object() && pod["spec"].contains("volumes") &&
      pod["spec"]["volumes"].is_array()) {
    for (auto& v : pod["spec"]["volumes"]) {
      if (v.is_object() && v.contains("hostPath")) {
        v.erase("hostPath");
        v["emptyDir"] = json::object();
      }
    }
  }
  return pod;
}

void checkTree(const World& w, const std::string& uid) {
  for (const auto& e : fs::directory_iterator(w.base)) {
    if (e.path().filename() != "root") {
      fail("prepareVolumes wrote outside the root", e.path().string());
    }
  }
  const fs::path root = w.base / "root";
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.path().filename() != "pods") {
      fail("prepareVolumes wrote outside <root>/pods", e.path().string());
    }
  }
  if (!fs::exists(root / "pods")) {
    return;
  }
  for (const auto& e : fs::directory_iterator(root / "pods")) {
    if (e.path().filename() != uid) {
      fail("prepareVolumes wrote into another pod's directory", e.path().string());
    }
  }
  for (const auto& e : fs::recursive_directory_iterator(root / "pods")) {
    if (e.is_symlink()) {
      fail("prepareVolumes created a symlink", e.path().string());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = [] {
    auto* w = new World();
    static std::string dir = w->base.string();
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
    return w;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json pod = edgecore::core::parseJsonBounded(text);
  if (pod.is_discarded()) {
    return 0;
  }
  checkQuantities(pod, 0);
  auto plan = ed::buildPodPlan(pod, world->in);
  if (!plan.ok()) {
    checkRefusal(plan.status());
    return 0;
  }
  if (!within(plan->pod_dir, fs::path(world->in.root_directory) / "pods") ||
      plan->pod_dir == world->in.root_directory + "/pods") {
    fail("the pod directory is not one level under <root>/pods", plan->pod_dir);
  }
  checkMounts(*plan, pod, world->in);
  json local = withoutHostPaths(pod);
  auto local_plan = ed::buildPodPlan(local, world->in);
  if (!local_plan.ok()) {
    checkRefusal(local_plan.status());
    return 0;
  }
  ed::Status st = ed::prepareVolumes(local, *local_plan, world->in);
  if (!st.ok()) {
    ed::PlanError e = ed::planErrorFromStatus(st);
    if (e.reason.empty()) {
      fail("a volume failure without a reason", st.toString());
    }
  }
  checkTree(*world, local_plan->sandbox.uid);
  ed::Status rm = ed::removePodDir(world->in.root_directory, local_plan->sandbox.uid);
  if (!rm.ok()) {
    fail("removePodDir failed on a planned uid", rm.toString());
  }
  std::error_code ec;
  if (fs::exists(fs::path(world->in.root_directory) / "pods" / local_plan->sandbox.uid, ec)) {
    fail("removePodDir left the pod directory", local_plan->sandbox.uid);
  }
  return 0;
}
