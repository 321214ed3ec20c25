// Loading edgecore.yaml: the file is merged onto the default tree the way upstream unmarshals it
// onto NewDefaultEdgeCoreConfig() (staging/.../edgecore/v1alpha2/helper.go, EdgeCoreConfig.Parse,
// via sigs.k8s.io/yaml and encoding/json): keys present replace defaults, maps merge entry by
// entry, lists replace, null clears pointers/maps/lists and leaves plain values alone, unknown keys
// are ignored (we list them). Then the checks of upstream
// staging/.../edgecore/v1alpha2/validation/validation.go run on the typed result.

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>

#include "config_schema.h"

namespace edgecore::core {
namespace {

using config_internal::KeySpec;
using config_internal::ValueType;
using T = ValueType;

constexpr std::string_view kApiVersion = "edgecore.config.kubeedge.io/v1alpha2";
constexpr std::string_view kKind = "EdgeCore";

struct MergeState {
  std::vector<std::string> unknown_keys;
  std::vector<std::string> warnings;
  std::unordered_map<std::string, int> lines;  // key path -> 1-based line in the file
};

std::string atLine(const YAML::Node& n) {
  int line = n.Mark().line;
  return line >= 0 ? " at line " + std::to_string(line + 1) : "";
}

Status typeError(const std::string& path, std::string_view expected, const YAML::Node& n) {
  return invalidArgument(path + ": expected " + std::string(expected) + atLine(n));
}

bool quoted(const YAML::Node& n) { return n.Tag() == "!"; }

// YAML 1.1 booleans, which yaml.v2 (and so upstream) accepts.
std::optional<bool> parseBool(std::string_view s) {
  for (std::string_view t :
       {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}) {
    if (s == t) {
      return true;
    }
  }
  for (std::string_view f :
       {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"}) {
    if (s == f) {
      return false;
    }
  }
  return std::nullopt;
}

// Decimal (or 0x/0o/0b) integer with optional sign and underscores, as yaml.v2 resolves them.
std::optional<int64_t> parseInt(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (c != '_') {
      s += c;
    }
  }
  if (s.empty()) {
    return std::nullopt;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    i = 1;
  }
  int base = 10;
  if (s.size() > i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
    base = s[i + 1] == 'x' ? 16 : (s[i + 1] == 'o' ? 8 : 2);
    i += 2;
  }
  if (i >= s.size()) {
    return std::nullopt;
  }
  __int128 v = 0;
  for (; i < s.size(); ++i) {
    int d = std::isdigit(static_cast<unsigned char>(s[i]))
                ? s[i] - '0'
                : (std::isxdigit(static_cast<unsigned char>(s[i]))
                       ? std::tolower(static_cast<unsigned char>(s[i])) - 'a' + 10
                       : 99);
    if (d >= base) {
      return std::nullopt;
    }
    v = v * base + d;
    if (v > (__int128{1} << 63)) {
      return std::nullopt;
    }
  }
  v = negative ? -v : v;
  if (v > std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

// Checks one scalar against its type and returns the normalised text stored in the tree.
Result<std::string> normaliseScalar(const KeySpec& key, const std::string& path,
                                    const YAML::Node& v) {
  if (!v.IsScalar()) {
    std::string_view expected = key.type == T::Bool     ? "boolean"
                                : key.type == T::String ? "string"
                                : key.type == T::Duration || key.type == T::DurationOrNanos
                                    ? "duration such as \"1m0s\""
                                    : (key.type == T::Float64 ? "number" : "integer");
    return typeError(path, std::string(expected) + ", got a " + (v.IsMap() ? "mapping" : "list"),
                     v);
  }
  const std::string& s = v.Scalar();
  switch (key.type) {
    case T::Bool: {
      auto b = quoted(v) ? std::nullopt : parseBool(s);
      if (!b) {
        return typeError(path, "boolean (true or false)", v);
      }
      return std::string(*b ? "true" : "false");
    }
    case T::Int32:
    case T::Int64:
    case T::Uint8: {
      auto i = quoted(v) ? std::nullopt : parseInt(s);
      if (!i) {
        return typeError(path, "integer", v);
      }
      int64_t lo = key.type == T::Int32   ? std::numeric_limits<int32_t>::min()
                   : key.type == T::Uint8 ? 0
                                          : std::numeric_limits<int64_t>::min();
      int64_t hi = key.type == T::Int32   ? std::numeric_limits<int32_t>::max()
                   : key.type == T::Uint8 ? 255
                                          : std::numeric_limits<int64_t>::max();
      if (*i < lo || *i > hi) {
        return typeError(path,
                         "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
      }
      return std::to_string(*i);
    }
    case T::Float64: {
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (quoted(v) || s.empty() || *end != '\0' || errno != 0) {
        return typeError(path, "number", v);
      }
      // Shortest text that reads back as the same double ("0.9"), like Go's FormatFloat(-1)
      // for values of ordinary magnitude.
      char buf[64];
      auto [end_ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d);
      return ec == std::errc() ? std::string(buf, end_ptr) : s;
    }
    case T::Duration:
    case T::DurationOrNanos: {
      if (key.type == T::DurationOrNanos && !quoted(v)) {
        if (auto ns = parseInt(s)) {
          return std::to_string(*ns);  // integer nanoseconds stay an integer
        }
      }
      auto d = config_internal::parseGoDuration(s);
      if (!d) {
        return typeError(path, "duration such as \"1m0s\"", v);
      }
      return config_internal::formatGoDuration(*d);
    }
    default:  // String: sigs.k8s.io/yaml turns any scalar into a string for string fields
      return s;
  }
}

Status mergeMapping(const YAML::Node& src, YAML::Node dst, const std::string& path,
                    MergeState& state);

Status mergeKey(const KeySpec& key, const std::string& path, const YAML::Node& v, YAML::Node dst,
                const std::string& name, MergeState& state) {
  bool is_null = v.IsNull();
  switch (key.type) {
    case T::Section:
    case T::ValueSection: {
      if (is_null) {
        return Status();  // upstream would nil the section and crash later; keep the defaults
      }
      if (!v.IsMap()) {
        return typeError(path, "mapping", v);
      }
      if (!dst[name].IsMap()) {
        dst[name] = YAML::Node(YAML::NodeType::Map);
      }
      return mergeMapping(v, dst[name], path, state);
    }
    case T::StringList:
    case T::ObjectList: {
      if (is_null) {
        dst[name] = YAML::Node(YAML::NodeType::Null);
        return Status();
      }
      if (!v.IsSequence()) {
        return typeError(path, key.type == T::StringList ? "list of strings" : "list", v);
      }
      if (key.type == T::ObjectList) {
        dst[name] = YAML::Clone(v);
        return Status();
      }
      YAML::Node list(YAML::NodeType::Sequence);
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].IsScalar() && !v[i].IsNull()) {
          return typeError(path + "[" + std::to_string(i) + "]", "string", v[i]);
        }
        list.push_back(v[i].IsNull() ? std::string() : v[i].Scalar());
      }
      dst[name] = list;
      return Status();
    }
    case T::StringMap:
    case T::BoolMap: {
      if (is_null) {
        dst[name] = YAML::Node(YAML::NodeType::Null);
        return Status();
      }
      if (!v.IsMap()) {
        return typeError(path, key.type == T::BoolMap ? "mapping of string to boolean" : "mapping",
                         v);
      }
      // encoding/json decodes into the existing map: default entries survive unless overridden.
      if (!dst[name].IsMap()) {
        dst[name] = YAML::Node(YAML::NodeType::Map);
      }
      YAML::Node target = dst[name];
      for (const auto& kv : v) {
        std::string entry_path = path + "." + kv.first.Scalar();
        const YAML::Node& ev = kv.second;
        if (key.type == T::BoolMap) {
          auto b = ev.IsScalar() && !quoted(ev) ? parseBool(ev.Scalar()) : std::nullopt;
          if (!b) {
            return typeError(entry_path, "boolean (true or false)", ev);
          }
          target[kv.first.Scalar()] = *b ? "true" : "false";
        } else {
          if (!ev.IsScalar() && !ev.IsNull()) {
            return typeError(entry_path, "string", ev);
          }
          target[kv.first.Scalar()] = ev.IsNull() ? std::string() : ev.Scalar();
        }
      }
      return Status();
    }
    default: {
      if (is_null) {
        // JSON null: a pointer field becomes unset; a plain value keeps its default.
        if (key.emit == config_internal::Emit::OmitNil) {
          dst[name] = YAML::Node(YAML::NodeType::Null);
        }
        return Status();
      }
      EC_ASSIGN_OR_RETURN(std::string text, normaliseScalar(key, path, v));
      dst[name] = text;
      return Status();
    }
  }
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The table key under `parent` whose name equals `name` up to ASCII case, or nullptr.
const KeySpec* findKeyIgnoringCase(const std::string& parent, std::string_view name) {
  for (const KeySpec& k : config_internal::keyTable()) {
    size_t dot = k.path.rfind('.');
    std::string_view k_parent = dot == std::string_view::npos ? "" : k.path.substr(0, dot);
    std::string_view k_name = dot == std::string_view::npos ? k.path : k.path.substr(dot + 1);
    if (k_parent == parent && equalsIgnoringCase(k_name, name)) {
      return &k;
    }
  }
  return nullptr;
}

Status mergeMapping(const YAML::Node& src, YAML::Node dst, const std::string& path,
                    MergeState& state) {
  for (const auto& kv : src) {
    if (!kv.first.IsScalar()) {
      return invalidArgument((path.empty() ? std::string("document") : path) +
                             ": expected string keys" + atLine(kv.first));
    }
    std::string name = kv.first.Scalar();
    std::string child_path = path.empty() ? name : path + "." + name;
    const KeySpec* key = config_internal::findKey(child_path);
    if (key == nullptr) {
      // encoding/json falls back to a case-insensitive match of the field name.
      key = findKeyIgnoringCase(path, name);
      if (key != nullptr) {
        std::string canonical(key->path.substr(key->path.rfind('.') + 1));
        state.warnings.push_back("key " + child_path + " read as " + std::string(key->path) +
                                 atLine(kv.first));
        name = canonical;
        child_path = key->path;
      }
    }
    if (kv.first.Mark().line >= 0) {
      state.lines[child_path] = kv.first.Mark().line + 1;
    }
    if (key == nullptr) {
      state.unknown_keys.push_back(child_path);
      dst[name] = YAML::Clone(kv.second);  // kept for modules that read extra keys
      continue;
    }
    EC_RETURN_IF_ERROR(mergeKey(*key, child_path, kv.second, dst, name, state));
  }
  return Status();
}

// Sets every typed field: each row set reads its owner's fields.
void fillTyped(EdgeCoreConfig& c) {
  ConfigReader r(c.tree);
  for (const ConfigRows& set : config_internal::catalogue()) {
    set.read(r, c);
  }
}

// Runs every row set's checks; errors are joined in catalogue order.
Status validate(const EdgeCoreConfig& c, const MergeState& state) {
  ConfigProblems problems(state.lines);
  for (const ConfigRows& set : config_internal::catalogue()) {
    if (set.check != nullptr) {
      set.check(c, problems);
    }
  }
  const std::vector<std::string>& errors = problems.errors();
  if (errors.empty()) {
    return Status();
  }
  std::string message = errors[0];
  for (size_t i = 1; i < errors.size(); ++i) {
    message += "; " + errors[i];
  }
  return invalidArgument(message);
}

}  // namespace

YAML::Node ConfigReader::node(std::string_view path) const {
  YAML::Node n = root_;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (!n.IsDefined() || !n.IsMap()) {  // Type() of a missing node throws
      return YAML::Node();
    }
    const YAML::Node& cn = n;
    YAML::Node child = cn[part];
    if (!child.IsDefined()) {  // reset() refuses missing nodes
      return YAML::Node();
    }
    n.reset(child);
    if (dot == std::string_view::npos) {
      return n;
    }
    start = dot + 1;
  }
}

std::string ConfigReader::str(std::string_view path) const {
  YAML::Node n = node(path);
  if (n.IsDefined() && n.IsScalar()) {
    return n.Scalar();
  }
  const KeySpec* key = config_internal::findKey(path);
  return key != nullptr && key->default_value != config_row::kNil ? std::string(key->default_value)
                                                                  : "";
}

int64_t ConfigReader::integer(std::string_view path) const {
  return parseInt(str(path)).value_or(0);
}

GoDuration ConfigReader::duration(std::string_view path) const {
  return config_internal::parseGoDuration(str(path)).value_or(GoDuration{0});
}

std::vector<std::string> ConfigReader::list(std::string_view path) const {
  std::vector<std::string> out;
  YAML::Node n = node(path);
  if (n.IsDefined() && n.IsSequence()) {
    for (const auto& item : n) {
      out.push_back(item.Scalar());
    }
  }
  return out;
}

std::map<std::string, std::string> ConfigReader::strMap(std::string_view path) const {
  std::map<std::string, std::string> out;
  YAML::Node n = node(path);
  if (n.IsDefined() && n.IsMap()) {
    for (const auto& kv : n) {
      out[kv.first.Scalar()] = kv.second.Scalar();
    }
  }
  return out;
}

std::map<std::string, bool> ConfigReader::boolMap(std::string_view path) const {
  std::map<std::string, bool> out;
  for (const auto& [k, v] : strMap(path)) {
    out[k] = v == "true";
  }
  return out;
}

void ConfigProblems::add(const std::string& path, const std::string& message) {
  auto it = lines_.find(path);
  errors_.push_back(path + ": " + message +
                    (it != lines_.end() ? " at line " + std::to_string(it->second) : ""));
}

bool EdgedConfig::operator==(const EdgedConfig& other) const {
  return static_cast<const EdgedFields&>(*this) == static_cast<const EdgedFields&>(other) &&
         config_internal::yamlDeepEqual(tailored_kubelet_config, other.tailored_kubelet_config);
}

bool EdgeCoreConfig::operator==(const EdgeCoreConfig& other) const {
  return api_version == other.api_version && kind == other.kind &&
         edgecore_version == other.edgecore_version && database == other.database &&
         modules == other.modules && feature_gates == other.feature_gates &&
         unknown_keys == other.unknown_keys && warnings == other.warnings &&
         config_internal::yamlDeepEqual(tree, other.tree);
}

EdgeCoreConfig defaultConfig(const HostInfo& host) {
  EdgeCoreConfig c;
  c.tree = config_internal::buildTree(host, false);
  fillTyped(c);
  return c;
}

Result<EdgeCoreConfig> parseConfig(std::string_view yaml_text, std::string_view source_name,
                                   const HostInfo& host) {
  const std::string source(source_name);
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return invalidArgument(source + ": YAML syntax error at line " +
                           std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  EdgeCoreConfig c;
  c.tree = config_internal::buildTree(host, false);
  MergeState state;
  if (doc.IsDefined() && !doc.IsNull()) {
    if (!doc.IsMap()) {
      return invalidArgument(source + ": expected a mapping at the top level" + atLine(doc));
    }
    try {
      Status st = mergeMapping(doc, c.tree, "", state);
      if (!st.ok()) {
        return st.withContext(source);
      }
    } catch (const YAML::Exception& e) {
      return invalidArgument(source + ": " + e.what());
    }
  }
  c.unknown_keys = std::move(state.unknown_keys);
  c.warnings = std::move(state.warnings);
  fillTyped(c);
  // Upstream never checks these two (they only fill metav1.TypeMeta), so neither do we fail.
  if (c.api_version != kApiVersion) {
    c.warnings.push_back("apiVersion is \"" + c.api_version + "\", expected \"" +
                         std::string(kApiVersion) + "\"; reading the file as " +
                         std::string(kApiVersion));
  }
  if (c.kind != kKind) {
    c.warnings.push_back("kind is \"" + c.kind + "\", expected \"EdgeCore\"");
  }
  EC_RETURN_IF_ERROR(validate(c, state).withContext(source));
  return c;
}

Result<EdgeCoreConfig> loadConfigFile(const std::string& path, const HostInfo& host) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return notFound("config file " + path + " not found: " + std::strerror(err) +
                      " (generate one with `edgecore --defaultconfig > " + path + "`)");
    }
    if (err == EACCES) {
      return Status(StatusCode::PermissionDenied,
                    "cannot access config file " + path + ": " + std::strerror(err));
    }
    return unavailable("cannot access config file " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    return invalidArgument("config file " + path + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    StatusCode code = err == EACCES ? StatusCode::PermissionDenied : StatusCode::Unavailable;
    return Status(code, "cannot read config file " + path + ": " + std::strerror(err));
  }
  const std::string too_big =
      "config file " + path + " is larger than " + std::to_string(kMaxConfigFileBytes) + " bytes";
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) {
    return invalidArgument(too_big);
  }
  // Read at most one byte past the limit: the file may have grown since stat().
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return unavailable("cannot read config file " + path + ": read error");
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    return invalidArgument(too_big);
  }
  return parseConfig(text, path, host);
}

}  // namespace edgecore::core
