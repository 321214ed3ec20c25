// Node object, status, patch and lease. Facts (reasons, messages, label keys, order of
// conditions) from vendor/k8s.io/kubernetes/pkg/kubelet/nodestatus/setters.go and
// kubelet_node_status.go @ v1.20.0 (kubeedge fork: node-role labels, kubelet endpoint port).

#include "node/node_status.h"

#include <ctime>

#include "edgecore/core/time.h"

namespace edgecore::edged {

using nlohmann::json;

std::string formatBinaryQuantity(int64_t bytes) {
  if (bytes == 0) {
    return "0";
  }
  static constexpr const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int i = 0;
  int64_t v = bytes;
  while (i < 6 && v % 1024 == 0) {
    v /= 1024;
    ++i;
  }
  return std::to_string(v) + kSuffix[i];
}

std::string formatCpuQuantity(int64_t milli) {
  if (milli % 1000 == 0) {
    return std::to_string(milli / 1000);
  }
  return std::to_string(milli) + "m";
}

namespace {

json condition(const char* type, bool status, const char* reason, const std::string& message,
               const std::string& now, const json& previous) {
  json c = {{"type", type},
            {"status", status ? "True" : "False"},
            {"lastHeartbeatTime", now},
            {"lastTransitionTime", now},
            {"reason", reason},
            {"message", message}};
  if (previous.is_object()) {
    auto conds = previous.find("conditions");
    if (conds != previous.end() && conds->is_array()) {
      for (const auto& p : *conds) {
        if (p.is_object() && p.value("type", "") == type && p.value("status", "") == c["status"] &&
            p.contains("lastTransitionTime")) {
          c["lastTransitionTime"] = p["lastTransitionTime"];
        }
      }
    }
  }
  return c;
}

}  // namespace

json buildNodeStatus(const NodeConfig& cfg, const HostFacts& facts, const RuntimeHealth& health,
                     std::chrono::system_clock::time_point now, const json& previous) {
  const std::string ts = core::formatRfc3339(now);
  json capacity = {{"cpu", formatCpuQuantity(facts.cpu_milli)},
                   {"memory", formatBinaryQuantity(facts.memory_bytes)},
                   {"pods", std::to_string(cfg.max_pods)},
                   {"ephemeral-storage", formatBinaryQuantity(facts.fs_capacity_bytes)}};
  for (const auto& [k, v] : facts.hugepages) {
    capacity[k] = formatBinaryQuantity(v);
  }
  // Allocatable = capacity - reserved - hard eviction threshold (kubelet
  // cm.GetNodeAllocatableAbsolute + the eviction reservation).
  const int64_t alloc_cpu = std::max<int64_t>(0, facts.cpu_milli - cfg.reserved_cpu_milli);
  int64_t alloc_mem =
      facts.memory_bytes - cfg.reserved_memory_bytes - cfg.eviction_memory_available_bytes;
  int64_t hugepage_total = 0;
  for (const auto& [k, v] : facts.hugepages) hugepage_total += v;
  alloc_mem = std::max<int64_t>(0, alloc_mem - hugepage_total);
  const int64_t alloc_fs = std::max<int64_t>(
      0, facts.fs_capacity_bytes -
             facts.fs_capacity_bytes * cfg.eviction_nodefs_available_percent / 100);
  json allocatable = capacity;
  allocatable["cpu"] = formatCpuQuantity(alloc_cpu);
  allocatable["memory"] = formatBinaryQuantity(alloc_mem);
  allocatable["ephemeral-storage"] = std::to_string(alloc_fs);
  for (const auto& [name, r] : facts.extended_resources) {
    capacity[name] = std::to_string(r.capacity);
    allocatable[name] = std::to_string(r.allocatable);
  }

  const bool memory_pressure =
      facts.memory_bytes > 0 && facts.memory_available_bytes < cfg.eviction_memory_available_bytes;
  const bool disk_pressure =
      (facts.fs_capacity_bytes > 0 &&
       facts.fs_available_bytes * 100 <
           facts.fs_capacity_bytes * cfg.eviction_nodefs_available_percent) ||
      (facts.fs_inodes > 0 &&
       facts.fs_inodes_free * 100 < facts.fs_inodes * cfg.eviction_nodefs_inodes_free_percent);
  // No PID eviction threshold by default: PIDPressure only when the pid space is exhausted.
  const bool pid_pressure = facts.pid_max > 0 && facts.pids_running >= facts.pid_max;

  json conditions = json::array();
  conditions.push_back(
      condition("MemoryPressure", memory_pressure,
                memory_pressure ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
                memory_pressure ? "kubelet has insufficient memory available"
                                : "kubelet has sufficient memory available",
                ts, previous));
  conditions.push_back(condition(
      "DiskPressure", disk_pressure,
      disk_pressure ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
      disk_pressure ? "kubelet has disk pressure" : "kubelet has no disk pressure", ts, previous));
  conditions.push_back(
      condition("PIDPressure", pid_pressure,
                pid_pressure ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
                pid_pressure ? "kubelet has insufficient PID available"
                             : "kubelet has sufficient PID available",
                ts, previous));
  const bool ready = health.runtime_ready && health.network_ready;
  std::string not_ready;
  if (!health.runtime_ready) {
    not_ready = "container runtime is down";
  } else if (!health.network_ready) {
    not_ready = "container runtime network not ready: NetworkReady=false";
  }
  if (!ready && !health.message.empty()) {
    not_ready += ": " + health.message;
  }
  conditions.push_back(condition("Ready", ready, ready ? "KubeletReady" : "KubeletNotReady",
                                 ready ? "kubelet is posting ready status" : not_ready, ts,
                                 previous));

  json addresses = json::array();
  const std::string ip = !cfg.node_ip.empty() ? cfg.node_ip
                         : facts.ips.empty()  ? std::string()
                                              : facts.ips.front();
  if (!ip.empty()) {
    addresses.push_back({{"type", "InternalIP"}, {"address", ip}});
  }
  addresses.push_back(
      {{"type", "Hostname"}, {"address", facts.hostname.empty() ? cfg.node_name : facts.hostname}});

  json node_info = {{"machineID", facts.machine_id},
                    {"systemUUID", facts.system_uuid},
                    {"bootID", facts.boot_id},
                    {"kernelVersion", facts.kernel_version},
                    {"osImage", facts.os_image},
                    {"containerRuntimeVersion", cfg.container_runtime_version},
                    {"kubeletVersion", cfg.kubelet_version},
                    {"kubeProxyVersion", cfg.kube_proxy_version},
                    {"operatingSystem", facts.operating_system},
                    {"architecture", facts.architecture}};
  return {{"capacity", capacity},
          {"allocatable", allocatable},
          {"conditions", conditions},
          {"addresses", addresses},
          {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", cfg.read_only_port}}}}},
          {"nodeInfo", node_info}};
}

json buildNodeObject(const NodeConfig& cfg, const HostFacts& facts, const RuntimeHealth& health,
                     std::chrono::system_clock::time_point now) {
  json labels = {{"kubernetes.io/hostname", cfg.node_name},
                 {"kubernetes.io/os", facts.operating_system},
                 {"kubernetes.io/arch", facts.architecture},
                 {"beta.kubernetes.io/os", facts.operating_system},
                 {"beta.kubernetes.io/arch", facts.architecture},
                 {"node-role.kubernetes.io/edge", ""},
                 {"node-role.kubernetes.io/agent", ""}};
  for (const auto& [k, v] : cfg.node_labels) {
    labels[k] = v;
  }
  json spec = json::object();
  if (cfg.taints.is_array() && !cfg.taints.empty()) {
    spec["taints"] = cfg.taints;
  }
  if (!cfg.register_schedulable) {
    spec["unschedulable"] = true;
  }
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", cfg.node_name},
            {"labels", labels},
            {"annotations", {{"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
          {"spec", spec},
          {"status", buildNodeStatus(cfg, facts, health, now)}};
}

std::string nodeStatusPatch(const json& status) {
  json s = status;
  // Registration sets the port; after that CloudStream owns it (its tunnel port, which the
  // cloud's kube-apiserver dials for logs/exec). A patch must not put readOnlyPort back.
  s.erase("daemonEndpoints");
  for (const char* list : {"conditions", "addresses"}) {
    auto it = status.find(list);
    if (it == status.end() || !it->is_array()) continue;
    json order = json::array();
    for (const auto& e : *it) {
      order.push_back({{"type", e.value("type", "")}});  // both lists merge on "type"
    }
    s[std::string("$setElementOrder/") + list] = order;
  }
  return json{{"status", s}}.dump();
}

namespace {
json withoutHeartbeats(json status) {
  if (auto it = status.find("conditions"); it != status.end() && it->is_array()) {
    for (auto& c : *it) {
      if (c.is_object()) c.erase("lastHeartbeatTime");
    }
  }
  return status;
}
}  // namespace

std::optional<std::string> NodeStatusTracker::update(const NodeConfig& cfg, const HostFacts& facts,
                                                     const RuntimeHealth& health,
                                                     std::chrono::system_clock::time_point now,
                                                     bool force) {
  last_ = buildNodeStatus(cfg, facts, health, now, last_);
  json cmp = withoutHeartbeats(last_);
  const bool changed = cmp != last_sent_;
  const bool due = !last_sent_at_ || now - *last_sent_at_ >= report_frequency_;
  if (!force && !changed && !due) {
    return std::nullopt;
  }
  last_sent_ = std::move(cmp);
  last_sent_at_ = now;
  // A resource that left capacity/allocatable (e.g. a device plugin's after its grace period)
  // must be deleted by the patch: under strategic merge an absent map key is kept, so the patch
  // says null, as the kubelet's two-way patch does. Every name ever reported gets its null while
  // absent (a patch that failed to arrive is repeated whole).
  json patch_status = last_;
  for (const char* map : {"capacity", "allocatable"}) {
    auto& seen = reported_[map];
    const json& now_map = last_[map];
    for (auto it = now_map.begin(); it != now_map.end(); ++it) {
      if (seen.size() < kMaxReportedNames) seen.insert(it.key());
    }
    for (const auto& name : seen) {
      if (!now_map.contains(name)) patch_status[map][name] = nullptr;
    }
  }
  return nodeStatusPatch(patch_status);
}

json buildLease(const std::string& node_name, const std::string& node_uid,
                int32_t lease_duration_seconds, std::chrono::system_clock::time_point now) {
  json meta = {{"name", node_name}, {"namespace", "kube-node-lease"}};
  if (!node_uid.empty()) {
    meta["ownerReferences"] = json::array(
        {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name}, {"uid", node_uid}}});
  }
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", meta},
          {"spec",
           {{"holderIdentity", node_name},
            {"leaseDurationSeconds", lease_duration_seconds},
            {"renewTime", core::formatRfc3339Micro(now)}}}};
}

NodeLease::Request NodeLease::next(const std::string& node_uid,
                                   std::chrono::system_clock::time_point now) const {
  if (!latest_) {
    if (missing_) {
      return {"insert", buildLease(node_name_, node_uid, duration_s_, now)};
    }
    return {"query", nullptr};
  }
  json lease = *latest_;
  json& spec = lease["spec"];
  if (!spec.is_object()) {
    spec = json::object();
  }
  spec["holderIdentity"] = node_name_;
  spec["leaseDurationSeconds"] = duration_s_;
  spec["renewTime"] = core::formatRfc3339Micro(now);
  json& meta = lease["metadata"];
  if (!node_uid.empty() && meta.is_object() &&
      (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array() ||
       meta["ownerReferences"].empty())) {
    meta["ownerReferences"] = json::array(
        {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name_}, {"uid", node_uid}}});
  }
  return {"update", std::move(lease)};
}

std::string NodeLease::onAnswer(const json& content) {
  if (!content.is_object()) {
    // metamanager's answer while offline: the cached rows, or an error text.
    return "no answer from the cloud (offline?)";
  }
  auto obj = content.find("Object");
  if (obj != content.end() && obj->is_object() && obj->contains("metadata")) {
    latest_ = *obj;
    missing_ = false;
    return "";
  }
  std::string reason;
  if (auto err = content.find("Err"); err != content.end() && err->is_object()) {
    const json& st = err->contains("ErrStatus") ? (*err)["ErrStatus"] : *err;
    if (st.is_object()) {
      reason = st.value("reason", "");
      if (reason.empty()) {
        reason = st.value("message", "");
      }
    }
  }
  latest_.reset();  // read it again before the next update
  missing_ = reason == "NotFound";
  return reason.empty() ? "no lease in the answer" : reason;
}

std::string nodeResource(const NodeConfig& cfg) {
  return cfg.register_namespace + "/node/" + cfg.node_name;
}
std::string nodePatchResource(const NodeConfig& cfg) {
  return cfg.register_namespace + "/nodepatch/" + cfg.node_name;
}
std::string leaseResource(const NodeConfig& cfg) {
  return "kube-node-lease/lease/" + cfg.node_name;
}

}  // namespace edgecore::edged
