// Image reference checks for the pod plan: the Docker reference grammar the kubelet's
// applyDefaultImageTag validates (name, tag, digest). Called by buildContainer (pod_plan.cc) to
// decide InvalidImageName and whether ":latest" is added.

#include <string>
#include <string_view>

#include "podplan/plan_util.h"

namespace edgecore::edged::plan {

// Docker reference grammar (github.com/distribution/reference), as the kubelet's
// applyDefaultImageTag checks it, in one linear pass per part. (It was a std::regex: libstdc++'s
// backtracking engine took exponential time on a failing 40-character name such as
// "docker.io/library/busybox:locabox:local" and recurses once per character; Go's regexp is
// linear.)
namespace ref {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// path-component: [a-z0-9]+ ((?:[._]|__|[-]*) [a-z0-9]+)*
bool pathComponent(std::string_view s) {
  if (s.empty() || !isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) {
    return false;
  }
  size_t i = 0;
  while (i < s.size()) {
    if (isLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !isLowerAlnum(s[j])) {
      ++j;
    }
    std::string_view sep = s.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) {
      return false;
    }
    i = j;
  }
  return true;
}

// domain-component: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool domainComponent(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return isAlnum(c) || c == '-'; });
}

// domain: domain-component ('.' domain-component)* (':' [0-9]+)?
bool domain(std::string_view s) {
  if (auto colon = s.find(':'); colon != std::string_view::npos) {
    std::string_view port = s.substr(colon + 1);
    if (port.empty() ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    s = s.substr(0, colon);
  }
  while (true) {
    size_t dot = s.find('.');
    if (!domainComponent(s.substr(0, dot))) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    s = s.substr(dot + 1);
  }
}

// name: (domain '/')? path-component ('/' path-component)*
bool name(std::string_view s) {
  size_t slash = s.find('/');
  if (slash != std::string_view::npos && !pathComponent(s.substr(0, slash)) &&
      domain(s.substr(0, slash))) {
    s = s.substr(slash + 1);
  }
  while (true) {
    slash = s.find('/');
    if (!pathComponent(s.substr(0, slash))) {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    s = s.substr(slash + 1);
  }
}

// tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool tag(std::string_view s) {
  if (s.empty() || s.size() > 128 || s.front() == '.' || s.front() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

// digest: [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)* ':' [0-9a-fA-F]{32,}
bool digest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  std::string_view algo = s.substr(0, colon);
  std::string_view hex = s.substr(colon + 1);
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), isHex)) {
    return false;
  }
  bool start = true;  // at the start of an algorithm component
  for (char c : algo) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (start) {
      if (!letter) {
        return false;
      }
      start = false;
    } else if (c == '-' || c == '_' || c == '+' || c == '.') {
      start = true;
    } else if (!isAlnum(c)) {
      return false;
    }
  }
  return !algo.empty() && !start;
}

}  // namespace ref

bool validImageReference(const std::string& image, bool* tagged, bool* digested) {
  if (image.empty() || image.size() > 512) {
    return false;
  }
  std::string_view rest = image;
  *digested = false;
  *tagged = false;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    if (!ref::digest(rest.substr(at + 1))) {
      return false;
    }
    *digested = true;
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' can only start the tag (a port is always followed by a '/').
  size_t colon = rest.rfind(':');
  size_t slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    if (!ref::tag(rest.substr(colon + 1))) {
      return false;
    }
    *tagged = true;
    rest = rest.substr(0, colon);
  }
  return rest.size() <= 255 && ref::name(rest);
}

}  // namespace edgecore::edged::plan
