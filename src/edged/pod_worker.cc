// The pod worker's steps (see pod_worker.h). Called by EdgedModule's per-pod sync coroutine on
// the module strand.

#include "pod_worker.h"

#include "cgroup_policy.h"
#include "deviceplugin/device_manager.h"
#include "edgecore/core/message.h"
#include "edgecore/core/resource.h"

namespace edgecore::edged {

namespace asio = boost::asio;
using core::Message;
using core::Result;

SyncSettings syncSettingsOf(const core::EdgedConfig& cfg, const std::string& host_ip,
                            const HostFacts& host, ObjectSource* objects) {
  SyncSettings s;
  s.node_name = cfg.hostname_override;
  s.max_dead_per_container = cfg.max_per_pod_container_count;
  s.oom_group_kill = oomGroupKill(cfg, detectCgroupVersion());
  PlanInputs& in = s.plan_inputs;
  in.objects = objects;
  in.node_name = cfg.hostname_override;
  in.host_ip = host_ip;
  in.root_directory = cfg.root_directory;
  in.pod_logs_dir = cfg.pod_logs_dir;
  in.cluster_dns = cfg.cluster_dns;
  in.cluster_domain = cfg.cluster_domain;
  in.resolv_conf = cfg.resolv_conf;
  in.node_memory_capacity_bytes = host.memory_bytes;
  in.node_cpu_milli = host.cpu_milli;
  in.cgroup_driver = cfg.cgroup_driver;
  in.cgroups_per_qos = cfg.cgroups_per_qos;
  in.cpu_cfs_quota = cfg.cpu_cfs_quota;
  in.cpu_cfs_quota_period_us =
      std::chrono::duration_cast<std::chrono::microseconds>(cfg.cpu_cfs_quota_period).count();
  if (in.cpu_cfs_quota_period_us <= 0) {
    in.cpu_cfs_quota_period_us = 100000;
  }
  return s;
}

std::optional<PodSync> beginSync(PodEntry& e, std::chrono::steady_clock::time_point now,
                                 std::chrono::nanoseconds sync_frequency) {
  if (e.syncing) {
    e.dirty = true;
    return std::nullopt;
  }
  if (e.terminated) {
    return std::nullopt;
  }
  if (!e.deleting && e.plan_error &&
      e.plan_error->reason == deviceplugin::kReasonUnexpectedAdmission) {
    return std::nullopt;  // refused at admission: stays Failed, like the kubelet
  }
  e.syncing = true;
  e.dirty = false;
  e.syncing_fingerprint = e.fingerprint;
  PodSync s;
  SyncRequest& req = s.request;
  req.pod = e.pod;
  req.plan = e.plan;
  req.terminate = e.deleting;
  req.grace_seconds = e.grace_seconds;
  req.probes = e.probes;
  if (e.plan && !e.plan_error && waitsForObjects(e)) {
    req.plan = nullptr;  // env from a configmap/secret: resolve the containers again
  }
  const bool token_due = e.token_refresh_at && now >= *e.token_refresh_at;
  if (req.plan && (now >= e.next_volume_refresh || e.plan_error || token_due)) {
    // Periodic refresh, a ServiceAccount token due, or retry a failed mount (no start before).
    req.refresh_volumes = true;
  }
  if (!req.plan || req.refresh_volumes) {
    e.next_volume_refresh =
        now + std::max<std::chrono::nanoseconds>(sync_frequency, std::chrono::seconds(10));
  }
  s.fetch_objects = !e.deleting && (!req.plan || req.refresh_volumes);
  return s;
}

SyncOutcome finishSync(PodEntry& e, SyncResult& r, spdlog::logger& log,
                       std::chrono::steady_clock::time_point now) {
  SyncOutcome out;
  e.syncing = false;
  out.events = std::move(r.events);
  if (e.syncing_fingerprint != e.fingerprint) {
    // The spec changed while this sync ran (updatePodEntry cleared the plan): what it planned is
    // for the old spec. Keeping it would run the old spec on, so plan again at once.
    r.plan = nullptr;
    r.plan_error.reset();
    e.dirty = true;
  }
  if (r.plan) {
    e.plan = r.plan;
  }
  if (r.plan_error) {
    if (!e.plan_error || e.plan_error->message != r.plan_error->message) {
      log.warn("pod cannot run pod={}/{} reason={} err=\"{}\"", e.ns, e.name, r.plan_error->reason,
               r.plan_error->message);
    }
    e.plan_error = r.plan_error;
  } else {
    e.plan_error.reset();
  }
  if (!r.error.ok()) {
    log.warn("pod sync failed pod={}/{} err=\"{}\"", e.ns, e.name, r.error.message());
  }
  if (waitsForObjects(e)) {
    e.retry_delay = std::clamp<std::chrono::milliseconds>(
        e.retry_delay * 2, std::chrono::seconds(1), std::chrono::seconds(10));
    e.next_retry = now + e.retry_delay;
  } else {
    e.retry_delay = std::chrono::milliseconds(0);
  }
  if (r.runtime_read) {
    e.runtime = std::move(r.runtime);
    e.runtime_known = true;
  }
  e.waiting = std::move(r.waiting);
  e.terminal = r.terminal;
  if (r.terminated) {
    e.terminated = true;
    e.terminal = true;
    if (r.runtime_read) {
      e.runtime = PodRuntime{};
    }
    out.terminated = true;
  }
  return out;
}

asio::awaitable<FetchedObjects> fetchReferencedObjects(core::Bus& bus,
                                                       std::chrono::milliseconds timeout,
                                                       std::string ns,
                                                       std::vector<ObjectRef> refs) {
  FetchedObjects out;
  for (auto& ref : refs) {
    const char* type = ref.kind == ObjectRef::Kind::Secret ? "secret" : "configmap";
    Message m = Message::create(core::names::kEdgedModule, core::names::kMetaGroup,
                                core::op::kQuery, ns + "/" + type + "/" + ref.name, nullptr);
    // At most 10 s per object: the pod worker waits meanwhile, and without an answer the
    // stored copy is used (what metamanager itself would answer after remoteQueryTimeout).
    auto query_op =
        bus.request(core::names::kMetaManagerModule, std::move(m),
                    std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(10)));
    Result<Message> resp = co_await std::move(query_op);
    if (!resp.ok() || resp->route.operation == core::op::kError) {
      continue;
    }
    if (auto value = objectFromQueryAnswer(resp->content, ref)) {
      out.emplace_back(std::move(ref), std::move(*value));
    }
  }
  co_return out;
}

RelistVerdict afterRelist(PodEntry& e, PodRuntime rt, const RestartBackoff& backoff, WallTime now,
                          std::chrono::steady_clock::time_point steady_now,
                          int max_dead_per_container) {
  RelistVerdict v;
  // The status follows from the runtime view, the probes and the back-off state; probe results
  // and syncs update it themselves. An unchanged view needs no new status: computing 110 of them
  // every second was a large part of edged's idle CPU (docs/performance.md, Density).
  const bool unchanged = e.runtime_known && e.runtime == rt;
  e.runtime = std::move(rt);
  e.runtime_known = true;
  if (e.deleting) {
    v.sync = !e.terminated;
    return v;
  }
  v.update_status = !unchanged;
  if (e.plan && !e.terminal && e.token_refresh_at && steady_now >= *e.token_refresh_at) {
    v.sync = true;  // a ServiceAccount token is due: write the volume again
  } else if (waitsForObjects(e) && steady_now >= e.next_retry) {
    v.sync = true;  // the configmap/secret may be there now
  } else if (!e.plan) {
    v.sync = !e.plan_error;
  } else if (!e.terminal && !e.plan_error) {
    PodActions a =
        computePodActions(*e.plan, e.runtime, e.probes, backoff, now, max_dead_per_container);
    if (a.hasWork()) {
      v.sync = true;
    } else if (a.waiting != e.waiting && !a.waiting.empty()) {
      v.back_off = std::move(a.waiting);
      v.update_status = true;  // the waiting reason is part of the status
    }
  }
  return v;
}

std::vector<std::string> orphanPods(const RuntimeSnapshot& snapshot,
                                    const std::map<std::string, PodEntry>& pods,
                                    const std::set<std::string>& in_flight,
                                    const std::string& node) {
  std::vector<std::string> out;
  for (const auto& [uid, rt] : snapshot) {
    if (pods.count(uid) || in_flight.count(uid)) {
      continue;
    }
    if (std::any_of(rt.sandboxes.begin(), rt.sandboxes.end(),
                    [&](const SandboxView& s) { return s.edged_node == node; })) {
      out.push_back(uid);
    }
  }
  return out;
}

asio::awaitable<core::Status> confirmPodDeleted(core::Bus& bus, std::chrono::milliseconds timeout,
                                                std::string ns, std::string name, std::string uid) {
  Message m =
      Message::create(core::names::kEdgedModule, core::names::kMetaGroup, core::op::kDelete,
                      core::buildResource(ns, core::restype::kPod, name), deleteOptionsForUid(uid));
  auto op = bus.request(core::names::kMetaManagerModule, std::move(m), timeout);
  Result<Message> resp = co_await std::move(op);
  if (resp.ok() && resp->route.operation != core::op::kError) {
    co_return core::Status();
  }
  co_return core::unavailable(resp.ok() ? resp->contentData().substr(0, 200)
                                        : resp.status().message());
}

}  // namespace edgecore::edged
