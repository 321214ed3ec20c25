// Pod decisions and status, kubelet style (see pod_logic.h).

#include "pod_logic.h"

#include <algorithm>
#include <ctime>
#include <set>

#include "edgecore/core/time.h"

namespace edgecore::edged {

using json = nlohmann::json;

std::string backoffKey(const std::string& uid, const std::string& container) {
  return uid + "/" + container;
}

bool shouldRestart(RestartPolicy policy, int32_t exit_code) {
  switch (policy) {
    case RestartPolicy::Always:
      return true;
    case RestartPolicy::OnFailure:
      return exit_code != 0;
    case RestartPolicy::Never:
      return false;
  }
  return false;
}

WallTime fromUnixNanos(int64_t ns) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(ns)));
}

namespace {

bool isRunning(const ContainerView* c) { return c && c->state == ContainerRunState::Running; }
bool isExited(const ContainerView* c) { return c && c->state == ContainerRunState::Exited; }

// Marks the exited containers and dead sandboxes beyond the per-pod limits for removal; never
// the newest container of a name in the current sandbox (init results and lastState live there).
void collectGarbage(const PodPlan& plan, const PodRuntime& rt, int max_dead, PodActions& a) {
  const SandboxView* current = rt.currentSandbox();
  std::map<std::string, int> dead_seen;
  std::set<std::string> keep_newest;
  for (const auto& c : rt.containers) {
    if (!keep_newest.count(c.name) && current && c.sandbox_id == current->id) {
      keep_newest.insert(c.name);
      continue;
    }
    if (c.state != ContainerRunState::Exited) {
      continue;
    }
    if (++dead_seen[c.name] > std::max(0, max_dead)) {
      a.remove_containers.push_back(c.id);
    }
  }
  (void)plan;
  std::set<std::string> busy;  // sandboxes that still hold a container we keep
  std::set<std::string> removed(a.remove_containers.begin(), a.remove_containers.end());
  for (const auto& c : rt.containers) {
    if (!removed.count(c.id)) {
      busy.insert(c.sandbox_id);
    }
  }
  for (size_t i = 1; i < rt.sandboxes.size(); ++i) {
    const auto& s = rt.sandboxes[i];
    if (!s.ready && !busy.count(s.id)) {
      a.remove_sandboxes.push_back(s.id);
    }
  }
}

}  // namespace

namespace {

// Step 1: a finished pod stays finished (the kubelet stops syncing terminal pods): its running
// containers and sandbox are stopped. True when the pod is terminal.
bool stopIfFinished(const PodPlan& plan, const PodRuntime& rt, PodActions& a) {
  const RestartPolicy policy = plan.restart_policy;
  bool init_failed_never = false;
  for (const auto& ic : plan.init_containers) {
    const ContainerView* c = rt.latest(ic.name);
    if (isExited(c) && c->exit_code != 0 && policy == RestartPolicy::Never) {
      init_failed_never = true;
    }
  }
  bool all_done = !plan.containers.empty();
  for (const auto& pc : plan.containers) {
    const ContainerView* c = rt.latest(pc.name);
    if (!isExited(c) || shouldRestart(policy, c->exit_code)) {
      all_done = false;
    }
  }
  if (init_failed_never || all_done) {
    a.terminal = true;
    for (const auto& c : rt.containers) {
      if (c.state == ContainerRunState::Running) {
        a.kill.push_back({c.id, c.name, "pod finished"});
      }
    }
    const SandboxView* s = rt.currentSandbox();
    if (s && s->ready) {
      a.kill_pod = true;
    }
    return true;
  }
  return false;
}

// Step 2: create a sandbox when there is none, the newest is not ready, or its network mode no
// longer matches the spec (then the old one is killed); else keep the current one.
void decideSandbox(const PodPlan& plan, const PodRuntime& rt, PodActions& a) {
  const SandboxView* current = rt.currentSandbox();
  bool ready_count_ok = true;
  int ready = 0;
  for (const auto& s : rt.sandboxes) {
    ready += s.ready ? 1 : 0;
  }
  if (ready > 1) {
    ready_count_ok = false;
  }
  if (!current) {
    a.create_sandbox = true;
    a.sandbox_attempt = 0;
  } else if (!current->ready || !ready_count_ok ||
             current->host_network != plan.sandbox.host_network) {
    a.create_sandbox = true;
    a.kill_pod = true;
    a.sandbox_attempt = current->attempt + 1;
  } else {
    a.sandbox_id = current->id;
  }
}

// Which containers may start now: the crash back-off, and the attempt number of the next start.
struct StartGate {
  const PodPlan& plan;
  const PodRuntime& rt;
  const RestartBackoff& backoff;
  WallTime now;
  PodActions& a;

  std::pair<uint32_t, bool> attemptFor(const std::string& name) const {
    const ContainerView* prev = rt.latest(name);
    if (!prev) {
      return {0, false};
    }
    return {prev->attempt + 1, true};
  }

  // Applies the crash back-off to a container that exited before; false = hold it back.
  bool allows(const std::string& name) {
    const ContainerView* prev = rt.latest(name);
    if (!isExited(prev)) {
      return true;
    }
    const std::string& uid = plan.sandbox.uid;
    WallTime finished = fromUnixNanos(prev->finished_at);
    WallTime until;
    if (backoff.inBackoffSince(backoffKey(uid, name), finished, now, &until)) {
      auto left = std::chrono::duration_cast<std::chrono::seconds>(until - finished);
      a.waiting[name] = {"CrashLoopBackOff", "back-off " + std::to_string(left.count()) +
                                                 "s restarting failed container=" + name +
                                                 " pod=" + plan.sandbox.name + "_" +
                                                 plan.sandbox.ns + "(" + uid + ")"};
      if (!a.retry_at || until < *a.retry_at) {
        a.retry_at = until;
      }
      return false;
    }
    return true;
  }
};

// A new sandbox: everything starts again in it, the first init container or all containers.
void restartInNewSandbox(const PodPlan& plan, const PodRuntime& rt, StartGate& gate,
                         PodActions& a) {
  // Everything starts again in the new sandbox: the first init container, or all containers.
  for (const auto& c : rt.containers) {
    if (c.state == ContainerRunState::Running || c.state == ContainerRunState::Created) {
      a.kill.push_back({c.id, c.name, "sandbox changed"});
    }
  }
  if (!plan.init_containers.empty()) {
    const auto& ic = plan.init_containers[0];
    if (gate.allows(ic.name)) {
      auto [attempt, restart] = gate.attemptFor(ic.name);
      a.start.push_back({true, 0, attempt, restart});
    }
  } else {
    for (size_t i = 0; i < plan.containers.size(); ++i) {
      const auto& pc = plan.containers[i];
      if (gate.allows(pc.name)) {
        auto [attempt, restart] = gate.attemptFor(pc.name);
        a.start.push_back({false, i, attempt, restart});
      }
    }
  }
}

// Step 3: init containers, in order; each must exit 0 before the next (and the app
// containers). True when all are done.
bool planInitContainers(const PodPlan& plan, const PodRuntime& rt, StartGate& gate, PodActions& a) {
  for (size_t i = 0; i < plan.init_containers.size(); ++i) {
    const auto& ic = plan.init_containers[i];
    const ContainerView* c = rt.latestIn(ic.name, a.sandbox_id);
    if (c && c->state == ContainerRunState::Exited && c->exit_code == 0) {
      continue;  // done
    }
    if (isRunning(c)) {
      return false;  // still initialising
    }
    if (c && c->state == ContainerRunState::Created) {
      a.kill.push_back({c->id, c->name, "created but not started"});
    }
    // Not run yet, or failed and to be retried (policy Never was handled as terminal).
    if (gate.allows(ic.name)) {
      auto [attempt, restart] = gate.attemptFor(ic.name);
      a.start.push_back({true, i, attempt, restart});
    }
    return false;
  }
  return true;
}

// Step 4: app containers: recreate on a spec change or a failed liveness probe, restart exited
// ones as the restart policy says.
void planAppContainers(const PodPlan& plan, const PodRuntime& rt,
                       const std::map<std::string, ProbeState>& probes, StartGate& gate,
                       PodActions& a) {
  const RestartPolicy policy = plan.restart_policy;
  for (size_t i = 0; i < plan.containers.size(); ++i) {
    const auto& pc = plan.containers[i];
    const ContainerView* c = rt.latestIn(pc.name, a.sandbox_id);
    if (isRunning(c)) {
      auto probe = probes.find(pc.name);
      bool liveness_failed = probe != probes.end() && probe->second.liveness_failed &&
                             probe->second.container_id == c->id;
      if (!c->hash.empty() && !pc.hash.empty() && c->hash != pc.hash) {
        a.kill.push_back({c->id, c->name, "container spec changed"});
        a.start.push_back({false, i, c->attempt + 1, true});
      } else if (liveness_failed) {
        a.kill.push_back({c->id, c->name, "liveness probe failed"});
        if (policy != RestartPolicy::Never) {
          a.start.push_back({false, i, c->attempt + 1, true});
        }
      }
      continue;
    }
    if (c && c->state == ContainerRunState::Created) {
      a.kill.push_back({c->id, c->name, "created but not started"});
    }
    if (isExited(c) && !shouldRestart(policy, c->exit_code)) {
      continue;
    }
    if (gate.allows(pc.name)) {
      auto [attempt, restart] = gate.attemptFor(pc.name);
      a.start.push_back({false, i, attempt, restart});
    }
  }
}

}  // namespace

PodActions computePodActions(const PodPlan& plan, const PodRuntime& rt,
                             const std::map<std::string, ProbeState>& probes,
                             const RestartBackoff& backoff, WallTime now,
                             int max_dead_per_container) {
  PodActions a;
  if (!stopIfFinished(plan, rt, a)) {
    decideSandbox(plan, rt, a);
    StartGate gate{plan, rt, backoff, now, a};
    if (a.create_sandbox) {
      restartInNewSandbox(plan, rt, gate, a);
    } else if (planInitContainers(plan, rt, gate, a)) {
      planAppContainers(plan, rt, probes, gate, a);
    }
  }
  collectGarbage(plan, rt, max_dead_per_container, a);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Status

namespace {

std::string containerId(const ContainerView& c) { return "containerd://" + c.id; }

json terminatedState(const ContainerView& c) {
  json t = json::object();
  t["exitCode"] = c.exit_code;
  t["reason"] = c.reason.empty() ? (c.exit_code == 0 ? "Completed" : "Error") : c.reason;
  if (!c.message.empty()) {
    t["message"] = c.message;
  }
  if (c.started_at > 0) {
    t["startedAt"] = core::formatRfc3339(fromUnixNanos(c.started_at));
  }
  if (c.finished_at > 0) {
    t["finishedAt"] = core::formatRfc3339(fromUnixNanos(c.finished_at));
  }
  t["containerID"] = containerId(c);
  return t;
}

struct Counts {
  int running = 0;
  int waiting = 0;
  int stopped = 0;
  int succeeded = 0;
};

// One containerStatuses entry; `counts` gets the kubelet's getPhase tallies.
json containerStatus(const ContainerPlan& spec, const StatusInputs& in, bool init_pending,
                     Counts& counts, bool& ready_out) {
  const PodRuntime& rt = *in.runtime;
  const ContainerView* cur = rt.latest(spec.name);
  const ContainerView* prev = rt.previous(spec.name);
  json s = json::object();
  s["name"] = spec.name;
  s["image"] = spec.image;
  s["imageID"] = "";
  s["ready"] = false;
  s["restartCount"] = cur ? cur->attempt : 0;
  s["started"] = false;
  ready_out = false;
  json state = json::object();
  json last = json::object();
  auto waitingFor = [&]() -> std::optional<WaitingReason> {
    if (in.waiting) {
      auto it = in.waiting->find(spec.name);
      if (it != in.waiting->end()) {
        return it->second;
      }
    }
    return std::nullopt;
  };
  if (cur) {
    s["containerID"] = containerId(*cur);
    if (!cur->image_ref.empty()) {
      s["imageID"] = cur->image_ref;
    }
  }
  if (cur && cur->state == ContainerRunState::Running) {
    json r = json::object();
    if (cur->started_at > 0) {
      r["startedAt"] = core::formatRfc3339(fromUnixNanos(cur->started_at));
    }
    state["running"] = r;
    bool started = true;
    bool ready = true;
    if (in.probes) {
      auto it = in.probes->find(spec.name);
      if (it != in.probes->end() && it->second.container_id == cur->id) {
        started = it->second.started || !spec.startup;
        ready = it->second.ready || !spec.readiness;
      } else {
        started = !spec.startup;
        ready = !spec.readiness;
      }
    }
    ready = ready && started;
    s["started"] = started;
    s["ready"] = ready;
    ready_out = ready;
    if (prev && prev->state == ContainerRunState::Exited) {
      last["terminated"] = terminatedState(*prev);
    }
    ++counts.running;
  } else if (cur && cur->state == ContainerRunState::Exited && !waitingFor()) {
    state["terminated"] = terminatedState(*cur);
    if (prev && prev->state == ContainerRunState::Exited) {
      last["terminated"] = terminatedState(*prev);
    }
    ++counts.stopped;
    if (cur->exit_code == 0) {
      ++counts.succeeded;
    }
  } else {
    auto w = waitingFor();
    json wj = json::object();
    if (w) {
      wj["reason"] = w->reason;
      if (!w->message.empty()) {
        wj["message"] = w->message;
      }
    } else {
      wj["reason"] = init_pending ? "PodInitializing" : "ContainerCreating";
    }
    state["waiting"] = wj;
    if (cur && cur->state == ContainerRunState::Exited) {
      last["terminated"] = terminatedState(*cur);
      ++counts.stopped;  // waiting after a termination counts as stopped (getPhase)
    } else {
      ++counts.waiting;
    }
  }
  s["state"] = state;
  s["lastState"] = last;
  return s;
}

json condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message, const StatusInputs& in) {
  const char* want = status ? "True" : "False";
  json c = json::object();
  c["type"] = type;
  c["status"] = want;
  c["lastProbeTime"] = nullptr;
  // The transition time stays while the condition keeps its status. Looked up without copies
  // and the clock formatted only for a real transition: this runs for every pod after every
  // relist.
  auto isString = [](const json& o, const char* key, std::string_view value) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() && it->get_ref<const std::string&>() == value;
  };
  const json* since = nullptr;
  if (in.previous && in.previous->contains("conditions") &&
      (*in.previous)["conditions"].is_array()) {
    for (const auto& p : (*in.previous)["conditions"]) {
      if (!p.is_object() || !isString(p, "type", type) || !isString(p, "status", want)) {
        continue;
      }
      auto t = p.find("lastTransitionTime");
      if (t != p.end() && t->is_string()) {
        since = &*t;
      }
    }
  }
  c["lastTransitionTime"] = since ? *since : json(core::formatRfc3339(in.now));
  if (!reason.empty()) {
    c["reason"] = reason;
  }
  if (!message.empty()) {
    c["message"] = message;
  }
  return c;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i ? " " : "") + names[i];
  }
  return out + "]";
}

}  // namespace

// Over 80 lines: it builds one JSON object field by field in the order of generateAPIPodStatus.
json computePodStatus(const StatusInputs& in) {
  json status = json::object();
  const json& pod = *in.pod;
  status["hostIP"] = in.host_ip;
  if (!in.host_ip.empty()) {
    status["hostIPs"] = json::array({json{{"ip", in.host_ip}}});
  }
  status["startTime"] = core::formatRfc3339(in.start_time);
  if (!in.plan) {
    PlanError err = in.pod_error.value_or(PlanError{"InvalidPodSpec", "pod spec is invalid"});
    bool fatal = err.reason == kReasonInvalidPodSpec || err.reason == "UnexpectedAdmissionError";
    status["phase"] = fatal ? "Failed" : "Pending";
    status["reason"] = err.reason;
    status["message"] = err.message;
    json conds = json::array();
    conds.push_back(condition("PodScheduled", true, "", "", in));
    status["conditions"] = conds;
    return status;
  }
  const PodPlan& plan = *in.plan;
  const PodRuntime& rt = *in.runtime;
  const SandboxView* sb = rt.currentSandbox();
  status["qosClass"] = std::string(qosClassName(plan.qos));

  std::string pod_ip;
  if (plan.sandbox.host_network) {
    pod_ip = in.host_ip;
  } else if (sb && sb->ready) {
    pod_ip = sb->ip;
  }
  if (!pod_ip.empty() && sb) {
    status["podIP"] = pod_ip;
    status["podIPs"] = json::array({json{{"ip", pod_ip}}});
  }

  // Init containers.
  json init_statuses = json::array();
  std::vector<std::string> init_incomplete;
  bool init_failed = false;
  Counts init_counts;
  for (const auto& ic : plan.init_containers) {
    bool ready = false;
    json s = containerStatus(ic, in, false, init_counts, ready);
    const ContainerView* c = rt.latest(ic.name);
    bool done = c && c->state == ContainerRunState::Exited && c->exit_code == 0;
    if (done) {
      s["ready"] = true;
    } else {
      init_incomplete.push_back(ic.name);
      if (c && c->state == ContainerRunState::Exited) {
        init_failed = true;
      }
    }
    init_statuses.push_back(std::move(s));
  }
  const bool initialized = init_incomplete.empty();

  json statuses = json::array();
  std::vector<std::string> unready;
  Counts counts;
  for (const auto& pc : plan.containers) {
    bool ready = false;
    statuses.push_back(containerStatus(pc, in, !initialized, counts, ready));
    if (!ready) {
      unready.push_back(pc.name);
    }
  }

  // Phase (kubelet getPhase).
  std::string phase = "Pending";
  const int total = static_cast<int>(plan.containers.size());
  if (!initialized) {
    phase = (init_failed && plan.restart_policy == RestartPolicy::Never) ? "Failed" : "Pending";
  } else if (counts.waiting > 0) {
    phase = "Pending";
  } else if (counts.running > 0) {
    phase = "Running";
  } else if (counts.stopped == total && total > 0) {
    if (plan.restart_policy == RestartPolicy::Always) {
      phase = "Running";
    } else if (counts.stopped == counts.succeeded) {
      phase = "Succeeded";
    } else if (plan.restart_policy == RestartPolicy::OnFailure) {
      phase = "Running";
    } else {
      phase = "Failed";
    }
  }
  if (in.terminal && phase != "Succeeded" && phase != "Failed") {
    phase = counts.stopped == counts.succeeded ? "Succeeded" : "Failed";
  }
  status["phase"] = phase;
  const bool finished = phase == "Succeeded" || phase == "Failed";

  json conds = json::array();
  bool sandbox_ready = sb && sb->ready && !finished;
  conds.push_back(condition("PodReadyToStartContainers", sandbox_ready, "", "", in));
  if (initialized) {
    conds.push_back(condition("Initialized", true, "", "", in));
  } else {
    conds.push_back(condition("Initialized", false, "ContainersNotInitialized",
                              "containers with incomplete status: " + joinNames(init_incomplete),
                              in));
  }
  bool all_ready = unready.empty() && initialized && !finished;
  std::string not_ready_reason = finished ? "PodCompleted" : "ContainersNotReady";
  std::string not_ready_msg =
      finished ? "" : "containers with unready status: " + joinNames(unready);
  if (all_ready) {
    conds.push_back(condition("Ready", true, "", "", in));
    conds.push_back(condition("ContainersReady", true, "", "", in));
  } else {
    conds.push_back(condition("Ready", false, not_ready_reason, not_ready_msg, in));
    conds.push_back(condition("ContainersReady", false, not_ready_reason, not_ready_msg, in));
  }
  conds.push_back(condition("PodScheduled", true, "", "", in));
  status["conditions"] = conds;
  if (!plan.init_containers.empty()) {
    status["initContainerStatuses"] = init_statuses;
  }
  status["containerStatuses"] = statuses;
  (void)pod;
  return status;
}

json podStatusPatch(const std::string& uid, const json& status) {
  json patch = json::object();
  patch["metadata"] = json{{"uid", uid}};
  json st = status;
  if (status.contains("conditions") && status["conditions"].is_array()) {
    json order = json::array();
    for (const auto& c : status["conditions"]) {
      order.push_back(json{{"type", c.value("type", "")}});
    }
    st["$setElementOrder/conditions"] = order;
  }
  patch["status"] = st;
  return patch;
}

}  // namespace edgecore::edged
