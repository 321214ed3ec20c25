#pragma once

// TLS client settings shared by the websocket tunnel and the certificate client (spec 2.3, 3.2):
// TLS 1.2 or newer, only the configured CA trusted, the server's SAN checked against the host we
// dialled (IP SAN for an IP literal, DNS SAN otherwise).

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "edgecore/core/status.h"
#include "endpoint.h"

namespace edgecore::edgehub {

struct ClientTlsConfig {
  bool verify_peer = true;  // false only for the bootstrap's GET /ca.crt (spec 3.2 step 1)
  std::string ca_pem;       // trusted roots when verify_peer
  std::string cert_pem;     // client certificate; empty: none presented
  std::string key_pem;
};

core::Result<std::shared_ptr<boost::asio::ssl::context>> makeClientTlsContext(
    const ClientTlsConfig& config);

// Per connection: SNI for DNS names, and the identity the peer certificate must carry.
core::Status setTlsPeer(SSL* ssl, const Endpoint& ep, bool verify_peer);

}  // namespace edgecore::edgehub
