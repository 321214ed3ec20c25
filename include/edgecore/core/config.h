#pragma once

// edgecore.yaml: the EdgeCore configuration file (apiVersion edgecore.config.kubeedge.io/v1alpha2,
// kind EdgeCore), compatible with KubeEdge v1.20, plus the keys v1.21-v1.23 added (edgecoreVersion,
// modules.taskManager, the kubelet's singleProcessOOMKill/crashLoopBackOff/failCgroupV1,
// deviceTwin.dmiSockPath as a directory); printed configs are v1.23's document.
//
// One key table (rows by owner: include/edgecore/core/config_rows.h) drives parsing, type checks,
// unknown keys and `--defaultconfig`/`--minconfig`; the typed structs stay here. Loading works like
// upstream (edge/cmd/edgecore/app/options/options.go, EdgeCoreOptions.Config): the file is laid
// over the full default configuration, so every key the file leaves out keeps its default.
//
// All functions here are pure apart from detectHostInfo() and loadConfigFile(); none keep state,
// so they may be called from any thread. None of them throw.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::core {

// Go's time.Duration (nanoseconds); metav1.Duration strings such as "1m0s" parse into it.
using GoDuration = std::chrono::nanoseconds;

// The two host facts the defaults depend on.
struct HostInfo {
  std::string hostname;  // lowercase; the default node name (edged.hostnameOverride)
  std::string local_ip;  // default host for the cloud addresses (edgeHub servers)
};

// Mirrors upstream util.GetHostname / util.GetLocalIP (staging/.../apis/util/util.go):
// hostname = lowercase OS hostname, "default-edge-node" when that is not a valid node name;
// local_ip = first address the hostname resolves to that is assigned to a local interface and is
// not loopback, link-local, multicast or unspecified (IPv4 preferred), else the IPv4 address of the
// default-route interface, else the first non-loopback IPv4 of any interface, else 127.0.0.1.
// May block on name resolution.
HostInfo detectHostInfo();

struct DatabaseConfig {
  std::string driver_name;  // sqlite3
  std::string alias_name;   // default
  std::string data_source;  // /var/lib/kubeedge/edgecore.db
  bool operator==(const DatabaseConfig&) const = default;
};

// modules.edgeHub.websocket and modules.edgeHub.quic share one shape.
struct EdgeHubTransportConfig {
  bool enable = false;
  std::chrono::seconds handshake_timeout{0};
  std::chrono::seconds read_deadline{0};
  std::chrono::seconds write_deadline{0};
  std::string server;  // host:port of CloudHub, no scheme
  bool operator==(const EdgeHubTransportConfig&) const = default;
};

struct EdgeHubConfig {
  bool enable = false;
  std::chrono::seconds heartbeat{0};
  int32_t message_qps = 0;
  int32_t message_burst = 0;
  std::string project_id;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_private_key_file;
  std::string token;        // "caHash.jwt" bootstrap token; empty once certificates exist
  std::string http_server;  // https://host:10002, the certificate endpoint
  bool rotate_certificates = false;
  EdgeHubTransportConfig websocket;
  EdgeHubTransportConfig quic;
  bool operator==(const EdgeHubConfig&) const = default;
};

struct MetaServerConfig {
  bool enable = false;
  std::string server;  // 127.0.0.1:10550
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_private_key_file;
  std::vector<std::string> service_account_issuers;
  std::vector<std::string> api_audiences;
  std::vector<std::string> service_account_key_files;
  std::string dummy_server;  // 169.254.30.10:10550
  bool operator==(const MetaServerConfig&) const = default;
};

struct MetaManagerConfig {
  bool enable = false;
  std::string context_send_group;   // hub
  std::string context_send_module;  // websocket
  std::chrono::seconds remote_query_timeout{0};
  MetaServerConfig meta_server;
  bool operator==(const MetaManagerConfig&) const = default;
};

// The typed part of modules.edged: the inline kubelet flag fields, then the tailoredKubeletConfig
// fields an edged needs. A separate base only so that == can be defaulted.
struct EdgedFields {
  bool enable = false;
  bool report_event = false;
  std::string hostname_override;  // the node name
  std::string node_ip;            // empty: choose automatically
  std::string register_node_namespace;
  std::string custom_interface_name;
  std::string pod_sandbox_image;
  std::string runtime_cgroups;
  std::string root_directory;
  std::string windows_priority_class;
  bool windows_service = false;
  int32_t max_container_count = 0;
  int32_t max_per_pod_container_count = 0;
  GoDuration minimum_gc_age{0};
  std::map<std::string, std::string> node_labels;
  bool register_schedulable = false;
  bool keep_terminated_pod_volumes = false;
  bool seccomp_default = false;

  // From tailoredKubeletConfig.
  std::string static_pod_path;
  std::string pod_logs_dir;
  std::string address;
  int32_t read_only_port = 0;
  // The edged server's TLS (kubelet KubeletConfiguration key names; edgecore-cpp extension):
  // required when `address` is not loopback.
  std::string tls_cert_file;         // tlsCertFile
  std::string tls_private_key_file;  // tlsPrivateKeyFile
  std::string client_ca_file;        // authentication.x509.clientCAFile
  std::string container_runtime_endpoint;
  std::string image_service_endpoint;  // empty: same as container_runtime_endpoint
  GoDuration runtime_request_timeout{0};
  GoDuration sync_frequency{0};
  GoDuration file_check_frequency{0};
  GoDuration node_status_update_frequency{0};
  GoDuration node_status_report_frequency{0};
  std::chrono::seconds node_lease_duration{0};  // nodeLeaseDurationSeconds
  GoDuration image_minimum_gc_age{0};
  GoDuration image_maximum_gc_age{0};
  int32_t image_gc_high_threshold_percent = 0;
  int32_t image_gc_low_threshold_percent = 0;
  GoDuration volume_stats_agg_period{0};
  GoDuration streaming_connection_idle_timeout{0};
  GoDuration eviction_pressure_transition_period{0};
  std::map<std::string, std::string> eviction_hard;
  int32_t max_pods = 0;
  int64_t pod_pids_limit = 0;
  std::string cgroup_driver;  // cgroupfs or systemd
  // [v1.23] unset = the kubelet's choice: true on cgroup v1 (only unset or true valid there), false
  // on v2, where false puts memory.oom.group=1 into each container's CRI unified resources.
  std::optional<bool> single_process_oom_kill;
  // [v1.23] crashLoopBackOff.maxContainerRestartPeriod: caps the CrashLoopBackOff delay (1s-300s,
  // needs the kubelet feature gate KubeletCrashLoopBackOffMax); unset = 300 s.
  std::optional<GoDuration> max_container_restart_period;
  bool fail_cgroup_v1 = false;  // [v1.23] refuse to start edged on a cgroup v1 host
  bool cgroups_per_qos = false;
  std::vector<std::string> cluster_dns;
  std::string cluster_domain;
  std::string resolv_conf;
  bool register_node = false;
  std::string hairpin_mode;
  int32_t registry_pull_qps = 0;
  int32_t registry_burst = 0;
  int32_t event_record_qps = 0;
  int32_t event_burst = 0;
  bool enable_debugging_handlers = false;
  bool serialize_image_pulls = false;
  bool cpu_cfs_quota = false;
  GoDuration cpu_cfs_quota_period{0};
  int32_t oom_score_adj = 0;
  int64_t max_open_files = 0;
  std::string content_type;
  bool fail_swap_on = false;
  std::string container_log_max_size;
  int32_t container_log_max_files = 0;
  std::string volume_plugin_dir;
  std::map<std::string, bool> feature_gates;  // the kubelet's own gates
  bool operator==(const EdgedFields&) const = default;
};

// modules.edged. Every kubelet field, modelled or not, is in `tailored_kubelet_config`.
struct EdgedConfig : EdgedFields {
  // The whole merged tailoredKubeletConfig section, including keys we do not model.
  YAML::Node tailored_kubelet_config;

  // Compares the typed fields and the tailoredKubeletConfig tree by value.
  bool operator==(const EdgedConfig& other) const;
};

struct EdgeStreamConfig {
  bool enable = false;
  std::string tls_tunnel_ca_file;
  std::string tls_tunnel_cert_file;
  std::string tls_tunnel_private_key_file;
  std::chrono::seconds handshake_timeout{0};
  std::chrono::seconds read_deadline{0};
  std::chrono::seconds write_deadline{0};
  std::string server;  // tunnel server host:port (Go field TunnelServer, key "server")
  bool operator==(const EdgeStreamConfig&) const = default;
};

struct EventBusTlsConfig {
  bool enable = false;
  std::string tls_mqtt_ca_file;
  std::string tls_mqtt_cert_file;
  std::string tls_mqtt_private_key_file;
  bool operator==(const EventBusTlsConfig&) const = default;
};

enum class MqttMode { Internal = 0, Both = 1, External = 2 };

struct EventBusConfig {
  bool enable = false;
  uint8_t mqtt_qos = 0;
  bool mqtt_retain = false;
  int32_t mqtt_session_queue_size = 0;
  std::string mqtt_server_internal;
  std::string mqtt_server_external;
  std::string mqtt_sub_client_id;
  std::string mqtt_pub_client_id;
  std::string mqtt_username;
  std::string mqtt_password;
  MqttMode mqtt_mode = MqttMode::External;
  EventBusTlsConfig tls;  // key eventBusTLS
  bool operator==(const EventBusConfig&) const = default;
};

struct DeviceTwinConfig {
  bool enable = false;
  std::string
      dmi_sock_path;  // a directory (v1.23) or a socket path ending in .sock; dmiSocketPath()
  // edgecore-cpp key `offlineAfter` (not in KubeEdge v1.20, whose decoder ignores unknown keys):
  // a device without MQTT or mapper activity for this long is marked offline; 0 disables.
  GoDuration offline_after{0};
  bool operator==(const DeviceTwinConfig&) const = default;
};

// The DMI socket deviceTwin listens on: `dmi.sock` inside the dmiSockPath directory (KubeEdge
// v1.23; an empty value means /etc/kubeedge/). A path ending in `.sock` is used as it is, so a
// v1.20-v1.22 file keeps its socket. Upstream (edge/pkg/devicetwin/dmiserver/server.go,
// StartDMIServer) instead takes such a path's directory and listens on `dmi.sock` there; the two
// agree on every path whose file name is dmi.sock, including the old default. Pure.
std::string dmiSocketPath(const DeviceTwinConfig& c);

struct ServiceBusConfig {
  bool enable = false;
  std::string server;
  int64_t port = 0;
  std::chrono::seconds timeout{0};
  std::string tls_cert_file;  // KubeEdge master only: HTTPS when this or the key is set
  std::string tls_private_key_file;
  bool operator==(const ServiceBusConfig&) const = default;
};

struct DbTestConfig {
  bool enable = false;
  bool operator==(const DbTestConfig&) const = default;
};

struct TaskManagerConfig {  // [v1.23]
  bool enable = false;
  bool operator==(const TaskManagerConfig&) const = default;
};

struct ModulesConfig {
  EdgedConfig edged;
  EdgeHubConfig edge_hub;
  EventBusConfig event_bus;
  MetaManagerConfig meta_manager;
  ServiceBusConfig service_bus;
  DeviceTwinConfig device_twin;
  DbTestConfig db_test;
  EdgeStreamConfig edge_stream;
  TaskManagerConfig task_manager;
  bool operator==(const ModulesConfig&) const = default;
};

struct EdgeCoreConfig {
  std::string api_version;
  std::string kind;
  std::string edgecore_version;  // [v1.23]; empty in v1.20 files
  DatabaseConfig database;
  ModulesConfig modules;
  std::map<std::string, bool> feature_gates;

  // The complete merged document (defaults overlaid by the file), scalars normalised (durations
  // in Go form, integers in decimal). Unknown keys are kept here too.
  YAML::Node tree;
  // Dotted paths of keys the table does not know, e.g. "modules.edged.tailoredKubeletConfig.x".
  std::vector<std::string> unknown_keys;
  // Things worth a log line that are not errors (e.g. an unexpected apiVersion, which upstream
  // ignores too). The caller logs them.
  std::vector<std::string> warnings;

  // Value comparison of everything above (tree compared deeply).
  bool operator==(const EdgeCoreConfig& other) const;
};

// The configuration `edgecore --defaultconfig` describes (upstream NewDefaultEdgeCoreConfig).
EdgeCoreConfig defaultConfig(const HostInfo& host);

// Parses edgecore.yaml text laid over defaultConfig(host), then validates it the way v1.20's
// validation.ValidateEdgeCoreConfiguration does (plus nodeIP and mqttQOS range checks).
// `source_name` prefixes error messages. Errors (InvalidArgument) name the key path and line:
//   "<source>: modules.edgeHub.heartbeat: expected integer at line 12".
// Unknown keys are not errors; they are listed in unknown_keys.
Result<EdgeCoreConfig> parseConfig(std::string_view yaml_text, std::string_view source_name,
                                   const HostInfo& host);

// Largest edgecore.yaml loadConfigFile() reads (a full v1.20 file is about 6 KiB).
inline constexpr size_t kMaxConfigFileBytes = 1u << 20;

// Reads and parses `path`. NotFound when the file does not exist, PermissionDenied/Unavailable
// when it cannot be read, InvalidArgument for syntax, type and validation errors and for a file
// over kMaxConfigFileBytes.
Result<EdgeCoreConfig> loadConfigFile(const std::string& path, const HostInfo& host);

// Exactly what `edgecore --defaultconfig` / `--minconfig` print on stdout: three comment lines,
// a blank line, the YAML (sigs.k8s.io/yaml layout), two blank lines.
std::string defaultConfigYaml(const HostInfo& host);
std::string minConfigYaml(const HostInfo& host);

// [v1.23] The edgecore.yaml text with the top-level edgecoreVersion set to `version`: its line
// replaced, or one appended. nullopt when the file already names `version`, or when the edit would
// not read back as the same mapping plus that version (flow style, several documents). Pure.
std::optional<std::string> withEdgecoreVersion(std::string_view yaml, std::string_view version);

// Records `version` as edgecoreVersion in the file at `path` the way v1.23's edgecore does at
// start (edge/cmd/edgecore/app/server.go), editing one line instead of re-marshalling the file:
// written atomically with its mode kept; true when written, false (nothing written) when
// withEdgecoreVersion() gives nullopt. NotFound/Unavailable from reading or writing.
Result<bool> recordEdgecoreVersion(const std::string& path, std::string_view version);

// config.tree rendered as Go's yaml.Marshal of the config struct would render it: keys unknown to
// the table are dropped, omitempty honoured. Typed fields changed after loading are NOT reflected.
std::string configToYaml(const EdgeCoreConfig& config);

}  // namespace edgecore::core
