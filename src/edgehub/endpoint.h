#pragma once

// host:port addresses from edgecore.yaml ("10.0.0.1:10000", "cloud.example:10000",
// "[::1]:10000", optionally behind "https://"/"wss://"), parsed once.

#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::edgehub {

struct Endpoint {
  std::string host;       // without brackets: "::1", "10.0.0.1", "cloud.example"
  std::string port;       // "10000"
  bool is_ip = false;     // an IPv4/IPv6 literal: verified against IP SANs, no SNI
  std::string authority;  // for the Host header: "[::1]:10000"
};

// Accepts an optional scheme and a trailing path (ignored). InvalidArgument when the host or the
// port is missing or the port is not a number in 1..65535.
core::Result<Endpoint> parseEndpoint(std::string_view text);

}  // namespace edgecore::edgehub
