#pragma once

// "host:port" as edgecore.yaml writes addresses (metaServer.server, httpServer, an MQTT broker
// after its scheme): a DNS name, IPv4 or bracketed IPv6 host, and a port 1-65535. Parsed with
// Boost.URL's authority grammar, so every module accepts and rejects the same texts.

#include <cstdint>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::core {

struct HostPort {
  std::string host;  // without IPv6 brackets
  uint16_t port = 0;
  bool ipv6 = false;
  // host:port again, IPv6 in brackets (for URLs and Host headers).
  std::string authority() const;
};

// InvalidArgument saying what is wrong with `text` (no port, port out of range, userinfo,
// empty host...).
Result<HostPort> parseHostPort(std::string_view text);

}  // namespace edgecore::core
