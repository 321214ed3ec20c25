#pragma once

// Kubelet events about pods, sent to metamanager (modules.edged.reportEvent): the sender keeps
// the EventRecorder (naming, counting, aggregation) and puts each event on the bus, fire and
// forget; the event builders say which events a back-off or a failed probe makes. EdgedModule
// owns one sender and calls it after syncs, relists and probe results.

#include <spdlog/logger.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/bus.h"
#include "event_recorder.h"
#include "pod_model.h"
#include "podplan/pod_plan.h"
#include "probe/prober.h"

namespace edgecore::edged {

// The pod an event is about.
struct EventPod {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
};

// BackOff events for containers that entered CrashLoopBackOff between `before` and `now` (one
// per entry into the back-off, where the kubelet logs one per sync attempt).
std::vector<PodEvent> backOffEvents(const EventPod& pod, const PodPlan& plan,
                                    const std::map<std::string, WaitingReason>& before,
                                    const std::map<std::string, WaitingReason>& now);

// The kubelet prober's Unhealthy warning: "<Liveness|Readiness|Startup> probe failed: <output>".
PodEvent unhealthyEvent(const EventPod& pod, const std::string& container, ProbeType type,
                        const std::string& output);

class PodEventSender {
 public:
  // `enabled` false: send() does nothing (reportEvent off, KubeEdge's default).
  PodEventSender(std::string node_name, bool enabled, core::Bus& bus,
                 std::shared_ptr<spdlog::logger> log);

  bool enabled() const { return recorder_.has_value(); }
  // Records `ev` about `pod` and sends it (insert, or patch of a repeated event). Strand only.
  void send(const EventPod& pod, PodEvent ev);

 private:
  std::optional<EventRecorder> recorder_;
  core::Bus& bus_;
  std::shared_ptr<spdlog::logger> log_;
  uint64_t dropped_ = 0;
};

}  // namespace edgecore::edged
