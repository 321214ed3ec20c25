// modules.edged of edgecore.yaml (with tailoredKubeletConfig): the rows edged owns in the key table
// (include/edgecore/core/config_rows.h), their binding to EdgedConfig and upstream's checks.
// Compiled into edgecore_core. Key names, defaults and the omitempty/pointer shape of each field
// come from upstream staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/
// {types.go,default.go,default_kubelet_configuration.go} at v1.20.0; the [v1.23] rows at v1.23.1.

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "edgecore/core/config_rows.h"

namespace edgecore::edged {
namespace {

using namespace core::config_row;

#define EC_EDGED "modules.edged."
#define EC_KUBELET "modules.edged.tailoredKubeletConfig."

// clang-format off
constexpr core::ConfigKey kKeys[] = {
  {"modules.edged", T::Section, "", kOmitNil, kMin, k120, "the lightweight kubelet"},
  {EC_EDGED "enable", T::Bool, "true", kAlways, kMin, k120, "run edged"},
  {EC_EDGED "reportEvent", T::Bool, "false", kAlways, kMin, k120, "report pod events to the cloud"},
  {EC_EDGED "tailoredKubeletConfig", T::Section, "", kAlways, kMin, k120, "kubelet configuration subset"},
  {EC_EDGED "hostnameOverride", T::String, "${host}", kOmitZero, kMin, k120, "node name"},
  {EC_EDGED "nodeIP", T::String, "", kOmitZero, kMin, k120, "node IP; empty chooses one"},
  {EC_EDGED "runtimeCgroups", T::String, "", kOmitZero, kMin, k120, "cgroup of the container runtime"},
  {EC_EDGED "podSandboxImage", T::String, "kubeedge/pause:3.6", kOmitZero, kMin, k120, "pause image"},
  {EC_EDGED "rootDirectory", T::String, "/var/lib/kubelet", kOmitZero, kMin, k120, "kubelet state directory"},
  {EC_EDGED "windowsService", T::Bool, "false", kOmitZero, kMin, k120, "run as a Windows service"},
  {EC_EDGED "windowsPriorityClass", T::String, "", kOmitZero, kMin, k120, "Windows process priority class"},
  {EC_EDGED "experimentalMounterPath", T::String, "", kOmitZero, kMin, k120, "mounter binary path"},
  {EC_EDGED "experimentalNodeAllocatableIgnoreEvictionThreshold", T::Bool, "false", kOmitZero, kMin, k120, "ignore hard eviction thresholds in node allocatable"},
  {EC_EDGED "nodeLabels", T::StringMap, "{}", kOmitZero, kMin, k120, "labels added to the node on registration"},
  {EC_EDGED "minimumGCAge", T::Duration, "0s", kAlways, kMin, k120, "minimum age of a dead container before GC"},
  {EC_EDGED "maxPerPodContainerCount", T::Int32, "1", kOmitZero, kMin, k120, "dead containers kept per pod"},
  {EC_EDGED "maxContainerCount", T::Int32, "-1", kOmitZero, kMin, k120, "dead containers kept in total; -1 = no limit"},
  {EC_EDGED "registerSchedulable", T::Bool, "true", kOmitZero, kMin, k120, "register the node schedulable"},
  {EC_EDGED "keepTerminatedPodVolumes", T::Bool, "false", kOmitZero, kMin, k120, "keep volumes of terminated pods mounted"},
  {EC_EDGED "seccompDefault", T::Bool, "false", kOmitZero, kMin, k120, "RuntimeDefault seccomp profile for all pods"},
  {EC_EDGED "customInterfaceName", T::String, "", kOmitZero, kMin, k120, "take the node IP from this interface"},
  {EC_EDGED "registerNodeNamespace", T::String, "default", kOmitZero, kMin, k120, "namespace the node registers in"},
  {EC_KUBELET "staticPodPath", T::String, "/etc/kubeedge/manifests", kOmitZero, kMin, k120, "static pod manifests directory"},
  {EC_KUBELET "podLogsDir", T::String, "/var/log/pods", kOmitZero, kMin, k120, "pod log directory"},
  {EC_KUBELET "syncFrequency", T::Duration, "1m0s", kAlways, kMin, k120, "pod sync period"},
  {EC_KUBELET "fileCheckFrequency", T::Duration, "20s", kAlways, kMin, k120, "static pod directory check period"},
  {EC_KUBELET "address", T::String, "127.0.0.1", kOmitZero, kMin, k120, "read-only server bind address"},
  {EC_KUBELET "readOnlyPort", T::Int32, "10350", kOmitZero, kMin, k120, "read-only server port (logs/exec via EdgeStream)"},
  {EC_KUBELET "tlsCertFile", T::String, "", kOmitZero, kNotMin, kOurs, "[edgecore-cpp] edged server certificate (PEM); with the next two, HTTPS with client certificates, required off loopback"},
  {EC_KUBELET "tlsPrivateKeyFile", T::String, "", kOmitZero, kNotMin, kOurs, "[edgecore-cpp] private key of tlsCertFile (PEM)"},
  {EC_KUBELET "authentication", T::Section, "", kOmitNil, kNotMin, kOurs, "[edgecore-cpp] who may call the edged server"},
  {EC_KUBELET "authentication.x509", T::ValueSection, "", kAlways, kNotMin, kOurs, "[edgecore-cpp] client certificate authentication"},
  {EC_KUBELET "authentication.x509.clientCAFile", T::String, "", kOmitZero, kNotMin, kOurs, "[edgecore-cpp] CA bundle client certificates must chain to (the node's CA)"},
  {EC_KUBELET "registryPullQPS", T::Int32, "5", kOmitNil, kMin, k120, "image pull QPS"},
  {EC_KUBELET "registryBurst", T::Int32, "10", kOmitZero, kMin, k120, "image pull burst"},
  {EC_KUBELET "eventRecordQPS", T::Int32, "50", kOmitNil, kMin, k120, "event QPS"},
  {EC_KUBELET "eventBurst", T::Int32, "100", kOmitZero, kMin, k120, "event burst"},
  {EC_KUBELET "enableDebuggingHandlers", T::Bool, "true", kOmitNil, kMin, k120, "logs/exec/attach handlers"},
  {EC_KUBELET "enableContentionProfiling", T::Bool, "false", kOmitZero, kMin, k120, "block profiling"},
  {EC_KUBELET "oomScoreAdj", T::Int32, "-999", kOmitNil, kMin, k120, "oom_score_adj of edgecore"},
  {EC_KUBELET "clusterDomain", T::String, "cluster.local", kOmitZero, kMin, k120, "cluster DNS domain"},
  {EC_KUBELET "clusterDNS", T::StringList, kNil, kOmitZero, kMin, k120, "cluster DNS server IPs"},
  {EC_KUBELET "streamingConnectionIdleTimeout", T::Duration, "4h0m0s", kAlways, kMin, k120, "idle timeout of streaming connections"},
  {EC_KUBELET "nodeStatusUpdateFrequency", T::Duration, "10s", kAlways, kMin, k120, "node status computation period"},
  {EC_KUBELET "nodeStatusReportFrequency", T::Duration, "5m0s", kAlways, kMin, k120, "unchanged node status report period"},
  {EC_KUBELET "nodeLeaseDurationSeconds", T::Int32, "40", kOmitZero, kMin, k120, "node lease duration"},
  {EC_KUBELET "imageMinimumGCAge", T::Duration, "2m0s", kAlways, kMin, k120, "minimum age of an unused image before GC"},
  {EC_KUBELET "imageMaximumGCAge", T::Duration, "0s", kAlways, kMin, k120, "maximum age of an unused image; 0 = off"},
  {EC_KUBELET "imageGCHighThresholdPercent", T::Int32, "85", kOmitNil, kMin, k120, "disk usage that starts image GC"},
  {EC_KUBELET "imageGCLowThresholdPercent", T::Int32, "80", kOmitNil, kMin, k120, "disk usage image GC frees down to"},
  {EC_KUBELET "volumeStatsAggPeriod", T::Duration, "1m0s", kAlways, kMin, k120, "volume usage computation period"},
  {EC_KUBELET "kubeletCgroups", T::String, "", kOmitZero, kMin, k120, "cgroup of edgecore"},
  {EC_KUBELET "systemCgroups", T::String, "", kOmitZero, kMin, k120, "cgroup of system processes"},
  {EC_KUBELET "cgroupRoot", T::String, "", kOmitZero, kMin, k120, "root cgroup for pods"},
  {EC_KUBELET "cgroupsPerQOS", T::Bool, "true", kOmitNil, kMin, k120, "QoS cgroup hierarchy"},
  {EC_KUBELET "cgroupDriver", T::String, "cgroupfs", kOmitZero, kMin, k120, "cgroupfs or systemd"},
  {EC_KUBELET "singleProcessOOMKill", T::Bool, kNil, kOmitNil, kMin, k123, "[v1.23] OOM-kill container processes one by one, not as a group; cgroup v1 allows only unset or true"},
  {EC_KUBELET "crashLoopBackOff", T::ValueSection, "", kAlways, kMin, k123, "[v1.23] container restart back-off"},
  {EC_KUBELET "crashLoopBackOff.maxContainerRestartPeriod", T::Duration, kNil, kOmitNil, kMin, k123, "[v1.23] longest CrashLoopBackOff delay, 1s-300s; needs featureGates KubeletCrashLoopBackOffMax"},
  {EC_KUBELET "cpuManagerPolicy", T::String, "none", kOmitZero, kMin, k120, "CPU manager policy"},
  {EC_KUBELET "cpuManagerPolicyOptions", T::StringMap, kNil, kOmitZero, kMin, k120, "CPU manager policy options"},
  {EC_KUBELET "cpuManagerReconcilePeriod", T::Duration, "10s", kAlways, kMin, k120, "CPU manager reconcile period"},
  {EC_KUBELET "memoryManagerPolicy", T::String, "None", kOmitZero, kMin, k120, "memory manager policy"},
  {EC_KUBELET "topologyManagerPolicy", T::String, "none", kOmitZero, kMin, k120, "topology manager policy"},
  {EC_KUBELET "topologyManagerScope", T::String, "container", kOmitZero, kMin, k120, "topology manager scope"},
  {EC_KUBELET "topologyManagerPolicyOptions", T::StringMap, kNil, kOmitZero, kMin, k120, "topology manager policy options"},
  {EC_KUBELET "qosReserved", T::StringMap, kNil, kOmitZero, kMin, k120, "memory reserved per QoS class"},
  {EC_KUBELET "runtimeRequestTimeout", T::Duration, "2m0s", kAlways, kMin, k120, "CRI request timeout"},
  {EC_KUBELET "hairpinMode", T::String, "promiscuous-bridge", kOmitZero, kMin, k120, "hairpin NAT mode"},
  {EC_KUBELET "maxPods", T::Int32, "110", kOmitZero, kMin, k120, "pod capacity"},
  {EC_KUBELET "podCIDR", T::String, "", kOmitZero, kMin, k120, "pod CIDR (standalone mode)"},
  {EC_KUBELET "podPidsLimit", T::Int64, "-1", kOmitNil, kMin, k120, "max PIDs per pod; -1 = node limit"},
  {EC_KUBELET "resolvConf", T::String, "/etc/resolv.conf", kOmitNil, kMin, k120, "resolver configuration for pods"},
  {EC_KUBELET "cpuCFSQuota", T::Bool, "true", kOmitNil, kMin, k120, "enforce CPU limits with CFS quota"},
  {EC_KUBELET "cpuCFSQuotaPeriod", T::Duration, "100ms", kOmitNil, kMin, k120, "CFS quota period"},
  {EC_KUBELET "nodeStatusMaxImages", T::Int32, "0", kOmitNil, kMin, k120, "images reported in node status"},
  {EC_KUBELET "maxOpenFiles", T::Int64, "1000000", kOmitZero, kMin, k120, "open file limit of edgecore"},
  {EC_KUBELET "contentType", T::String, "application/json", kOmitZero, kMin, k120, "content type of API requests"},
  {EC_KUBELET "serializeImagePulls", T::Bool, "true", kOmitNil, kMin, k120, "pull one image at a time"},
  {EC_KUBELET "maxParallelImagePulls", T::Int32, kNil, kOmitNil, kMin, k120, "parallel image pulls"},
  {EC_KUBELET "evictionHard", T::StringMap, "{memory.available: 100Mi, nodefs.available: 10%, nodefs.inodesFree: 5%, imagefs.available: 15%, imagefs.inodesFree: 5%}", kOmitZero, kMin, k120, "hard eviction thresholds"},
  {EC_KUBELET "evictionSoft", T::StringMap, kNil, kOmitZero, kMin, k120, "soft eviction thresholds"},
  {EC_KUBELET "evictionSoftGracePeriod", T::StringMap, kNil, kOmitZero, kMin, k120, "soft eviction grace periods"},
  {EC_KUBELET "evictionPressureTransitionPeriod", T::Duration, "5m0s", kAlways, kMin, k120, "wait before leaving a pressure condition"},
  {EC_KUBELET "evictionMaxPodGracePeriod", T::Int32, "0", kOmitZero, kMin, k120, "max pod grace period on soft eviction"},
  {EC_KUBELET "evictionMinimumReclaim", T::StringMap, kNil, kOmitZero, kMin, k120, "minimum reclaim per eviction"},
  {EC_KUBELET "podsPerCore", T::Int32, "0", kOmitZero, kMin, k120, "pods per core"},
  {EC_KUBELET "enableControllerAttachDetach", T::Bool, "true", kOmitNil, kMin, k120, "attach/detach controller manages volumes"},
  {EC_KUBELET "protectKernelDefaults", T::Bool, "false", kOmitZero, kMin, k120, "fail on kernel tunable mismatch"},
  {EC_KUBELET "makeIPTablesUtilChains", T::Bool, "true", kOmitNil, kMin, k120, "create iptables utility chains"},
  {EC_KUBELET "iptablesMasqueradeBit", T::Int32, "14", kOmitNil, kMin, k120, "fwmark bit for SNAT"},
  {EC_KUBELET "iptablesDropBit", T::Int32, "15", kOmitNil, kMin, k120, "fwmark bit for dropping"},
  {EC_KUBELET "featureGates", T::BoolMap, kNil, kOmitZero, kMin, k120, "kubelet feature gates"},
  {EC_KUBELET "failSwapOn", T::Bool, "false", kOmitNil, kMin, k120, "refuse to start with swap on"},
  {EC_KUBELET "failCgroupV1", T::Bool, "false", kOmitNil, kMin, k123, "[v1.23] refuse to start edged on a cgroup v1 host"},
  {EC_KUBELET "memorySwap", T::ValueSection, "", kAlways, kMin, k120, "swap configuration"},
  {EC_KUBELET "memorySwap.swapBehavior", T::String, "", kOmitZero, kMin, k120, "NoSwap or LimitedSwap"},
  {EC_KUBELET "containerLogMaxSize", T::String, "10Mi", kOmitZero, kMin, k120, "container log rotation size"},
  {EC_KUBELET "containerLogMaxFiles", T::Int32, "5", kOmitNil, kMin, k120, "container log files kept"},
  {EC_KUBELET "containerLogMaxWorkers", T::Int32, "1", kOmitNil, kMin, k120, "log rotation workers"},
  {EC_KUBELET "containerLogMonitorInterval", T::Duration, "10s", kOmitNil, kMin, k120, "log rotation check period"},
  {EC_KUBELET "configMapAndSecretChangeDetectionStrategy", T::String, "Get", kOmitZero, kMin, k120, "Get, Cache or Watch"},
  {EC_KUBELET "systemReserved", T::StringMap, kNil, kOmitZero, kMin, k120, "resources reserved for the system"},
  {EC_KUBELET "kubeReserved", T::StringMap, kNil, kOmitZero, kMin, k120, "resources reserved for Kubernetes components"},
  {EC_KUBELET "reservedSystemCPUs", T::String, "", kOmitZero, kMin, k120, "CPUs reserved for the system"},
  {EC_KUBELET "showHiddenMetricsForVersion", T::String, "", kOmitZero, kMin, k120, "show metrics hidden since this version"},
  {EC_KUBELET "systemReservedCgroup", T::String, "", kOmitZero, kMin, k120, "cgroup for systemReserved"},
  {EC_KUBELET "kubeReservedCgroup", T::String, "", kOmitZero, kMin, k120, "cgroup for kubeReserved"},
  {EC_KUBELET "enforceNodeAllocatable", T::StringList, "[pods]", kOmitZero, kMin, k120, "node allocatable enforcement levels"},
  {EC_KUBELET "allowedUnsafeSysctls", T::StringList, kNil, kOmitZero, kMin, k120, "unsafe sysctls pods may set"},
  {EC_KUBELET "volumePluginDir", T::String, "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/", kOmitZero, kMin, k120, "flexvolume plugin directory"},
  {EC_KUBELET "kernelMemcgNotification", T::Bool, "false", kOmitZero, kMin, k120, "memcg notifications for eviction"},
  {EC_KUBELET "logging", T::ValueSection, "", kAlways, kMin, k120, "component-base logging options"},
  {EC_KUBELET "logging.format", T::String, "text", kOmitZero, kMin, k120, "text or json"},
  {EC_KUBELET "logging.flushFrequency", T::DurationOrNanos, "5s", kAlways, kMin, k120, "log flush period (duration or nanoseconds)"},
  {EC_KUBELET "logging.verbosity", T::Int64, "0", kAlways, kMin, k120, "log verbosity"},
  {EC_KUBELET "logging.vmodule", T::ObjectList, kNil, kOmitZero, kMin, k120, "per-file verbosity"},
  {EC_KUBELET "logging.options", T::ValueSection, "", kAlways, kMin, k120, "format-specific options"},
  {EC_KUBELET "logging.options.text", T::ValueSection, "", kAlways, kMin, k120, "text format options"},
  {EC_KUBELET "logging.options.text.splitStream", T::Bool, "false", kOmitZero, kMin, k120, "info to stdout, errors to stderr"},
  {EC_KUBELET "logging.options.text.infoBufferSize", T::String, "0", kAlways, kMin, k120, "stdout buffer size (quantity)"},
  {EC_KUBELET "logging.options.json", T::ValueSection, "", kAlways, kMin, k120, "json format options"},
  {EC_KUBELET "logging.options.json.splitStream", T::Bool, "false", kOmitZero, kMin, k120, "info to stdout, errors to stderr"},
  {EC_KUBELET "logging.options.json.infoBufferSize", T::String, "0", kAlways, kMin, k120, "stdout buffer size (quantity)"},
  {EC_KUBELET "enableSystemLogHandler", T::Bool, "true", kOmitNil, kMin, k120, "/logs handler"},
  {EC_KUBELET "enableSystemLogQuery", T::Bool, kNil, kOmitNil, kMin, k120, "node log query"},
  {EC_KUBELET "shutdownGracePeriod", T::Duration, "0s", kAlways, kMin, k120, "node shutdown delay"},
  {EC_KUBELET "shutdownGracePeriodCriticalPods", T::Duration, "0s", kAlways, kMin, k120, "shutdown time for critical pods"},
  {EC_KUBELET "shutdownGracePeriodByPodPriority", T::ObjectList, kNil, kOmitZero, kMin, k120, "shutdown time by pod priority"},
  {EC_KUBELET "reservedMemory", T::ObjectList, kNil, kOmitZero, kMin, k120, "memory reserved per NUMA node"},
  {EC_KUBELET "enableProfilingHandler", T::Bool, "true", kOmitNil, kMin, k120, "/debug/pprof handlers"},
  {EC_KUBELET "enableDebugFlagsHandler", T::Bool, "true", kOmitNil, kMin, k120, "/debug/flags/v handler"},
  {EC_KUBELET "seccompDefault", T::Bool, "false", kOmitNil, kMin, k120, "RuntimeDefault seccomp profile"},
  {EC_KUBELET "memoryThrottlingFactor", T::Float64, "0.9", kOmitNil, kMin, k120, "memory.high factor for MemoryQoS"},
  {EC_KUBELET "registerWithTaints", T::ObjectList, kNil, kOmitZero, kMin, k120, "taints added on registration"},
  {EC_KUBELET "registerNode", T::Bool, "true", kOmitNil, kMin, k120, "register the node with the cloud"},
  {EC_KUBELET "localStorageCapacityIsolation", T::Bool, "true", kOmitNil, kMin, k120, "ephemeral storage isolation"},
  {EC_KUBELET "containerRuntimeEndpoint", T::String, "unix:///run/containerd/containerd.sock", kAlways, kMin, k120, "CRI runtime endpoint"},
  {EC_KUBELET "imageServiceEndpoint", T::String, "unix:///run/containerd/containerd.sock", kOmitZero, kMin, k120, "CRI image endpoint; empty = runtime endpoint"},
};
// clang-format on

#undef EC_EDGED
#undef EC_KUBELET

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::EdgedConfig& e = c.modules.edged;
  const std::string ed = "modules.edged.";
  e.enable = r.boolean(ed + "enable");
  e.report_event = r.boolean(ed + "reportEvent");
  e.hostname_override = r.str(ed + "hostnameOverride");
  e.node_ip = r.str(ed + "nodeIP");
  e.register_node_namespace = r.str(ed + "registerNodeNamespace");
  e.custom_interface_name = r.str(ed + "customInterfaceName");
  e.pod_sandbox_image = r.str(ed + "podSandboxImage");
  e.runtime_cgroups = r.str(ed + "runtimeCgroups");
  e.root_directory = r.str(ed + "rootDirectory");
  e.windows_priority_class = r.str(ed + "windowsPriorityClass");
  e.windows_service = r.boolean(ed + "windowsService");
  e.max_container_count = r.int32(ed + "maxContainerCount");
  e.max_per_pod_container_count = r.int32(ed + "maxPerPodContainerCount");
  e.minimum_gc_age = r.duration(ed + "minimumGCAge");
  e.node_labels = r.strMap(ed + "nodeLabels");
  e.register_schedulable = r.boolean(ed + "registerSchedulable");
  e.keep_terminated_pod_volumes = r.boolean(ed + "keepTerminatedPodVolumes");
  e.seccomp_default = r.boolean(ed + "seccompDefault");

  const std::string k = ed + "tailoredKubeletConfig.";
  e.static_pod_path = r.str(k + "staticPodPath");
  e.pod_logs_dir = r.str(k + "podLogsDir");
  e.address = r.str(k + "address");
  e.read_only_port = r.int32(k + "readOnlyPort");
  e.tls_cert_file = r.str(k + "tlsCertFile");
  e.tls_private_key_file = r.str(k + "tlsPrivateKeyFile");
  e.client_ca_file = r.str(k + "authentication.x509.clientCAFile");
  e.container_runtime_endpoint = r.str(k + "containerRuntimeEndpoint");
  e.image_service_endpoint = r.str(k + "imageServiceEndpoint");
  e.runtime_request_timeout = r.duration(k + "runtimeRequestTimeout");
  e.sync_frequency = r.duration(k + "syncFrequency");
  e.file_check_frequency = r.duration(k + "fileCheckFrequency");
  e.node_status_update_frequency = r.duration(k + "nodeStatusUpdateFrequency");
  e.node_status_report_frequency = r.duration(k + "nodeStatusReportFrequency");
  e.node_lease_duration = r.seconds(k + "nodeLeaseDurationSeconds");
  e.image_minimum_gc_age = r.duration(k + "imageMinimumGCAge");
  e.image_maximum_gc_age = r.duration(k + "imageMaximumGCAge");
  e.image_gc_high_threshold_percent = r.int32(k + "imageGCHighThresholdPercent");
  e.image_gc_low_threshold_percent = r.int32(k + "imageGCLowThresholdPercent");
  e.volume_stats_agg_period = r.duration(k + "volumeStatsAggPeriod");
  e.streaming_connection_idle_timeout = r.duration(k + "streamingConnectionIdleTimeout");
  e.eviction_pressure_transition_period = r.duration(k + "evictionPressureTransitionPeriod");
  e.eviction_hard = r.strMap(k + "evictionHard");
  e.max_pods = r.int32(k + "maxPods");
  e.pod_pids_limit = r.integer(k + "podPidsLimit");
  e.cgroup_driver = r.str(k + "cgroupDriver");
  e.cgroups_per_qos = r.boolean(k + "cgroupsPerQOS");
  e.cluster_dns = r.list(k + "clusterDNS");
  e.cluster_domain = r.str(k + "clusterDomain");
  e.resolv_conf = r.str(k + "resolvConf");
  e.register_node = r.boolean(k + "registerNode");
  e.hairpin_mode = r.str(k + "hairpinMode");
  e.registry_pull_qps = r.int32(k + "registryPullQPS");
  e.registry_burst = r.int32(k + "registryBurst");
  e.event_record_qps = r.int32(k + "eventRecordQPS");
  e.event_burst = r.int32(k + "eventBurst");
  e.enable_debugging_handlers = r.boolean(k + "enableDebuggingHandlers");
  e.serialize_image_pulls = r.boolean(k + "serializeImagePulls");
  e.cpu_cfs_quota = r.boolean(k + "cpuCFSQuota");
  e.cpu_cfs_quota_period = r.duration(k + "cpuCFSQuotaPeriod");
  e.oom_score_adj = r.int32(k + "oomScoreAdj");
  e.max_open_files = r.integer(k + "maxOpenFiles");
  e.content_type = r.str(k + "contentType");
  e.fail_swap_on = r.boolean(k + "failSwapOn");
  e.fail_cgroup_v1 = r.boolean(k + "failCgroupV1");
  if (std::string v = r.str(k + "singleProcessOOMKill"); !v.empty()) {
    e.single_process_oom_kill = v == "true";
  }
  if (!r.str(k + "crashLoopBackOff.maxContainerRestartPeriod").empty()) {
    e.max_container_restart_period = r.duration(k + "crashLoopBackOff.maxContainerRestartPeriod");
  }
  e.container_log_max_size = r.str(k + "containerLogMaxSize");
  e.container_log_max_files = r.int32(k + "containerLogMaxFiles");
  e.volume_plugin_dir = r.str(k + "volumePluginDir");
  e.feature_gates = r.boolMap(k + "featureGates");
  e.tailored_kubelet_config = r.node(ed + "tailoredKubeletConfig");
}

// Kubernetes node names are RFC 1123 subdomains (apimachinery IsDNS1123Subdomain).
bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty()) {
      return false;
    }
    for (size_t i = 0; i < label.size(); ++i) {
      char c = label[i];
      bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && !(c == '-' && i != 0 && i + 1 != label.size())) {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

bool isIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// 127.0.0.0/8 or ::1; anything else (a wildcard, a name, a LAN address) is reachable from off
// the node.
bool isLoopbackAddress(const std::string& s) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return buf[0] == 127;
  }
  static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return inet_pton(AF_INET6, s.c_str(), buf) == 1 && std::memcmp(buf, kLoopback6, 16) == 0;
}

// The kubelet's validation of crashLoopBackOff (pkg/kubelet/apis/config/validation/validation.go,
// ValidateKubeletConfiguration, as vendored by KubeEdge v1.23.1): the period is set exactly when
// the KubeletCrashLoopBackOffMax gate is on, and lies in [1s, 300s].
void checkCrashLoopBackOff(const core::EdgedConfig& e, core::ConfigProblems& p) {
  const std::string key =
      "modules.edged.tailoredKubeletConfig.crashLoopBackOff.maxContainerRestartPeriod";
  auto gate = e.feature_gates.find("KubeletCrashLoopBackOffMax");
  bool gate_on = gate != e.feature_gates.end() && gate->second;
  if (!gate_on) {
    if (e.max_container_restart_period) {
      p.add(key,
            "must not be set unless tailoredKubeletConfig.featureGates has "
            "KubeletCrashLoopBackOffMax: true");
    }
    return;
  }
  if (!e.max_container_restart_period) {
    p.add(key, "must be set when the feature gate KubeletCrashLoopBackOffMax is enabled");
  } else if (*e.max_container_restart_period < std::chrono::seconds(1) ||
             *e.max_container_restart_period > std::chrono::seconds(300)) {
    p.add(key, "must be between 1s and 300s");
  }
}

void check(const core::EdgeCoreConfig& c, core::ConfigProblems& p) {
  const core::EdgedConfig& e = c.modules.edged;
  if (!e.enable) {
    return;
  }
  if (e.hostname_override.empty()) {
    p.add("modules.edged.hostnameOverride", "must not be empty (it is the node name)");
  } else if (!isDns1123Subdomain(e.hostname_override)) {
    p.add("modules.edged.hostnameOverride",
          "\"" + e.hostname_override +
              "\" is not a valid node name (lowercase RFC 1123 subdomain: a-z, 0-9, '-', '.')");
  }
  if (!e.node_ip.empty() && !isIpAddress(e.node_ip)) {
    p.add("modules.edged.nodeIP", "\"" + e.node_ip + "\" is not a valid IP address");
  }
  // The edged server has /exec and /attach: off loopback only with client certificates.
  if (!isLoopbackAddress(e.address.empty() ? "127.0.0.1" : e.address)) {
    const std::string k = "modules.edged.tailoredKubeletConfig.";
    std::string missing;
    for (auto [value, key] : {std::pair{&e.tls_cert_file, "tlsCertFile"},
                              std::pair{&e.tls_private_key_file, "tlsPrivateKeyFile"},
                              std::pair{&e.client_ca_file, "authentication.x509.clientCAFile"}}) {
      if (value->empty()) missing += (missing.empty() ? "" : ", ") + k + key;
    }
    if (!missing.empty()) {
      p.add(k + "address",
            "\"" + e.address +
                "\" is not a loopback address: the edged server (exec, attach, logs) "
                "then requires TLS with client certificates; set " +
                missing + " (or use 127.0.0.1)");
    }
  }
  checkCrashLoopBackOff(e, p);
  if (e.cgroup_driver != "cgroupfs" && e.cgroup_driver != "systemd") {
    p.add("modules.edged.tailoredKubeletConfig.cgroupDriver",
          "\"" + e.cgroup_driver + "\" must be cgroupfs or systemd");
  }
}

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, &check}; }

}  // namespace edgecore::edged
