#include "edgecore/core/host_port.h"

#include <boost/url/parse.hpp>
#include <charconv>

namespace edgecore::core {

std::string HostPort::authority() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(std::string_view text) {
  auto quoted = [&] { return "\"" + std::string(text) + "\""; };
  auto parsed = boost::urls::parse_authority(text);
  if (!parsed) {
    return invalidArgument(quoted() + " is not host:port (IPv6 in brackets)");
  }
  const boost::urls::authority_view& a = *parsed;
  if (a.has_userinfo()) {
    return invalidArgument(quoted() + " is not host:port: no user part allowed");
  }
  if (!a.has_port() || a.port().empty()) {
    return invalidArgument(quoted() + " is not host:port: the port is missing");
  }
  HostPort out;
  switch (a.host_type()) {
    case boost::urls::host_type::ipv6:
      out.host = a.host_ipv6_address().to_string();
      out.ipv6 = true;
      break;
    case boost::urls::host_type::ipvfuture:
      return invalidArgument(quoted() + " is not host:port: unsupported IP literal");
    default:
      out.host = std::string(a.encoded_host());
      break;
  }
  if (out.host.empty()) {
    return invalidArgument(quoted() + " is not host:port: the host is empty");
  }
  std::string_view port = a.port();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    return invalidArgument(quoted() + " has no valid port (1-65535)");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

}  // namespace edgecore::core
