#pragma once

// The edgecore.yaml key table and the value helpers that the loader and the printer share.
// Private to edgecore_core. The rows themselves are declared by their owners
// (include/edgecore/core/config_rows.h).

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "edgecore/core/config.h"
#include "edgecore/core/config_rows.h"

namespace edgecore::core::config_internal {

// The row types under the names the machinery uses.
using ValueType = ConfigType;
using Emit = ConfigEmit;
using KeySpec = ConfigKey;

// The row sets of every folder, in document order (the catalogue, like main.cc's module list).
std::span<const ConfigRows> catalogue();

// Every key of every row set in catalogue order; sections come before their children.
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
