// Tests of edgecore.yaml handling (include/edgecore/core/config.h).
//
// The golden files test/data/config/{defaultconfig,minconfig}.golden.yaml were written by hand
// from KubeEdge v1.20.0's types.go (json tags, omitempty, pointer vs value), default*.go and
// pkg/util/flag/flags.go, then compared with our output; the v1.21-v1.23 keys (edgecoreVersion,
// taskManager, crashLoopBackOff, failCgroupV1, dmiSockPath /etc/kubeedge/) were added from
// v1.23.1's types.go/default*.go (test/core/config_v123_test.cc). Points we could not check against
// the real binary (UNSURE):
//  - yaml.v2 key order puts upper case before lower case at the first differing character
//    ("enableDebugFlagsHandler" before "enableDebuggingHandlers"); derived from yaml.v2 sorter.go.
//  - logging.options.{json,text}.infoBufferSize prints as "0" (resource.QuantityValue is a struct,
//    so omitempty never drops it) and logging.flushFrequency as 5s (SerializeAsString is set by
//    SetRecommendedLoggingConfiguration).
//  - imageServiceEndpoint is printed: v1.20's default_kubelet_configuration.go sets it to
//    DefaultRemoteImageEndpoint although the protocol spec calls it empty.
//  - --minconfig prints enable: false for deviceTwin, edgeHub and eventBus: NewMinEdgeCoreConfig
//    does not set Enable and the field has no omitempty.
//  - The output ends with two blank lines (yaml ends in "\n", then Printf("\n%v\n\n")).

#include "edgecore/core/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/config_schema.h"
#include "core/config_test_util.h"

namespace edgecore::core {
namespace {

using namespace std::chrono_literals;
namespace ci = config_internal;

const HostInfo kHost{"edge-node-1", "192.168.1.10"};

std::string dataPath(const std::string& name) { return testing::configDataPath(name); }
using testing::readFile;

EdgeCoreConfig parseOk(const std::string& text) {
  auto r = parseConfig(text, "edgecore.yaml", kHost);
  EXPECT_TRUE(r.ok()) << r.status().toString();
  return r.ok() ? std::move(r).value() : EdgeCoreConfig{};
}

std::string parseError(const std::string& text) {
  auto r = parseConfig(text, "edgecore.yaml", kHost);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  return r.status().message();
}

TEST(ConfigDefaultsTest, MatchUpstreamDefaults) {
  EdgeCoreConfig c = defaultConfig(kHost);
  EXPECT_EQ(c.api_version, "edgecore.config.kubeedge.io/v1alpha2");
  EXPECT_EQ(c.kind, "EdgeCore");
  EXPECT_EQ(c.database, (DatabaseConfig{"sqlite3", "default", "/var/lib/kubeedge/edgecore.db"}));
  EXPECT_TRUE(c.feature_gates.empty());

  const EdgeHubConfig& h = c.modules.edge_hub;
  EXPECT_TRUE(h.enable);
  EXPECT_EQ(h.heartbeat, 15s);
  EXPECT_EQ(h.message_qps, 30);
  EXPECT_EQ(h.message_burst, 60);
  EXPECT_EQ(h.project_id, "e632aba927ea4ac2b575ec1603d56f10");
  EXPECT_EQ(h.tls_ca_file, "/etc/kubeedge/ca/rootCA.crt");
  EXPECT_EQ(h.token, "");
  EXPECT_EQ(h.http_server, "https://192.168.1.10:10002");
  EXPECT_TRUE(h.rotate_certificates);
  EXPECT_EQ(h.websocket, (EdgeHubTransportConfig{true, 30s, 15s, 15s, "192.168.1.10:10000"}));
  EXPECT_EQ(h.quic, (EdgeHubTransportConfig{false, 30s, 15s, 15s, "192.168.1.10:10001"}));

  const EdgedConfig& e = c.modules.edged;
  EXPECT_TRUE(e.enable);
  EXPECT_FALSE(e.report_event);
  EXPECT_EQ(e.hostname_override, "edge-node-1");
  EXPECT_EQ(e.node_ip, "");
  EXPECT_EQ(e.pod_sandbox_image, "kubeedge/pause:3.6");
  EXPECT_EQ(e.root_directory, "/var/lib/kubelet");
  EXPECT_EQ(e.max_container_count, -1);
  EXPECT_EQ(e.max_per_pod_container_count, 1);
  EXPECT_EQ(e.register_node_namespace, "default");
  EXPECT_TRUE(e.register_schedulable);
  EXPECT_EQ(e.static_pod_path, "/etc/kubeedge/manifests");
  EXPECT_EQ(e.pod_logs_dir, "/var/log/pods");
  EXPECT_EQ(e.address, "127.0.0.1");
  EXPECT_EQ(e.read_only_port, 10350);
  EXPECT_EQ(e.container_runtime_endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(e.image_service_endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(e.sync_frequency, 1min);
  EXPECT_EQ(e.file_check_frequency, 20s);
  EXPECT_EQ(e.runtime_request_timeout, 2min);
  EXPECT_EQ(e.node_status_update_frequency, 10s);
  EXPECT_EQ(e.node_status_report_frequency, 5min);
  EXPECT_EQ(e.node_lease_duration, 40s);
  EXPECT_EQ(e.streaming_connection_idle_timeout, 4h);
  EXPECT_EQ(e.cpu_cfs_quota_period, 100ms);
  EXPECT_EQ(e.image_maximum_gc_age, 0s);
  EXPECT_EQ(e.max_pods, 110);
  EXPECT_EQ(e.pod_pids_limit, -1);
  EXPECT_EQ(e.cgroup_driver, "cgroupfs");
  EXPECT_TRUE(e.cgroups_per_qos);
  EXPECT_TRUE(e.cluster_dns.empty());
  EXPECT_EQ(e.cluster_domain, "cluster.local");
  EXPECT_EQ(e.resolv_conf, "/etc/resolv.conf");
  EXPECT_TRUE(e.register_node);
  EXPECT_EQ(e.oom_score_adj, -999);
  EXPECT_EQ(e.max_open_files, 1000000);
  EXPECT_FALSE(e.fail_swap_on);
  EXPECT_EQ(e.eviction_hard.at("memory.available"), "100Mi");
  EXPECT_EQ(e.eviction_hard.size(), 5u);
  EXPECT_EQ(e.tailored_kubelet_config["hairpinMode"].as<std::string>(), "promiscuous-bridge");
  EXPECT_EQ(e.tailored_kubelet_config["logging"]["flushFrequency"].as<std::string>(), "5s");

  const EventBusConfig& b = c.modules.event_bus;
  EXPECT_TRUE(b.enable);
  EXPECT_EQ(b.mqtt_qos, 0);
  EXPECT_EQ(b.mqtt_mode, MqttMode::External);
  EXPECT_EQ(b.mqtt_session_queue_size, 100);
  EXPECT_EQ(b.mqtt_server_external, "tcp://127.0.0.1:1883");
  EXPECT_EQ(b.mqtt_server_internal, "tcp://127.0.0.1:1884");
  EXPECT_FALSE(b.tls.enable);

  const MetaManagerConfig& m = c.modules.meta_manager;
  EXPECT_TRUE(m.enable);
  EXPECT_EQ(m.context_send_group, "hub");
  EXPECT_EQ(m.context_send_module, "websocket");
  EXPECT_EQ(m.remote_query_timeout, 60s);
  EXPECT_FALSE(m.meta_server.enable);
  EXPECT_EQ(m.meta_server.server, "127.0.0.1:10550");
  EXPECT_EQ(m.meta_server.dummy_server, "169.254.30.10:10550");
  EXPECT_EQ(m.meta_server.service_account_issuers,
            std::vector<std::string>{"https://kubernetes.default.svc.cluster.local"});
  EXPECT_TRUE(m.meta_server.api_audiences.empty());

  EXPECT_EQ(c.modules.edge_stream.server, "127.0.0.1:10004");
  EXPECT_FALSE(c.modules.edge_stream.enable);
  EXPECT_EQ(c.modules.edge_stream.handshake_timeout, 30s);
  // offlineAfter is our own key (1m0s), not an upstream default.
  EXPECT_EQ(c.modules.device_twin, (DeviceTwinConfig{true, "/etc/kubeedge/", 60s}));
  EXPECT_EQ(c.modules.service_bus, (ServiceBusConfig{false, "127.0.0.1", 9060, 60s, "", ""}));
  EXPECT_FALSE(c.modules.db_test.enable);
  EXPECT_FALSE(c.modules.task_manager.enable);
  EXPECT_TRUE(c.unknown_keys.empty());
}

TEST(ConfigDefaultsTest, Ipv6LocalIpIsBracketed) {
  EdgeCoreConfig c = defaultConfig(HostInfo{"n", "fd00::7"});
  EXPECT_EQ(c.modules.edge_hub.websocket.server, "[fd00::7]:10000");
  EXPECT_EQ(c.modules.edge_hub.http_server, "https://[fd00::7]:10002");
}

TEST(ConfigPrintTest, DefaultConfigMatchesGolden) {
  EXPECT_EQ(defaultConfigYaml(kHost), readFile(dataPath("defaultconfig.golden.yaml")));
}

TEST(ConfigPrintTest, MinConfigMatchesGolden) {
  EXPECT_EQ(minConfigYaml(kHost), readFile(dataPath("minconfig.golden.yaml")));
}

TEST(ConfigPrintTest, DefaultConfigRoundTrips) {
  auto parsed = parseOk(defaultConfigYaml(kHost));
  EXPECT_TRUE(parsed.unknown_keys.empty());
  EXPECT_TRUE(parsed.warnings.empty());
  EXPECT_EQ(parsed, defaultConfig(kHost));
  EXPECT_EQ(configToYaml(parsed), configToYaml(defaultConfig(kHost)));
}

TEST(ConfigPrintTest, MinConfigRoundTrips) {
  auto parsed = parseOk(minConfigYaml(kHost));
  EXPECT_TRUE(parsed.unknown_keys.empty());
  // Like upstream, the min file laid over the defaults switches off the three modules whose
  // `enable: false` it prints; everything else equals the defaults.
  EdgeCoreConfig expected = defaultConfig(kHost);
  expected.modules.edge_hub.enable = false;
  expected.modules.event_bus.enable = false;
  expected.modules.device_twin.enable = false;
  EXPECT_EQ(parsed.modules, expected.modules);
  EXPECT_EQ(parsed.database, expected.database);
  // Printing what was parsed and parsing it again is stable.
  auto again = parseOk(configToYaml(parsed));
  EXPECT_EQ(again, parsed);
}

TEST(ConfigLoadTest, KeadmJoinFileLoads) {
  auto r = loadConfigFile(dataPath("keadm-join-v1.20.yaml"), kHost);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  const EdgeCoreConfig& c = *r;
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.modules.edge_hub.websocket.server, "10.20.30.40:10000");
  EXPECT_EQ(c.modules.edge_hub.http_server, "https://10.20.30.40:10002");
  EXPECT_TRUE(c.modules.edge_hub.token.starts_with("3a2f6b1c"));
  EXPECT_TRUE(c.modules.edge_stream.enable);
  EXPECT_EQ(c.modules.edge_stream.server, "10.20.30.40:10004");
  EXPECT_TRUE(c.modules.meta_manager.meta_server.enable);
  EXPECT_EQ(c.modules.edged.hostname_override, "rpi-edge-07");
  EXPECT_EQ(c.modules.edged.node_ip, "192.168.50.7");
  EXPECT_EQ(c.modules.edged.node_labels.at("topology.kubernetes.io/zone"), "factory-a");
  EXPECT_EQ(c.modules.edged.node_labels.at("node-role.kubernetes.io/edge"), "");
  EXPECT_EQ(c.modules.edged.cgroup_driver, "systemd");
  EXPECT_EQ(c.modules.edged.cluster_dns, std::vector<std::string>{"169.254.96.16"});
  EXPECT_EQ(c.modules.edged.max_pods, 60);
  EXPECT_EQ(c.modules.edged.pod_pids_limit, 4096);
  EXPECT_EQ(c.modules.edged.node_status_report_frequency, 1min);
  EXPECT_EQ(c.modules.edged.resolv_conf, "/run/systemd/resolve/resolv.conf");
  EXPECT_EQ(c.modules.edged.feature_gates.at("InPlacePodVerticalScaling"), true);
  // Maps merge into the defaults like encoding/json does: untouched thresholds stay.
  EXPECT_EQ(c.modules.edged.eviction_hard.at("memory.available"), "200Mi");
  EXPECT_EQ(c.modules.edged.eviction_hard.at("nodefs.available"), "5%");
  EXPECT_EQ(c.modules.edged.eviction_hard.at("imagefs.available"), "15%");
  EXPECT_EQ(c.modules.edged.tailored_kubelet_config["logging"]["verbosity"].as<std::string>(), "2");
  EXPECT_EQ(
      c.modules.edged.tailored_kubelet_config["registerWithTaints"][0]["effect"].as<std::string>(),
      "NoSchedule");
  EXPECT_EQ(c.feature_gates.at("requireAuthorization"), false);
  // Kubelet fields v1.20 does not model are accepted, listed, and kept in the tree.
  EXPECT_EQ(c.unknown_keys,
            (std::vector<std::string>{"modules.edged.tailoredKubeletConfig.kubeAPIBurst",
                                      "modules.edged.tailoredKubeletConfig.kubeAPIQPS",
                                      "modules.edged.tailoredKubeletConfig.rotateCertificates"}));
  EXPECT_EQ(c.modules.edged.tailored_kubelet_config["kubeAPIQPS"].as<std::string>(), "10");
  // Printing drops them, as Go's Marshal of the struct would.
  EXPECT_EQ(configToYaml(c).find("kubeAPIQPS"), std::string::npos);
  EXPECT_NE(configToYaml(c).find("      - effect: NoSchedule\n        key: node-role"),
            std::string::npos);
}

TEST(ConfigLoadTest, MissingKeysTakeDefaults) {
  auto c = parseOk("modules:\n  edgeHub:\n    token: abc\n");
  EXPECT_EQ(c.modules.edge_hub.token, "abc");
  EXPECT_EQ(c.modules.edge_hub.heartbeat, 15s);
  EXPECT_EQ(c.modules.edged.hostname_override, "edge-node-1");
  EXPECT_EQ(c.modules.edged.max_pods, 110);
}

TEST(ConfigLoadTest, EmptyFileIsAllDefaults) { EXPECT_EQ(parseOk(""), defaultConfig(kHost)); }

TEST(ConfigLoadTest, V123KeysAccepted) {
  auto c = parseOk("edgecoreVersion: v1.23.1\nmodules:\n  taskManager:\n    enable: true\n");
  EXPECT_TRUE(c.unknown_keys.empty());
  EXPECT_EQ(c.edgecore_version, "v1.23.1");
  EXPECT_TRUE(c.modules.task_manager.enable);
}

// Our own key: typed, defaulted, never printed (printed configs stay KubeEdge's byte for byte),
// and a file without it is the default.
TEST(ConfigLoadTest, DeviceTwinOfflineAfterIsOurOwnKey) {
  EXPECT_EQ(defaultConfig(kHost).modules.device_twin.offline_after, 60s);
  auto c = parseOk("modules:\n  deviceTwin:\n    offlineAfter: 1m30s\n");
  EXPECT_TRUE(c.unknown_keys.empty());
  EXPECT_EQ(c.modules.device_twin.offline_after, 90s);
  EXPECT_EQ(
      parseOk("modules:\n  deviceTwin:\n    offlineAfter: 0s\n").modules.device_twin.offline_after,
      GoDuration{0});
  EXPECT_EQ(defaultConfigYaml(kHost).find("offlineAfter"), std::string::npos);
}

TEST(ConfigLoadTest, DurationsNormalised) {
  auto c = parseOk(
      "modules:\n  edged:\n    tailoredKubeletConfig:\n      syncFrequency: 90s\n"
      "      cpuCFSQuotaPeriod: 0.5ms\n");
  EXPECT_EQ(c.modules.edged.sync_frequency, 90s);
  EXPECT_EQ(c.modules.edged.cpu_cfs_quota_period, 500us);
  EXPECT_EQ(c.modules.edged.tailored_kubelet_config["syncFrequency"].as<std::string>(), "1m30s");
}

TEST(ConfigLoadTest, NullClearsPointerAndKeepsValue) {
  auto c = parseOk(
      "modules:\n  edged:\n    tailoredKubeletConfig:\n      enforceNodeAllocatable: null\n"
      "      maxPods: null\n");
  EXPECT_TRUE(c.modules.edged.tailored_kubelet_config["enforceNodeAllocatable"].IsNull());
  EXPECT_EQ(c.modules.edged.max_pods, 110);
}

TEST(ConfigLoadTest, KeysMatchIgnoringCaseLikeEncodingJson) {
  auto c = parseOk("modules:\n  EdgeHub:\n    Heartbeat: 20\n");
  EXPECT_EQ(c.modules.edge_hub.heartbeat, 20s);
  EXPECT_TRUE(c.unknown_keys.empty());
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0], "key modules.EdgeHub read as modules.edgeHub at line 2");
}

TEST(ConfigLoadTest, YamlOneOneBooleansAccepted) {
  // sigs.k8s.io/yaml reads YAML 1.1, where yes/no/on/off are booleans.
  auto c = parseOk("modules:\n  serviceBus:\n    enable: yes\n  dbTest:\n    enable: on\n");
  EXPECT_TRUE(c.modules.service_bus.enable);
  EXPECT_TRUE(c.modules.db_test.enable);
}

TEST(ConfigLoadTest, ScalarsBecomeStringsForStringKeys) {
  auto c = parseOk("modules:\n  edgeHub:\n    token: 12345\n    projectID: true\n");
  EXPECT_EQ(c.modules.edge_hub.token, "12345");
  EXPECT_EQ(c.modules.edge_hub.project_id, "true");
}

TEST(ConfigLoadTest, WrongApiVersionWarns) {
  auto c = parseOk("apiVersion: edgecore.config.kubeedge.io/v1alpha1\nkind: EdgeCore\n");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("v1alpha1"), std::string::npos);
}

TEST(ConfigErrorTest, WrongTypeNamesPathAndLine) {
  std::string yaml =
      "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
      "kind: EdgeCore\n"
      "modules:\n"
      "  edgeHub:\n"
      "    heartbeat: fifteen\n";
  EXPECT_EQ(parseError(yaml),
            "edgecore.yaml: modules.edgeHub.heartbeat: expected integer at line 5");
}

TEST(ConfigErrorTest, MappingWhereScalarExpected) {
  EXPECT_EQ(parseError("modules:\n  edgeHub:\n    token:\n      a: b\n"),
            "edgecore.yaml: modules.edgeHub.token: expected string, got a mapping at line 4");
}

TEST(ConfigErrorTest, ScalarWhereSectionExpected) {
  EXPECT_EQ(parseError("modules:\n  edgeHub: yes\n"),
            "edgecore.yaml: modules.edgeHub: expected mapping at line 2");
}

TEST(ConfigErrorTest, BoolMustBeBoolean) {
  EXPECT_EQ(parseError("modules:\n  edged:\n    enable: maybe\n"),
            "edgecore.yaml: modules.edged.enable: expected boolean (true or false) at line 3");
  EXPECT_EQ(parseError("featureGates:\n  requireAuthorization: 1\n"),
            "edgecore.yaml: featureGates.requireAuthorization: expected boolean (true or false) "
            "at line 2");
}

TEST(ConfigErrorTest, QuotedNumbersAndBooleansAreStrings) {
  // A quoted scalar is a JSON string, which Go refuses for int and bool fields.
  EXPECT_EQ(parseError("modules:\n  edgeHub:\n    heartbeat: \"15\"\n"),
            "edgecore.yaml: modules.edgeHub.heartbeat: expected integer at line 3");
  EXPECT_EQ(parseError("modules:\n  edgeHub:\n    enable: 'true'\n"),
            "edgecore.yaml: modules.edgeHub.enable: expected boolean (true or false) at line 3");
}

TEST(ConfigErrorTest, IntegerOutOfRange) {
  EXPECT_EQ(parseError("modules:\n  edgeHub:\n    heartbeat: 3000000000\n"),
            "edgecore.yaml: modules.edgeHub.heartbeat: expected integer in [-2147483648, "
            "2147483647] at line 3");
}

TEST(ConfigErrorTest, BadDuration) {
  EXPECT_EQ(parseError("modules:\n  edged:\n    tailoredKubeletConfig:\n"
                       "      syncFrequency: 1 minute\n"),
            "edgecore.yaml: modules.edged.tailoredKubeletConfig.syncFrequency: expected duration "
            "such as \"1m0s\" at line 4");
}

TEST(ConfigErrorTest, ListElementType) {
  EXPECT_EQ(parseError("modules:\n  edged:\n    tailoredKubeletConfig:\n      clusterDNS:\n"
                       "      - 10.0.0.10\n      - {a: b}\n"),
            "edgecore.yaml: modules.edged.tailoredKubeletConfig.clusterDNS[1]: expected string at "
            "line 6");
}

TEST(ConfigErrorTest, BothTransportsEnabled) {
  EXPECT_EQ(parseError("modules:\n  edgeHub:\n    quic:\n      enable: true\n"),
            "edgecore.yaml: modules.edgeHub.quic.enable: exactly one of websocket.enable and "
            "quic.enable must be true (both are true) at line 4");
}

TEST(ConfigErrorTest, NoTransportEnabled) {
  EXPECT_EQ(parseError("modules:\n  edgeHub:\n    websocket:\n      enable: false\n"),
            "edgecore.yaml: modules.edgeHub.websocket.enable: exactly one of websocket.enable and "
            "quic.enable must be true (both are false) at line 4");
  // A disabled edgeHub is not checked, as upstream.
  parseOk("modules:\n  edgeHub:\n    enable: false\n    websocket:\n      enable: false\n");
}

TEST(ConfigErrorTest, MqttModeAndQos) {
  EXPECT_EQ(parseError("modules:\n  eventBus:\n    mqttMode: 3\n"),
            "edgecore.yaml: modules.eventBus.mqttMode: 3 is not in [0, 2] (0 internal, 1 both, 2 "
            "external) at line 3");
  EXPECT_EQ(parseError("modules:\n  eventBus:\n    mqttQOS: 5\n"),
            "edgecore.yaml: modules.eventBus.mqttQOS: 5 is not an MQTT QoS (0, 1 or 2) at line 3");
  EXPECT_EQ(parseError("modules:\n  eventBus:\n    mqttQOS: 300\n"),
            "edgecore.yaml: modules.eventBus.mqttQOS: expected integer in [0, 255] at line 3");
}

TEST(ConfigErrorTest, EdgedNameAndIp) {
  EXPECT_EQ(parseError("modules:\n  edged:\n    hostnameOverride: \"\"\n"),
            "edgecore.yaml: modules.edged.hostnameOverride: must not be empty (it is the node "
            "name) at line 3");
  EXPECT_EQ(parseError("modules:\n  edged:\n    hostnameOverride: Edge_1\n"),
            "edgecore.yaml: modules.edged.hostnameOverride: \"Edge_1\" is not a valid node name "
            "(lowercase RFC 1123 subdomain: a-z, 0-9, '-', '.') at line 3");
  EXPECT_EQ(parseError("modules:\n  edged:\n    nodeIP: 10.0.0.300\n"),
            "edgecore.yaml: modules.edged.nodeIP: \"10.0.0.300\" is not a valid IP address at "
            "line 3");
  EXPECT_EQ(
      parseError("modules:\n  edged:\n    tailoredKubeletConfig:\n      cgroupDriver: cgv2\n"),
      "edgecore.yaml: modules.edged.tailoredKubeletConfig.cgroupDriver: \"cgv2\" must be "
      "cgroupfs or systemd at line 4");
}

TEST(ConfigErrorTest, SeveralValidationErrorsJoined) {
  std::string msg = parseError("modules:\n  edgeHub:\n    messageQPS: -1\n    messageBurst: -2\n");
  EXPECT_EQ(msg,
            "edgecore.yaml: modules.edgeHub.messageQPS: must not be negative at line 3; "
            "modules.edgeHub.messageBurst: must not be negative at line 4");
}

TEST(ConfigErrorTest, YamlSyntaxError) {
  std::string msg = parseError("modules:\n  edgeHub:\n    token: [abc\n");
  EXPECT_TRUE(msg.starts_with("edgecore.yaml: YAML syntax error at line ")) << msg;
  std::string msg2 = parseError("modules:\n  edgeHub: {\n");
  EXPECT_TRUE(msg2.starts_with("edgecore.yaml: YAML syntax error at line ")) << msg2;
}

TEST(ConfigErrorTest, TopLevelNotMapping) {
  EXPECT_EQ(parseError("- a\n- b\n"),
            "edgecore.yaml: expected a mapping at the top level at line 1");
}

TEST(ConfigErrorTest, MissingFile) {
  auto r = loadConfigFile("/nonexistent-dir/edgecore.yaml", kHost);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::NotFound);
  EXPECT_EQ(r.status().message(),
            "config file /nonexistent-dir/edgecore.yaml not found: No such file or directory "
            "(generate one with `edgecore --defaultconfig > /nonexistent-dir/edgecore.yaml`)");
}

TEST(ConfigErrorTest, DirectoryAndUnreadable) {
  auto dir = std::filesystem::temp_directory_path() / ("config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto r = loadConfigFile(dir.string(), kHost);
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);

  std::string file = (dir / "edgecore.yaml").string();
  std::ofstream(file) << "modules: {}\n";
  ::chmod(file.c_str(), 0);
  auto r2 = loadConfigFile(file, kHost);
  if (::geteuid() != 0) {  // root reads anything
    EXPECT_EQ(r2.status().code(), StatusCode::PermissionDenied) << r2.status().toString();
  }
  std::filesystem::remove_all(dir);
}

TEST(ConfigErrorTest, FileOverTheSizeLimitIsRefused) {
  auto dir = std::filesystem::temp_directory_path() / ("config_big_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string file = (dir / "edgecore.yaml").string();
  {
    std::ofstream out(file);
    out << "modules: {}\n";
    out << "# " << std::string(kMaxConfigFileBytes, 'x') << "\n";
  }
  auto r = loadConfigFile(file, kHost);
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(r.status().message().find("larger than 1048576 bytes"), std::string::npos);
  {
    std::ofstream out(file, std::ios::trunc);  // just under: loads
    out << "modules: {}\n# " << std::string(kMaxConfigFileBytes - 32, 'x') << "\n";
  }
  EXPECT_TRUE(loadConfigFile(file, kHost).ok());
  std::filesystem::remove_all(dir);
}

TEST(ConfigValuesTest, GoDurations) {
  EXPECT_EQ(ci::formatGoDuration(0s), "0s");
  EXPECT_EQ(ci::formatGoDuration(1min), "1m0s");
  EXPECT_EQ(ci::formatGoDuration(20s), "20s");
  EXPECT_EQ(ci::formatGoDuration(4h), "4h0m0s");
  EXPECT_EQ(ci::formatGoDuration(100ms), "100ms");
  EXPECT_EQ(ci::formatGoDuration(1500ms), "1.5s");
  EXPECT_EQ(ci::formatGoDuration(1500us), "1.5ms");
  EXPECT_EQ(ci::formatGoDuration(2us), "2\xC2\xB5s");
  EXPECT_EQ(ci::formatGoDuration(7ns), "7ns");
  EXPECT_EQ(ci::formatGoDuration(-90s), "-1m30s");
  EXPECT_EQ(ci::parseGoDuration("1h2m3.5s"), GoDuration(3723500ms));
  EXPECT_EQ(ci::parseGoDuration("0"), GoDuration(0));
  EXPECT_EQ(ci::parseGoDuration("-1.5h"), GoDuration(-90min));
  EXPECT_EQ(ci::parseGoDuration("5us"), GoDuration(5us));
  EXPECT_FALSE(ci::parseGoDuration(""));
  EXPECT_FALSE(ci::parseGoDuration("10"));
  EXPECT_FALSE(ci::parseGoDuration("1d"));
  EXPECT_FALSE(ci::parseGoDuration("s"));
}

TEST(ConfigValuesTest, YamlV2Quoting) {
  EXPECT_EQ(ci::yamlV2String(""), "\"\"");
  EXPECT_EQ(ci::yamlV2String("0"), "\"0\"");
  EXPECT_EQ(ci::yamlV2String("10"), "\"10\"");
  EXPECT_EQ(ci::yamlV2String("1.5"), "\"1.5\"");
  EXPECT_EQ(ci::yamlV2String("true"), "\"true\"");
  EXPECT_EQ(ci::yamlV2String("on"), "\"on\"");
  EXPECT_EQ(ci::yamlV2String("null"), "\"null\"");
  EXPECT_EQ(ci::yamlV2String("10Mi"), "10Mi");
  EXPECT_EQ(ci::yamlV2String("10%"), "10%");
  EXPECT_EQ(ci::yamlV2String("None"), "None");
  EXPECT_EQ(ci::yamlV2String("127.0.0.1:10550"), "127.0.0.1:10550");
  EXPECT_EQ(ci::yamlV2String("tcp://127.0.0.1:1883"), "tcp://127.0.0.1:1883");
  EXPECT_EQ(ci::yamlV2String("a: b"), "'a: b'");
  EXPECT_EQ(ci::yamlV2String("*x"), "'*x'");
}

TEST(ConfigValuesTest, YamlV2KeyOrder) {
  EXPECT_TRUE(ci::yamlV2KeyLess("enableDebugFlagsHandler", "enableDebuggingHandlers"));
  EXPECT_TRUE(ci::yamlV2KeyLess("cpuCFSQuota", "cpuCFSQuotaPeriod"));
  EXPECT_TRUE(ci::yamlV2KeyLess("edgeStream", "edged"));
  EXPECT_TRUE(ci::yamlV2KeyLess("a2", "a10"));
  EXPECT_TRUE(ci::yamlV2KeyLess("a.b", "ab"));
  EXPECT_FALSE(ci::yamlV2KeyLess("edged", "edgeHub"));
}

TEST(ConfigHostTest, DetectHostInfo) {
  HostInfo h = detectHostInfo();
  EXPECT_FALSE(h.hostname.empty());
  for (char c : h.hostname) {
    EXPECT_FALSE(c >= 'A' && c <= 'Z') << h.hostname;
  }
  EXPECT_FALSE(h.local_ip.empty());
}

}  // namespace
}  // namespace edgecore::core
