#pragma once

// The edgecore.yaml `keadm join` writes: our defaults (`edgecore --defaultconfig`) with the keys
// keadm v1.20 sets from its flags (keadm/cmd/keadm/app/cmd/edge/join_others.go,
// createEdgeConfigFiles), validated by our loader. Pure: no files, no network.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/status.h"

namespace edgecore::keadm {

inline constexpr const char* kDefaultJoinConfigPath = "/etc/kubeedge/config/edgecore.yaml";
inline constexpr const char* kDefaultCertPath = "/etc/kubeedge/certs";
inline constexpr const char* kDefaultRuntimeEndpoint = "unix:///run/containerd/containerd.sock";

struct JoinOptions {
  std::string cloudcore_ipport;  // host:port of CloudHub's websocket (or quic) server
  std::string token;             // <sha256 hex of the CA DER>.<jwt>
  std::string edgenode_name;     // empty: the default (lowercased hostname)
  std::string remote_runtime_endpoint = kDefaultRuntimeEndpoint;
  std::string cgroup_driver = "cgroupfs";
  std::vector<std::string> labels;  // "k=v" or "k"
  std::string certport;             // empty: 10002
  std::string hub_protocol = "websocket";
  std::string cert_path = kDefaultCertPath;
  std::vector<std::string> sets;  // --set key=value[,key=value]
  bool with_mqtt = false;
  std::string config_path = kDefaultJoinConfigPath;
  bool force = false;
  std::string init_system;  // systemd|none; empty: detect
  std::chrono::seconds wait_timeout{120};
};

// The joined configuration: `yaml` is what gets written (sigs.k8s.io/yaml layout, as keadm's
// Write2File), `config` is it loaded back.
struct JoinedConfig {
  std::string yaml;
  core::EdgeCoreConfig config;
};

// InvalidArgument, worded for the user, for a flag value keadm v1.20 rejects (no port in
// --cloudcore-ipport, unknown --cgroupdriver / --hub-protocol, a --set key our config does not
// have) or a result our loader rejects (e.g. an invalid node name).
core::Result<JoinedConfig> buildJoinConfig(const JoinOptions& options, const core::HostInfo& host);

// --set a.b=v,c.d=w applied to `overlay` (keadm's util.ParseSet): dotted json names, scalar
// values parsed as YAML so "false" and "10" keep their types. InvalidArgument for an item
// without '='. Shared by join and config-update.
core::Status applySets(YAML::Node overlay, const std::vector<std::string>& sets);

// The host part of --cloudcore-ipport, without brackets; InvalidArgument when there is no port.
core::Result<std::string> cloudHost(const std::string& ipport);

}  // namespace edgecore::keadm
