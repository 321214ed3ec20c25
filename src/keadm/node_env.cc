#include "node_env.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "edgecore/core/config.h"
#include "edgecore/core/host_port.h"

namespace edgecore::keadm {

namespace {
constexpr size_t kMaxCheckpointBytes = 16 << 20;
constexpr const char* kMetaServerPkiDir = "/etc/kubeedge/pki/metaserver";
}  // namespace

std::string readDeviceCheckpoint(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxCheckpointBytes) return {};
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return in ? ss.str() : std::string();
}

core::Result<Env> loadEnv(const std::string& path) {
  core::HostInfo host;
  host.hostname = "default-edge-node";
  host.local_ip = "127.0.0.1";
  if (char name[256] = {}; ::gethostname(name, sizeof(name) - 1) == 0) {
    host.hostname = name;
    for (auto& c : host.hostname)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto config = core::loadConfigFile(path, host);
  if (!config.ok()) {
    return core::invalidArgument("get edge config failed with err:" + config.status().message());
  }
  const auto& ms = config->modules.meta_manager.meta_server;
  if (!ms.enable) {
    return core::failedPrecondition(
        "metaserver don't open (set modules.metaManager.metaServer.enable: true in " + path +
        " and restart edgecore)");
  }
  Env env;
  std::string server = ms.server;
  auto hp = core::parseHostPort(server);
  if (!hp.ok()) {
    return core::invalidArgument("modules.metaManager.metaServer.server: " + hp.status().message());
  }
  env.endpoint.host = hp->host;
  env.endpoint.port = hp->port;
  auto gate = config->feature_gates.find("requireAuthorization");
  if (gate != config->feature_gates.end() && gate->second) {
    env.endpoint.tls = true;
    // MetaServer's serving certificate comes from the cluster CA through its CSR; edgecore keeps
    // that CA beside it (/etc/kubeedge/pki/metaserver/ca.crt, or $EDGECORE_METASERVER_PKI_DIR,
    // our extension). v1.20's keadm verifies against tlsCaFile, the CloudCore CA, which did not
    // sign that certificate.
    const char* pki_dir = std::getenv("EDGECORE_METASERVER_PKI_DIR");
    env.endpoint.ca_file =
        std::string(pki_dir && *pki_dir ? pki_dir : kMetaServerPkiDir) + "/ca.crt";
    // The client certificate: the node's, as v1.20 (metaServer.tlsCertFile/tlsPrivateKeyFile).
    env.endpoint.cert_file = ms.tls_cert_file;
    env.endpoint.key_file = ms.tls_private_key_file;
  }
  env.node_name = config->modules.edged.hostname_override;
  env.device_checkpoint =
      config->modules.edged.root_directory + "/device-plugins/edgecore_device_checkpoint.json";
  return env;
}

}  // namespace edgecore::keadm
