// The edgecore.yaml key table (KubeEdge v1.20 EdgeCoreConfig). Key names, defaults and the
// omitempty/pointer shape of each field come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go,
// default_others.go,default_kubelet_configuration.go} at v1.20.0; the Emit column encodes how Go's
// encoding/json prints the field, the in_min column whether NewMinEdgeCoreConfig sets it.

#include "config_schema.h"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace edgecore::core::config_internal {
namespace {

using T = ValueType;
constexpr Emit kAlways = Emit::Always;
constexpr Emit kOmitZero = Emit::OmitZero;
constexpr Emit kOmitNil = Emit::OmitNil;
constexpr bool kMin = true;
constexpr bool kNotMin = false;
constexpr bool k120 = false;
constexpr bool k123 = true;
// Default meaning "unset": a nil pointer, map or slice in Go.
constexpr std::string_view kNil = "~";

#define EC_EDGED "modules.edged."
#define EC_KUBELET "modules.edged.tailoredKubeletConfig."

// clang-format off
constexpr KeySpec kKeys[] = {
  {"apiVersion", T::String, "edgecore.config.kubeedge.io/v1alpha2", kOmitZero, kMin, k120, "config schema version; other values are ignored with a warning"},
  {"kind", T::String, "EdgeCore", kOmitZero, kMin, k120, "config kind"},
  {"edgecoreVersion", T::String, "", kAlways, kNotMin, k123, "[v1.23] version of the edgecore that last wrote this file"},
  {"featureGates", T::BoolMap, kNil, kOmitZero, kNotMin, k120, "edgecore feature gates, e.g. requireAuthorization"},

  {"database", T::Section, "", kOmitNil, kMin, k120, "local metadata store"},
  {"database.driverName", T::String, "sqlite3", kOmitZero, kNotMin, k120, "database driver"},
  {"database.aliasName", T::String, "default", kOmitZero, kNotMin, k120, "ORM alias of the database"},
  {"database.dataSource", T::String, "/var/lib/kubeedge/edgecore.db", kOmitZero, kMin, k120, "SQLite file"},

  {"modules", T::Section, "", kOmitNil, kMin, k120, "per-module settings"},

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

  {"modules.edgeHub", T::Section, "", kOmitNil, kMin, k120, "cloud connection"},
  {"modules.edgeHub.enable", T::Bool, "true", kAlways, kNotMin, k120, "run edgeHub"},
  {"modules.edgeHub.heartbeat", T::Int32, "15", kOmitZero, kMin, k120, "keepalive period in seconds"},
  {"modules.edgeHub.messageQPS", T::Int32, "30", kOmitZero, kNotMin, k120, "upstream message rate"},
  {"modules.edgeHub.messageBurst", T::Int32, "60", kOmitZero, kNotMin, k120, "upstream message burst"},
  {"modules.edgeHub.projectID", T::String, "e632aba927ea4ac2b575ec1603d56f10", kOmitZero, kNotMin, k120, "project ID in the cloud URL"},
  {"modules.edgeHub.tlsCaFile", T::String, "/etc/kubeedge/ca/rootCA.crt", kOmitZero, kMin, k120, "cloud CA"},
  {"modules.edgeHub.tlsCertFile", T::String, "/etc/kubeedge/certs/server.crt", kOmitZero, kMin, k120, "edge certificate"},
  {"modules.edgeHub.tlsPrivateKeyFile", T::String, "/etc/kubeedge/certs/server.key", kOmitZero, kMin, k120, "edge private key"},
  {"modules.edgeHub.quic", T::Section, "", kOmitNil, kNotMin, k120, "QUIC transport"},
  {"modules.edgeHub.quic.enable", T::Bool, "false", kAlways, kNotMin, k120, "use QUIC"},
  {"modules.edgeHub.quic.handshakeTimeout", T::Int32, "30", kOmitZero, kNotMin, k120, "handshake timeout in seconds"},
  {"modules.edgeHub.quic.readDeadline", T::Int32, "15", kOmitZero, kNotMin, k120, "read deadline in seconds"},
  {"modules.edgeHub.quic.server", T::String, "${ip}:10001", kOmitZero, kNotMin, k120, "CloudHub QUIC address"},
  {"modules.edgeHub.quic.writeDeadline", T::Int32, "15", kOmitZero, kNotMin, k120, "write deadline in seconds"},
  {"modules.edgeHub.websocket", T::Section, "", kOmitNil, kMin, k120, "WebSocket transport"},
  {"modules.edgeHub.websocket.enable", T::Bool, "true", kAlways, kMin, k120, "use WebSocket"},
  {"modules.edgeHub.websocket.handshakeTimeout", T::Int32, "30", kOmitZero, kMin, k120, "handshake timeout in seconds"},
  {"modules.edgeHub.websocket.readDeadline", T::Int32, "15", kOmitZero, kMin, k120, "read deadline in seconds"},
  {"modules.edgeHub.websocket.server", T::String, "${ip}:10000", kOmitZero, kMin, k120, "CloudHub WebSocket address"},
  {"modules.edgeHub.websocket.writeDeadline", T::Int32, "15", kOmitZero, kMin, k120, "write deadline in seconds"},
  {"modules.edgeHub.token", T::String, "", kAlways, kMin, k120, "bootstrap token caHash.jwt"},
  {"modules.edgeHub.httpServer", T::String, "https://${ip}:10002", kOmitZero, kMin, k120, "CloudHub certificate endpoint"},
  {"modules.edgeHub.rotateCertificates", T::Bool, "true", kOmitZero, kNotMin, k120, "renew the edge certificate"},

  {"modules.eventBus", T::Section, "", kOmitNil, kMin, k120, "MQTT bridge"},
  {"modules.eventBus.enable", T::Bool, "true", kAlways, kNotMin, k120, "run eventBus"},
  {"modules.eventBus.mqttQOS", T::Uint8, "0", kAlways, kMin, k120, "MQTT QoS 0..2"},
  {"modules.eventBus.mqttRetain", T::Bool, "false", kAlways, kMin, k120, "MQTT retain flag"},
  {"modules.eventBus.mqttSessionQueueSize", T::Int32, "100", kOmitZero, kNotMin, k120, "MQTT session queue size"},
  {"modules.eventBus.mqttServerInternal", T::String, "tcp://127.0.0.1:1884", kOmitZero, kMin, k120, "internal broker"},
  {"modules.eventBus.mqttServerExternal", T::String, "tcp://127.0.0.1:1883", kOmitZero, kMin, k120, "external broker"},
  {"modules.eventBus.mqttSubClientID", T::String, "", kAlways, kMin, k120, "subscriber client ID"},
  {"modules.eventBus.mqttPubClientID", T::String, "", kAlways, kMin, k120, "publisher client ID"},
  {"modules.eventBus.mqttUsername", T::String, "", kAlways, kMin, k120, "broker user"},
  {"modules.eventBus.mqttPassword", T::String, "", kAlways, kMin, k120, "broker password"},
  {"modules.eventBus.mqttMode", T::Int64, "2", kAlways, kMin, k120, "0 internal, 1 both, 2 external"},
  {"modules.eventBus.eventBusTLS", T::Section, "", kOmitNil, kNotMin, k120, "broker TLS"},
  {"modules.eventBus.eventBusTLS.enable", T::Bool, "false", kAlways, kNotMin, k120, "use TLS to the broker"},
  {"modules.eventBus.eventBusTLS.tlsMqttCAFile", T::String, "/etc/kubeedge/ca/rootCA.crt", kOmitZero, kNotMin, k120, "broker CA"},
  {"modules.eventBus.eventBusTLS.tlsMqttCertFile", T::String, "/etc/kubeedge/certs/server.crt", kOmitZero, kNotMin, k120, "client certificate"},
  {"modules.eventBus.eventBusTLS.tlsMqttPrivateKeyFile", T::String, "/etc/kubeedge/certs/server.key", kOmitZero, kNotMin, k120, "client key"},

  {"modules.metaManager", T::Section, "", kOmitNil, kNotMin, k120, "local metadata cache"},
  {"modules.metaManager.enable", T::Bool, "true", kAlways, kNotMin, k120, "run metaManager"},
  {"modules.metaManager.contextSendGroup", T::String, "hub", kOmitZero, kNotMin, k120, "group cloud-bound messages go to"},
  {"modules.metaManager.contextSendModule", T::String, "websocket", kOmitZero, kNotMin, k120, "module cloud-bound messages go to"},
  {"modules.metaManager.remoteQueryTimeout", T::Int32, "60", kOmitZero, kNotMin, k120, "remote query timeout in seconds"},
  {"modules.metaManager.metaServer", T::Section, "", kOmitNil, kNotMin, k120, "local Kubernetes API"},
  {"modules.metaManager.metaServer.enable", T::Bool, "false", kAlways, kNotMin, k120, "run metaServer"},
  {"modules.metaManager.metaServer.server", T::String, "127.0.0.1:10550", kAlways, kNotMin, k120, "listen address"},
  {"modules.metaManager.metaServer.tlsCaFile", T::String, "/etc/kubeedge/ca/rootCA.crt", kAlways, kNotMin, k120, "CA"},
  {"modules.metaManager.metaServer.tlsCertFile", T::String, "/etc/kubeedge/certs/server.crt", kAlways, kNotMin, k120, "certificate"},
  {"modules.metaManager.metaServer.tlsPrivateKeyFile", T::String, "/etc/kubeedge/certs/server.key", kAlways, kNotMin, k120, "key"},
  {"modules.metaManager.metaServer.serviceAccountIssuers", T::StringList, "[https://kubernetes.default.svc.cluster.local]", kAlways, kNotMin, k120, "accepted token issuers"},
  {"modules.metaManager.metaServer.apiAudiences", T::StringList, kNil, kAlways, kNotMin, k120, "accepted token audiences"},
  {"modules.metaManager.metaServer.serviceAccountKeyFiles", T::StringList, kNil, kAlways, kNotMin, k120, "token verification keys"},
  {"modules.metaManager.metaServer.dummyServer", T::String, "169.254.30.10:10550", kAlways, kNotMin, k120, "dummy interface address"},

  {"modules.serviceBus", T::Section, "", kOmitNil, kNotMin, k120, "HTTP bridge to edge applications"},
  {"modules.serviceBus.enable", T::Bool, "false", kAlways, kNotMin, k120, "run serviceBus"},
  {"modules.serviceBus.server", T::String, "127.0.0.1", kAlways, kNotMin, k120, "listen host"},
  {"modules.serviceBus.port", T::Int64, "9060", kAlways, kNotMin, k120, "listen port"},
  {"modules.serviceBus.timeout", T::Int64, "60", kAlways, kNotMin, k120, "request timeout in seconds"},

  {"modules.deviceTwin", T::Section, "", kOmitNil, kMin, k120, "device twin"},
  {"modules.deviceTwin.enable", T::Bool, "true", kAlways, kNotMin, k120, "run deviceTwin"},
  {"modules.deviceTwin.dmiSockPath", T::String, "/etc/kubeedge/dmi.sock", kOmitZero, kMin, k120, "DMI socket of mappers"},
  // Our own key, flagged like the v1.23 keys so printed configs stay KubeEdge's: accepted and
  // typed, left out of --defaultconfig/--minconfig. KubeEdge v1.20 decodes edgecore.yaml with
  // sigs.k8s.io/yaml (not strict), so a file carrying it still loads there.
  {"modules.deviceTwin.offlineAfter", T::Duration, "1m0s", kOmitZero, kNotMin, k123, "[edgecore-cpp] mark a device offline after this long without MQTT or mapper activity; 0s disables"},

  {"modules.dbTest", T::Section, "", kOmitNil, kNotMin, k120, "database test module"},
  {"modules.dbTest.enable", T::Bool, "false", kAlways, kNotMin, k120, "run dbTest"},

  {"modules.edgeStream", T::Section, "", kOmitNil, kNotMin, k120, "logs/exec tunnel"},
  {"modules.edgeStream.enable", T::Bool, "false", kAlways, kNotMin, k120, "run edgeStream"},
  {"modules.edgeStream.tlsTunnelCAFile", T::String, "/etc/kubeedge/ca/rootCA.crt", kOmitZero, kNotMin, k120, "tunnel CA"},
  {"modules.edgeStream.tlsTunnelCertFile", T::String, "/etc/kubeedge/certs/server.crt", kOmitZero, kNotMin, k120, "tunnel certificate"},
  {"modules.edgeStream.tlsTunnelPrivateKeyFile", T::String, "/etc/kubeedge/certs/server.key", kOmitZero, kNotMin, k120, "tunnel key"},
  {"modules.edgeStream.handshakeTimeout", T::Int32, "30", kOmitZero, kNotMin, k120, "handshake timeout in seconds"},
  {"modules.edgeStream.readDeadline", T::Int32, "15", kOmitZero, kNotMin, k120, "read deadline in seconds"},
  {"modules.edgeStream.server", T::String, "127.0.0.1:10004", kOmitZero, kNotMin, k120, "tunnel server"},
  {"modules.edgeStream.writeDeadline", T::Int32, "15", kOmitZero, kNotMin, k120, "write deadline in seconds"},

  {"modules.taskManager", T::Section, "", kOmitNil, kNotMin, k123, "[v1.23] node task manager"},
  {"modules.taskManager.enable", T::Bool, "false", kAlways, kNotMin, k123, "[v1.23] run taskManager"},
};
// clang-format on

#undef EC_EDGED
#undef EC_KUBELET

bool isSection(ValueType t) { return t == T::Section || t == T::ValueSection; }

std::string substitute(std::string_view text, const HostInfo& host) {
  std::string ip =
      host.local_ip.find(':') != std::string::npos ? "[" + host.local_ip + "]" : host.local_ip;
  std::string out(text);
  for (auto [var, value] :
       {std::pair<std::string_view, const std::string&>{"${host}", host.hostname},
        std::pair<std::string_view, const std::string&>{"${ip}", ip}}) {
    for (size_t pos = out.find(var); pos != std::string::npos; pos = out.find(var, pos)) {
      out.replace(pos, var.size(), value);
      pos += value.size();
    }
  }
  return out;
}

YAML::Node defaultValue(const KeySpec& key, const HostInfo& host) {
  if (key.default_value == kNil) {
    return YAML::Node(YAML::NodeType::Null);
  }
  switch (key.type) {
    case T::StringList:
    case T::StringMap:
    case T::BoolMap:
    case T::ObjectList:
      // Table constants, parsed once per call; a failure is a bug in the table.
      return YAML::Load(std::string(key.default_value));
    default:
      return YAML::Node(substitute(key.default_value, host));
  }
}

// Go's zero value for a field NewMinEdgeCoreConfig leaves unset.
YAML::Node zeroValue(const KeySpec& key) {
  if (key.emit == Emit::OmitNil) {
    return YAML::Node(YAML::NodeType::Null);  // nil pointer
  }
  switch (key.type) {
    case T::Bool:
      return YAML::Node("false");
    case T::Int32:
    case T::Int64:
    case T::Uint8:
    case T::Float64:
    case T::DurationOrNanos:
      return YAML::Node("0");
    case T::String:
      return YAML::Node("");
    case T::Duration:
      return YAML::Node("0s");
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

std::pair<std::string_view, std::string_view> splitParent(std::string_view path) {
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) {
    return {"", path};
  }
  return {path.substr(0, dot), path.substr(dot + 1)};
}

// Whether the min config sets anything under (or at) `path`.
bool anyMinUnder(std::string_view path) {
  for (const KeySpec& k : kKeys) {
    if (k.in_min && !k.v123 && !isSection(k.type) &&
        (k.path.size() > path.size() && k.path.substr(0, path.size()) == path &&
         k.path[path.size()] == '.')) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::span<const KeySpec> keyTable() { return kKeys; }

const KeySpec* findKey(std::string_view path) {
  static const auto* const index = [] {
    auto* m = new std::unordered_map<std::string_view, const KeySpec*>();
    for (const KeySpec& k : kKeys) {
      m->emplace(k.path, &k);
    }
    return m;
  }();
  auto it = index->find(path);
  return it == index->end() ? nullptr : it->second;
}

YAML::Node buildTree(const HostInfo& host, bool min) {
  YAML::Node root(YAML::NodeType::Map);
  // Sections precede their children in the table, so each parent exists (or is null) by the time
  // a child is visited. Nodes are looked up by walking the path from the root.
  for (const KeySpec& key : kKeys) {
    if (key.v123) {
      continue;
    }
    auto [parent_path, name] = splitParent(key.path);
    YAML::Node parent = root;
    bool parent_present = true;
    if (!parent_path.empty()) {
      size_t start = 0;
      while (start <= parent_path.size()) {
        size_t dot = parent_path.find('.', start);
        std::string part(parent_path.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        // reset() rebinds the handle; plain assignment would overwrite the parent's content.
        parent.reset(parent[part]);
        if (!parent.IsMap()) {
          parent_present = false;
          break;
        }
        if (dot == std::string_view::npos) {
          break;
        }
        start = dot + 1;
      }
    }
    if (!parent_present) {
      continue;
    }
    std::string key_name(name);
    if (isSection(key.type)) {
      bool present = !min || key.type == T::ValueSection || anyMinUnder(key.path);
      parent[key_name] =
          present ? YAML::Node(YAML::NodeType::Map) : YAML::Node(YAML::NodeType::Null);
    } else {
      parent[key_name] = (!min || key.in_min) ? defaultValue(key, host) : zeroValue(key);
    }
  }
  return root;
}

}  // namespace edgecore::core::config_internal
