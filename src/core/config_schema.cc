// The edgecore.yaml key table (KubeEdge v1.20 EdgeCoreConfig and the v1.23 keys): the catalogue
// of row sets, each owned by a folder (src/core/config_keys.cc for the root,
// src/<module>/config_keys.cc for a module; include/edgecore/core/config_rows.h), assembled in
// document order, and the default and min trees built from it.

#include "config_schema.h"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace edgecore::core::config_internal {
namespace {

using T = ValueType;

// The catalogue of row sets, in document order. Core's own sets interleave with the modules' so
// that the table keeps upstream's field order.
const std::vector<ConfigRows>& rowSets() {
  static const auto* const sets = new std::vector<ConfigRows>{
      config_rows::global(),     edged::configRows(),        edgehub::configRows(),
      eventbus::configRows(),    metamanager::configRows(),  metaserver::configRows(),
      config_rows::serviceBus(), devicetwin::configRows(),   config_rows::dbTest(),
      edgestream::configRows(),  config_rows::taskManager(),
  };
  return *sets;
}

// All rows in one array, so that a KeySpec* stays valid and the table can be walked in order.
const std::vector<KeySpec>& allKeys() {
  static const auto* const keys = [] {
    auto* v = new std::vector<KeySpec>();
    for (const ConfigRows& set : rowSets()) {
      v->insert(v->end(), set.keys.begin(), set.keys.end());
    }
    return v;
  }();
  return *keys;
}

bool isSection(ValueType t) { return t == T::Section || t == T::ValueSection; }

std::string substitute(std::string_view text, const HostInfo& host) {
  std::string ip =
      host.local_ip.find(':') != std::string::npos ? "[" + host.local_ip + "]" : host.local_ip;
  std::string out(text);
  for (auto [var, value] :
       {std::pair<std::string_view, const std::string&>{"${host}", host.hostname},
        std::pair<std::string_view, const std::string&>{"${ip}", ip}}) {
    for (size_t pos = out.find(var); pos != std::string::npos; pos = out.find(var, pos)) {
      out.replace(pos, var.size(), value);
      pos += value.size();
    }
  }
  return out;
}

YAML::Node defaultValue(const KeySpec& key, const HostInfo& host) {
  if (key.default_value == config_row::kNil) {
    return YAML::Node(YAML::NodeType::Null);
  }
  switch (key.type) {
    case T::StringList:
    case T::StringMap:
    case T::BoolMap:
    case T::ObjectList:
      // Table constants, parsed once per call; a failure is a bug in the table.
      return YAML::Load(std::string(key.default_value));
    default:
      return YAML::Node(substitute(key.default_value, host));
  }
}

// Go's zero value for a field NewMinEdgeCoreConfig leaves unset.
YAML::Node zeroValue(const KeySpec& key) {
  if (key.emit == Emit::OmitNil) {
    return YAML::Node(YAML::NodeType::Null);  // nil pointer
  }
  switch (key.type) {
    case T::Bool:
      return YAML::Node("false");
    case T::Int32:
    case T::Int64:
    case T::Uint8:
    case T::Float64:
    case T::DurationOrNanos:
      return YAML::Node("0");
    case T::String:
      return YAML::Node("");
    case T::Duration:
      return YAML::Node("0s");
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

std::pair<std::string_view, std::string_view> splitParent(std::string_view path) {
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) {
    return {"", path};
  }
  return {path.substr(0, dot), path.substr(dot + 1)};
}

// Whether the min config sets anything under (or at) `path`.
bool anyMinUnder(std::string_view path) {
  for (const KeySpec& k : allKeys()) {
    if (k.in_min && k.since != ConfigSince::Ours && !isSection(k.type) &&
        (k.path.size() > path.size() && k.path.substr(0, path.size()) == path &&
         k.path[path.size()] == '.')) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::span<const ConfigRows> catalogue() { return rowSets(); }

std::span<const KeySpec> keyTable() { return allKeys(); }

const KeySpec* findKey(std::string_view path) {
  static const auto* const index = [] {
    auto* m = new std::unordered_map<std::string_view, const KeySpec*>();
    for (const KeySpec& k : allKeys()) {
      m->emplace(k.path, &k);
    }
    return m;
  }();
  auto it = index->find(path);
  return it == index->end() ? nullptr : it->second;
}

YAML::Node buildTree(const HostInfo& host, bool min) {
  YAML::Node root(YAML::NodeType::Map);
  // Sections precede their children in the table, so each parent exists (or is null) by the time
  // a child is visited. Nodes are looked up by walking the path from the root.
  for (const KeySpec& key : allKeys()) {
    if (key.since == ConfigSince::Ours) {
      continue;
    }
    auto [parent_path, name] = splitParent(key.path);
    YAML::Node parent = root;
    bool parent_present = true;
    if (!parent_path.empty()) {
      size_t start = 0;
      while (start <= parent_path.size()) {
        size_t dot = parent_path.find('.', start);
        std::string part(parent_path.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        // reset() rebinds the handle; plain assignment would overwrite the parent's content.
        parent.reset(parent[part]);
        if (!parent.IsMap()) {
          parent_present = false;
          break;
        }
        if (dot == std::string_view::npos) {
          break;
        }
        start = dot + 1;
      }
    }
    if (!parent_present) {
      continue;
    }
    std::string key_name(name);
    if (isSection(key.type)) {
      bool present = !min || key.type == T::ValueSection || anyMinUnder(key.path);
      parent[key_name] =
          present ? YAML::Node(YAML::NodeType::Map) : YAML::Node(YAML::NodeType::Null);
    } else {
      parent[key_name] = (!min || key.in_min) ? defaultValue(key, host) : zeroValue(key);
    }
  }
  return root;
}

}  // namespace edgecore::core::config_internal
