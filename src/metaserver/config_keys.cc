// modules.metaManager.metaServer of edgecore.yaml: the rows MetaServer owns in the key table
// (include/edgecore/core/config_rows.h) and their binding to MetaServerConfig. The section sits
// under metaManager in the file (as upstream's MetaManager.MetaServer) but MetaServer is its own
// module and folder, so its keys live here. Compiled into edgecore_core; the catalogue puts these
// rows right after metaManager's. Key names and defaults come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go}
// at v1.20.0.

#include <string>

#include "edgecore/core/config_rows.h"

namespace edgecore::metaserver {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
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
};
// clang-format on

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::MetaServerConfig& s = c.modules.meta_manager.meta_server;
  const std::string ms = "modules.metaManager.metaServer.";
  s.enable = r.boolean(ms + "enable");
  s.server = r.str(ms + "server");
  s.tls_ca_file = r.str(ms + "tlsCaFile");
  s.tls_cert_file = r.str(ms + "tlsCertFile");
  s.tls_private_key_file = r.str(ms + "tlsPrivateKeyFile");
  s.service_account_issuers = r.list(ms + "serviceAccountIssuers");
  s.api_audiences = r.list(ms + "apiAudiences");
  s.service_account_key_files = r.list(ms + "serviceAccountKeyFiles");
  s.dummy_server = r.str(ms + "dummyServer");
}

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, nullptr}; }

}  // namespace edgecore::metaserver
