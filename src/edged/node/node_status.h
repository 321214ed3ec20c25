#pragma once

// Node registration, node status and lease objects, built like the kubelet's
// kubelet_node_status.go initialNode + nodestatus setters and nodelease controller
// (vendor/k8s.io/kubernetes/pkg/kubelet @ v1.20.0; spec/local-apis.md 6.6, cloud-protocol.md
// 4.2, 4.3, 4.5). Pure functions of (config, host facts, time) plus one host reader.
//
// Flow for the core: at start readHostFacts() -> buildNodeObject() -> `insert`
// "<ns>/node/<name>"; every nodeStatusUpdateFrequency: readHostFacts() (blocking pool) ->
// NodeStatusTracker::update() -> if it returns a patch, send `patch` "<ns>/nodepatch/<name>"
// with that string as content; every leaseDuration/4: NodeLease::next() -> `query`, `insert` or
// `update` "kube-node-lease/lease/<name>", its answer to NodeLease::onAnswer().

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::edged {

using core::Result;
using core::Status;

// What the host says about itself. readHostFacts fills every field it can; tests build it by hand.
struct HostFacts {
  int64_t cpu_milli = 0;               // online CPUs * 1000
  int64_t memory_bytes = 0;            // MemTotal
  int64_t memory_available_bytes = 0;  // MemAvailable
  int64_t fs_capacity_bytes = 0;       // filesystem of rootDirectory
  int64_t fs_available_bytes = 0;
  int64_t fs_inodes = 0;
  int64_t fs_inodes_free = 0;
  int64_t pid_max = 0;                       // /proc/sys/kernel/pid_max
  int64_t pids_running = 0;                  // processes in /proc
  std::map<std::string, int64_t> hugepages;  // "hugepages-2Mi" -> bytes reserved
  std::string hostname;                      // lowercase
  std::vector<std::string> ips;              // non-loopback IPv4 addresses, first = preferred
  std::string machine_id;
  std::string system_uuid;
  std::string boot_id;
  std::string kernel_version;  // uname -r
  std::string os_image;        // PRETTY_NAME of /etc/os-release
  std::string operating_system = "linux";
  std::string architecture;  // GOARCH spelling: amd64, arm64, arm...
  // Device plugin resources (src/edged/deviceplugin): name -> {capacity, allocatable} counts,
  // added to status capacity/allocatable as plain integers. Not read from the host: the core
  // fills it from DeviceManager::resources().
  struct ExtendedResource {
    int64_t capacity = 0;
    int64_t allocatable = 0;
  };
  std::map<std::string, ExtendedResource> extended_resources;
};

// Reads /proc, /sys, /etc and statvfs(root_directory or its nearest existing parent). Blocking.
// Missing files leave fields empty/zero (e.g. product_uuid needs root); never fails on them.
HostFacts readHostFacts(const std::string& root_directory);

struct NodeConfig {
  std::string node_name;
  std::string register_namespace = "default";
  std::map<std::string, std::string> node_labels;   // edged.nodeLabels
  nlohmann::json taints = nlohmann::json::array();  // [{key,value,effect}]
  bool register_schedulable = true;
  std::string node_ip;  // edged.nodeIP; "" = first detected address
  int32_t read_only_port = 10350;
  int32_t max_pods = 110;
  std::string kubelet_version = "v1.30.7-kubeedge-v1.20.0";
  std::string container_runtime_version;  // "containerd://1.6.20"
  std::string kube_proxy_version;         // "" like a kubelet without kube-proxy info
  // evictionHard defaults: memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%.
  int64_t eviction_memory_available_bytes = 100 * 1024 * 1024;
  int eviction_nodefs_available_percent = 10;
  int eviction_nodefs_inodes_free_percent = 5;
  int64_t reserved_cpu_milli = 0;  // kubeReserved + systemReserved
  int64_t reserved_memory_bytes = 0;
};

// Runtime health the Ready condition reflects (CRI Status: RuntimeReady / NetworkReady).
struct RuntimeHealth {
  bool runtime_ready = true;
  bool network_ready = true;
  std::string message;  // why not ready, from the runtime's condition message
};

// "1234Ki"-style string of a byte count, as Go's BinarySI Quantity.String() prints it.
std::string formatBinaryQuantity(int64_t bytes);
// "4" / "1500m" of milli-CPUs, as DecimalSI prints it.
std::string formatCpuQuantity(int64_t milli);

// The full v1.Node the kubelet registers (initialNode + setters): labels kubernetes.io/hostname,
// kubernetes.io/os, kubernetes.io/arch, beta.kubernetes.io/os, beta.kubernetes.io/arch,
// node-role.kubernetes.io/edge "", node-role.kubernetes.io/agent "", plus nodeLabels; taints;
// spec.unschedulable when !register_schedulable; status as buildNodeStatus.
nlohmann::json buildNodeObject(const NodeConfig& cfg, const HostFacts& facts,
                               const RuntimeHealth& health,
                               std::chrono::system_clock::time_point now);

// v1.NodeStatus: capacity/allocatable, conditions (MemoryPressure, DiskPressure, PIDPressure,
// Ready with the kubelet's reasons/messages), addresses, daemonEndpoints.kubeletEndpoint.Port,
// nodeInfo. `previous` (the last status, may be null) keeps lastTransitionTime of conditions
// whose status did not change.
nlohmann::json buildNodeStatus(const NodeConfig& cfg, const HostFacts& facts,
                               const RuntimeHealth& health,
                               std::chrono::system_clock::time_point now,
                               const nlohmann::json& previous = nullptr);

// The strategic-merge patch body (as a string, the nodepatch content) that sets `status`:
// {"status":{"$setElementOrder/conditions":[{"type":...}...],"$setElementOrder/addresses":...,
// ...status...}}.
std::string nodeStatusPatch(const nlohmann::json& status);

// Decides when to send node status (kubelet: on change, or every nodeStatusReportFrequency).
// Heartbeat times are ignored when comparing. Not thread-safe: use from the edged strand.
class NodeStatusTracker {
 public:
  explicit NodeStatusTracker(std::chrono::milliseconds report_frequency)
      : report_frequency_(report_frequency) {}
  // Computes the status and returns the patch to send, or nullopt when nothing changed and the
  // report period has not elapsed. `force` sends anyway (e.g. after a reconnect).
  std::optional<std::string> update(const NodeConfig& cfg, const HostFacts& facts,
                                    const RuntimeHealth& health,
                                    std::chrono::system_clock::time_point now, bool force = false);
  // The last computed status (null before the first update).
  const nlohmann::json& lastStatus() const { return last_; }

 private:
  std::chrono::milliseconds report_frequency_;
  nlohmann::json last_;
  nlohmann::json last_sent_;  // without heartbeat times
  std::optional<std::chrono::system_clock::time_point> last_sent_at_;
  static constexpr size_t kMaxReportedNames = 1024;
  std::map<std::string, std::set<std::string>> reported_;  // capacity/allocatable names sent
};

// coordination.k8s.io/v1 Lease kube-node-lease/<node>: holderIdentity = node, leaseDurationSeconds,
// renewTime = now (MicroTime), ownerReference to the Node when node_uid is known.
nlohmann::json buildLease(const std::string& node_name, const std::string& node_uid,
                          int32_t lease_duration_seconds,
                          std::chrono::system_clock::time_point now);

// Resource strings of the upstream messages (source edged, group meta).
// The kubelet's node lease controller over the cloud link: the cloud's kube-apiserver takes a
// Lease update only with the resourceVersion it last returned, so the lease is read once
// (`query`), created when the cloud says NotFound (`insert`), then renewed from the last object
// the cloud answered (`update`). A refused update (Conflict, Invalid) reads it again. Not
// thread-safe: use from the edged strand.
class NodeLease {
 public:
  NodeLease(std::string node_name, int32_t lease_duration_seconds)
      : node_name_(std::move(node_name)), duration_s_(lease_duration_seconds) {}

  struct Request {
    std::string operation;  // "query", "insert" or "update"
    nlohmann::json content;
  };
  // What to send now to renew (or find) the lease.
  Request next(const std::string& node_uid, std::chrono::system_clock::time_point now) const;
  // The cloud's answer to the last request: an ObjectResp {"Object":..., "Err":...}. Returns ""
  // when the lease is now known (renewed or read), else a short reason.
  std::string onAnswer(const nlohmann::json& content);
  // No answer (offline, timeout): keep what we know, try again next period.
  void onNoAnswer() {}
  bool known() const { return latest_.has_value(); }

 private:
  std::string node_name_;
  int32_t duration_s_;
  std::optional<nlohmann::json> latest_;  // the Lease as the cloud last returned it
  bool missing_ = false;                  // the cloud said NotFound: create it
};

std::string nodeResource(const NodeConfig& cfg);       // "<ns>/node/<name>"
std::string nodePatchResource(const NodeConfig& cfg);  // "<ns>/nodepatch/<name>"
std::string leaseResource(const NodeConfig& cfg);      // "kube-node-lease/lease/<name>"

}  // namespace edgecore::edged
