#pragma once

// The rows of the edgecore.yaml key table, and how a folder declares the rows it owns.
//
// Core holds the table machinery (parse, type check, unknown keys, --defaultconfig/--minconfig;
// src/core/config_*.cc) and the global keys (apiVersion, kind, database, featureGates ... in
// src/core/config_keys.cc). Every module declares its own keys in src/<module>/config_keys.cc:
// a ConfigKey array, a read function binding those keys to its fields of EdgeCoreConfig, and
// optionally a check function. That file is compiled into edgecore_core (the module's
// CMakeLists.txt calls edgecore_config_keys(config_keys.cc)), so every binary and test that links
// edgecore_core has the whole table while no library links a module's library. The catalogue in
// src/core/config_schema.cc lists the row sets in document order, like main.cc lists modules.
//
// Adding a key to a module: a row in src/<module>/config_keys.cc, a line in its read function, and
// the field in the module's struct in include/edgecore/core/config.h.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgecore/core/config.h"

namespace edgecore::core {

enum class ConfigType {
  Section,       // Go *struct (omitempty): a mapping of further keys; omitted when absent
  ValueSection,  // Go struct value: a mapping that is always printed, even when empty
  Bool,
  Int32,
  Int64,
  Uint8,
  Float64,
  String,
  Duration,         // metav1.Duration: a Go duration string
  DurationOrNanos,  // logging's TimeOrMetaDuration: a duration string or integer nanoseconds
  StringList,       // []string
  StringMap,        // map[string]string
  BoolMap,          // map[string]bool
  ObjectList,       // a list of kubelet objects we keep opaque (taints, reservedMemory, ...)
};

// Where a key comes from. --defaultconfig/--minconfig print KubeEdge v1.23's document: the v1.20
// keys and the v1.23 keys we implement; our own keys are accepted and typed but never printed, so
// a printed config stays one KubeEdge reads.
enum class ConfigSince {
  V120,  // in v1.20's EdgeCoreConfig
  V123,  // added by v1.21-v1.23
  Ours,  // edgecore-cpp only
};

// How Go's encoding/json treats the field when printing.
enum class ConfigEmit {
  Always,    // no omitempty: zero values and nil (null) are printed
  OmitZero,  // omitempty on a value field: false, 0, "", empty list/map are left out
  OmitNil,   // omitempty on a pointer (or struct): left out only when unset (null)
};

// One row: one key of edgecore.yaml.
struct ConfigKey {
  std::string_view path;  // dotted, from the document root
  ConfigType type;
  // Default in YAML flow text for lists/maps ("[pods]", "null"), raw text for scalars.
  // "${host}" becomes the hostname, "${ip}" the local IP (bracketed when IPv6).
  std::string_view default_value;
  ConfigEmit emit;
  bool in_min;        // NewMinEdgeCoreConfig sets it to the default (others get Go's zero value)
  ConfigSince since;  // which release added it; kOurs keys are left out of printed configs
  std::string_view help;
};

// Short names for writing rows: {"modules.x.enable", T::Bool, "true", kAlways, kMin, k120, "..."}.
namespace config_row {
using T = ConfigType;
inline constexpr ConfigEmit kAlways = ConfigEmit::Always;
inline constexpr ConfigEmit kOmitZero = ConfigEmit::OmitZero;
inline constexpr ConfigEmit kOmitNil = ConfigEmit::OmitNil;
inline constexpr bool kMin = true;
inline constexpr bool kNotMin = false;
inline constexpr ConfigSince k120 = ConfigSince::V120;
inline constexpr ConfigSince k123 = ConfigSince::V123;
inline constexpr ConfigSince kOurs = ConfigSince::Ours;
// Default meaning "unset": a nil pointer, map or slice in Go.
inline constexpr std::string_view kNil = "~";
}  // namespace config_row

// Typed reads from the merged tree, for read functions. Every v1.20 key is present there; a
// missing or null node (v1.23 keys, unset pointers) reads as the row's default, else Go's zero.
class ConfigReader {
 public:
  explicit ConfigReader(const YAML::Node& root) : root_(root) {}

  YAML::Node node(std::string_view path) const;  // undefined node when absent
  std::string str(std::string_view path) const;
  bool boolean(std::string_view path) const { return str(path) == "true"; }
  int64_t integer(std::string_view path) const;
  int32_t int32(std::string_view path) const { return static_cast<int32_t>(integer(path)); }
  std::chrono::seconds seconds(std::string_view path) const {
    return std::chrono::seconds(integer(path));
  }
  GoDuration duration(std::string_view path) const;
  std::vector<std::string> list(std::string_view path) const;
  std::map<std::string, std::string> strMap(std::string_view path) const;
  std::map<std::string, bool> boolMap(std::string_view path) const;

 private:
  const YAML::Node& root_;
};

// Collects validation errors for check functions; each names the key path and, when the key was
// in the file, its line.
class ConfigProblems {
 public:
  explicit ConfigProblems(const std::unordered_map<std::string, int>& lines) : lines_(lines) {}

  void add(const std::string& path, const std::string& message);
  // Whether the file set `path` (rather than the default).
  bool inFile(const std::string& path) const { return lines_.count(path) != 0; }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  const std::unordered_map<std::string, int>& lines_;  // key path -> 1-based line
  std::vector<std::string> errors_;
};

// The rows one folder owns and how they reach the typed EdgeCoreConfig.
struct ConfigRows {
  // In document order; a section before its children.
  std::span<const ConfigKey> keys;
  // Sets the owner's typed fields from the merged tree. Pure.
  void (*read)(const ConfigReader& r, EdgeCoreConfig& c) = nullptr;
  // Upstream's validation of those fields (v1alpha2/validation/validation.go); may be null.
  void (*check)(const EdgeCoreConfig& c, ConfigProblems& problems) = nullptr;
};

// Core's own rows (src/core/config_keys.cc): the document root, and the modules that have no
// folder here (serviceBus, dbTest, taskManager).
namespace config_rows {
ConfigRows global();
ConfigRows serviceBus();
ConfigRows dbTest();
ConfigRows taskManager();
}  // namespace config_rows

}  // namespace edgecore::core

// Each module's rows, defined in src/<module>/config_keys.cc and compiled into edgecore_core.
namespace edgecore::edged {
core::ConfigRows configRows();  // modules.edged, with tailoredKubeletConfig
}
namespace edgecore::edgehub {
core::ConfigRows configRows();  // modules.edgeHub
}
namespace edgecore::eventbus {
core::ConfigRows configRows();  // modules.eventBus
}
namespace edgecore::metamanager {
core::ConfigRows configRows();  // modules.metaManager, without metaServer
}
namespace edgecore::metaserver {
core::ConfigRows configRows();  // modules.metaManager.metaServer
}
namespace edgecore::devicetwin {
core::ConfigRows configRows();  // modules.deviceTwin
}
namespace edgecore::edgestream {
core::ConfigRows configRows();  // modules.edgeStream
}
