#pragma once

// The pod worker's steps (kubelet pod workers): when a sync may start and what it asks of the
// runtime (beginSync), the configmaps/secrets it fetches from metamanager first
// (fetchReferencedObjects), how its result updates the pod (finishSync: plan errors, the
// 1 s -> 10 s retry while a configmap/secret is missing, runtime view, terminal state), and the
// final delete confirmed to the cloud (confirmPodDeleted). EdgedModule keeps one worker per pod:
// it calls beginSync, runs PodRuntimeManager::syncPod on the CRI pool, then finishSync; all on its
// strand.

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edgecore/core/bus.h"
#include "edgecore/core/config.h"
#include "node/node_status.h"
#include "pod_entry.h"
#include "pod_runtime.h"
#include "podplan/pod_plan.h"

namespace edgecore::edged {

// What every sync needs from edged's configuration and the host (devices are added by the
// module).
SyncSettings syncSettingsOf(const core::EdgedConfig& cfg, const std::string& host_ip,
                            const HostFacts& host, ObjectSource* objects);

struct PodSync {
  SyncRequest request;
  bool fetch_objects = false;  // ask metamanager for the pod's configmaps/secrets first
};

// A sync of `e` to start now, or nothing: one is running (then `e` is marked to sync once more
// after it), the pod is gone from the runtime for good, or admission refused it (it stays
// Failed, like the kubelet). Marks `e` syncing. Volumes are refreshed every `sync_frequency`
// (at least 10 s).
std::optional<PodSync> beginSync(PodEntry& e, std::chrono::steady_clock::time_point now,
                                 std::chrono::nanoseconds sync_frequency);

struct SyncOutcome {
  std::vector<PodEvent> events;  // to record, in order
  bool terminated = false;       // a deletion finished: every container and the sandbox gone
};

// Takes the result of a sync into `e` (no longer syncing) and logs a new plan error or a
// runtime failure.
SyncOutcome finishSync(PodEntry& e, SyncResult& r, spdlog::logger& log,
                       std::chrono::steady_clock::time_point now);

// Asks metamanager for each configmap/secret in `refs`, as the original's edged does through its
// metaclient: metamanager queries the cloud while connected (and stores the answer), and
// answers from the store while offline. An answer that says nothing about the object leaves it
// to the store. At most min(timeout, 10 s) per object.
boost::asio::awaitable<FetchedObjects> fetchReferencedObjects(core::Bus& bus,
                                                              std::chrono::milliseconds timeout,
                                                              std::string ns,
                                                              std::vector<ObjectRef> refs);

// What a relist means for a pod that is not syncing.
struct RelistVerdict {
  bool sync = false;           // there is work: a back-off ended, a container exited...
  bool update_status = false;  // recompute the status (not while deleting)
  // Containers newly waiting in a back-off (CrashLoopBackOff...): the pod's new `waiting`.
  std::optional<std::map<std::string, WaitingReason>> back_off;
};

// Takes the runtime view `rt` from the relist into `e` and decides, like the kubelet's PLEG
// + pod worker: a deleting pod syncs until terminated, a pod waiting for a configmap/secret
// syncs when its retry time came, a pod without a plan syncs to build one, a running pod syncs
// when computePodActions has work.
RelistVerdict afterRelist(PodEntry& e, PodRuntime rt, const RestartBackoff& backoff, WallTime now,
                          std::chrono::steady_clock::time_point steady_now,
                          int max_dead_per_container);

// Pods in the runtime that edged does not keep (nor is removing already) and whose sandboxes
// carry this node's label: left over from pods deleted while edgecore was down. Sandboxes of
// other agents on the same containerd are not ours.
std::vector<std::string> orphanPods(const RuntimeSnapshot& snapshot,
                                    const std::map<std::string, PodEntry>& pods,
                                    const std::set<std::string>& in_flight,
                                    const std::string& node);

// One try of the kubelet's final delete (`delete <ns>/pod/<name>`, grace period 0, UID
// precondition; spec 6.5): OK when the cloud accepted it, else why not.
boost::asio::awaitable<core::Status> confirmPodDeleted(core::Bus& bus,
                                                       std::chrono::milliseconds timeout,
                                                       std::string ns, std::string name,
                                                       std::string uid);

}  // namespace edgecore::edged
