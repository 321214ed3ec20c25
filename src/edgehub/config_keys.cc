// modules.edgeHub of edgecore.yaml: the rows edgeHub owns in the key table
// (include/edgecore/core/config_rows.h), their binding to EdgeHubConfig and upstream's checks.
// Compiled into edgecore_core. Key names and defaults come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go}
// at v1.20.0.

#include <string>
#include <utility>

#include "edgecore/core/config_rows.h"

namespace edgecore::edgehub {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
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
};
// clang-format on

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::EdgeHubConfig& h = c.modules.edge_hub;
  const std::string eh = "modules.edgeHub.";
  h.enable = r.boolean(eh + "enable");
  h.heartbeat = r.seconds(eh + "heartbeat");
  h.message_qps = r.int32(eh + "messageQPS");
  h.message_burst = r.int32(eh + "messageBurst");
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
}

void check(const core::EdgeCoreConfig& c, core::ConfigProblems& p) {
  const core::EdgeHubConfig& h = c.modules.edge_hub;
  if (!h.enable) {
    return;
  }
  if (h.websocket.enable == h.quic.enable) {
    std::string path = p.inFile("modules.edgeHub.quic.enable") ? "modules.edgeHub.quic.enable"
                                                               : "modules.edgeHub.websocket.enable";
    p.add(path, std::string("exactly one of websocket.enable and quic.enable must be true (both "
                            "are ") +
                    (h.quic.enable ? "true" : "false") + ")");
  }
  if (h.message_qps < 0) {
    p.add("modules.edgeHub.messageQPS", "must not be negative");
  }
  if (h.message_burst < 0) {
    p.add("modules.edgeHub.messageBurst", "must not be negative");
  }
}

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, &check}; }

}  // namespace edgecore::edgehub
