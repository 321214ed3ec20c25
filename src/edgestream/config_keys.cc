// modules.edgeStream of edgecore.yaml: the rows edgeStream owns in the key table
// (include/edgecore/core/config_rows.h) and their binding to EdgeStreamConfig. Compiled into
// edgecore_core. Key names and defaults come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go}
// at v1.20.0.

#include <string>

#include "edgecore/core/config_rows.h"

namespace edgecore::edgestream {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
  {"modules.edgeStream", T::Section, "", kOmitNil, kNotMin, k120, "logs/exec tunnel"},
  {"modules.edgeStream.enable", T::Bool, "false", kAlways, kNotMin, k120, "run edgeStream"},
  {"modules.edgeStream.tlsTunnelCAFile", T::String, "/etc/kubeedge/ca/rootCA.crt", kOmitZero, kNotMin, k120, "tunnel CA"},
  {"modules.edgeStream.tlsTunnelCertFile", T::String, "/etc/kubeedge/certs/server.crt", kOmitZero, kNotMin, k120, "tunnel certificate"},
  {"modules.edgeStream.tlsTunnelPrivateKeyFile", T::String, "/etc/kubeedge/certs/server.key", kOmitZero, kNotMin, k120, "tunnel key"},
  {"modules.edgeStream.handshakeTimeout", T::Int32, "30", kOmitZero, kNotMin, k120, "handshake timeout in seconds"},
  {"modules.edgeStream.readDeadline", T::Int32, "15", kOmitZero, kNotMin, k120, "read deadline in seconds"},
  {"modules.edgeStream.server", T::String, "127.0.0.1:10004", kOmitZero, kNotMin, k120, "tunnel server"},
  {"modules.edgeStream.writeDeadline", T::Int32, "15", kOmitZero, kNotMin, k120, "write deadline in seconds"},
};
// clang-format on

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::EdgeStreamConfig& s = c.modules.edge_stream;
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

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, nullptr}; }

}  // namespace edgecore::edgestream
