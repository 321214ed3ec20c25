#pragma once

// The edged server's TLS: who may talk to :10350 when it is not on loopback.
//
// Like the kubelet's server with authentication.x509.clientCAFile, every client must present a
// certificate the node's CA signed (the cloud's stream tunnel, edgestream with the node's
// certificate); TLS 1.2 or newer. Unlike the kubelet there is no token or anonymous path: without
// a verified certificate the handshake fails before any request is read.

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "edgecore/core/status.h"
#include "server/edged_server.h"

namespace edgecore::edged {

// The config keys named in errors, so an operator knows what to set.
inline constexpr const char* kTlsCertFileKey = "modules.edged.tailoredKubeletConfig.tlsCertFile";
inline constexpr const char* kTlsPrivateKeyFileKey =
    "modules.edged.tailoredKubeletConfig.tlsPrivateKeyFile";
inline constexpr const char* kClientCaFileKey =
    "modules.edged.tailoredKubeletConfig.authentication.x509.clientCAFile";

// The server context from options' tls_cert_file, tls_private_key_file and client_ca_file.
// InvalidArgument naming the keys when one is missing (`loopback` only changes the wording) or a
// file is unusable. Reads the files (blocking, at start only).
core::Result<std::shared_ptr<boost::asio::ssl::context>> makeServerTls(
    const EdgedServerOptions& options, bool loopback);

}  // namespace edgecore::edged
