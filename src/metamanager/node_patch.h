#pragma once

// The node MetaServer serves follows what edged reports: edged sends its node status as a
// strategic-merge patch ("<ns>/nodepatch/<name>", the kubelet's PatchNodeStatus body), and
// metamanager applies that patch to the Node held in meta_v2, online and offline, so
// `kubectl get/describe node` against MetaServer shows the current capacity, allocatable
// (device-plugin resources included) and conditions without waiting for the cloud's copy.

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace edgecore::metamanager {

// Applies `patch_text` (a JSON object) to `node` with the strategic-merge rules a v1.Node status
// patch needs: objects merge key by key (a null value deletes the key), the lists `conditions`,
// `addresses` (and `taints`) merge element by element on their "type"/"key" field (an element
// with "$patch":"delete" is removed) and are ordered by "$setElementOrder/<list>" when given;
// every other list and scalar replaces the old value. nullopt when the patch is not a JSON
// object or the node is not one. Pure.
std::optional<nlohmann::json> applyNodePatch(const nlohmann::json& node,
                                             std::string_view patch_text);

// The same rules for a v1.Pod status patch (edged's podpatch: `conditions` merge on "type", the
// container status lists are replaced), when the patch's metadata.uid, if it names one, is the
// pod's. nullopt otherwise.
std::optional<nlohmann::json> applyPodStatusPatch(const nlohmann::json& pod,
                                                  std::string_view patch_text);

}  // namespace edgecore::metamanager
