// Loading edgecore.yaml: the file is merged onto the default tree the way upstream unmarshals it
// onto NewDefaultEdgeCoreConfig() (staging/.../edgecore/v1alpha2/helper.go, EdgeCoreConfig.Parse,
// via sigs.k8s.io/yaml and encoding/json): keys present replace defaults, maps merge entry by
// entry, lists replace, null clears pointers/maps/lists and leaves plain values alone, unknown keys
// are ignored (we list them). Then the checks of upstream
// staging/.../edgecore/v1alpha2/validation/validation.go run on the typed result.

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>

#include "config_schema.h"

namespace edgecore::core {
namespace {

using config_internal::KeySpec;
using config_internal::ValueType;
using T = ValueType;

constexpr std::string_view kApiVersion = "edgecore.config.kubeedge.io/v1alpha2";
constexpr std::string_view kKind = "EdgeCore";

struct MergeState {
  std::vector<std::string> unknown_keys;
  std::vector<std::string> warnings;
  std::unordered_map<std::string, int> lines;  // key path -> 1-based line in the file
};

std::string atLine(const YAML::Node& n) {
  int line = n.Mark().line;
  return line >= 0 ? " at line " + std::to_string(line + 1) : "";
}

Status typeError(const std::string& path, std::string_view expected, const YAML::Node& n) {
  return invalidArgument(path + ": expected " + std::string(expected) + atLine(n));
}

bool quoted(const YAML::Node& n) { return n.Tag() == "!"; }

// YAML 1.1 booleans, which yaml.v2 (and so upstream) accepts.
std::optional<bool> parseBool(std::string_view s) {
  for (std::string_view t :
       {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}) {
    if (s == t) {
      return true;
    }
  }
  for (std::string_view f :
       {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"}) {
    if (s == f) {
      return false;
    }
  }
  return std::nullopt;
}

// Decimal (or 0x/0o/0b) integer with optional sign and underscores, as yaml.v2 resolves them.
std::optional<int64_t> parseInt(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (c != '_') {
      s += c;
    }
  }
  if (s.empty()) {
    return std::nullopt;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    i = 1;
  }
  int base = 10;
  if (s.size() > i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
    base = s[i + 1] == 'x' ? 16 : (s[i + 1] == 'o' ? 8 : 2);
    i += 2;
  }
  if (i >= s.size()) {
    return std::nullopt;
  }
  __int128 v = 0;
  for (; i < s.size(); ++i) {
    int d = std::isdigit(static_cast<unsigned char>(s[i]))
                ? s[i] - '0'
                : (std::isxdigit(static_cast<unsigned char>(s[i]))
                       ? std::tolower(static_cast<unsigned char>(s[i])) - 'a' + 10
                       : 99);
    if (d >= base) {
      return std::nullopt;
    }
    v = v * base + d;
    if (v > (__int128{1} << 63)) {
      return std::nullopt;
    }
  }
  v = negative ? -v : v;
  if (v > std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

// Checks one scalar against its type and returns the normalised text stored in the tree.
Result<std::string> normaliseScalar(const KeySpec& key, const std::string& path,
                                    const YAML::Node& v) {
  if (!v.IsScalar()) {
    std::string_view expected = key.type == T::Bool     ? "boolean"
                                : key.type == T::String ? "string"
                                : key.type == T::Duration || key.type == T::DurationOrNanos
                                    ? "duration such as \"1m0s\""
                                    : (key.type == T::Float64 ? "number" : "integer");
    return typeError(path, std::string(expected) + ", got a " + (v.IsMap() ? "mapping" : "list"),
                     v);
  }
  const std::string& s = v.Scalar();
  switch (key.type) {
    case T::Bool: {
      auto b = quoted(v) ? std::nullopt : parseBool(s);
      if (!b) {
        return typeError(path, "boolean (true or false)", v);
      }
      return std::string(*b ? "true" : "false");
    }
    case T::Int32:
    case T::Int64:
    case T::Uint8: {
      auto i = quoted(v) ? std::nullopt : parseInt(s);
      if (!i) {
        return typeError(path, "integer", v);
      }
      int64_t lo = key.type == T::Int32   ? std::numeric_limits<int32_t>::min()
                   : key.type == T::Uint8 ? 0
                                          : std::numeric_limits<int64_t>::min();
      int64_t hi = key.type == T::Int32   ? std::numeric_limits<int32_t>::max()
                   : key.type == T::Uint8 ? 255
                                          : std::numeric_limits<int64_t>::max();
      if (*i < lo || *i > hi) {
        return typeError(path,
                         "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
      }
      return std::to_string(*i);
    }
    case T::Float64: {
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (quoted(v) || s.empty() || *end != '\0' || errno != 0) {
        return typeError(path, "number", v);
      }
      // Shortest text that reads back as the same double ("0.9"), like Go's FormatFloat(-1)
      // for values of ordinary magnitude.
      char buf[64];
      auto [end_ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d);
      return ec == std::errc() ? std::string(buf, end_ptr) : s;
    }
    case T::Duration:
    case T::DurationOrNanos: {
      if (key.type == T::DurationOrNanos && !quoted(v)) {
        if (auto ns = parseInt(s)) {
          return std::to_string(*ns);  // integer nanoseconds stay an integer
        }
      }
      auto d = config_internal::parseGoDuration(s);
      if (!d) {
        return typeError(path, "duration such as \"1m0s\"", v);
      }
      return config_internal::formatGoDuration(*d);
    }
    default:  // String: sigs.k8s.io/yaml turns any scalar into a string for string fields
      return s;
  }
}

Status mergeMapping(const YAML::Node& src, YAML::Node dst, const std::string& path,
                    MergeState& state);

Status mergeKey(const KeySpec& key, const std::string& path, const YAML::Node& v, YAML::Node dst,
                const std::string& name, MergeState& state) {
  bool is_null = v.IsNull();
  switch (key.type) {
    case T::Section:
    case T::ValueSection: {
      if (is_null) {
        return Status();  // upstream would nil the section and crash later; keep the defaults
      }
      if (!v.IsMap()) {
        return typeError(path, "mapping", v);
      }
      if (!dst[name].IsMap()) {
        dst[name] = YAML::Node(YAML::NodeType::Map);
      }
      return mergeMapping(v, dst[name], path, state);
    }
    case T::StringList:
    case T::ObjectList: {
      if (is_null) {
        dst[name] = YAML::Node(YAML::NodeType::Null);
        return Status();
      }
      if (!v.IsSequence()) {
        return typeError(path, key.type == T::StringList ? "list of strings" : "list", v);
      }
      if (key.type == T::ObjectList) {
        dst[name] = YAML::Clone(v);
        return Status();
      }
      YAML::Node list(YAML::NodeType::Sequence);
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].IsScalar() && !v[i].IsNull()) {
          return typeError(path + "[" + std::to_string(i) + "]", "string", v[i]);
        }
        list.push_back(v[i].IsNull() ? std::string() : v[i].Scalar());
      }
      dst[name] = list;
      return Status();
    }
    case T::StringMap:
    case T::BoolMap: {
      if (is_null) {
        dst[name] = YAML::Node(YAML::NodeType::Null);
        return Status();
      }
      if (!v.IsMap()) {
        return typeError(path, key.type == T::BoolMap ? "mapping of string to boolean" : "mapping",
                         v);
      }
      // encoding/json decodes into the existing map: default entries survive unless overridden.
      if (!dst[name].IsMap()) {
        dst[name] = YAML::Node(YAML::NodeType::Map);
      }
      YAML::Node target = dst[name];
      for (const auto& kv : v) {
        std::string entry_path = path + "." + kv.first.Scalar();
        const YAML::Node& ev = kv.second;
        if (key.type == T::BoolMap) {
          auto b = ev.IsScalar() && !quoted(ev) ? parseBool(ev.Scalar()) : std::nullopt;
          if (!b) {
            return typeError(entry_path, "boolean (true or false)", ev);
          }
          target[kv.first.Scalar()] = *b ? "true" : "false";
        } else {
          if (!ev.IsScalar() && !ev.IsNull()) {
            return typeError(entry_path, "string", ev);
          }
          target[kv.first.Scalar()] = ev.IsNull() ? std::string() : ev.Scalar();
        }
      }
      return Status();
    }
    default: {
      if (is_null) {
        // JSON null: a pointer field becomes unset; a plain value keeps its default.
        if (key.emit == config_internal::Emit::OmitNil) {
          dst[name] = YAML::Node(YAML::NodeType::Null);
        }
        return Status();
      }
      EC_ASSIGN_OR_RETURN(std::string text, normaliseScalar(key, path, v));
      dst[name] = text;
      return Status();
    }
  }
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The table key under `parent` whose name equals `name` up to ASCII case, or nullptr.
const KeySpec* findKeyIgnoringCase(const std::string& parent, std::string_view name) {
  for (const KeySpec& k : config_internal::keyTable()) {
    size_t dot = k.path.rfind('.');
    std::string_view k_parent = dot == std::string_view::npos ? "" : k.path.substr(0, dot);
    std::string_view k_name = dot == std::string_view::npos ? k.path : k.path.substr(dot + 1);
    if (k_parent == parent && equalsIgnoringCase(k_name, name)) {
      return &k;
    }
  }
  return nullptr;
}

Status mergeMapping(const YAML::Node& src, YAML::Node dst, const std::string& path,
                    MergeState& state) {
  for (const auto& kv : src) {
    if (!kv.first.IsScalar()) {
      return invalidArgument((path.empty() ? std::string("document") : path) +
                             ": expected string keys" + atLine(kv.first));
    }
    std::string name = kv.first.Scalar();
    std::string child_path = path.empty() ? name : path + "." + name;
    const KeySpec* key = config_internal::findKey(child_path);
    if (key == nullptr) {
      // encoding/json falls back to a case-insensitive match of the field name.
      key = findKeyIgnoringCase(path, name);
      if (key != nullptr) {
        std::string canonical(key->path.substr(key->path.rfind('.') + 1));
        state.warnings.push_back("key " + child_path + " read as " + std::string(key->path) +
                                 atLine(kv.first));
        name = canonical;
        child_path = key->path;
      }
    }
    if (kv.first.Mark().line >= 0) {
      state.lines[child_path] = kv.first.Mark().line + 1;
    }
    if (key == nullptr) {
      state.unknown_keys.push_back(child_path);
      dst[name] = YAML::Clone(kv.second);  // kept for modules that read extra keys
      continue;
    }
    EC_RETURN_IF_ERROR(mergeKey(*key, child_path, kv.second, dst, name, state));
  }
  return Status();
}

// Typed reads from the merged tree. Every v1.20 key is present there; a missing or null node
// (v1.23 keys, unset pointers) reads as the table default, else Go's zero value.
class TreeReader {
 public:
  explicit TreeReader(const YAML::Node& root) : root_(root) {}

  YAML::Node node(std::string_view path) const {
    YAML::Node n = root_;
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string part(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
      if (!n.IsDefined() || !n.IsMap()) {  // Type() of a missing node throws
        return YAML::Node();
      }
      const YAML::Node& cn = n;
      YAML::Node child = cn[part];
      if (!child.IsDefined()) {  // reset() refuses missing nodes
        return YAML::Node();
      }
      n.reset(child);
      if (dot == std::string_view::npos) {
        return n;
      }
      start = dot + 1;
    }
  }

  std::string str(std::string_view path) const {
    YAML::Node n = node(path);
    if (n.IsDefined() && n.IsScalar()) {
      return n.Scalar();
    }
    const KeySpec* key = config_internal::findKey(path);
    return key != nullptr && key->default_value != "~" ? std::string(key->default_value) : "";
  }
  bool boolean(std::string_view path) const { return str(path) == "true"; }
  int64_t integer(std::string_view path) const { return parseInt(str(path)).value_or(0); }
  std::chrono::seconds seconds(std::string_view path) const {
    return std::chrono::seconds(integer(path));
  }
  GoDuration duration(std::string_view path) const {
    return config_internal::parseGoDuration(str(path)).value_or(GoDuration{0});
  }
  std::vector<std::string> list(std::string_view path) const {
    std::vector<std::string> out;
    YAML::Node n = node(path);
    if (n.IsDefined() && n.IsSequence()) {
      for (const auto& item : n) {
        out.push_back(item.Scalar());
      }
    }
    return out;
  }
  std::map<std::string, std::string> strMap(std::string_view path) const {
    std::map<std::string, std::string> out;
    YAML::Node n = node(path);
    if (n.IsDefined() && n.IsMap()) {
      for (const auto& kv : n) {
        out[kv.first.Scalar()] = kv.second.Scalar();
      }
    }
    return out;
  }
  std::map<std::string, bool> boolMap(std::string_view path) const {
    std::map<std::string, bool> out;
    for (const auto& [k, v] : strMap(path)) {
      out[k] = v == "true";
    }
    return out;
  }

 private:
  const YAML::Node& root_;
};

void fillTyped(EdgeCoreConfig& c) {
  TreeReader r(c.tree);
  c.api_version = r.str("apiVersion");
  c.kind = r.str("kind");
  c.edgecore_version = r.str("edgecoreVersion");
  c.feature_gates = r.boolMap("featureGates");
  c.database = {r.str("database.driverName"), r.str("database.aliasName"),
                r.str("database.dataSource")};

  ModulesConfig& m = c.modules;
  EdgedConfig& e = m.edged;
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
  e.max_container_count = static_cast<int32_t>(r.integer(ed + "maxContainerCount"));
  e.max_per_pod_container_count = static_cast<int32_t>(r.integer(ed + "maxPerPodContainerCount"));
  e.minimum_gc_age = r.duration(ed + "minimumGCAge");
  e.node_labels = r.strMap(ed + "nodeLabels");
  e.register_schedulable = r.boolean(ed + "registerSchedulable");
  e.keep_terminated_pod_volumes = r.boolean(ed + "keepTerminatedPodVolumes");
  e.seccomp_default = r.boolean(ed + "seccompDefault");

  const std::string k = ed + "tailoredKubeletConfig.";
  auto i32 = [&](const char* name) { return static_cast<int32_t>(r.integer(k + name)); };
  e.static_pod_path = r.str(k + "staticPodPath");
  e.pod_logs_dir = r.str(k + "podLogsDir");
  e.address = r.str(k + "address");
  e.read_only_port = i32("readOnlyPort");
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
  e.image_gc_high_threshold_percent = i32("imageGCHighThresholdPercent");
  e.image_gc_low_threshold_percent = i32("imageGCLowThresholdPercent");
  e.volume_stats_agg_period = r.duration(k + "volumeStatsAggPeriod");
  e.streaming_connection_idle_timeout = r.duration(k + "streamingConnectionIdleTimeout");
  e.eviction_pressure_transition_period = r.duration(k + "evictionPressureTransitionPeriod");
  e.eviction_hard = r.strMap(k + "evictionHard");
  e.max_pods = i32("maxPods");
  e.pod_pids_limit = r.integer(k + "podPidsLimit");
  e.cgroup_driver = r.str(k + "cgroupDriver");
  e.cgroups_per_qos = r.boolean(k + "cgroupsPerQOS");
  e.cluster_dns = r.list(k + "clusterDNS");
  e.cluster_domain = r.str(k + "clusterDomain");
  e.resolv_conf = r.str(k + "resolvConf");
  e.register_node = r.boolean(k + "registerNode");
  e.hairpin_mode = r.str(k + "hairpinMode");
  e.registry_pull_qps = i32("registryPullQPS");
  e.registry_burst = i32("registryBurst");
  e.event_record_qps = i32("eventRecordQPS");
  e.event_burst = i32("eventBurst");
  e.enable_debugging_handlers = r.boolean(k + "enableDebuggingHandlers");
  e.serialize_image_pulls = r.boolean(k + "serializeImagePulls");
  e.cpu_cfs_quota = r.boolean(k + "cpuCFSQuota");
  e.cpu_cfs_quota_period = r.duration(k + "cpuCFSQuotaPeriod");
  e.oom_score_adj = i32("oomScoreAdj");
  e.max_open_files = r.integer(k + "maxOpenFiles");
  e.content_type = r.str(k + "contentType");
  e.fail_swap_on = r.boolean(k + "failSwapOn");
  e.container_log_max_size = r.str(k + "containerLogMaxSize");
  e.container_log_max_files = i32("containerLogMaxFiles");
  e.volume_plugin_dir = r.str(k + "volumePluginDir");
  e.feature_gates = r.boolMap(k + "featureGates");
  e.tailored_kubelet_config = r.node(ed + "tailoredKubeletConfig");

  EdgeHubConfig& h = m.edge_hub;
  const std::string eh = "modules.edgeHub.";
  h.enable = r.boolean(eh + "enable");
  h.heartbeat = r.seconds(eh + "heartbeat");
  h.message_qps = static_cast<int32_t>(r.integer(eh + "messageQPS"));
  h.message_burst = static_cast<int32_t>(r.integer(eh + "messageBurst"));
  h.project_id = r.str(eh + "projectID");
  h.tls_ca_file = r.str(eh + "tlsCaFile");
  h.tls_cert_file = r.str(eh + "tlsCertFile");
  h.tls_private_key_file = r.str(eh + "tlsPrivateKeyFile");
  h.token = r.str(eh + "token");
  h.http_server = r.str(eh + "httpServer");
  h.rotate_certificates = r.boolean(eh + "rotateCertificates");
  for (auto [t, name] : {std::pair{&h.websocket, "websocket."}, std::pair{&h.quic, "quic."}}) {
    const std::string p = eh + name;
    t->enable = r.boolean(p + "enable");
    t->handshake_timeout = r.seconds(p + "handshakeTimeout");
    t->read_deadline = r.seconds(p + "readDeadline");
    t->write_deadline = r.seconds(p + "writeDeadline");
    t->server = r.str(p + "server");
  }

  EventBusConfig& b = m.event_bus;
  const std::string eb = "modules.eventBus.";
  b.enable = r.boolean(eb + "enable");
  b.mqtt_qos = static_cast<uint8_t>(r.integer(eb + "mqttQOS"));
  b.mqtt_retain = r.boolean(eb + "mqttRetain");
  b.mqtt_session_queue_size = static_cast<int32_t>(r.integer(eb + "mqttSessionQueueSize"));
  b.mqtt_server_internal = r.str(eb + "mqttServerInternal");
  b.mqtt_server_external = r.str(eb + "mqttServerExternal");
  b.mqtt_sub_client_id = r.str(eb + "mqttSubClientID");
  b.mqtt_pub_client_id = r.str(eb + "mqttPubClientID");
  b.mqtt_username = r.str(eb + "mqttUsername");
  b.mqtt_password = r.str(eb + "mqttPassword");
  b.mqtt_mode = static_cast<MqttMode>(r.integer(eb + "mqttMode"));
  b.tls.enable = r.boolean(eb + "eventBusTLS.enable");
  b.tls.tls_mqtt_ca_file = r.str(eb + "eventBusTLS.tlsMqttCAFile");
  b.tls.tls_mqtt_cert_file = r.str(eb + "eventBusTLS.tlsMqttCertFile");
  b.tls.tls_mqtt_private_key_file = r.str(eb + "eventBusTLS.tlsMqttPrivateKeyFile");

  MetaManagerConfig& mm = m.meta_manager;
  const std::string mp = "modules.metaManager.";
  mm.enable = r.boolean(mp + "enable");
  mm.context_send_group = r.str(mp + "contextSendGroup");
  mm.context_send_module = r.str(mp + "contextSendModule");
  mm.remote_query_timeout = r.seconds(mp + "remoteQueryTimeout");
  const std::string ms = mp + "metaServer.";
  mm.meta_server.enable = r.boolean(ms + "enable");
  mm.meta_server.server = r.str(ms + "server");
  mm.meta_server.tls_ca_file = r.str(ms + "tlsCaFile");
  mm.meta_server.tls_cert_file = r.str(ms + "tlsCertFile");
  mm.meta_server.tls_private_key_file = r.str(ms + "tlsPrivateKeyFile");
  mm.meta_server.service_account_issuers = r.list(ms + "serviceAccountIssuers");
  mm.meta_server.api_audiences = r.list(ms + "apiAudiences");
  mm.meta_server.service_account_key_files = r.list(ms + "serviceAccountKeyFiles");
  mm.meta_server.dummy_server = r.str(ms + "dummyServer");

  m.service_bus.enable = r.boolean("modules.serviceBus.enable");
  m.service_bus.server = r.str("modules.serviceBus.server");
  m.service_bus.port = r.integer("modules.serviceBus.port");
  m.service_bus.timeout = r.seconds("modules.serviceBus.timeout");
  m.device_twin.enable = r.boolean("modules.deviceTwin.enable");
  m.device_twin.dmi_sock_path = r.str("modules.deviceTwin.dmiSockPath");
  m.device_twin.offline_after = r.duration("modules.deviceTwin.offlineAfter");
  m.db_test.enable = r.boolean("modules.dbTest.enable");
  m.task_manager.enable = r.boolean("modules.taskManager.enable");

  EdgeStreamConfig& s = m.edge_stream;
  const std::string es = "modules.edgeStream.";
  s.enable = r.boolean(es + "enable");
  s.tls_tunnel_ca_file = r.str(es + "tlsTunnelCAFile");
  s.tls_tunnel_cert_file = r.str(es + "tlsTunnelCertFile");
  s.tls_tunnel_private_key_file = r.str(es + "tlsTunnelPrivateKeyFile");
  s.handshake_timeout = r.seconds(es + "handshakeTimeout");
  s.read_deadline = r.seconds(es + "readDeadline");
  s.write_deadline = r.seconds(es + "writeDeadline");
  s.server = r.str(es + "server");
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

Status validate(const EdgeCoreConfig& c, const MergeState& state) {
  std::vector<std::string> errors;
  auto add = [&](const std::string& path, const std::string& message) {
    auto it = state.lines.find(path);
    errors.push_back(path + ": " + message +
                     (it != state.lines.end() ? " at line " + std::to_string(it->second) : ""));
  };
  const EdgedConfig& e = c.modules.edged;
  if (e.enable) {
    if (e.hostname_override.empty()) {
      add("modules.edged.hostnameOverride", "must not be empty (it is the node name)");
    } else if (!isDns1123Subdomain(e.hostname_override)) {
      add("modules.edged.hostnameOverride",
          "\"" + e.hostname_override +
              "\" is not a valid node name (lowercase RFC 1123 subdomain: a-z, 0-9, '-', '.')");
    }
    if (!e.node_ip.empty() && !isIpAddress(e.node_ip)) {
      add("modules.edged.nodeIP", "\"" + e.node_ip + "\" is not a valid IP address");
    }
    if (e.cgroup_driver != "cgroupfs" && e.cgroup_driver != "systemd") {
      add("modules.edged.tailoredKubeletConfig.cgroupDriver",
          "\"" + e.cgroup_driver + "\" must be cgroupfs or systemd");
    }
  }
  const EdgeHubConfig& h = c.modules.edge_hub;
  if (h.enable) {
    if (h.websocket.enable == h.quic.enable) {
      std::string path = state.lines.count("modules.edgeHub.quic.enable") != 0
                             ? "modules.edgeHub.quic.enable"
                             : "modules.edgeHub.websocket.enable";
      add(path, std::string("exactly one of websocket.enable and quic.enable must be true (both "
                            "are ") +
                    (h.quic.enable ? "true" : "false") + ")");
    }
    if (h.message_qps < 0) {
      add("modules.edgeHub.messageQPS", "must not be negative");
    }
    if (h.message_burst < 0) {
      add("modules.edgeHub.messageBurst", "must not be negative");
    }
  }
  const EventBusConfig& b = c.modules.event_bus;
  if (b.enable) {
    int mode = static_cast<int>(b.mqtt_mode);
    if (mode < 0 || mode > 2) {
      add("modules.eventBus.mqttMode",
          std::to_string(mode) + " is not in [0, 2] (0 internal, 1 both, 2 external)");
    }
    if (b.mqtt_qos > 2) {
      add("modules.eventBus.mqttQOS",
          std::to_string(b.mqtt_qos) + " is not an MQTT QoS (0, 1 or 2)");
    }
  }
  if (errors.empty()) {
    return Status();
  }
  std::string message = errors[0];
  for (size_t i = 1; i < errors.size(); ++i) {
    message += "; " + errors[i];
  }
  return invalidArgument(message);
}

}  // namespace

bool EdgedConfig::operator==(const EdgedConfig& other) const {
  return static_cast<const EdgedFields&>(*this) == static_cast<const EdgedFields&>(other) &&
         config_internal::yamlDeepEqual(tailored_kubelet_config, other.tailored_kubelet_config);
}

bool EdgeCoreConfig::operator==(const EdgeCoreConfig& other) const {
  return api_version == other.api_version && kind == other.kind &&
         edgecore_version == other.edgecore_version && database == other.database &&
         modules == other.modules && feature_gates == other.feature_gates &&
         unknown_keys == other.unknown_keys && warnings == other.warnings &&
         config_internal::yamlDeepEqual(tree, other.tree);
}

EdgeCoreConfig defaultConfig(const HostInfo& host) {
  EdgeCoreConfig c;
  c.tree = config_internal::buildTree(host, false);
  fillTyped(c);
  return c;
}

Result<EdgeCoreConfig> parseConfig(std::string_view yaml_text, std::string_view source_name,
                                   const HostInfo& host) {
  const std::string source(source_name);
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return invalidArgument(source + ": YAML syntax error at line " +
                           std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  EdgeCoreConfig c;
  c.tree = config_internal::buildTree(host, false);
  MergeState state;
  if (doc.IsDefined() && !doc.IsNull()) {
    if (!doc.IsMap()) {
      return invalidArgument(source + ": expected a mapping at the top level" + atLine(doc));
    }
    try {
      Status st = mergeMapping(doc, c.tree, "", state);
      if (!st.ok()) {
        return st.withContext(source);
      }
    } catch (const YAML::Exception& e) {
      return invalidArgument(source + ": " + e.what());
    }
  }
  c.unknown_keys = std::move(state.unknown_keys);
  c.warnings = std::move(state.warnings);
  fillTyped(c);
  // Upstream never checks these two (they only fill metav1.TypeMeta), so neither do we fail.
  if (c.api_version != kApiVersion) {
    c.warnings.push_back("apiVersion is \"" + c.api_version + "\", expected \"" +
                         std::string(kApiVersion) + "\"; reading the file as " +
                         std::string(kApiVersion));
  }
  if (c.kind != kKind) {
    c.warnings.push_back("kind is \"" + c.kind + "\", expected \"EdgeCore\"");
  }
  EC_RETURN_IF_ERROR(validate(c, state).withContext(source));
  return c;
}

Result<EdgeCoreConfig> loadConfigFile(const std::string& path, const HostInfo& host) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return notFound("config file " + path + " not found: " + std::strerror(err) +
                      " (generate one with `edgecore --defaultconfig > " + path + "`)");
    }
    if (err == EACCES) {
      return Status(StatusCode::PermissionDenied,
                    "cannot access config file " + path + ": " + std::strerror(err));
    }
    return unavailable("cannot access config file " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    return invalidArgument("config file " + path + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    StatusCode code = err == EACCES ? StatusCode::PermissionDenied : StatusCode::Unavailable;
    return Status(code, "cannot read config file " + path + ": " + std::strerror(err));
  }
  const std::string too_big =
      "config file " + path + " is larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) {
    return invalidArgument(too_big);
  }
  // Read at most one byte past the limit: the file may have grown since stat().
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return unavailable("cannot read config file " + path + ": read error");
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    return invalidArgument(too_big);
  }
  return parseConfig(text, path, host);
}

}  // namespace edgecore::core
