// The published view of edged's pods (see pod_snapshot.h). Written by EdgedModule on its strand,
// read by the HTTP server's routes (server_routes.cc) and the PodResources API on their threads.

#include "pod_snapshot.h"

#include <nlohmann/json.hpp>

#include "pod_entry.h"

namespace edgecore::edged {

using json = nlohmann::json;

void PodSnapshot::publish(std::map<std::string, PodSummary> pods,
                          std::map<std::string, PodLogIndex> logs,
                          std::map<std::string, uint64_t> revisions) {
  std::lock_guard lock(mu_);
  pods_ = std::move(pods);
  logs_ = std::move(logs);
  revisions_ = std::move(revisions);
}

std::optional<PodSummary> PodSnapshot::summaryAt(const std::string& uid, uint64_t revision) const {
  std::lock_guard lock(mu_);
  auto r = revisions_.find(uid);
  auto p = pods_.find(uid);
  if (revision == 0 || r == revisions_.end() || r->second != revision || p == pods_.end()) {
    return std::nullopt;
  }
  return p->second;
}

std::vector<PodSummary> PodSnapshot::pods() const {
  std::lock_guard lock(mu_);
  std::vector<PodSummary> out;
  for (const auto& [uid, s] : pods_) {
    out.push_back(s);
  }
  return out;
}

std::string PodSnapshot::podListJson() const {
  json list = {{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", json::object()}};
  json items = json::array();
  for (const auto& p : pods()) {
    json pod = json::parse(p.pod_json, nullptr, false);
    if (pod.is_object()) {
      items.push_back(std::move(pod));
    }
  }
  list["items"] = std::move(items);
  return list.dump();
}

core::Result<LogLocation> PodSnapshot::logLocation(const std::string& ns, const std::string& pod,
                                                   const std::string& container,
                                                   bool previous) const {
  std::lock_guard lock(mu_);
  auto it = logs_.find(ns + "/" + pod);
  if (it == logs_.end()) {
    return core::notFound("pod \"" + pod + "\" not found");
  }
  auto c = it->second.containers.find(container);
  if (c == it->second.containers.end() || c->second.empty()) {
    return core::notFound("container \"" + container + "\" in pod \"" + pod +
                          "\" is not available");
  }
  size_t index = previous ? 1 : 0;
  if (index >= c->second.size()) {
    return core::notFound("previous terminated container \"" + container + "\" in pod \"" + pod +
                          "\" not found");
  }
  const auto& inst = c->second[index];
  LogLocation loc;
  loc.path = it->second.log_dir + "/" + container + "/" + std::to_string(inst.attempt) + ".log";
  std::weak_ptr<const PodSnapshot> weak = weak_from_this();
  loc.running = [weak, ns, pod, container, id = inst.id]() {
    auto self = weak.lock();
    return self != nullptr && self->runningContainerId(ns, pod, container) == id;
  };
  return loc;
}

std::string PodSnapshot::runningContainerId(const std::string& ns, const std::string& pod,
                                            const std::string& container) const {
  std::lock_guard lock(mu_);
  auto it = logs_.find(ns + "/" + pod);
  if (it == logs_.end()) {
    return "";
  }
  auto c = it->second.containers.find(container);
  if (c == it->second.containers.end() || c->second.empty() || !c->second[0].running) {
    return "";
  }
  return c->second[0].id;
}

namespace {

PodSummary summarize(const std::string& uid, const PodEntry& e) {
  PodSummary s;
  s.ns = e.ns;
  s.name = e.name;
  s.uid = uid;
  s.is_static = e.is_static;
  s.phase = json_read::str(e.status, "phase");
  json p = e.pod;
  if (!e.status.is_null()) {
    p["status"] = e.status;
  }
  s.pod_json = p.dump();
  s.status_json = e.status.dump();
  return s;
}

}  // namespace

void publishPods(PodSnapshot& snapshot, const std::map<std::string, PodEntry>& pods) {
  std::map<std::string, PodSummary> next;
  std::map<std::string, PodLogIndex> index;
  std::map<std::string, uint64_t> revisions;
  for (const auto& [uid, e] : pods) {
    revisions.emplace(uid, e.revision);
    if (auto same = snapshot.summaryAt(uid, e.revision)) {
      next.emplace(uid, std::move(*same));
    } else {
      next.emplace(uid, summarize(uid, e));
    }
    if (!e.plan) {
      continue;
    }
    PodLogIndex& li = index[e.ns + "/" + e.name];
    li.log_dir = e.plan->sandbox.log_directory;
    for (const auto& c : e.runtime.containers) {  // newest first
      PodLogIndex::Instance inst;
      inst.attempt = c.attempt;
      inst.id = c.id;
      inst.running = c.state == ContainerRunState::Running;
      li.containers[c.name].push_back(std::move(inst));
    }
  }
  snapshot.publish(std::move(next), std::move(index), std::move(revisions));
}

std::vector<deviceplugin::PodRef> podResourceRefs(const std::vector<PodSummary>& pods) {
  std::vector<deviceplugin::PodRef> out;
  for (const auto& p : pods) {
    deviceplugin::PodRef r;
    r.ns = p.ns;
    r.name = p.name;
    r.uid = p.uid;
    json pod = json::parse(p.pod_json, nullptr, false);
    const json& spec = json_read::sub(pod, "spec");
    if (spec.contains("containers") && spec["containers"].is_array()) {
      for (const auto& c : spec["containers"]) {
        r.containers.push_back(json_read::str(c, "name"));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace edgecore::edged
