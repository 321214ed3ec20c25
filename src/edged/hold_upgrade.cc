// Held pod updates (see hold_upgrade.h).

#include "hold_upgrade.h"

#include "edgecore/core/message.h"
#include "edgecore/core/resource.h"
#include "edgecore/core/time.h"

namespace edgecore::edged {

using json_read::str;
using json_read::sub;

namespace {

std::string keyOf(const json& pod) {
  const json& md = sub(pod, "metadata");
  std::string ns = str(md, "namespace");
  return (ns.empty() ? std::string("default") : ns) + "/" + str(md, "name");
}

}  // namespace

bool holdsUpgrade(const json& pod) {
  const json& md = sub(pod, "metadata");
  return sub(md, "deletionTimestamp").is_null() &&
         str(sub(md, "annotations"), kHoldUpgradeAnnotation) == "true" &&
         str(sub(pod, "status"), "phase") == "Pending";
}

std::string heldUpgradePatch(std::chrono::system_clock::time_point now) {
  // Field order as Go marshals v1.PodCondition.
  nlohmann::ordered_json condition = {
      {"type", "HeldUpgrade"},
      {"status", "True"},
      {"lastProbeTime", nullptr},
      {"lastTransitionTime", core::formatRfc3339(now)},
      {"reason", "HoldUpgradeEnabled"},
      {"message", "Upgrade is currently held due to edge-hold-upgrade annotation"}};
  nlohmann::ordered_json patch = {
      {"status", {{"conditions", nlohmann::ordered_json::array({condition})}}}};
  return patch.dump();
}

HeldUpgrades::HeldUpgrades(core::Bus& bus, std::shared_ptr<spdlog::logger> log)
    : bus_(bus), log_(std::move(log)) {}

bool HeldUpgrades::keep(const json& pod, const std::string& key) {
  auto it = held_.find(key);
  if (it == held_.end()) {
    if (held_.size() >= kMaxPods) {
      log_->warn("pod update not held: {} pods are held already pod={}", kMaxPods, key);
      return false;
    }
    it = held_.emplace(key, std::vector<json>{}).first;
  }
  if (it->second.size() >= kMaxPerPod) {
    it->second.erase(it->second.begin());  // replaying keeps only the newest anyway
  }
  it->second.push_back(pod);
  return true;
}

bool HeldUpgrades::intercept(const json& pod, bool is_update) {
  const std::string key = keyOf(pod);
  if (!is_update || !holdsUpgrade(pod)) {
    if (held_.erase(key) > 0) {
      log_->info("held pod updates dropped: a newer one is applied pod={}", key);
    }
    return false;
  }
  if (!keep(pod, key)) {
    return false;
  }
  log_->info("pod update held (hold-upgrade annotation) pod={} held={}", key, held_[key].size());
  const json& md = sub(pod, "metadata");
  std::string ns = str(md, "namespace");
  core::Message patch = core::Message::create(
      core::names::kEdgedModule, core::names::kMetaGroup, core::op::kPatch,
      core::buildResource(ns.empty() ? "default" : ns, core::restype::kPodPatch, str(md, "name")),
      json(heldUpgradePatch(std::chrono::system_clock::now())));
  if (core::Status st = bus_.send(core::names::kMetaManagerModule, std::move(patch)); !st.ok()) {
    log_->warn("HeldUpgrade condition not sent pod={} err=\"{}\"", key, st.message());
  }
  return true;
}

std::vector<json> HeldUpgrades::filterSet(std::vector<json> pods, std::set<std::string>& wanted) {
  std::vector<json> out;
  for (auto& pod : pods) {
    const std::string key = keyOf(pod);
    if (holdsUpgrade(pod) && keep(pod, key)) {
      log_->info("stored pod held (hold-upgrade annotation, phase Pending) pod={}", key);
      wanted.insert(str(sub(pod, "metadata"), "uid"));
    } else {
      out.push_back(std::move(pod));
    }
  }
  return out;
}

std::vector<json> HeldUpgrades::admit(PodMessage m) {
  if (m.kind == PodMessage::Kind::Unhold) {
    return release(m.ns, m.name);
  }
  std::vector<json> out;
  if (m.kind == PodMessage::Kind::Upsert && !intercept(m.pod, m.update)) {
    out.push_back(std::move(m.pod));
  }
  return out;
}

std::vector<json> HeldUpgrades::release(const std::string& ns, const std::string& name) {
  auto it = held_.find(ns + "/" + name);
  if (it == held_.end()) {
    log_->info("unhold-upgrade: no held updates pod={}/{}", ns, name);
    return {};
  }
  std::vector<json> out = std::move(it->second);
  held_.erase(it);
  log_->info("unhold-upgrade: applying held updates pod={}/{} updates={}", ns, name, out.size());
  return out;
}

void HeldUpgrades::forget(const json& pod) {
  if (held_.erase(keyOf(pod)) > 0) {
    log_->info("held pod updates dropped: the pod is deleted pod={}", keyOf(pod));
  }
}

std::set<std::string> HeldUpgrades::notOrphans(const std::set<std::string>& in_flight) const {
  std::set<std::string> out = in_flight;
  for (const auto& [key, pods] : held_) {
    for (const auto& p : pods) {
      out.insert(str(sub(p, "metadata"), "uid"));
    }
  }
  return out;
}

}  // namespace edgecore::edged
