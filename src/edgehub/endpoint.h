#pragma once

// host:port addresses from edgecore.yaml, parsed once (edgecore/net/tls_client.h).

#include "edgecore/net/tls_client.h"

namespace edgecore::edgehub {

using net::Endpoint;
using net::parseEndpoint;

}  // namespace edgecore::edgehub
