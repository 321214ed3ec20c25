#pragma once

// The Accept header as kube-apiserver reads it: a list of media ranges with parameters, tried
// in order of q-value (highest first), a more specific range before a wildcard of the same q,
// otherwise in the order the client wrote them. q=0 ranges are dropped.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgecore::metaserver::protobuf {

struct MediaRange {
  std::string type;                                         // lower-cased, e.g. "application"
  std::string subtype;                                      // e.g. "vnd.kubernetes.protobuf"
  std::vector<std::pair<std::string, std::string>> params;  // names lower-cased; q removed
  double q = 1.0;

  bool matches(std::string_view t, std::string_view s) const {
    return (type == "*" || type == t) && (subtype == "*" || subtype == s);
  }
  std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
};

// At most kMaxRanges ranges are read (a header is bounded by the HTTP parser; this bounds work).
inline constexpr size_t kMaxRanges = 64;
std::vector<MediaRange> parseAccept(std::string_view accept);

}  // namespace edgecore::metaserver::protobuf
