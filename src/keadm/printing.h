#pragma once

// How keadm ctl prints: kubectl's table layout (Go text/tabwriter semantics) and describe text
// like kubectl's PodDescriber, from the JSON MetaServer returns. The pod columns, ages and YAML
// are kubeprint's, the same code MetaServer's Table rows use.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::keadm {

// Go text/tabwriter (flags 0, pad char ' '): cells are tab-terminated, a column block is a run of
// consecutive lines that have a cell in that column; the text after the last tab is not padded.
std::string tabwrite(std::string_view text, int minwidth, int padding);
// kubectl get: minwidth 6, padding 3. kubectl describe: minwidth 0, padding 2.
inline std::string tableText(std::string_view text) { return tabwrite(text, 6, 3); }
inline std::string describeText(std::string_view text) { return tabwrite(text, 0, 2); }

// Ages, pod cells and YAML: include/edgecore/kubeprint/kubeprint.h (shared with MetaServer).

// kubectl describe pod text; `events` are the Event objects that concern this pod.
std::string describePod(const nlohmann::json& pod, const std::vector<nlohmann::json>& events,
                        bool show_events, std::chrono::system_clock::time_point now);
// Generic describe (as kubectl's for a custom resource): Name, Namespace, Labels, Annotations,
// API Version, Kind, Metadata, Spec, Status as indented fields, then Events.
std::string describeGeneric(const nlohmann::json& obj, const std::vector<nlohmann::json>& events,
                            bool show_events, std::chrono::system_clock::time_point now);

}  // namespace edgecore::keadm
