#include "pod_ops_values.h"

#include <cstdio>

namespace edgecore::metaserver {

core::Status checkNoControlBytes(std::string_view what, std::string_view value) {
  for (char c : value) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      return core::invalidArgument(std::string(what) +
                                   " must not contain control characters (CR, LF, NUL, ...)");
    }
  }
  return {};
}

core::Status checkPathSegment(std::string_view what, std::string_view value) {
  if (core::Status st = checkNoControlBytes(what, value); !st.ok()) {
    return st;
  }
  if (value.empty() || value == "." || value == "..") {
    return core::invalidArgument(std::string(what) + " must be a name, not \"" +
                                 std::string(value) + "\"");
  }
  if (value.find_first_of("/?#%") != std::string_view::npos) {
    return core::invalidArgument(std::string(what) + " must not contain '/', '?', '#' or '%'");
  }
  return {};
}

std::string percentEncode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto b = static_cast<unsigned char>(c);
    bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
                      b == '-' || b == '.' || b == '_' || b == '~';
    if (unreserved) {
      out += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", b);
      out += hex;
    }
  }
  return out;
}

}  // namespace edgecore::metaserver
