#include "media_type.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace edgecore::metaserver::protobuf {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits on `sep`, at most `limit` pieces (the rest is ignored).
std::vector<std::string_view> split(std::string_view s, char sep, size_t limit) {
  std::vector<std::string_view> out;
  while (out.size() < limit) {
    size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

}  // namespace

std::vector<MediaRange> parseAccept(std::string_view accept) {
  std::vector<MediaRange> out;
  for (std::string_view clause : split(accept, ',', kMaxRanges)) {
    auto parts = split(clause, ';', 16);
    std::string_view full = trim(parts.front());
    size_t slash = full.find('/');
    MediaRange range;
    if (slash == std::string_view::npos) {
      if (full != "*") continue;  // not a media range
      range.type = range.subtype = "*";
    } else {
      range.type = lower(trim(full.substr(0, slash)));
      range.subtype = lower(trim(full.substr(slash + 1)));
    }
    if (range.type.empty() || range.subtype.empty()) continue;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string_view p = trim(parts[i]);
      size_t eq = p.find('=');
      if (eq == std::string_view::npos) continue;
      std::string name = lower(trim(p.substr(0, eq)));
      std::string value(trim(p.substr(eq + 1)));
      if (name == "q") {
        range.q = std::strtod(value.c_str(), nullptr);
      } else {
        range.params.emplace_back(std::move(name), std::move(value));
      }
    }
    if (range.q > 0) out.push_back(std::move(range));
  }
  auto wildcards = [](const MediaRange& r) { return (r.type == "*") + (r.subtype == "*"); };
  std::stable_sort(out.begin(), out.end(), [&](const MediaRange& a, const MediaRange& b) {
    if (a.q != b.q) return a.q > b.q;
    return wildcards(a) < wildcards(b);
  });
  return out;
}

}  // namespace edgecore::metaserver::protobuf
