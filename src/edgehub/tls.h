#pragma once

// edgehub's TLS client settings (spec 2.3, 3.2) are the shared ones of edgecore/net: TLS 1.2 or
// newer, only the configured CA trusted, the server's SAN checked against the host we dialled.

#include "edgecore/net/tls_client.h"
#include "endpoint.h"

namespace edgecore::edgehub {

using net::ClientTlsConfig;
using net::makeClientTlsContext;
using net::setTlsPeer;

}  // namespace edgecore::edgehub
