// Printing edgecore.yaml the way upstream's `edgecore --defaultconfig` / `--minconfig` do
// (pkg/util/flag/flags.go): sigs.k8s.io/yaml.Marshal of the config struct, i.e. encoding/json
// (field order irrelevant, omitempty honoured, nil -> null) re-encoded by gopkg.in/yaml.v2 (keys
// sorted at every level, 2-space indent, sequences at the indentation of their key).

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "config_schema.h"

namespace edgecore::core {
namespace config_internal {
namespace {

using T = ValueType;

bool isSection(ValueType t) { return t == T::Section || t == T::ValueSection; }

// Table keys printed under each section path, in yaml.v2 order.
const std::vector<const KeySpec*>& childrenOf(const std::string& parent) {
  static const auto* const children = [] {
    auto* m = new std::map<std::string, std::vector<const KeySpec*>>();
    for (const KeySpec& k : keyTable()) {
      if (k.since == ConfigSince::Ours) {
        continue;
      }
      size_t dot = k.path.rfind('.');
      std::string p = dot == std::string_view::npos ? "" : std::string(k.path.substr(0, dot));
      (*m)[p].push_back(&k);
    }
    for (auto& [p, v] : *m) {
      std::sort(v.begin(), v.end(), [](const KeySpec* a, const KeySpec* b) {
        auto name = [](const KeySpec* k) {
          size_t dot = k->path.rfind('.');
          return dot == std::string_view::npos ? k->path : k->path.substr(dot + 1);
        };
        return yamlV2KeyLess(name(a), name(b));
      });
    }
    return m;
  }();
  static const std::vector<const KeySpec*> kNone;
  auto it = children->find(parent);
  return it == children->end() ? kNone : it->second;
}

std::string_view leafName(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

bool isNull(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// Go's zero value test for omitempty on a non-pointer field.
bool isZero(const YAML::Node& n, ValueType type) {
  if (isNull(n)) {
    return true;
  }
  if (n.IsSequence() || n.IsMap()) {
    return n.size() == 0 && !isSection(type);
  }
  const std::string& s = n.Scalar();
  switch (type) {
    case T::Bool:
      return s == "false";
    case T::Int32:
    case T::Int64:
    case T::Uint8:
    case T::Float64:
      return s == "0";
    case T::String:
      return s.empty();
    default:
      return false;  // structs (durations, sections) are never empty to encoding/json
  }
}

// Scalars inside opaque values: printed plain when they read back as the same type.
std::string opaqueScalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") {  // quoted in the source: a string
    return yamlV2String(s);
  }
  return s.empty() ? "\"\"" : (s == "true" || s == "false" || s == "null" ? s : yamlV2String(s));
}

void emitOpaque(std::string& out, const YAML::Node& n, int indent, bool after_dash);

void emitOpaqueMap(std::string& out, const YAML::Node& n, int indent, bool after_dash) {
  std::vector<std::pair<std::string, YAML::Node>> items;
  for (const auto& kv : n) {
    items.emplace_back(kv.first.Scalar(), kv.second);
  }
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return yamlV2KeyLess(a.first, b.first); });
  bool first = true;
  for (const auto& [k, v] : items) {
    if (!(first && after_dash)) {
      out.append(static_cast<size_t>(indent), ' ');
    }
    first = false;
    out += yamlV2String(k) + ":";
    emitOpaque(out, v, indent + 2, false);
  }
}

// Writes the value part after "key:" (or after "- "), ending with a newline.
void emitOpaque(std::string& out, const YAML::Node& n, int indent, bool after_dash) {
  if (isNull(n)) {
    out += " null\n";
  } else if (n.IsScalar()) {
    out += " " + opaqueScalar(n) + "\n";
  } else if (n.IsSequence()) {
    if (n.size() == 0) {
      out += " []\n";
      return;
    }
    out += "\n";
    int item_indent = after_dash ? indent : indent - 2;  // yaml.v2: "- " at the key's column
    for (const auto& item : n) {
      out.append(static_cast<size_t>(item_indent), ' ');
      out += "-";
      if (item.IsMap() && item.size() > 0) {
        out += " ";
        emitOpaqueMap(out, item, item_indent + 2, true);
      } else {
        emitOpaque(out, item, item_indent + 2, true);
      }
    }
  } else {
    if (n.size() == 0) {
      out += " {}\n";
      return;
    }
    out += "\n";
    emitOpaqueMap(out, n, indent, false);
  }
}

void emitSection(std::string& out, const YAML::Node& node, const std::string& path, int indent);

void emitKey(std::string& out, const KeySpec& key, const YAML::Node& value, int indent) {
  if (key.emit != Emit::Always && isNull(value)) {
    return;
  }
  if (key.emit == Emit::OmitZero && isZero(value, key.type)) {
    return;
  }
  out.append(static_cast<size_t>(indent), ' ');
  out += std::string(leafName(key.path)) + ":";
  if (isNull(value)) {
    out += " null\n";
    return;
  }
  switch (key.type) {
    case T::Section:
    case T::ValueSection:
      emitSection(out, value, std::string(key.path), indent + 2);
      return;
    case T::String:
      out += " " + yamlV2String(value.Scalar()) + "\n";
      return;
    case T::StringList:
      if (value.size() == 0) {
        out += " []\n";
        return;
      }
      out += "\n";
      for (const auto& item : value) {
        out.append(static_cast<size_t>(indent), ' ');
        out += "- " + yamlV2String(item.Scalar()) + "\n";
      }
      return;
    case T::StringMap:
    case T::BoolMap: {
      if (value.size() == 0) {
        out += " {}\n";
        return;
      }
      std::vector<std::pair<std::string, std::string>> items;
      for (const auto& kv : value) {
        items.emplace_back(kv.first.Scalar(), kv.second.Scalar());
      }
      std::sort(items.begin(), items.end(),
                [](const auto& a, const auto& b) { return yamlV2KeyLess(a.first, b.first); });
      out += "\n";
      for (const auto& [k, v] : items) {
        out.append(static_cast<size_t>(indent + 2), ' ');
        out += yamlV2String(k) + ": " + (key.type == T::BoolMap ? v : yamlV2String(v)) + "\n";
      }
      return;
    }
    case T::ObjectList:
      emitOpaque(out, value, indent + 2, false);
      return;
    default:  // numbers, booleans and durations are stored normalised
      out += " " + value.Scalar() + "\n";
      return;
  }
}

void emitSection(std::string& out, const YAML::Node& node, const std::string& path, int indent) {
  std::string body;
  for (const KeySpec* child : childrenOf(path)) {
    YAML::Node value;
    if (node.IsDefined() && node.IsMap()) {
      YAML::Node found = node[std::string(leafName(child->path))];
      if (found.IsDefined()) {
        value.reset(found);
      }
    }
    emitKey(body, *child, value, indent);
  }
  if (path.empty()) {
    out += body;
  } else if (body.empty()) {
    out += " {}\n";
  } else {
    out += "\n" + body;
  }
}

}  // namespace

std::string emitGoYaml(const YAML::Node& tree) {
  std::string out;
  emitSection(out, tree, "", 0);
  return out;
}

}  // namespace config_internal

namespace {

constexpr std::string_view kDefaultHeader =
    "# With --defaultconfig flag, users can easily get a default full config file as reference, "
    "with all fields (and field descriptions) included and default values set. \n"
    "# Users can modify/create their own configs accordingly as reference. \n"
    "# Because it is a full configuration, it is more suitable for advanced users.\n";
constexpr std::string_view kMinHeader =
    "# With --minconfig , you can easily used this configurations as reference.\n"
    "# It's useful to users who are new to KubeEdge, and you can modify/create your own configs "
    "accordingly. \n"
    "# This configuration is suitable for beginners.\n";

// Upstream prints the header with Println, then Printf("\n%v\n\n", yaml).
std::string withHeader(std::string_view header, const std::string& yaml) {
  std::string out(header);
  out += "\n";
  out += yaml;
  out += "\n\n";
  return out;
}

}  // namespace

std::string defaultConfigYaml(const HostInfo& host) {
  return withHeader(kDefaultHeader,
                    config_internal::emitGoYaml(config_internal::buildTree(host, false)));
}

std::string minConfigYaml(const HostInfo& host) {
  return withHeader(kMinHeader,
                    config_internal::emitGoYaml(config_internal::buildTree(host, true)));
}

std::string configToYaml(const EdgeCoreConfig& config) {
  return config_internal::emitGoYaml(config.tree);
}

}  // namespace edgecore::core
