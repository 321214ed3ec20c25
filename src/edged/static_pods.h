#pragma once

// Static pods: manifests in tailoredKubeletConfig.staticPodPath (the kubelet's file source,
// pkg/kubelet/config/file.go @ v1.30.7). One pod per file, YAML or JSON; files whose names start
// with "." are skipped. Each pod is named "<name>-<nodeName>", gets spec.nodeName, namespace
// "default" when unset, and a UID derived from the file content and node name (so an edited file
// is a new pod), plus the kubernetes.io/config.{source,hash} annotations. Blocking file I/O.

#include <spdlog/logger.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace YAML {
class Node;
}

namespace edgecore::edged {

struct StaticPodScan {
  std::vector<nlohmann::json> pods;
  std::vector<std::string> errors;  // "<file>: <why>" for files that are not usable pods
};

// Largest manifest read; larger files are reported as errors.
inline constexpr size_t kMaxManifestBytes = 1024 * 1024;

// Creates `dir` when missing. Unavailable when it cannot be created or read.
core::Result<StaticPodScan> scanStaticPods(const std::string& dir, const std::string& node_name);

// How often the manifests are scanned: `override` when set (tests), else fileCheckFrequency,
// else 20 s.
std::chrono::milliseconds staticScanPeriod(std::chrono::milliseconds override,
                                           std::chrono::nanoseconds file_check_frequency);

// One manifest's text (YAML or JSON) to a static pod. InvalidArgument when it is not a Pod.
core::Result<nlohmann::json> staticPodFromText(const std::string& text,
                                               const std::string& node_name,
                                               const std::string& source_name);

// YAML to JSON with Kubernetes' scalar rules: plain scalars become bool/int/float/null when they
// look like one, quoted scalars stay strings.
nlohmann::json yamlToJson(const YAML::Node& node);

// Warns once per distinct manifest error across scans (`seen` remembers them): a bad file in
// the manifest directory is reported when it appears, not every 20 s.
void logNewStaticPodErrors(const std::vector<std::string>& errors, std::set<std::string>& seen,
                           spdlog::logger& log);

}  // namespace edgecore::edged
