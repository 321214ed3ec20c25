// Key and name conventions of KubeEdge's meta_v2 table (spec/local-apis.md 2.4). Mirrors
// pkg/metaserver/key.go KeyFuncObj/ParseKey and pkg/metaserver/util/util.go
// UnsafeKindToResource/UnsafeResourceToKind @ v1.20.0.

#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {
namespace {

constexpr std::string_view kCoreGroup = "core";  // stands for the legacy "" group in keys
constexpr std::string_view kNullNamespace = "null";

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Go's cases.Title(language.Und) for the ASCII names Kubernetes uses: the first letter of each
// word upper case, the rest lower case. Letters and digits join a word; anything else splits.
std::string titleCase(std::string_view s) {
  std::string out(s);
  bool in_word = false;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u) != 0) {
      c = static_cast<char>(in_word ? std::tolower(u) : std::toupper(u));
      in_word = true;
    } else {
      in_word = std::isdigit(u) != 0 && in_word;
    }
  }
  return out;
}

}  // namespace

std::string Gvr::toGoString() const { return group + "/" + version + ", Resource=" + resource; }

std::string ObjectKey::storageKey() const {
  std::string key;
  key.reserve(gvr.group.size() + 4 + gvr.version.size() + gvr.resource.size() + ns.size() +
              name.size() + 8);
  key += '/';
  key += gvr.group.empty() ? kCoreGroup : std::string_view(gvr.group);
  key += '/';
  key += gvr.version;
  key += '/';
  key += gvr.resource;
  key += '/';
  key += ns.empty() ? kNullNamespace : std::string_view(ns);
  key += '/';
  key += name;
  return key;
}

Result<ObjectKey> parseStorageKey(std::string_view key) {
  // Exactly "/<group>/<version>/<resource>/<ns>/<name>" with no empty part.
  std::array<std::string_view, 5> parts;
  if (key.empty() || key.front() != '/') {
    return core::invalidArgument("not a meta_v2 storage key: \"" + std::string(key) + "\"");
  }
  std::string_view rest = key.substr(1);
  for (size_t i = 0; i < parts.size(); ++i) {
    size_t slash = rest.find('/');
    bool last = i + 1 == parts.size();
    if (last != (slash == std::string_view::npos)) {
      return core::invalidArgument("not a meta_v2 storage key: \"" + std::string(key) + "\"");
    }
    parts[i] = last ? rest : rest.substr(0, slash);
    if (parts[i].empty()) {
      return core::invalidArgument("not a meta_v2 storage key: \"" + std::string(key) + "\"");
    }
    if (!last) {
      rest = rest.substr(slash + 1);
    }
  }
  ObjectKey out;
  out.gvr.group = parts[0] == kCoreGroup ? std::string() : std::string(parts[0]);
  out.gvr.version = std::string(parts[1]);
  out.gvr.resource = std::string(parts[2]);
  out.ns = parts[3] == kNullNamespace ? std::string() : std::string(parts[3]);
  out.name = std::string(parts[4]);
  return out;
}

std::string kindToResource(std::string_view kind) {
  if (kind.empty()) {
    return {};
  }
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kUnusual = {{
      {"Endpoints", "endpoints"},
      {"PodStatus", "podstatus"},
      {"NodeStatus", "nodestatus"},
      {"CustomResourceDefinition", "customresourcedefinitions"},
      {"CustomResourceDefinitionList", "customresourcedefinitionlist"},
  }};
  for (const auto& [k, r] : kUnusual) {
    if (k == kind) {
      return std::string(r);
    }
  }
  std::string r = asciiLower(kind);
  if (r.back() == 's') {
    return r + "es";
  }
  if (r.back() == 'y') {
    r.pop_back();
    return r + "ies";
  }
  return r + "s";
}

std::string resourceToKind(std::string_view resource) {
  if (resource.empty()) {
    return {};
  }
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kUnusual = {{
      {"endpoints", "Endpoints"},
      {"endpointslices", "EndpointSlice"},
      {"nodes", "Node"},
      {"namespaces", "Namespace"},
      {"services", "Service"},
      {"podstatus", "PodStatus"},
      {"nodestatus", "NodeStatus"},
      {"customresourcedefinitions", "CustomResourceDefinition"},
      {"customresourcedefinitionlist", "CustomResourceDefinitionList"},
  }};
  for (const auto& [r, k] : kUnusual) {
    if (r == resource) {
      return std::string(k);
    }
  }
  std::string k = titleCase(resource);
  if (endsWith(k, "ies")) {
    return k.substr(0, k.size() - 3) + "y";
  }
  if (endsWith(k, "ses")) {
    return k.substr(0, k.size() - 2);
  }
  if (endsWith(k, "s")) {
    return k.substr(0, k.size() - 1);
  }
  return k;
}

}  // namespace edgecore::metamanager
