// Relist and per-pod sync through CRI (see pod_runtime.h).

#include "pod_runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "podplan/subpath.h"
#include "runtime_view.h"

namespace edgecore::edged {

using core::Result;
using core::Status;
using json = nlohmann::json;

namespace {

runtimeapi::NamespaceMode toCri(NamespaceMode m) {
  return static_cast<runtimeapi::NamespaceMode>(m);
}

bool isNotFound(const Status& st) { return st.code() == core::StatusCode::NotFound; }

std::string podUid(const json& pod) {
  if (pod.is_object() && pod.contains("metadata") && pod["metadata"].is_object()) {
    const json& md = pod["metadata"];
    if (md.contains("uid") && md["uid"].is_string()) {
      return md["uid"].get<std::string>();
    }
  }
  return "";
}

}  // namespace

PodRuntimeManager::PodRuntimeManager(cri::CriClient& cri, SyncSettings settings,
                                     RestartBackoff& backoff, std::shared_ptr<spdlog::logger> log)
    : cri_(cri), settings_(std::move(settings)), backoff_(backoff), log_(std::move(log)) {}

// ---------------------------------------------------------------------------------------------
// Reading the runtime

Result<PodRuntime> PodRuntimeManager::collect(const std::vector<runtimeapi::PodSandbox>& sandboxes,
                                              const std::vector<runtimeapi::Container>& containers,
                                              RuntimeSnapshot* all, const std::string& only_uid) {
  RuntimeSnapshot local;
  RuntimeSnapshot& out = all ? *all : local;
  std::set<std::string> seen_sandboxes;
  std::set<std::string> seen_containers;
  for (const auto& s : sandboxes) {
    std::string uid = criLabel(s.labels(), kLabelPodUid);
    if (uid.empty() || (!only_uid.empty() && uid != only_uid)) {
      continue;
    }
    SandboxView v = sandboxViewFromCri(s);
    seen_sandboxes.insert(v.id);
    std::optional<CachedSandbox> cached;
    {
      std::lock_guard lock(cache_mu_);
      auto it = sandbox_cache_.find(v.id);
      if (it != sandbox_cache_.end()) {
        cached = it->second;
      }
    }
    if (!cached && v.ready) {
      auto st = cri_.podSandboxStatus(v.id);
      if (st.ok()) {
        SandboxNetwork net = sandboxNetworkFromCri(*st);
        CachedSandbox c;
        c.host_network = net.host_network;
        c.ip = net.ip;
        cached = c;
        std::lock_guard lock(cache_mu_);
        sandbox_cache_[v.id] = c;
      } else if (!isNotFound(st.status())) {
        return st.status();
      }
    }
    if (cached) {
      v.host_network = cached->host_network;
      v.ip = cached->ip;
    }
    out[uid].sandboxes.push_back(std::move(v));
  }
  for (const auto& c : containers) {
    std::string uid = criLabel(c.labels(), kLabelPodUid);
    if (uid.empty() || (!only_uid.empty() && uid != only_uid)) {
      continue;
    }
    ContainerView v = containerViewFromCri(c);
    seen_containers.insert(v.id);
    bool have = false;
    {
      std::lock_guard lock(cache_mu_);
      auto it = container_cache_.find(v.id);
      if (it != container_cache_.end() && it->second.state == v.state) {
        const ContainerView& d = it->second.view;
        v.started_at = d.started_at;
        v.finished_at = d.finished_at;
        v.exit_code = d.exit_code;
        v.reason = d.reason;
        v.message = d.message;
        if (!d.image_ref.empty()) {
          v.image_ref = d.image_ref;
        }
        v.detailed = true;
        have = true;
      }
    }
    if (!have) {
      auto st = cri_.containerStatus(v.id);
      if (st.ok()) {
        applyContainerStatus(*st, v);
        std::lock_guard lock(cache_mu_);
        container_cache_[v.id] = CachedContainer{v.state, v};
      } else if (isNotFound(st.status())) {
        continue;  // removed between the list and the status call
      } else {
        return st.status();
      }
    }
    out[uid].containers.push_back(std::move(v));
  }
  for (auto& [uid, pod] : out) {
    sortNewestFirst(pod);
  }
  if (all) {
    // A full relist saw everything: forget what is gone.
    std::lock_guard lock(cache_mu_);
    std::erase_if(container_cache_,
                  [&](const auto& kv) { return !seen_containers.count(kv.first); });
    std::erase_if(sandbox_cache_, [&](const auto& kv) { return !seen_sandboxes.count(kv.first); });
    return PodRuntime{};
  }
  auto it = out.find(only_uid);
  return it == out.end() ? PodRuntime{} : std::move(it->second);
}

Result<RuntimeSnapshot> PodRuntimeManager::relist() {
  EC_ASSIGN_OR_RETURN(auto sandboxes, cri_.listPodSandbox());
  EC_ASSIGN_OR_RETURN(auto containers, cri_.listContainers());
  RuntimeSnapshot snap;
  EC_RETURN_IF_ERROR(collect(sandboxes, containers, &snap, ""));
  return snap;
}

Result<PodRuntime> PodRuntimeManager::listPod(const std::string& uid) {
  runtimeapi::PodSandboxFilter sf;
  (*sf.mutable_label_selector())[kLabelPodUid] = uid;
  EC_ASSIGN_OR_RETURN(auto sandboxes, cri_.listPodSandbox(sf));
  runtimeapi::ContainerFilter cf;
  (*cf.mutable_label_selector())[kLabelPodUid] = uid;
  EC_ASSIGN_OR_RETURN(auto containers, cri_.listContainers(cf));
  return collect(sandboxes, containers, nullptr, uid);
}

Result<runtimeapi::ExecSyncResponse> PodRuntimeManager::exec(const std::string& container_id,
                                                             const std::vector<std::string>& cmd,
                                                             int64_t timeout_seconds) {
  return cri_.execSync(container_id, cmd, timeout_seconds);
}

// ---------------------------------------------------------------------------------------------
// Configs

runtimeapi::PodSandboxConfig PodRuntimeManager::sandboxConfig(const PodPlan& plan,
                                                              uint32_t attempt) const {
  const SandboxPlan& s = plan.sandbox;
  runtimeapi::PodSandboxConfig c;
  auto* md = c.mutable_metadata();
  md->set_name(s.name);
  md->set_uid(s.uid);
  md->set_namespace_(s.ns);
  md->set_attempt(attempt);
  c.set_hostname(s.host_network ? "" : s.hostname);
  c.set_log_directory(s.log_directory);
  for (const auto& v : s.dns.servers) {
    c.mutable_dns_config()->add_servers(v);
  }
  for (const auto& v : s.dns.searches) {
    c.mutable_dns_config()->add_searches(v);
  }
  for (const auto& v : s.dns.options) {
    c.mutable_dns_config()->add_options(v);
  }
  for (const auto& p : s.port_mappings) {
    auto* m = c.add_port_mappings();
    m->set_protocol(static_cast<runtimeapi::Protocol>(p.protocol));
    m->set_container_port(p.container_port);
    m->set_host_port(p.host_port);
    m->set_host_ip(p.host_ip);
  }
  for (const auto& [k, v] : s.labels) {
    (*c.mutable_labels())[k] = v;
  }
  (*c.mutable_labels())[kLabelPodName] = s.name;
  (*c.mutable_labels())[kLabelPodNamespace] = s.ns;
  (*c.mutable_labels())[kLabelPodUid] = s.uid;
  (*c.mutable_labels())[kLabelEdgedNode] = settings_.node_name;
  for (const auto& [k, v] : s.annotations) {
    (*c.mutable_annotations())[k] = v;
  }
  auto* linux = c.mutable_linux();
  linux->set_cgroup_parent(s.cgroup_parent);
  for (const auto& [k, v] : s.sysctls) {
    (*linux->mutable_sysctls())[k] = v;
  }
  auto* sc = linux->mutable_security_context();
  auto* ns = sc->mutable_namespace_options();
  ns->set_network(s.host_network ? runtimeapi::NODE : toCri(s.network_mode));
  ns->set_pid(s.host_pid ? runtimeapi::NODE : toCri(s.pid_mode));
  ns->set_ipc(s.host_ipc ? runtimeapi::NODE : toCri(s.ipc_mode));
  sc->set_privileged(s.privileged);
  if (s.run_as_user) {
    sc->mutable_run_as_user()->set_value(*s.run_as_user);
  }
  if (s.run_as_group) {
    sc->mutable_run_as_group()->set_value(*s.run_as_group);
  }
  for (auto g : s.supplemental_groups) {
    sc->add_supplemental_groups(g);
  }
  return c;
}

runtimeapi::ContainerConfig PodRuntimeManager::containerConfig(const ContainerPlan& p) const {
  runtimeapi::ContainerConfig c;
  c.mutable_metadata()->set_name(p.name);
  c.mutable_metadata()->set_attempt(p.attempt);
  c.mutable_image()->set_image(p.image);
  for (const auto& v : p.command) {
    c.add_command(v);
  }
  for (const auto& v : p.args) {
    c.add_args(v);
  }
  c.set_working_dir(p.working_dir);
  for (const auto& kv : p.envs) {
    auto* e = c.add_envs();
    e->set_key(kv.key);
    e->set_value(kv.value);
  }
  for (const auto& m : p.mounts) {
    auto* cm = c.add_mounts();
    cm->set_container_path(m.container_path);
    cm->set_host_path(m.host_path);
    cm->set_readonly(m.readonly);
    cm->set_selinux_relabel(m.selinux_relabel);
    cm->set_propagation(static_cast<runtimeapi::MountPropagation>(m.propagation));
  }
  for (const auto& [k, v] : p.labels) {
    (*c.mutable_labels())[k] = v;
  }
  (*c.mutable_labels())[kLabelContainerName] = p.name;
  for (const auto& [k, v] : p.annotations) {
    (*c.mutable_annotations())[k] = v;
  }
  (*c.mutable_annotations())[kAnnotationHash] = p.hash;
  (*c.mutable_annotations())[kAnnotationRestartCount] = std::to_string(p.attempt);
  c.set_log_path(p.log_path);
  c.set_stdin(p.stdin_open);
  c.set_stdin_once(p.stdin_once);
  c.set_tty(p.tty);
  auto* r = c.mutable_linux()->mutable_resources();
  r->set_cpu_period(p.resources.cpu_period);
  r->set_cpu_quota(p.resources.cpu_quota);
  r->set_cpu_shares(p.resources.cpu_shares);
  r->set_memory_limit_in_bytes(p.resources.memory_limit_in_bytes);
  r->set_oom_score_adj(p.resources.oom_score_adj);
  if (settings_.oom_group_kill) {
    (*r->mutable_unified())["memory.oom.group"] = "1";
  }
  auto* sc = c.mutable_linux()->mutable_security_context();
  for (const auto& cap : p.security.capabilities_add) {
    sc->mutable_capabilities()->add_add_capabilities(cap);
  }
  for (const auto& cap : p.security.capabilities_drop) {
    sc->mutable_capabilities()->add_drop_capabilities(cap);
  }
  sc->set_privileged(p.security.privileged);
  auto* ns = sc->mutable_namespace_options();
  ns->set_network(toCri(p.security.network_mode));
  ns->set_pid(toCri(p.security.pid_mode));
  ns->set_ipc(toCri(p.security.ipc_mode));
  if (p.security.run_as_user) {
    sc->mutable_run_as_user()->set_value(*p.security.run_as_user);
  }
  if (p.security.run_as_group) {
    sc->mutable_run_as_group()->set_value(*p.security.run_as_group);
  }
  sc->set_readonly_rootfs(p.security.readonly_rootfs);
  for (auto g : p.security.supplemental_groups) {
    sc->add_supplemental_groups(g);
  }
  sc->set_no_new_privs(p.security.no_new_privs);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Actions

void PodRuntimeManager::stopOne(const PodPlan* plan, const std::string& id, const std::string& name,
                                int64_t grace_seconds) {
  auto t0 = std::chrono::steady_clock::now();
  if (plan) {
    const ContainerPlan* spec = nullptr;
    for (const auto& c : plan->containers) {
      if (c.name == name) {
        spec = &c;
      }
    }
    if (spec && spec->pre_stop && grace_seconds > 0) {
      const Action& a = *spec->pre_stop;
      if (a.kind == Action::Kind::Exec && !a.command.empty()) {
        auto r = cri_.execSync(id, a.command, grace_seconds);
        if (!r.ok() || r->exit_code() != 0) {
          log_->warn("preStop hook failed container={} id={} err=\"{}\"", name, id,
                     r.ok() ? "exit " + std::to_string(r->exit_code()) : r.status().message());
        }
      } else if (a.kind == Action::Kind::Sleep) {
        std::this_thread::sleep_for(
            std::chrono::seconds(std::min<int64_t>(a.sleep_seconds, grace_seconds)));
      }
    }
  }
  auto spent =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0)
          .count();
  int64_t left = std::max<int64_t>(0, grace_seconds - spent);
  Status st = cri_.stopContainer(id, left);
  if (!st.ok() && !isNotFound(st)) {
    log_->warn("stop container failed container={} id={} err=\"{}\"", name, id, st.message());
  }
}

void PodRuntimeManager::killContainers(const PodPlan* plan,
                                       const std::vector<PodActions::Kill>& kills,
                                       int64_t grace_seconds) {
  if (kills.size() == 1) {
    stopOne(plan, kills[0].id, kills[0].name, grace_seconds);
    return;
  }
  // In parallel, as the kubelet does: each container gets the whole grace period.
  std::vector<std::thread> threads;
  threads.reserve(kills.size());
  for (const auto& k : kills) {
    threads.emplace_back(
        [this, plan, k, grace_seconds] { stopOne(plan, k.id, k.name, grace_seconds); });
  }
  for (auto& t : threads) {
    t.join();
  }
}

void PodRuntimeManager::addEvent(SyncResult& out, const PodPlan& plan, const std::string& container,
                                 bool warning, const char* reason, std::string message) {
  PodEvent ev;
  ev.target.ns = plan.sandbox.ns;
  ev.target.name = plan.sandbox.name;
  ev.target.uid = plan.sandbox.uid;
  if (!container.empty()) {
    bool init = std::any_of(plan.init_containers.begin(), plan.init_containers.end(),
                            [&](const ContainerPlan& c) { return c.name == container; });
    ev.target.field_path =
        std::string(init ? "spec.initContainers{" : "spec.containers{") + container + "}";
  }
  ev.warning = warning;
  ev.reason = reason;
  ev.message = std::move(message);
  out.events.push_back(std::move(ev));
}

void PodRuntimeManager::addKillEvents(SyncResult& out, const PodPlan* plan,
                                      const std::vector<PodActions::Kill>& kills) {
  if (plan == nullptr) {
    return;
  }
  for (const auto& k : kills) {
    // kuberuntime killContainer: the message names why when the kubelet restarts it.
    std::string msg = "Stopping container " + k.name;
    if (k.reason == "liveness probe failed") {
      msg = "Container " + k.name + " failed liveness probe, will be restarted";
    } else if (k.reason == "container spec changed") {
      msg = "Container " + k.name + " definition changed, will be restarted";
    }
    addEvent(out, *plan, k.name, false, event_reason::kKilling, std::move(msg));
  }
}

namespace {

// Go's time.Duration.String() for the pull time in the Pulled event ("1.234567s", "850ms").
std::string goDuration(std::chrono::nanoseconds d) {
  char buf[64];
  double ns = static_cast<double>(d.count());
  if (d < std::chrono::microseconds(1)) {
    std::snprintf(buf, sizeof(buf), "%lldns", static_cast<long long>(d.count()));
  } else if (d < std::chrono::milliseconds(1)) {
    std::snprintf(buf, sizeof(buf), "%gµs", ns / 1e3);
  } else if (d < std::chrono::seconds(1)) {
    std::snprintf(buf, sizeof(buf), "%gms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof(buf), "%.9gs", ns / 1e9);
  }
  return buf;
}

}  // namespace

bool PodRuntimeManager::ensureImage(const PodPlan& plan, const ContainerPlan& c,
                                    const runtimeapi::PodSandboxConfig& sandbox, SyncResult& out) {
  auto present = cri_.imageStatus(c.image);
  if (!present.ok()) {
    out.waiting[c.name] = {"ErrImagePull", present.status().message()};
    addEvent(out, plan, c.name, true, event_reason::kFailed,
             "Failed to inspect image \"" + c.image + "\": " + present.status().message());
    return false;
  }
  const std::string already = "Container image \"" + c.image + "\" already present on machine";
  if (c.pull_policy == PullPolicy::Never) {
    if (!present->has_value()) {
      std::string msg =
          "Container image \"" + c.image + "\" is not present with pull policy of Never";
      out.waiting[c.name] = {"ErrImageNeverPull", msg};
      addEvent(out, plan, c.name, true, event_reason::kErrImageNeverPull, msg);
      addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: ErrImageNeverPull");
      return false;
    }
    addEvent(out, plan, c.name, false, event_reason::kPulled, already);
    return true;
  }
  if (present->has_value() && c.pull_policy == PullPolicy::IfNotPresent) {
    addEvent(out, plan, c.name, false, event_reason::kPulled, already);
    return true;
  }
  const std::string key = backoffKey(plan.sandbox.uid, "image:" + c.image);
  auto now = std::chrono::system_clock::now();
  WallTime until;
  if (backoff_.inBackoff(key, now, &until)) {
    out.waiting[c.name] = {"ImagePullBackOff", "Back-off pulling image \"" + c.image + "\""};
    addEvent(out, plan, c.name, false, event_reason::kBackOff,
             "Back-off pulling image \"" + c.image + "\"");
    addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: ImagePullBackOff");
    if (!out.retry_at || until < *out.retry_at) {
      out.retry_at = until;
    }
    return false;
  }
  addEvent(out, plan, c.name, false, event_reason::kPulling, "Pulling image \"" + c.image + "\"");
  const auto pull_t0 = std::chrono::steady_clock::now();
  auto pulled = cri_.pullImage(c.image, nullptr, &sandbox);
  if (!pulled.ok()) {
    auto wait = backoff_.next(key, now);
    out.waiting[c.name] = {"ErrImagePull", pulled.status().message()};
    addEvent(out, plan, c.name, true, event_reason::kFailed,
             "Failed to pull image \"" + c.image + "\": " + pulled.status().message());
    addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: ErrImagePull");
    WallTime retry = now + wait;
    if (!out.retry_at || retry < *out.retry_at) {
      out.retry_at = retry;
    }
    log_->warn("image pull failed image={} pod={}/{} backoff_ms={} err=\"{}\"", c.image,
               plan.sandbox.ns, plan.sandbox.name, wait.count(), pulled.status().message());
    return false;
  }
  // The kubelet's image manager: "in <pull time> (<time including the wait in the pull
  // queue> including waiting)"; we pull at once, so both are the same.
  std::string took = goDuration(std::chrono::steady_clock::now() - pull_t0);
  uint64_t size = 0;
  if (auto st = cri_.imageStatus(c.image); st.ok() && st->has_value()) {
    size = (*st)->size();
  }
  addEvent(out, plan, c.name, false, event_reason::kPulled,
           "Successfully pulled image \"" + c.image + "\" in " + took + " (" + took +
               " including waiting). Image size: " + std::to_string(size) + " bytes.");
  return true;
}

bool PodRuntimeManager::startContainer(const PodPlan& plan, ContainerPlan c, uint32_t attempt,
                                       bool restart, const std::string& sandbox_id,
                                       const runtimeapi::PodSandboxConfig& sandbox,
                                       SyncResult& out) {
  if (c.error) {
    out.waiting[c.name] = {c.error->reason, c.error->message};
    addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: " + c.error->message);
    return false;
  }
  if (!ensureImage(plan, c, sandbox, out)) {
    return false;
  }
  setContainerAttempt(c, attempt);
  if (restart) {
    backoff_.next(backoffKey(plan.sandbox.uid, c.name), std::chrono::system_clock::now());
  }
  // subPaths are checked on disk now, right before the runtime mounts them (podplan/subpath.h).
  std::string subpath_detail;
  if (auto err = prepareSubPaths(plan.pod_dir, c.name, c.mounts, &subpath_detail)) {
    out.waiting[c.name] = {err->reason, err->message};
    addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: " + err->message);
    log_->warn("subPath refused pod={}/{} container={} err=\"{}\"", plan.sandbox.ns,
               plan.sandbox.name, c.name, subpath_detail);
    return false;
  }
  runtimeapi::ContainerConfig config = containerConfig(c);
  if (settings_.devices) {
    Status dev = settings_.devices->prepareContainer(plan.sandbox.uid, c.name, &config);
    if (!dev.ok()) {
      out.waiting[c.name] = {"CreateContainerError", dev.message()};
      log_->warn("device preparation failed pod={}/{} container={} err=\"{}\"", plan.sandbox.ns,
                 plan.sandbox.name, c.name, dev.message());
      return false;
    }
  }
  auto id = cri_.createContainer(sandbox_id, config, sandbox);
  if (!id.ok()) {
    out.waiting[c.name] = {"CreateContainerError", id.status().message()};
    addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: " + id.status().message());
    log_->warn("create container failed pod={}/{} container={} err=\"{}\"", plan.sandbox.ns,
               plan.sandbox.name, c.name, id.status().message());
    return false;
  }
  addEvent(out, plan, c.name, false, event_reason::kCreated, "Created container " + c.name);
  Status st = cri_.startContainer(*id);
  if (!st.ok()) {
    out.waiting[c.name] = {"RunContainerError", st.message()};
    addEvent(out, plan, c.name, true, event_reason::kFailed, "Error: " + st.message());
    log_->warn("start container failed pod={}/{} container={} err=\"{}\"", plan.sandbox.ns,
               plan.sandbox.name, c.name, st.message());
    return false;
  }
  if (c.post_start && c.post_start->kind == Action::Kind::Exec && !c.post_start->command.empty()) {
    auto r = cri_.execSync(*id, c.post_start->command, plan.termination_grace_period_seconds);
    if (!r.ok() || r->exit_code() != 0) {
      log_->warn("postStart hook failed pod={}/{} container={}", plan.sandbox.ns, plan.sandbox.name,
                 c.name);
      std::string why =
          r.ok() ? "command exited with " + std::to_string(r->exit_code()) : r.status().message();
      addEvent(out, plan, c.name, true, event_reason::kFailedPostStartHook,
               "PostStartHook failed: " + why);
      addEvent(out, plan, c.name, false, event_reason::kKilling, "FailedPostStartHook");
      (void)cri_.stopContainer(*id, 0);
      out.waiting[c.name] = {
          "PostStartHookError",
          r.ok() ? "exit code " + std::to_string(r->exit_code()) : r.status().message()};
      return false;
    }
  }
  addEvent(out, plan, c.name, false, event_reason::kStarted, "Started container " + c.name);
  out.started.insert(c.name);
  log_->info("container started pod={}/{} container={} attempt={} id={}", plan.sandbox.ns,
             plan.sandbox.name, c.name, attempt, id->substr(0, 12));
  return true;
}

Status PodRuntimeManager::removePod(const std::string& uid, int64_t grace_seconds) {
  EC_ASSIGN_OR_RETURN(PodRuntime rt, listPod(uid));
  std::vector<PodActions::Kill> kills;
  for (const auto& c : rt.containers) {
    if (c.state == ContainerRunState::Running || c.state == ContainerRunState::Created) {
      kills.push_back({c.id, c.name, "pod removed"});
    }
  }
  killContainers(nullptr, kills, grace_seconds);
  for (const auto& s : rt.sandboxes) {
    Status st = cri_.stopPodSandbox(s.id);
    if (!st.ok() && !isNotFound(st)) {
      return st;
    }
  }
  for (const auto& c : rt.containers) {
    Status st = cri_.removeContainer(c.id);
    if (!st.ok() && !isNotFound(st)) {
      return st;
    }
  }
  for (const auto& s : rt.sandboxes) {
    Status st = cri_.removePodSandbox(s.id);
    if (!st.ok() && !isNotFound(st)) {
      return st;
    }
  }
  return {};
}

// Graceful deletion: preStop hooks, SIGTERM, the grace period, then kill and remove everything
// of the pod, its directory and its devices.
void PodRuntimeManager::terminatePod(const std::string& uid, const PodPlan* plan,
                                     int64_t grace_seconds, SyncResult& out) {
  // Graceful deletion: preStop hooks, SIGTERM, the grace period, then kill and remove.
  auto rt = listPod(uid);
  if (!rt.ok()) {
    out.error = rt.status();
    return;
  }
  std::vector<PodActions::Kill> kills;
  for (const auto& c : rt->containers) {
    if (c.state == ContainerRunState::Running || c.state == ContainerRunState::Created) {
      kills.push_back({c.id, c.name, "pod deleted"});
    }
  }
  addKillEvents(out, plan, kills);
  killContainers(plan, kills, grace_seconds);
  Status st = removePod(uid, 0);
  if (!st.ok()) {
    out.error = st;
    return;
  }
  Status dir = removePodDir(settings_.plan_inputs.root_directory, uid);
  if (!dir.ok()) {
    log_->warn("pod directory not removed uid={} err=\"{}\"", uid, dir.message());
  }
  if (settings_.devices) {
    settings_.devices->releasePod(uid);
  }
  out.terminated = true;
}

// Kills what the actions say: the whole pod when its sandbox is replaced or it finished, else
// the containers to recreate.
void PodRuntimeManager::killForActions(const PodPlan& plan_ref, const PodRuntime& rt,
                                       const PodActions& a, SyncResult& out) {
  const PodPlan* plan = &plan_ref;
  if (a.kill_pod) {
    std::vector<PodActions::Kill> kills;
    for (const auto& c : rt.containers) {
      if (c.state == ContainerRunState::Running || c.state == ContainerRunState::Created) {
        kills.push_back({c.id, c.name, "pod sandbox changed"});
      }
    }
    if (!a.terminal && rt.currentSandbox() != nullptr) {
      addEvent(out, *plan, "", false, event_reason::kSandboxChanged,
               "Pod sandbox changed, it will be killed and re-created.");
    }
    addKillEvents(out, plan, kills);
    killContainers(plan, kills, plan->termination_grace_period_seconds);
    for (const auto& s : rt.sandboxes) {
      if (s.ready) {
        Status st = cri_.stopPodSandbox(s.id);
        if (!st.ok() && !isNotFound(st)) {
          log_->warn("stop sandbox failed pod={}/{} id={} err=\"{}\"", plan->sandbox.ns,
                     plan->sandbox.name, s.id, st.message());
        }
      }
    }
  } else if (!a.kill.empty()) {
    for (const auto& k : a.kill) {
      log_->info("killing container pod={}/{} container={} reason=\"{}\"", plan->sandbox.ns,
                 plan->sandbox.name, k.name, k.reason);
    }
    addKillEvents(out, plan, a.kill);
    killContainers(plan, a.kill, plan->termination_grace_period_seconds);
  }
}

// RunPodSandbox, then (when env needs them) the plan again with the pod IPs. False (out.error
// and an event set) when the sandbox could not start.
bool PodRuntimeManager::runSandbox(const SyncRequest& req, const PlanInputs& inputs,
                                   const runtimeapi::PodSandboxConfig& sb, uint32_t sandbox_attempt,
                                   std::shared_ptr<const PodPlan>& plan, std::string& sandbox_id,
                                   SyncResult& out) {
  auto id = cri_.runPodSandbox(sb, plan->sandbox.runtime_handler);
  if (!id.ok()) {
    out.error = id.status().withContext("RunPodSandbox");
    addEvent(out, *plan, "", true, event_reason::kFailedCreatePodSandBox,
             "Failed to create pod sandbox: " + id.status().message());
    log_->warn("sandbox creation failed pod={}/{} err=\"{}\"", plan->sandbox.ns, plan->sandbox.name,
               id.status().message());
    return false;
  }
  sandbox_id = *id;
  log_->info("sandbox started pod={}/{} attempt={} id={}", plan->sandbox.ns, plan->sandbox.name,
             sandbox_attempt, sandbox_id.substr(0, 12));
  if (plan->needs_pod_ips && !plan->sandbox.host_network) {
    auto st = cri_.podSandboxStatus(sandbox_id);
    if (st.ok() && !st->network().ip().empty()) {
      PlanInputs in = inputs;
      in.pod_ips = {st->network().ip()};
      auto rebuilt = buildPodPlan(req.pod, in);
      if (rebuilt.ok()) {
        plan = std::make_shared<const PodPlan>(std::move(rebuilt).value());
        out.plan = plan;
      }
    }
  }
  return true;
}

// Removes dead containers and sandboxes beyond what is kept.
void PodRuntimeManager::removeDead(const PodActions& a) {
  for (const auto& id : a.remove_containers) {
    Status st = cri_.removeContainer(id);
    if (!st.ok() && !isNotFound(st)) {
      log_->warn("remove dead container failed id={} err=\"{}\"", id, st.message());
    }
  }
  for (const auto& id : a.remove_sandboxes) {
    Status st = cri_.removePodSandbox(id);
    if (!st.ok() && !isNotFound(st)) {
      log_->warn("remove dead sandbox failed id={} err=\"{}\"", id, st.message());
    }
  }
}

// The kubelet's SyncPod read top to bottom (plan, admission, volumes, actions, kill, sandbox,
// start, garbage); over 80 lines because each step is one call and splitting further hides the
// order.
SyncResult PodRuntimeManager::syncPod(const SyncRequest& req) {
  SyncResult out;
  const std::string uid = podUid(req.pod);
  std::shared_ptr<const PodPlan> plan = req.plan;
  PlanInputs inputs = settings_.plan_inputs;
  if (req.objects) {
    inputs.objects = req.objects.get();
  }
  if (req.tokens) {
    inputs.tokens = req.tokens.get();
  }
  if (!plan) {
    auto built = buildPodPlan(req.pod, inputs);
    if (built.ok()) {
      plan = std::make_shared<const PodPlan>(std::move(built).value());
    } else {
      out.plan_error = planErrorFromStatus(built.status());
    }
  }
  out.plan = plan;

  if (req.terminate) {
    terminatePod(uid, plan.get(), req.grace_seconds, out);
    return out;
  }
  if (!plan) {
    return out;
  }
  if (settings_.devices && !req.plan) {
    // The kubelet's device manager admission (idempotent: an admitted pod keeps its devices).
    auto adm = settings_.devices->admitPod(req.pod);
    if (!adm.admitted) {
      out.plan = nullptr;
      out.plan_error = PlanError{adm.reason, adm.message};
      addEvent(out, *plan, "", true, adm.reason.c_str(), adm.message);
      return out;
    }
  }
  if (!req.plan || req.refresh_volumes) {
    Status vol = prepareVolumes(req.pod, *plan, inputs);
    if (!vol.ok()) {
      out.plan_error = planErrorFromStatus(vol);
      addEvent(out, *plan, "", true, out.plan_error->reason.c_str(), out.plan_error->message);
      auto rt = listPod(uid);
      if (rt.ok()) {
        out.runtime = std::move(rt).value();
        out.runtime_read = true;
      }
      return out;
    }
  }

  auto rt = listPod(uid);
  if (!rt.ok()) {
    out.error = rt.status();
    return out;
  }
  const auto now = std::chrono::system_clock::now();
  PodActions a =
      computePodActions(*plan, *rt, req.probes, backoff_, now, settings_.max_dead_per_container);
  out.terminal = a.terminal;
  out.waiting = a.waiting;
  out.retry_at = a.retry_at;
  for (const auto& [name, w] : a.waiting) {
    if (w.reason == "CrashLoopBackOff") {
      addEvent(out, *plan, name, true, event_reason::kBackOff,
               "Back-off restarting failed container " + name + " in pod " + plan->sandbox.name +
                   "_" + plan->sandbox.ns + "(" + uid + ")");
    }
  }

  killForActions(*plan, *rt, a, out);

  std::string sandbox_id = a.sandbox_id;
  uint32_t sandbox_attempt = a.sandbox_attempt;
  if (!a.create_sandbox && rt->currentSandbox()) {
    sandbox_attempt = rt->currentSandbox()->attempt;
  }
  runtimeapi::PodSandboxConfig sb = sandboxConfig(*plan, sandbox_attempt);
  if (a.create_sandbox && !a.terminal) {
    if (!runSandbox(req, inputs, sb, sandbox_attempt, plan, sandbox_id, out)) {
      return out;
    }
  }

  if (!a.terminal) {
    for (const auto& s : a.start) {
      const ContainerPlan& c = s.init ? plan->init_containers[s.index] : plan->containers[s.index];
      bool ok = startContainer(*plan, c, s.attempt, s.restart, sandbox_id, sb, out);
      if (s.init) {
        break;  // init containers run one at a time
      }
      (void)ok;
    }
  }

  removeDead(a);

  auto after = listPod(uid);
  if (after.ok()) {
    out.runtime = std::move(after).value();
    out.runtime_read = true;
  }
  return out;
}

cri::CriClientOptions criClientOptions(const core::EdgedConfig& cfg) {
  cri::CriClientOptions co;
  co.runtime_endpoint = cfg.container_runtime_endpoint;
  co.image_endpoint = cfg.image_service_endpoint;
  if (cfg.runtime_request_timeout.count() > 0) {
    co.request_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg.runtime_request_timeout);
  }
  return co;
}

}  // namespace edgecore::edged
