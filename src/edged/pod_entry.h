#pragma once

// One pod as edged keeps it (the pod table EdgedModule owns, by uid): the API object, its plan,
// what the runtime shows, probe results, deletion and status bookkeeping. The parts (pod worker,
// status reporter, probe runner) read and update entries on the module strand; nothing here is
// thread-safe. Also the small JSON readers they share.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "pod_logic.h"
#include "pod_model.h"
#include "podplan/pod_plan.h"
#include "probe/prober.h"

namespace edgecore::edged {

using json = nlohmann::json;

// JSON readers that never throw.
namespace json_read {

// The string member `key` of `j`, "" when missing or not a string.
inline std::string str(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) {
    return j[key].get<std::string>();
  }
  return "";
}

inline const json& sub(const json& j, const char* key) {
  static const json kNull;
  if (j.is_object() && j.contains(key)) {
    return j[key];
  }
  return kNull;
}

inline std::optional<int64_t> intField(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) {
    return j[key].get<int64_t>();
  }
  return std::nullopt;
}

// Pod JSON from a bus message element: an object, or a string holding one.
inline std::optional<json> asPod(const json& v) {
  if (v.is_object()) {
    return v;
  }
  if (v.is_string()) {
    json p = json::parse(v.get<std::string>(), nullptr, false);
    if (p.is_object()) {
      return p;
    }
  }
  return std::nullopt;
}

// What in a pod makes the plan stale: spec, labels, annotations.
inline std::string planFingerprint(const json& pod) {
  json f = json::object();
  f["spec"] = sub(pod, "spec");
  f["labels"] = sub(sub(pod, "metadata"), "labels");
  f["annotations"] = sub(sub(pod, "metadata"), "annotations");
  return f.dump();
}

}  // namespace json_read

// The DeleteOptions of the kubelet's final deletes (pods, mirror pods): grace period 0 and a
// precondition on the uid, so a newer object of the same name survives.
inline json deleteOptionsForUid(const std::string& uid) {
  return {{"kind", "DeleteOptions"},
          {"apiVersion", "v1"},
          {"gracePeriodSeconds", 0},
          {"preconditions", {{"uid", uid}}}};
}

struct PodEntry {
  std::string uid;
  std::string ns;
  std::string name;
  json pod;
  bool is_static = false;
  // Static pods: the uid of the mirror pod the API server holds for it ("" = none known yet).
  std::string mirror_uid;
  bool mirror_in_flight = false;
  // The mirror could not reach the cloud (offline): metamanager keeps a local copy with the
  // static pod's uid, and the status goes onto it until the cloud's mirror is known.
  bool mirror_local_only = false;
  std::chrono::steady_clock::time_point next_mirror_try{};
  std::string fingerprint;
  std::shared_ptr<const PodPlan> plan;
  std::optional<PlanError> plan_error;
  PodRuntime runtime;
  bool runtime_known = false;
  std::map<std::string, WaitingReason> waiting;
  std::map<std::string, ProbeState> probes;
  struct ProberSlot {
    std::string container_id;
    std::shared_ptr<ContainerProber> prober;
  };
  std::map<std::string, ProberSlot> probers;  // by container name, for the running instance
  bool syncing = false;
  bool dirty = false;
  // The fingerprint the running sync started from: a spec that changed meanwhile makes its plan
  // stale, so finishSync drops that plan instead of keeping it over the new spec.
  std::string syncing_fingerprint;
  bool terminal = false;
  // Deletion.
  bool deleting = false;
  int64_t grace_seconds = 30;
  bool api_delete = false;  // ask the cloud to delete it once terminated (graceful delete)
  bool terminated = false;  // containers gone; waiting for the API delete to be accepted
  std::chrono::steady_clock::time_point next_api_delete{};
  // Status.
  WallTime start_time{};
  json status;
  // The last accepted patch: its target uid and status. Compared (not re-encoded) against the
  // current status after every relist, so 110 unchanged pods cost no JSON encoding per second.
  struct SentStatus {
    std::string target;
    json status;
    void clear() {
      target.clear();
      status = nullptr;
    }
  };
  SentStatus last_sent;
  // Changes with every new pod object or status (touch()); 0 = never touched. publishPods
  // re-encodes only pods whose revision moved, instead of all of them after every relist.
  uint64_t revision = 0;
  bool send_in_flight = false;
  std::chrono::steady_clock::time_point next_send{};
  std::chrono::steady_clock::time_point next_volume_refresh{};
  // When a projected ServiceAccount token is due for a refresh (or a retry of one): the volumes
  // are written again then (token/token_manager.h). Unset: the pod has no such token.
  std::optional<std::chrono::steady_clock::time_point> token_refresh_at;
  // A pod waiting for a configmap or secret (FailedMount, CreateContainerConfigError) is
  // synced again after retry_delay: 1 s, doubling up to 10 s (the kubelet's pod worker
  // back-off), each time with the objects fetched anew.
  std::chrono::steady_clock::time_point next_retry{};
  std::chrono::milliseconds retry_delay{0};
};

// Marks a change of e.pod or e.status: a revision no entry has had before (unique across
// entries, so a pod removed and added again with the same uid is never taken as unchanged).
inline void touch(PodEntry& e) {
  static std::atomic<uint64_t> next{0};
  e.revision = ++next;
}

// True when the pod cannot (fully) start for want of a configmap/secret or a key in one.
inline bool waitsForObjects(const PodEntry& e) {
  if (e.plan_error) {
    return e.plan_error->reason == kReasonFailedMount;
  }
  if (!e.plan) {
    return false;
  }
  auto config_error = [](const std::vector<ContainerPlan>& list) {
    return std::any_of(list.begin(), list.end(), [](const ContainerPlan& c) {
      return c.error && c.error->reason == kReasonCreateContainerConfigError;
    });
  };
  return config_error(e.plan->init_containers) || config_error(e.plan->containers);
}

}  // namespace edgecore::edged
