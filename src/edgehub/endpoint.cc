#include "endpoint.h"

#include <arpa/inet.h>

#include <charconv>

namespace edgecore::edgehub {

core::Result<Endpoint> parseEndpoint(std::string_view text) {
  std::string_view s = text;
  if (size_t scheme = s.find("://"); scheme != std::string_view::npos) {
    s.remove_prefix(scheme + 3);
  }
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    s = s.substr(0, slash);
  }
  Endpoint ep;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return core::invalidArgument("address \"" + std::string(text) + "\": expected [ipv6]:port");
    }
    ep.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || s.find(':') != colon) {
      return core::invalidArgument("address \"" + std::string(text) +
                                   "\": expected host:port (IPv6 in brackets)");
    }
    ep.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  }
  int value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ep.host.empty() || ec != std::errc() || ptr != port.data() + port.size() || value < 1 ||
      value > 65535) {
    return core::invalidArgument("address \"" + std::string(text) + "\": bad host or port");
  }
  ep.port = std::string(port);
  unsigned char buf[16];
  ep.is_ip = inet_pton(AF_INET, ep.host.c_str(), buf) == 1 ||
             inet_pton(AF_INET6, ep.host.c_str(), buf) == 1;
  bool v6 = ep.host.find(':') != std::string::npos;
  ep.authority = (v6 ? "[" + ep.host + "]" : ep.host) + ":" + ep.port;
  return ep;
}

}  // namespace edgecore::edgehub
