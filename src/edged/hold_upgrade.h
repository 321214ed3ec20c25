#pragma once

// Hold upgrade (KubeEdge v1.22, docs/node-tasks.md section 5): a cloud update of a pod annotated
// edge.kubeedge.io/hold-upgrade: "true" whose status.phase (as sent) is Pending is not applied.
// It waits here, in arrival order per "<ns>/<name>", until an `unhold-upgrade` message (from
// MetaServer, keadm ctl unhold-upgrade) releases it; the running pod keeps its old spec and
// containers meanwhile. Like KubeEdge this lives in memory only: after an edgecore restart the
// rule is applied again to the pods read from the store (held pods are left out of the set).
// Used by EdgedModule on its strand; no locking.

#include <spdlog/logger.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "edgecore/core/bus.h"
#include "pod_entry.h"
#include "pod_intake.h"

namespace edgecore::edged {

inline constexpr const char* kHoldUpgradeAnnotation = "edge.kubeedge.io/hold-upgrade";

// Whether `pod` is one whose update waits: no deletionTimestamp, the annotation exactly "true",
// status.phase "Pending".
bool holdsUpgrade(const json& pod);

// The content of the HeldUpgrade condition patch edged sends when it holds an update (a JSON
// string, as KubeEdge sends it).
std::string heldUpgradePatch(std::chrono::system_clock::time_point now);

class HeldUpgrades {
 public:
  static constexpr size_t kMaxPods = 1000;  // pods with held updates
  static constexpr size_t kMaxPerPod = 16;  // updates kept per pod (the oldest go first)

  HeldUpgrades(core::Bus& bus, std::shared_ptr<spdlog::logger> log);

  // A pod from the cloud (insert or update). True when it is held: kept here and the HeldUpgrade
  // condition sent. Inserts are never held. When it is not held, updates held earlier for that
  // pod are older than it and are dropped (KubeEdge would replay them later, over the newer one).
  bool intercept(const json& pod, bool is_update);

  // A full set read from the store: the pods to apply. Held ones (KubeEdge's startup rule) are
  // kept here instead, their uids added to `wanted` so a held pod that runs keeps running.
  std::vector<json> filterSet(std::vector<json> pods, std::set<std::string>& wanted);

  // An Upsert (through intercept) or an Unhold (through release) message: the pods to apply now.
  std::vector<json> admit(PodMessage m);

  // unhold-upgrade of ns/name: what was held, oldest first, and forgets it.
  std::vector<json> release(const std::string& ns, const std::string& name);

  // A delete of the pod: nothing of it is replayed later.
  void forget(const json& pod);

  // `in_flight` plus the uids of held pods: their running containers are no orphans (after a
  // restart a held pod is not in the pod table but keeps running).
  std::set<std::string> notOrphans(const std::set<std::string>& in_flight) const;

  size_t size() const { return held_.size(); }

 private:
  bool keep(const json& pod, const std::string& key);

  core::Bus& bus_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::string, std::vector<json>> held_;  // "<ns>/<name>" -> pods, oldest first
};

}  // namespace edgecore::edged
