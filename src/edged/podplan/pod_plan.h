#pragma once

// PodPlan: a pod fully resolved into what the CRI calls need, as plain C++ (no protobuf), so the
// edged core only copies fields into runtime.v1 messages. Built from the Pod JSON the way the
// kubelet's kuberuntime builds PodSandboxConfig / ContainerConfig (spec/local-apis.md 6.3;
// vendor/k8s.io/kubernetes/pkg/kubelet/kuberuntime/kuberuntime_sandbox.go generatePodSandboxConfig
// and kuberuntime_container.go generateContainerConfig @ v1.20.0).
//
// Threading: everything here is synchronous and has no state of its own. buildPodPlan() calls the
// ObjectSource (SQLite reads in production), prepareVolumes() writes files: call both from the
// blocking pool, never from an I/O thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::edged {

using core::internalError;
using core::invalidArgument;
using core::notFound;
using core::Result;
using core::Status;

// Kubelet-style waiting reasons the core copies into containerStatuses[].state.waiting.reason.
inline constexpr std::string_view kReasonCreateContainerConfigError = "CreateContainerConfigError";
inline constexpr std::string_view kReasonInvalidImageName = "InvalidImageName";
inline constexpr std::string_view kReasonFailedMount = "FailedMount";        // pod-level (an event)
inline constexpr std::string_view kReasonInvalidPodSpec = "InvalidPodSpec";  // pod-level

// A reason + human message, as the kubelet puts them into status.
struct PlanError {
  std::string reason;   // e.g. "CreateContainerConfigError"
  std::string message;  // e.g. "configmap \"app-config\" not found"
};
// Pod-level failures come back as a Status whose message is "<reason>: <message>"; this splits it
// (reason "InvalidPodSpec" when the message has no known reason prefix).
PlanError planErrorFromStatus(const Status& status);

struct KeyValue {
  std::string key;
  std::string value;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

enum class Protocol { Tcp = 0, Udp = 1, Sctp = 2 };  // runtime.v1 Protocol numbers

struct PortMapping {  // runtime.v1 PortMapping
  Protocol protocol = Protocol::Tcp;
  int32_t container_port = 0;
  int32_t host_port = 0;
  std::string host_ip;
};

struct ContainerPort {  // the container's spec.ports entry (all of them, hostPort or not)
  std::string name;
  int32_t container_port = 0;
  int32_t host_port = 0;
  Protocol protocol = Protocol::Tcp;
  std::string host_ip;
};

struct DnsConfig {  // runtime.v1 DNSConfig
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

enum class NamespaceMode { Pod = 0, Container = 1, Node = 2 };  // runtime.v1 NamespaceMode

enum class QosClass { Guaranteed, Burstable, BestEffort };
std::string_view qosClassName(QosClass q);  // "Guaranteed" / "Burstable" / "BestEffort"

struct SandboxPlan {
  // metadata
  std::string name;
  std::string ns;
  std::string uid;
  uint32_t attempt = 0;  // the core sets it (number of sandboxes created before for this pod)

  std::string hostname;                       // "" with hostNetwork (the runtime uses the node's)
  std::string log_directory;                  // <podLogsDir>/<ns>_<name>_<uid>
  DnsConfig dns;                              // from dnsPolicy/dnsConfig (spec 6.3)
  std::vector<PortMapping> port_mappings;     // container ports that have a hostPort
  std::map<std::string, std::string> labels;  // pod labels + io.kubernetes.pod.{name,ns,uid}
  std::map<std::string, std::string> annotations;  // pod annotations
  bool host_network = false;
  bool host_pid = false;
  bool host_ipc = false;
  NamespaceMode network_mode = NamespaceMode::Pod;    // Node with hostNetwork
  NamespaceMode pid_mode = NamespaceMode::Container;  // Node with hostPID
  NamespaceMode ipc_mode = NamespaceMode::Pod;        // Node with hostIPC
  std::string cgroup_parent;                          // QoS cgroup (see qos in PodPlan)
  std::map<std::string, std::string> sysctls;         // spec.securityContext.sysctls
  bool privileged = false;                            // any container privileged
  std::optional<int64_t> run_as_user;                 // pod securityContext
  std::optional<int64_t> run_as_group;
  std::vector<int64_t> supplemental_groups;
  std::string runtime_handler;  // RuntimeClass handler; always "" for now
};

// A volumeMount with a subPath: where it points, checked again on disk just before the container
// is created (podplan/subpath.h), because a container can plant symlinks inside a writable volume.
struct SubPathMount {
  std::string volume_name;  // spec.volumes[].name
  std::string volume_path;  // host directory of the whole volume
  std::string sub_path;     // relative path inside it, as written in the spec
  int mount_index = 0;      // index in the container's volumeMounts (names the staging path)
  friend bool operator==(const SubPathMount&, const SubPathMount&) = default;
};

struct Mount {  // runtime.v1 Mount
  std::string container_path;
  // With sub_path set, volume_path/sub_path as text; prepareSubPaths() replaces it with a
  // bind-mounted staging path before the CRI sees it.
  std::string host_path;
  bool readonly = false;
  bool selinux_relabel = false;
  int propagation = 0;  // PRIVATE=0, HOST_TO_CONTAINER=1, BIDIRECTIONAL=2
  std::optional<SubPathMount> sub_path;
  friend bool operator==(const Mount&, const Mount&) = default;
};

struct LinuxResources {    // runtime.v1 LinuxContainerResources, as the kubelet computes them
  int64_t cpu_period = 0;  // 100000 when a CPU limit is set (cpuCFSQuotaPeriod)
  int64_t cpu_quota = 0;   // 0 = no limit
  int64_t cpu_shares = 0;  // from the CPU request (or limit when no request), min 2
  int64_t memory_limit_in_bytes = 0;  // 0 = no limit
  int64_t oom_score_adj = 0;          // from the QoS class (kubelet qos.GetContainerOOMScoreAdjust)
};

struct SecurityPlan {  // runtime.v1 LinuxContainerSecurityContext basics
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::vector<int64_t> supplemental_groups;
  bool privileged = false;
  bool readonly_rootfs = false;
  bool no_new_privs = false;  // = !allowPrivilegeEscalation (kubelet: true only when set false)
  std::vector<std::string> capabilities_add;   // as written ("NET_ADMIN"); the runtime prefixes
  std::vector<std::string> capabilities_drop;  // "CAP_" itself
  NamespaceMode network_mode = NamespaceMode::Pod;
  NamespaceMode pid_mode = NamespaceMode::Container;
  NamespaceMode ipc_mode = NamespaceMode::Pod;
};

// An HTTP GET, TCP connect or exec action, used by probes and lifecycle hooks.
struct Action {
  enum class Kind { None, Exec, HttpGet, TcpSocket, Sleep };
  Kind kind = Kind::None;
  std::vector<std::string> command;  // Exec
  std::string host;                  // HttpGet/TcpSocket; "" = the pod IP (or 127.0.0.1)
  int32_t port = 0;                  // resolved from a named port
  std::string path = "/";            // HttpGet
  std::string scheme = "HTTP";       // HttpGet: HTTP (HTTPS not supported by the probe runner)
  std::vector<KeyValue> http_headers;
  int64_t sleep_seconds = 0;  // Sleep
};

struct ProbeSpec {
  Action action;
  int32_t initial_delay_seconds = 0;
  int32_t timeout_seconds = 1;
  int32_t period_seconds = 10;
  int32_t success_threshold = 1;
  int32_t failure_threshold = 3;
  std::optional<int64_t> termination_grace_period_seconds;
};

enum class PullPolicy { Always, IfNotPresent, Never };

struct ContainerPlan {
  std::string name;
  bool is_init = false;
  uint32_t attempt = 0;  // restart count; set with setContainerAttempt()
  std::string image;     // ":latest" appended when untagged (kubelet applyDefaultImageTag)
  PullPolicy pull_policy = PullPolicy::IfNotPresent;  // kubelet default: Always for :latest
  std::vector<std::string> command;                   // $(VAR) expanded
  std::vector<std::string> args;                      // $(VAR) expanded
  std::string working_dir;
  std::vector<KeyValue> envs;  // ordered as the kubelet orders them (envFrom, then env)
  std::vector<Mount> mounts;   // volumes, then /etc/hosts, then /dev/termination-log
  LinuxResources resources;
  SecurityPlan security;
  bool stdin_open = false;
  bool stdin_once = false;
  bool tty = false;
  std::vector<ContainerPort> ports;
  std::string termination_message_path = "/dev/termination-log";
  std::string termination_message_policy = "File";  // or "FallbackToLogsOnError"
  // Host file backing /dev/termination-log: <root>/pods/<uid>/containers/<name>/<random>.
  std::string termination_log_host_path;
  std::optional<ProbeSpec> liveness;
  std::optional<ProbeSpec> readiness;
  std::optional<ProbeSpec> startup;
  std::optional<Action> post_start;
  std::optional<Action> pre_stop;
  // Change detection: hex FNV-1a-32 of the container spec JSON (keys sorted), like the kubelet's
  // io.kubernetes.container.hash. A different hash = the container must be recreated.
  std::string hash;
  std::string log_path;  // "<name>/<attempt>.log", relative to SandboxPlan::log_directory
  std::map<std::string, std::string> labels;       // io.kubernetes.pod.* + container.name
  std::map<std::string, std::string> annotations;  // io.kubernetes.container.* (spec 6.3)
  // Set when this container cannot be created (missing configmap key, bad image name...): the
  // core leaves it Waiting with this reason/message and still starts the others.
  std::optional<PlanError> error;
};

enum class RestartPolicy { Always, OnFailure, Never };

struct PodPlan {
  SandboxPlan sandbox;
  std::vector<ContainerPlan> init_containers;  // in spec order
  std::vector<ContainerPlan> containers;       // in spec order
  RestartPolicy restart_policy = RestartPolicy::Always;
  int64_t termination_grace_period_seconds = 30;
  QosClass qos = QosClass::BestEffort;
  std::string pod_dir;    // <root>/pods/<uid>
  std::string etc_hosts;  // host path of the pod's /etc/hosts file (written by prepareVolumes)
  // True when built without PlanInputs::pod_ips for a pod that needs them (pod network: the
  // /etc/hosts entry; any pod: env from status.podIP(s)). Flow: build without IPs for the sandbox
  // config, RunPodSandbox + PodSandboxStatus, then build again with pod_ips (hostNetwork: the host
  // IP) for the container configs and prepareVolumes().
  bool needs_pod_ips = false;
};

// Sets the attempt (restart count) of a container: metadata attempt, log_path and the
// io.kubernetes.container.restartCount annotation.
void setContainerAttempt(ContainerPlan& c, uint32_t attempt);

// Where configmaps and secrets come from. Production: the metamanager store (meta table rows
// "<ns>/configmap/<name>", "<ns>/secret/<name>"); tests: a map.
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The object JSON, NotFound if absent, another error if the store failed. May block.
  virtual Result<nlohmann::json> getConfigMap(std::string_view ns, std::string_view name) = 0;
  virtual Result<nlohmann::json> getSecret(std::string_view ns, std::string_view name) = 0;
};
// Reads configmaps and secrets by their v1 `meta` table key through `read` (EdgedOptions::
// read_stored_object). Blocking reads.
using StoredObjectReader = std::function<Result<std::optional<std::string>>(std::string_view key)>;
std::unique_ptr<ObjectSource> makeStoredObjectSource(StoredObjectReader read);

// A configmap or secret a pod refers to (volumes, projected sources, env valueFrom, envFrom,
// imagePullSecrets), in the pod's namespace.
struct ObjectRef {
  enum class Kind { ConfigMap, Secret };
  Kind kind = Kind::ConfigMap;
  std::string name;
  friend bool operator==(const ObjectRef&, const ObjectRef&) = default;
};
// Every distinct reference of `pod`, volumes first, then init containers, containers and pull
// secrets. References with an empty name are skipped.
std::vector<ObjectRef> referencedObjects(const nlohmann::json& pod);
// Reads metamanager's answer to a `query` of "<ns>/<configmap|secret>/<name>": the object from
// the cloud, the cloud's NotFound, or the stored row(s) while offline. nullopt when the answer
// says nothing about the object (another cloud error, an error text): then the store decides.
std::optional<Result<nlohmann::json>> objectFromQueryAnswer(const nlohmann::json& content,
                                                            const ObjectRef& ref);
// What one fetch round got for each reference: the object, NotFound, or another error.
using FetchedObjects = std::vector<std::pair<ObjectRef, Result<nlohmann::json>>>;
// Answers from `fetched` (one pod's namespace) and asks `fallback` (may be null) for anything
// not fetched.
std::unique_ptr<ObjectSource> makeFetchedObjectSource(FetchedObjects fetched,
                                                      ObjectSource* fallback);

class ServiceAccountTokenSource;  // podplan/sa_token.h

struct PlanInputs {
  ObjectSource* objects = nullptr;  // required when the pod references configmaps/secrets
  // Projected serviceAccountToken sources (podplan/sa_token.h); null: such a volume fails.
  ServiceAccountTokenSource* tokens = nullptr;
  std::string node_name;
  std::string host_ip;               // status.hostIP
  std::vector<std::string> pod_ips;  // empty until the sandbox exists (or hostNetwork: host_ip)
  std::string root_directory = "/var/lib/kubelet";
  std::string pod_logs_dir = "/var/log/pods";
  std::vector<std::string> cluster_dns;  // tailoredKubeletConfig.clusterDNS
  std::string cluster_domain = "cluster.local";
  std::string resolv_conf = "/etc/resolv.conf";  // "" = none
  std::string host_etc_hosts = "/etc/hosts";     // copied into hostNetwork pods' /etc/hosts
  std::string cgroup_driver = "cgroupfs";        // "systemd" changes the cgroup parent names
  bool cgroups_per_qos = true;
  int64_t cpu_cfs_quota_period_us = 100000;
  bool cpu_cfs_quota = true;
  int64_t node_memory_capacity_bytes = 0;  // Burstable oom_score_adj, limits.memory default
  int64_t node_cpu_milli = 0;              // resourceFieldRef limits.cpu default
  // Bounds against hostile objects.
  size_t max_volume_bytes = 4 * 1024 * 1024;  // one configMap/secret/projected volume's payload
  size_t max_env_bytes = 1024 * 1024;         // all env of one container
};

// Resolves `pod` (a v1.Pod JSON) into a plan. Unknown fields are ignored. Pod-level errors
// (wrong JSON types, invalid names, volume paths escaping the pod dir): InvalidArgument with
// "<reason>: <message>" (see planErrorFromStatus). Per-container problems (missing configmap,
// missing key, bad image name) do not fail the pod: they land in ContainerPlan::error.
// Does not touch the disk; calls in.objects (may block).
Result<PodPlan> buildPodPlan(const nlohmann::json& pod, const PlanInputs& in);

// Materialises the pod's volumes under <root>/pods/<uid>/volumes/<plugin>/<name> (emptyDir
// directories; configMap/secret/downwardAPI/projected files written atomically, tmp + rename;
// hostPath type checks), the pod's etc-hosts file and each container's termination-log file.
// Idempotent: call again to refresh configmap/secret contents. Errors: "FailedMount: ..." (e.g.
// a missing non-optional configmap, a payload over max_volume_bytes, a hostPath type mismatch).
// Blocking file I/O and store reads.
Status prepareVolumes(const nlohmann::json& pod, const PodPlan& plan, const PlanInputs& in);

// Removes <root>/pods/<uid> (after the pod is gone), unmounting its subPath staging mounts
// first (an error, and nothing removed, when one stays mounted). Never follows symlinks out of it.
Status removePodDir(const std::string& root_directory, const std::string& uid);

// Kubelet quantity parsing: "100m", "1.5", "64Mi", "1G", "1e3" -> milli-units / whole units.
// InvalidArgument for anything else.
Result<int64_t> parseQuantityMilli(std::string_view q);  // rounds up, as MilliValue() does
Result<int64_t> parseQuantityValue(std::string_view q);  // rounds up, as Value() does

}  // namespace edgecore::edged
