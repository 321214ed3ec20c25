// Pod intake decisions (see pod_intake.h). Called by EdgedModule on its strand for each pod
// message, each full set from metamanager and each static pod scan.

#include "pod_intake.h"

#include "edgecore/core/resource.h"

namespace edgecore::edged {

using json_read::asPod;
using json_read::intField;
using json_read::str;
using json_read::sub;

PodMessage classifyPodMessage(const core::Message& msg) {
  PodMessage out;
  auto key = core::parseResource(msg.route.resource);
  if (!key.ok() || key->type != core::restype::kPod) {
    return out;
  }
  const std::string& op = msg.route.operation;
  if (op == core::op::kInsert || op == core::op::kUpdate) {
    auto pod = asPod(msg.content);
    out.kind = pod ? PodMessage::Kind::Upsert : PodMessage::Kind::Malformed;
    out.update = op == core::op::kUpdate;
    if (pod) {
      out.pod = std::move(*pod);
    }
  } else if (op == core::op::kDelete) {
    auto pod = asPod(msg.content);
    if (!pod || sub(*pod, "spec").is_null() || sub(*pod, "spec").empty()) {
      out.kind = PodMessage::Kind::Requery;
    } else {
      out.kind = PodMessage::Kind::Delete;
      out.pod = std::move(*pod);
    }
  } else if (op == "unhold-upgrade" && !key->name.empty()) {  // model.UnholdUpgradeOperation
    out.kind = PodMessage::Kind::Unhold;
    out.ns = key->ns;
    out.name = key->name;
  } else if (op == core::op::kResponse && msg.content.is_array()) {
    out.kind = PodMessage::Kind::FullSet;
    out.pods = msg.content;
  }
  return out;
}

std::vector<json> podsOfNode(const json& list, const std::string& node) {
  std::vector<json> out;
  for (const auto& item : list) {
    auto pod = asPod(item);
    if (pod && str(sub(*pod, "spec"), "nodeName") == node) {
      out.push_back(std::move(*pod));
    }
  }
  return out;
}

int64_t gracePeriodOf(const json& pod) {
  if (auto g = intField(sub(pod, "metadata"), "deletionGracePeriodSeconds")) {
    return std::max<int64_t>(0, *g);
  }
  if (auto g = intField(sub(pod, "spec"), "terminationGracePeriodSeconds")) {
    return std::max<int64_t>(0, *g);
  }
  return 30;
}

PodKey podKey(const json& pod) {
  const json& md = sub(pod, "metadata");
  PodKey k{str(md, "uid"), str(md, "name"), str(md, "namespace")};
  if (k.ns.empty()) {
    k.ns = "default";
  }
  return k;
}

PodEntry newPodEntry(const PodKey& key, json pod, bool is_static,
                     std::chrono::system_clock::time_point now) {
  PodEntry e;
  e.uid = key.uid;
  e.ns = key.ns;
  e.name = key.name;
  e.is_static = is_static;
  e.fingerprint = json_read::planFingerprint(pod);
  e.start_time = now;
  e.pod = std::move(pod);
  touch(e);
  return e;
}

bool updatePodEntry(PodEntry& e, json pod) {
  std::string fp = json_read::planFingerprint(pod);
  const bool changed = fp != e.fingerprint;
  if (changed) {
    e.fingerprint = std::move(fp);
    e.plan.reset();
    e.plan_error.reset();
    e.terminal = false;
  }
  e.pod = std::move(pod);
  touch(e);
  return changed;
}

bool startApiDeletion(PodEntry& e) {
  if (sub(sub(e.pod, "metadata"), "deletionTimestamp").is_null() || e.deleting) {
    return false;
  }
  // Stop, report, then confirm the delete to the cloud (static pods: nothing to confirm).
  e.deleting = true;
  e.api_delete = !e.is_static;
  e.grace_seconds = gracePeriodOf(e.pod);
  return true;
}

PodEntry* findStaticPod(std::map<std::string, PodEntry>& pods, const std::string& ns,
                        const std::string& name) {
  for (auto& [uid, e] : pods) {
    if (e.is_static && e.ns == ns && e.name == name && !e.deleting) {
      return &e;
    }
  }
  return nullptr;
}

size_t staticPodCount(const std::map<std::string, PodEntry>& pods) {
  size_t n = 0;
  for (const auto& [uid, e] : pods) {
    n += e.is_static ? 1 : 0;
  }
  return n;
}

std::vector<json> missingPods(const std::map<std::string, PodEntry>& pods, bool is_static,
                              const std::set<std::string>& wanted) {
  std::vector<json> gone;
  for (const auto& [uid, e] : pods) {
    if (e.is_static == is_static && !wanted.count(uid) && !e.deleting) {
      gone.push_back(e.pod);
    }
  }
  return gone;
}

}  // namespace edgecore::edged
