#include "join_config.h"

#include <yaml-cpp/yaml.h>

#include <sstream>

#include "edgecore/core/host_port.h"
#include "edgecore/core/version.h"

namespace edgecore::keadm {
namespace {

// v1.20 constants (staging/src/github.com/kubeedge/api/apis/common/constants/default.go).
constexpr int kDefaultWebSocketPort = 10000;
constexpr int kDefaultQuicPort = 10001;
constexpr int kDefaultTunnelPort = 10004;
constexpr const char* kDefaultCertPort = "10002";

std::string joinHostPort(const std::string& host, const std::string& port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    parts.push_back(p);
  }
  return parts;
}

// Sets overlay[a][b]...[z] = value, creating the mappings on the way.
void setPath(YAML::Node overlay, const std::string& path, const YAML::Node& value) {
  auto parts = splitPath(path);
  // yaml-cpp's operator[] on a non-const Node returns a handle; reassigning through a chain of
  // copies keeps writing into the same tree.
  std::vector<YAML::Node> chain{overlay};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    chain.push_back(chain.back()[parts[i]]);
  }
  chain.back()[parts.back()] = value;
}

void setString(YAML::Node overlay, const std::string& path, const std::string& value) {
  YAML::Node n(value);
  n.SetTag("!!str");  // keep "1234" or "true" a string for string keys
  setPath(overlay, path, n);
}

// Every key whose default is one of the node's certificate files follows --cert-path.
void redirectCertPath(YAML::Node overlay, const std::string& cert_path) {
  const std::string ca = cert_path + "/rootCA.crt";
  const std::string crt = cert_path + "/server.crt";
  const std::string key = cert_path + "/server.key";
  for (const char* prefix : {"modules.edgeHub.", "modules.metaManager.metaServer."}) {
    setString(overlay, std::string(prefix) + "tlsCaFile", ca);
    setString(overlay, std::string(prefix) + "tlsCertFile", crt);
    setString(overlay, std::string(prefix) + "tlsPrivateKeyFile", key);
  }
  setString(overlay, "modules.edgeStream.tlsTunnelCAFile", ca);
  setString(overlay, "modules.edgeStream.tlsTunnelCertFile", crt);
  setString(overlay, "modules.edgeStream.tlsTunnelPrivateKeyFile", key);
  setString(overlay, "modules.eventBus.eventBusTLS.tlsMqttCAFile", ca);
  setString(overlay, "modules.eventBus.eventBusTLS.tlsMqttCertFile", crt);
  setString(overlay, "modules.eventBus.eventBusTLS.tlsMqttPrivateKeyFile", key);
}

}  // namespace

core::Status applySets(YAML::Node overlay, const std::vector<std::string>& sets) {
  for (const auto& set : sets) {
    std::stringstream ss(set);
    for (std::string item; std::getline(ss, item, ',');) {
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        return core::invalidArgument("--set " + item + ": expected key=value, e.g. --set " +
                                     "modules.edged.maxPods=50");
      }
      std::string key = item.substr(0, eq);
      YAML::Node value;
      try {
        value = YAML::Load(item.substr(eq + 1));
      } catch (const YAML::Exception&) {
        value = YAML::Node(item.substr(eq + 1));
      }
      if (!value.IsScalar()) {
        value = YAML::Node(item.substr(eq + 1));
      }
      setPath(overlay, key, value);
    }
  }
  return core::Status();
}

core::Result<std::string> cloudHost(const std::string& ipport) {
  auto hp = core::parseHostPort(ipport);
  if (!hp.ok()) {
    return core::invalidArgument("--cloudcore-ipport " + ipport +
                                 ": expected IP:port of CloudCore, e.g. 10.0.0.1:10000 (" +
                                 hp.status().message() + ")");
  }
  return hp->host;
}

core::Result<JoinedConfig> buildJoinConfig(const JoinOptions& o, const core::HostInfo& host_info) {
  EC_ASSIGN_OR_RETURN(std::string host, cloudHost(o.cloudcore_ipport));
  YAML::Node overlay(YAML::NodeType::Map);
  // Mirrors createEdgeConfigFiles (join_others.go @ v1.20.0) key by key.
  // v1.23 records the version that wrote the file (join_others.go @ v1.23.1).
  setString(overlay, "edgecoreVersion", std::string("v") + core::kVersion);
  if (!o.token.empty()) {
    setString(overlay, "modules.edgeHub.token", o.token);
  }
  if (!o.edgenode_name.empty()) {
    setString(overlay, "modules.edged.hostnameOverride", o.edgenode_name);
  }
  if (o.cgroup_driver != "systemd" && o.cgroup_driver != "cgroupfs") {
    return core::invalidArgument("--cgroupdriver " + o.cgroup_driver +
                                 ": unsupported, use cgroupfs or systemd");
  }
  const std::string kubelet = "modules.edged.tailoredKubeletConfig.";
  setString(overlay, kubelet + "cgroupDriver", o.cgroup_driver);
  if (!o.remote_runtime_endpoint.empty()) {
    setString(overlay, kubelet + "containerRuntimeEndpoint", o.remote_runtime_endpoint);
    setString(overlay, kubelet + "imageServiceEndpoint", o.remote_runtime_endpoint);
  }
  setString(overlay, "modules.edgeHub.httpServer",
            "https://" + joinHostPort(host, o.certport.empty() ? kDefaultCertPort : o.certport));
  bool quic = o.hub_protocol == "quic";
  if (!quic && o.hub_protocol != "websocket") {
    return core::invalidArgument("--hub-protocol " + o.hub_protocol +
                                 ": unsupported, use websocket (or quic, which edgecore-cpp "
                                 "does not implement)");
  }
  overlay["modules"]["edgeHub"]["quic"]["enable"] = quic;
  overlay["modules"]["edgeHub"]["websocket"]["enable"] = !quic;
  setString(overlay, "modules.edgeHub.quic.server",
            quic ? o.cloudcore_ipport : joinHostPort(host, std::to_string(kDefaultQuicPort)));
  setString(overlay, "modules.edgeHub.websocket.server",
            quic ? joinHostPort(host, std::to_string(kDefaultWebSocketPort)) : o.cloudcore_ipport);
  setString(overlay, "modules.edgeStream.server",
            joinHostPort(host, std::to_string(kDefaultTunnelPort)));
  if (!o.labels.empty()) {
    YAML::Node labels(YAML::NodeType::Map);
    for (const auto& label : o.labels) {
      size_t eq = label.find('=');
      std::string k = label.substr(0, eq);
      if (k.empty()) {
        continue;
      }
      YAML::Node v(eq == std::string::npos ? std::string() : label.substr(eq + 1));
      v.SetTag("!!str");
      labels[k] = v;
    }
    overlay["modules"]["edged"]["nodeLabels"] = labels;
  }
  // Ours: v1.20 accepts --certPath but writes the default file names regardless.
  if (o.cert_path != kDefaultCertPath) {
    redirectCertPath(overlay, o.cert_path);
  }
  EC_RETURN_IF_ERROR(applySets(overlay, o.sets));

  YAML::Emitter out;
  out << overlay;
  auto parsed = core::parseConfig(out.c_str(), "keadm join", host_info);
  if (!parsed.ok()) {
    return core::invalidArgument("the configuration join would write is invalid: " +
                                 parsed.status().message());
  }
  if (!parsed->unknown_keys.empty()) {
    return core::invalidArgument("--set " + parsed->unknown_keys.front() +
                                 ": edgecore.yaml has no such key (see edgecore --defaultconfig)");
  }
  JoinedConfig joined;
  joined.yaml = core::configToYaml(*parsed);
  // Loaded back as edgecore will load it, so what we check is what runs.
  auto reloaded = core::parseConfig(joined.yaml, "keadm join", host_info);
  if (!reloaded.ok()) {
    return core::Status(core::StatusCode::Internal,
                        "the written configuration does not load: " + reloaded.status().message());
  }
  joined.config = std::move(*reloaded);
  return joined;
}

}  // namespace edgecore::keadm
