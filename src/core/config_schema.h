#pragma once

// The edgecore.yaml key table and the value helpers that the loader and the printer share.
// Private to edgecore_core.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "edgecore/core/config.h"

namespace edgecore::core::config_internal {

enum class ValueType {
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

// How Go's encoding/json treats the field when printing.
enum class Emit {
  Always,    // no omitempty: zero values and nil (null) are printed
  OmitZero,  // omitempty on a value field: false, 0, "", empty list/map are left out
  OmitNil,   // omitempty on a pointer (or struct): left out only when unset (null)
};

struct KeySpec {
  std::string_view path;  // dotted, from the document root
  ValueType type;
  // Default in YAML flow text for lists/maps ("[pods]", "null"), raw text for scalars.
  // "${host}" becomes the hostname, "${ip}" the local IP (bracketed when IPv6).
  std::string_view default_value;
  Emit emit;
  bool in_min;  // NewMinEdgeCoreConfig sets it to the default (others get Go's zero value)
  bool v123;    // [v1.23] key: accepted and typed, but not part of the v1.20 printed output
  std::string_view help;
};

// Every key in document order; sections come before their children.
std::span<const KeySpec> keyTable();
// Lookup by dotted path; nullptr when unknown.
const KeySpec* findKey(std::string_view path);

// The full default tree (NewDefaultEdgeCoreConfig) or the min tree (NewMinEdgeCoreConfig), with
// Go's zero values for keys the min constructor leaves unset.
YAML::Node buildTree(const HostInfo& host, bool min);

// Go time.ParseDuration; nullopt when invalid.
std::optional<GoDuration> parseGoDuration(std::string_view text);
// Go time.Duration.String(): "1m0s", "100ms", "4h0m0s", "0s".
std::string formatGoDuration(GoDuration d);

// yaml.v2's map key order (sorter.go): letters by code point, non-letters before letters,
// digit runs compared as numbers.
bool yamlV2KeyLess(std::string_view a, std::string_view b);

// Renders a string as yaml.v2 would: plain when it reads back as a string, else quoted.
std::string yamlV2String(std::string_view s);

// Emits `tree` (a mapping) in sigs.k8s.io/yaml layout; only table keys are printed.
std::string emitGoYaml(const YAML::Node& tree);

// Deep value equality of two YAML trees.
bool yamlDeepEqual(const YAML::Node& a, const YAML::Node& b);

}  // namespace edgecore::core::config_internal
