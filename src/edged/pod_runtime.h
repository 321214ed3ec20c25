#pragma once

// The blocking half of edged: reading what containerd runs (relist) and carrying out one pod's
// sync (kuberuntime SyncPod / KillPod) through the CRI client. Every method blocks on CRI calls:
// call it from edged's CRI worker pool, never from a strand. Thread-safe: different pods may sync
// at the same time; one pod is synced by one thread at a time (edged's pod workers ensure it).

#include <spdlog/logger.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "deviceplugin/device_manager.h"
#include "edgecore/core/config.h"
#include "edgecore/cri/cri_client.h"
#include "event_recorder.h"
#include "pod_logic.h"
#include "pod_model.h"
#include "podplan/pod_plan.h"
#include "podplan/sa_token.h"

namespace edgecore::edged {

// All pods the runtime knows (sandboxes/containers carrying io.kubernetes.pod.uid), by uid.
using RuntimeSnapshot = std::map<std::string, PodRuntime>;

struct SyncSettings {
  std::string node_name;
  int max_dead_per_container = 1;  // maxPerPodContainerCount
  PlanInputs plan_inputs;          // node facts and directories for buildPodPlan
  // Device plugins (src/edged/deviceplugin): admission + allocation before the first start,
  // applied to every container config; null = none. Must outlive the manager.
  deviceplugin::DeviceManager* devices = nullptr;
  // memory.oom.group=1 in every container's unified resources: the container is OOM-killed as a
  // whole (cgroup v2 with singleProcessOOMKill false or unset; oomGroupKill in cgroup_policy.h).
  bool oom_group_kill = false;
};

struct SyncRequest {
  nlohmann::json pod;
  std::shared_ptr<const PodPlan> plan;  // null: build it (and write the volumes) first
  bool refresh_volumes = false;         // rewrite configmap/secret volumes
  // The configmaps and secrets fetched for this sync (in front of the store); null: the store.
  std::shared_ptr<ObjectSource> objects;
  // The tokens of projected serviceAccountToken sources fetched for this sync; null: none.
  std::shared_ptr<ServiceAccountTokenSource> tokens;
  bool terminate = false;  // kill everything and remove it (pod deleted)
  int64_t grace_seconds = 30;
  std::map<std::string, ProbeState> probes;  // by container name
};

struct SyncResult {
  std::shared_ptr<const PodPlan> plan;  // the plan used (null when it could not be built)
  std::optional<PlanError> plan_error;  // pod-level failure (InvalidPodSpec, FailedMount...)
  PodRuntime runtime;                   // read again after the actions
  bool runtime_read = false;
  std::map<std::string, WaitingReason> waiting;  // by container name, from this sync
  std::set<std::string> started;                 // containers started by this sync
  std::optional<WallTime> retry_at;              // a back-off ends then: sync again
  bool terminal = false;                         // Succeeded/Failed: nothing will run again
  bool terminated = false;                       // terminate request done: all removed
  core::Status error;                            // a runtime failure (sandbox could not start...)
  // What the kubelet would have recorded as events during this sync, in order (the target's
  // resource_version is left for the caller to fill in).
  std::vector<PodEvent> events;
};

class PodRuntimeManager {
 public:
  PodRuntimeManager(cri::CriClient& cri, SyncSettings settings, RestartBackoff& backoff,
                    std::shared_ptr<spdlog::logger> log);

  // Lists every pod in the runtime. Container details (exit codes, times) come from a cache
  // refreshed when a container's state changes.
  core::Result<RuntimeSnapshot> relist();
  // One pod's containers and sandboxes.
  core::Result<PodRuntime> listPod(const std::string& uid);
  // Does what computePodActions says for `req.pod` (or kills it when terminating).
  SyncResult syncPod(const SyncRequest& req);
  // Stops and removes everything of `uid` (an orphan: no pod wants it any more).
  core::Status removePod(const std::string& uid, int64_t grace_seconds);
  // Runs `cmd` in a container (exec probes, hooks).
  core::Result<runtimeapi::ExecSyncResponse> exec(const std::string& container_id,
                                                  const std::vector<std::string>& cmd,
                                                  int64_t timeout_seconds);

  // Builds the sandbox / container configs from a plan (exposed for tests).
  runtimeapi::PodSandboxConfig sandboxConfig(const PodPlan& plan, uint32_t attempt) const;
  runtimeapi::ContainerConfig containerConfig(const ContainerPlan& c) const;

 private:
  core::Result<PodRuntime> collect(const std::vector<runtimeapi::PodSandbox>& sandboxes,
                                   const std::vector<runtimeapi::Container>& containers,
                                   RuntimeSnapshot* all, const std::string& only_uid);
  void killContainers(const PodPlan* plan, const std::vector<PodActions::Kill>& kills,
                      int64_t grace_seconds);
  // syncPod's steps.
  void terminatePod(const std::string& uid, const PodPlan* plan, int64_t grace_seconds,
                    SyncResult& out);
  void killForActions(const PodPlan& plan, const PodRuntime& rt, const PodActions& a,
                      SyncResult& out);
  bool runSandbox(const SyncRequest& req, const PlanInputs& inputs,
                  const runtimeapi::PodSandboxConfig& sb, uint32_t sandbox_attempt,
                  std::shared_ptr<const PodPlan>& plan, std::string& sandbox_id, SyncResult& out);
  void removeDead(const PodActions& a);
  void stopOne(const PodPlan* plan, const std::string& id, const std::string& name,
               int64_t grace_seconds);
  // Ensures the image is present per pull policy; false + waiting reason when not.
  bool ensureImage(const PodPlan& plan, const ContainerPlan& c,
                   const runtimeapi::PodSandboxConfig& sandbox, SyncResult& out);
  bool startContainer(const PodPlan& plan, ContainerPlan c, uint32_t attempt, bool restart,
                      const std::string& sandbox_id, const runtimeapi::PodSandboxConfig& sandbox,
                      SyncResult& out);

  // Appends an event about container `container` ("" = the pod) of `plan` to out.events.
  static void addEvent(SyncResult& out, const PodPlan& plan, const std::string& container,
                       bool warning, const char* reason, std::string message);
  static void addKillEvents(SyncResult& out, const PodPlan* plan,
                            const std::vector<PodActions::Kill>& kills);

  cri::CriClient& cri_;
  SyncSettings settings_;
  RestartBackoff& backoff_;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex cache_mu_;
  struct CachedContainer {
    ContainerRunState state;
    ContainerView view;
  };
  std::map<std::string, CachedContainer> container_cache_;  // by id
  struct CachedSandbox {
    bool host_network = false;
    std::string ip;
  };
  std::map<std::string, CachedSandbox> sandbox_cache_;  // by id (immutable facts)
};

// The CRI client settings of modules.edged (runtime/image endpoints, runtimeRequestTimeout).
cri::CriClientOptions criClientOptions(const core::EdgedConfig& cfg);

}  // namespace edgecore::edged
