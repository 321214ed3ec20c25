// libFuzzer target for CRI runtime.v1 replies turned into edged's types and then into the pod
// status (src/edged/runtime_view.cc, pod_logic.cc): arbitrary bytes parsed as
// ListPodSandboxResponse, ListContainersResponse, PodSandboxStatusResponse and
// ContainerStatusResponse, converted the way PodRuntimeManager::collect does (the
// ContainerStatus applied to every listed container, the sandbox status to every ready sandbox),
// then computePodActions and computePodStatus for a fixed pod (an init container, two
// containers with probes) and its status patch.
//
// Input layout (FuzzedDataProvider): flags byte (restart policy, which containers passed their
// probes, whether the status was computed before), the four messages as length-prefixed byte
// strings, the rest is the "now" offset.
// Checks: no crash, no sanitizer report, no exception; views copy what they must; both runtime
// lists are newest first; the status has a known phase, one containerStatus per container with
// exactly one state, and encodes to JSON (the bus codec and json::dump both); actions only name
// containers of the plan and runtime ids.

#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"
#include "pod_logic.h"
#include "runtime_view.h"

namespace {

namespace ed = edgecore::edged;
namespace runtimeapi = ::runtime::v1;
using nlohmann::json;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "cri_reply invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

json podJson(const char* policy) {
  json probe = {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 5}};
  return {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", "uid-1"}}},
          {"spec",
           {{"restartPolicy", policy},
            {"initContainers", json::array({{{"name", "init"}, {"image", "busybox:1"}}})},
            {"containers", json::array({{{"name", "app"},
                                         {"image", "busybox:1"},
                                         {"readinessProbe", probe},
                                         {"startupProbe", probe}},
                                        {{"name", "side"}, {"image", "busybox:1"}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

struct Fixture {
  json pods[3] = {podJson("Always"), podJson("OnFailure"), podJson("Never")};
  ed::PodPlan plans[3];
  Fixture() {
    ed::PlanInputs in;
    in.node_name = "node-1";
    in.host_ip = "10.0.0.2";
    in.pod_ips = {"10.88.0.5"};
    for (int i = 0; i < 3; ++i) {
      auto p = ed::buildPodPlan(pods[i], in);
      if (!p.ok()) {
        fail("the fixed pod does not plan", p.status().toString());
      }
      plans[i] = std::move(*p);
    }
  }
};

template <typename M>
M parseMessage(FuzzedDataProvider& in) {
  std::string bytes = in.ConsumeRandomLengthString(16384);
  M m;
  if (!m.ParseFromString(bytes)) {
    m.Clear();  // the gRPC call fails: the real code never sees it; we carry on with nothing
  }
  return m;
}

void checkSorted(const ed::PodRuntime& rt) {
  for (size_t i = 1; i < rt.sandboxes.size(); ++i) {
    if (rt.sandboxes[i - 1].created_at < rt.sandboxes[i].created_at) {
      fail("sandboxes not newest first", "");
    }
  }
  for (size_t i = 1; i < rt.containers.size(); ++i) {
    if (rt.containers[i - 1].created_at < rt.containers[i].created_at) {
      fail("containers not newest first", "");
    }
  }
}

void checkStatus(const json& status, const ed::PodPlan& plan) {
  std::string text = edgecore::core::encodeJsonValue(status);
  if (!json::accept(text)) {
    fail("the pod status does not encode to JSON", text);
  }
  try {
    (void)status.dump();
  } catch (const std::exception& e) {
    fail("the pod status does not dump", e.what());
  }
  static const std::set<std::string> kPhases = {"Pending", "Running", "Succeeded", "Failed",
                                                "Unknown"};
  if (!status.is_object() || !status.contains("phase") || !status["phase"].is_string() ||
      !kPhases.count(status["phase"].get<std::string>())) {
    fail("the pod status has no known phase", text);
  }
  for (const auto& [key, want] :
       {std::pair<const char*, size_t>{"containerStatuses", plan.containers.size()},
        {"initContainerStatuses", plan.init_containers.size()}}) {
    if (!status.contains(key)) {
      continue;
    }
    const json& list = status[key];
    if (!list.is_array() || list.size() != want) {
      fail("not one status per container", text);
    }
    for (const json& cs : list) {
      if (!cs.contains("state") || !cs["state"].is_object() || cs["state"].size() != 1) {
        fail("a container status without exactly one state", cs.dump());
      }
    }
  }
}

}  // namespace

// Protobuf logs every string field with invalid UTF-8 it refuses; that is expected here.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fx = new Fixture();
  FuzzedDataProvider in(data, size);
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  const int policy = (flags & 3) % 3;
  auto sandboxes = parseMessage<runtimeapi::ListPodSandboxResponse>(in);
  auto containers = parseMessage<runtimeapi::ListContainersResponse>(in);
  auto sandbox_status = parseMessage<runtimeapi::PodSandboxStatusResponse>(in);
  auto container_status = parseMessage<runtimeapi::ContainerStatusResponse>(in);
  const int64_t now_offset_s = in.ConsumeIntegralInRange<int64_t>(-86400, 86400 * 365);

  // As PodRuntimeManager::collect: every item is taken as this pod's (the label filter is the
  // runtime's), sandbox status on ready sandboxes, container status on every container.
  ed::PodRuntime rt;
  const bool has_sandbox_status = sandbox_status.has_status();
  const bool has_container_status = container_status.has_status();
  for (const auto& s : sandboxes.items()) {
    ed::SandboxView v = ed::sandboxViewFromCri(s);
    if (v.id != s.id() || v.created_at != s.created_at()) {
      fail("a sandbox view lost its id or time", s.DebugString());
    }
    if (v.ready && has_sandbox_status) {
      ed::SandboxNetwork net = ed::sandboxNetworkFromCri(sandbox_status.status());
      v.host_network = net.host_network;
      v.ip = net.ip;
    }
    rt.sandboxes.push_back(std::move(v));
  }
  for (const auto& c : containers.containers()) {
    ed::ContainerView v = ed::containerViewFromCri(c);
    if (v.id != c.id() || v.sandbox_id != c.pod_sandbox_id()) {
      fail("a container view lost its ids", c.DebugString());
    }
    if (has_container_status) {
      ed::applyContainerStatus(container_status.status(), v);
      if (!v.detailed || v.exit_code != container_status.status().exit_code()) {
        fail("a container status was not applied", "");
      }
    }
    rt.containers.push_back(std::move(v));
  }
  ed::sortNewestFirst(rt);
  checkSorted(rt);

  const ed::PodPlan& plan = fx->plans[policy];
  std::map<std::string, ed::ProbeState> probes;
  for (const auto& c : rt.containers) {
    ed::ProbeState p;
    p.container_id = c.id;
    p.ready = (flags & 4) != 0;
    p.started = (flags & 8) != 0;
    p.liveness_failed = (flags & 16) != 0;
    probes[c.name] = p;
  }
  ed::RestartBackoff backoff(std::chrono::seconds(10), std::chrono::seconds(300));
  const ed::WallTime now =
      ed::WallTime(std::chrono::seconds(1714600000)) + std::chrono::seconds(now_offset_s);
  ed::PodActions actions = ed::computePodActions(plan, rt, probes, backoff, now, 1);
  std::set<std::string> runtime_ids;
  for (const auto& c : rt.containers) {
    runtime_ids.insert(c.id);
  }
  for (const auto& k : actions.kill) {
    if (!runtime_ids.count(k.id)) {
      fail("an action kills a container the runtime did not list", k.id);
    }
  }
  for (const auto& s : actions.start) {
    size_t n = s.init ? plan.init_containers.size() : plan.containers.size();
    if (s.index >= n) {
      fail("an action starts a container outside the plan", "");
    }
  }

  ed::StatusInputs si;
  si.pod = &fx->pods[policy];
  si.plan = &plan;
  si.runtime = &rt;
  si.probes = &probes;
  si.waiting = &actions.waiting;
  si.host_ip = "10.0.0.2";
  si.now = now;
  si.start_time = ed::WallTime(std::chrono::seconds(1714600000));
  si.terminal = actions.terminal;
  json status = ed::computePodStatus(si);
  checkStatus(status, plan);
  if ((flags & 32) != 0) {
    // Again with the first status as the previous one (transition times are carried over).
    si.previous = &status;
    json again = ed::computePodStatus(si);
    checkStatus(again, plan);
  }
  json patch = ed::podStatusPatch("uid-1", status);
  if (!json::accept(edgecore::core::encodeJsonValue(patch))) {
    fail("the status patch does not encode", "");
  }
  return 0;
}
