#pragma once

// The kubelet's decisions for one pod, as pure functions (no I/O, any thread): what to do next
// given the plan and what the runtime runs (kuberuntime_manager.go computePodActions @ v1.30.7),
// and the PodStatus to report (kubelet_pods.go generateAPIPodStatus / getPhase, status manager
// conditions).

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pod_model.h"
#include "podplan/pod_plan.h"

namespace edgecore::edged {

using WallTime = std::chrono::system_clock::time_point;

struct PodActions {
  bool terminal = false;  // Succeeded/Failed: never start anything again
  bool kill_pod = false;  // stop every container and the sandbox first
  bool create_sandbox = false;
  uint32_t sandbox_attempt = 0;
  std::string sandbox_id;  // the sandbox to start containers in when !create_sandbox

  struct Kill {
    std::string id;
    std::string name;
    std::string reason;
  };
  std::vector<Kill> kill;  // running containers to stop (spec changed, liveness failed)

  struct Start {
    bool init = false;
    size_t index = 0;  // into plan.init_containers or plan.containers
    uint32_t attempt = 0;
    bool restart = false;  // a previous container of this name exists (counts for back-off)
  };
  std::vector<Start> start;  // in order; init containers one at a time

  std::map<std::string, WaitingReason> waiting;  // containers held back (CrashLoopBackOff)
  std::optional<WallTime> retry_at;              // earliest end of a back-off
  // Ids of exited containers and dead sandboxes to remove (garbage beyond the per-pod limit).
  std::vector<std::string> remove_containers;
  std::vector<std::string> remove_sandboxes;

  bool hasWork() const {
    return kill_pod || create_sandbox || !kill.empty() || !start.empty() ||
           !remove_containers.empty() || !remove_sandboxes.empty();
  }
};

// Back-off keys: "<uid>/<container name>".
std::string backoffKey(const std::string& uid, const std::string& container);

// `probes` by container name. `max_dead_per_container` = maxPerPodContainerCount.
PodActions computePodActions(const PodPlan& plan, const PodRuntime& rt,
                             const std::map<std::string, ProbeState>& probes,
                             const RestartBackoff& backoff, WallTime now,
                             int max_dead_per_container);

bool shouldRestart(RestartPolicy policy, int32_t exit_code);

struct StatusInputs {
  const nlohmann::json* pod = nullptr;  // the API pod
  const PodPlan* plan = nullptr;        // null when the plan could not be built
  std::optional<PlanError> pod_error;   // why there is no plan (or a FailedMount)
  const PodRuntime* runtime = nullptr;
  const std::map<std::string, ProbeState>* probes = nullptr;      // by container name
  const std::map<std::string, WaitingReason>* waiting = nullptr;  // by container name
  std::string host_ip;
  WallTime now;
  WallTime start_time;
  const nlohmann::json* previous = nullptr;  // the last status computed (keeps transition times)
  bool terminal = false;                     // the pod reached Succeeded/Failed
};

// The v1.PodStatus JSON.
nlohmann::json computePodStatus(const StatusInputs& in);

// The strategic-merge patch the kubelet sends for `status` (metadata.uid precondition,
// $setElementOrder for conditions), as a JSON document; spec/local-apis.md 6.5.
nlohmann::json podStatusPatch(const std::string& uid, const nlohmann::json& status);

WallTime fromUnixNanos(int64_t ns);

}  // namespace edgecore::edged
