// Pod events to metamanager (see event_sender.h). Called by EdgedModule on its strand: after a
// sync (the runtime's events), on a relist that finds a new back-off, on a failed probe.

#include "event_sender.h"

#include <algorithm>

#include "edgecore/core/message.h"

namespace edgecore::edged {

namespace {

PodEvent eventAbout(const EventPod& pod, std::string field_path) {
  PodEvent ev;
  ev.target.ns = pod.ns;
  ev.target.name = pod.name;
  ev.target.uid = pod.uid;
  ev.target.field_path = std::move(field_path);
  return ev;
}

}  // namespace

std::vector<PodEvent> backOffEvents(const EventPod& pod, const PodPlan& plan,
                                    const std::map<std::string, WaitingReason>& before,
                                    const std::map<std::string, WaitingReason>& now) {
  std::vector<PodEvent> out;
  for (const auto& [name, w] : now) {
    auto prev = before.find(name);
    if (w.reason != "CrashLoopBackOff" ||
        (prev != before.end() && prev->second.reason == w.reason)) {
      continue;
    }
    bool init = std::any_of(plan.init_containers.begin(), plan.init_containers.end(),
                            [&](const ContainerPlan& c) { return c.name == name; });
    PodEvent ev = eventAbout(
        pod, std::string(init ? "spec.initContainers{" : "spec.containers{") + name + "}");
    ev.warning = true;
    ev.reason = event_reason::kBackOff;
    ev.message = "Back-off restarting failed container " + name + " in pod " + pod.name + "_" +
                 pod.ns + "(" + pod.uid + ")";
    out.push_back(std::move(ev));
  }
  return out;
}

PodEvent unhealthyEvent(const EventPod& pod, const std::string& container, ProbeType type,
                        const std::string& output) {
  PodEvent ev = eventAbout(pod, "spec.containers{" + container + "}");
  ev.warning = true;
  ev.reason = event_reason::kUnhealthy;
  ev.message = std::string(probeTypeName(type)) + " probe failed: " + output;
  return ev;
}

PodEventSender::PodEventSender(std::string node_name, bool enabled, core::Bus& bus,
                               std::shared_ptr<spdlog::logger> log)
    : bus_(bus), log_(std::move(log)) {
  if (enabled) {
    recorder_.emplace(std::move(node_name));
  }
}

// Fire and forget, as the kubelet's event sink is: metamanager forwards the event to the cloud
// and keeps it for MetaServer.
void PodEventSender::send(const EventPod& pod, PodEvent ev) {
  if (!recorder_) {
    return;
  }
  ev.target.resource_version = pod.resource_version;
  if (ev.target.uid.empty()) {
    ev.target.uid = pod.uid;
  }
  core::Message m = recorder_->record(ev, std::chrono::system_clock::now());
  log_->debug("event pod={}/{} reason={} msg=\"{}\"", pod.ns, pod.name, ev.reason, ev.message);
  core::Status st = bus_.send(core::names::kMetaManagerModule, std::move(m));
  if (!st.ok() && dropped_++ % 100 == 0) {
    log_->warn("event not sent dropped={} err=\"{}\"", dropped_, st.message());
  }
}

}  // namespace edgecore::edged
