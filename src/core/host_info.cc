// detectHostInfo(): the hostname and local IP the edgecore.yaml defaults are built from, following
// upstream util.GetHostname / util.GetLocalIP
// (staging/src/github.com/kubeedge/api/apis/util/util.go) and apimachinery's ChooseHostInterface
// for the default-route fallback.

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "edgecore/core/config.h"

namespace edgecore::core {
namespace {

constexpr const char* kDefaultHostname = "default-edge-node";  // upstream DefaultHostnameOverride

bool validNodeName(const std::string& s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  std::istringstream labels(s);
  std::string label;
  size_t count = 0;
  while (std::getline(labels, label, '.')) {
    ++count;
    if (label.empty() || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return false;
      }
    }
  }
  return count > 0 && s.back() != '.';
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) {
    return kDefaultHostname;
  }
  std::string name(buf);
  auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  name.erase(name.begin(), std::find_if(name.begin(), name.end(), not_space));
  name.erase(std::find_if(name.rbegin(), name.rend(), not_space).base(), name.end());
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return validNodeName(name) ? name : kDefaultHostname;
}

struct LocalAddr {
  std::string ifname;
  int family;
  unsigned char bytes[16];
  std::string text;
};

std::vector<LocalAddr> localAddresses() {
  std::vector<LocalAddr> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return out;
  }
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr) {
      continue;
    }
    LocalAddr a{};
    a.ifname = it->ifa_name;
    a.family = it->ifa_addr->sa_family;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
      std::memcpy(a.bytes, &sin->sin_addr, 4);
      ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    } else if (a.family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
      std::memcpy(a.bytes, &sin6->sin6_addr, 16);
      ::inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    a.text = text;
    out.push_back(a);
  }
  ::freeifaddrs(list);
  return out;
}

// Loopback, multicast, link-local unicast or unspecified (upstream ValidateNodeIP rejects these).
bool unusable(int family, const unsigned char* b) {
  if (family == AF_INET) {
    return b[0] == 127 || b[0] >= 224 || (b[0] == 169 && b[1] == 254) ||
           (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0);
  }
  static const unsigned char kZero[15] = {};
  bool zero_prefix = std::memcmp(b, kZero, 15) == 0;  // :: and ::1
  return (zero_prefix && b[15] <= 1) || b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

// Addresses the hostname resolves to that are usable and assigned to this host; IPv4 first.
std::optional<std::string> fromHostname(const std::string& host,
                                        const std::vector<LocalAddr>& local) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> v6;
  std::optional<std::string> v4;
  for (addrinfo* it = res; it != nullptr && !v4; it = it->ai_next) {
    for (const LocalAddr& a : local) {
      bool same = false;
      if (it->ai_family == AF_INET && a.family == AF_INET) {
        same = std::memcmp(&reinterpret_cast<sockaddr_in*>(it->ai_addr)->sin_addr, a.bytes, 4) == 0;
      } else if (it->ai_family == AF_INET6 && a.family == AF_INET6) {
        same =
            std::memcmp(&reinterpret_cast<sockaddr_in6*>(it->ai_addr)->sin6_addr, a.bytes, 16) == 0;
      }
      if (same && !unusable(a.family, a.bytes)) {
        if (a.family == AF_INET) {
          v4 = a.text;
        } else if (!v6) {
          v6 = a.text;
        }
        break;
      }
    }
  }
  ::freeaddrinfo(res);
  return v4 ? v4 : v6;
}

// Interface of the IPv4 default route, from /proc/net/route.
std::optional<std::string> defaultRouteInterface() {
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string ifname;
    std::string destination;
    if (fields >> ifname >> destination && destination == "00000000") {
      return ifname;
    }
  }
  return std::nullopt;
}

}  // namespace

HostInfo detectHostInfo() {
  HostInfo info;
  info.hostname = hostname();
  std::vector<LocalAddr> local = localAddresses();
  if (auto ip = fromHostname(info.hostname, local)) {
    info.local_ip = *ip;
    return info;
  }
  std::optional<std::string> route_if = defaultRouteInterface();
  for (int pass = 0; pass < 2; ++pass) {
    for (const LocalAddr& a : local) {
      if (a.family != AF_INET || unusable(a.family, a.bytes)) {
        continue;
      }
      if (pass == 0 && (!route_if || a.ifname != *route_if)) {
        continue;  // first pass: only the default-route interface
      }
      info.local_ip = a.text;
      return info;
    }
  }
  // Upstream would print an empty host here; a loopback default at least yields valid addresses.
  info.local_ip = "127.0.0.1";
  return info;
}

}  // namespace edgecore::core
