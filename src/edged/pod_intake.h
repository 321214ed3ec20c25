#pragma once

// Pod intake decisions (spec/local-apis.md 6.2): what a pod message from metamanager asks for,
// which pods of a full set are this node's, a new pod table entry, an update that makes the plan
// stale, and when a graceful deletion starts with which grace period. EdgedModule::handle() and
// its add/update/remove steps call these on the module strand; they touch only what is passed.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "pod_entry.h"

namespace edgecore::edged {

// What a message to edged asks for.
struct PodMessage {
  enum class Kind {
    Ignore,     // not about pods
    Malformed,  // insert/update without a pod object
    Upsert,     // insert/update: add or update `pod`
    Delete,     // delete of `pod`
    Requery,    // delete without a spec (forced while offline): query the full set again
    FullSet,    // answer to the pod query: `pods` is the full set
    Unhold,     // unhold-upgrade of the pod `ns`/`name` (hold_upgrade.h)
  };
  Kind kind = Kind::Ignore;
  bool update = false;  // Upsert from an `update` (only those can be held)
  json pod;
  json pods;
  std::string ns;
  std::string name;
};
PodMessage classifyPodMessage(const core::Message& msg);

// The pods of a full set (objects or strings holding them) whose spec.nodeName is `node`.
std::vector<json> podsOfNode(const json& list, const std::string& node);

// metadata.deletionGracePeriodSeconds, else spec.terminationGracePeriodSeconds, else 30.
int64_t gracePeriodOf(const json& pod);

// uid, name and namespace ("default" when empty) of a pod.
struct PodKey {
  std::string uid;
  std::string name;
  std::string ns;
};
PodKey podKey(const json& pod);

// A table entry for a pod edged starts to run.
PodEntry newPodEntry(const PodKey& key, json pod, bool is_static,
                     std::chrono::system_clock::time_point now);

// Takes a newer version of the pod; true when its spec/labels/annotations changed, which drops
// the plan (rebuilt by the next sync) and the terminal state.
bool updatePodEntry(PodEntry& e, json pod);

// Graceful deletion through the API (metadata.deletionTimestamp set): true when it starts now.
bool startApiDeletion(PodEntry& e);

// The static pod named ns/name that is not being deleted, or null.
PodEntry* findStaticPod(std::map<std::string, PodEntry>& pods, const std::string& ns,
                        const std::string& name);

// How many of `pods` come from static manifests.
size_t staticPodCount(const std::map<std::string, PodEntry>& pods);

// Pods of one source (static manifests, or the cloud) that are not in `wanted` and not deleting
// yet: to remove after a full set or a manifest scan.
std::vector<json> missingPods(const std::map<std::string, PodEntry>& pods, bool is_static,
                              const std::set<std::string>& wanted);

}  // namespace edgecore::edged
