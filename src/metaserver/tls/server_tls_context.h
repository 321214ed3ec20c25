#pragma once

// The OpenSSL side of MetaServer's HTTPS listeners (requireAuthorization, spec local-apis.md
// 4.1): the server context (TLS >= 1.2, client certificate verified when one is sent) and the
// identity of a verified client certificate. meta_server.cc owns the sockets; this file only
// configures OpenSSL.

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "edgecore/core/status.h"
#include "edgecore/metaserver/meta_server.h"
#include "edgecore/metaserver/request_auth.h"

namespace edgecore::metaserver::tls {

// A server context with `cert` as the serving certificate. With `client_ca_pem` (one or more
// PEM certificates) a client certificate is asked for and, when sent, must chain to one of them
// or the handshake fails (Go's VerifyClientCertIfGiven); a client without one is still served.
// InvalidArgument when the certificate, key or CA does not load.
core::Result<std::shared_ptr<boost::asio::ssl::context>> makeServerTlsContext(
    const ServingCertificate& cert, const std::string& client_ca_pem);

// CN and O of the client certificate of a finished handshake, when the client sent one and it
// verified; nullopt otherwise.
std::optional<PeerCertificate> verifiedPeerCertificate(SSL* ssl);

}  // namespace edgecore::metaserver::tls
