#pragma once

// The `route.resource` string and its shapes (spec/cloud-protocol.md 1.5), parsed in one place.

#include <cstddef>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::core {

// Resource type tokens (beehive model/message.go, common/constants).
namespace restype {
inline constexpr std::string_view kPod = "pod";
inline constexpr std::string_view kPodList = "podlist";
inline constexpr std::string_view kPodStatus = "podstatus";
inline constexpr std::string_view kPodPatch = "podpatch";
inline constexpr std::string_view kNode = "node";
inline constexpr std::string_view kNodeStatus = "nodestatus";
inline constexpr std::string_view kNodePatch = "nodepatch";
inline constexpr std::string_view kConfigMap = "configmap";
inline constexpr std::string_view kSecret = "secret";
inline constexpr std::string_view kServiceAccountToken = "serviceaccounttoken";
inline constexpr std::string_view kEvent = "event";
inline constexpr std::string_view kLease = "lease";
inline constexpr std::string_view kRule = "rule";
inline constexpr std::string_view kRuleEndpoint = "ruleendpoint";
inline constexpr std::string_view kService = "service";
inline constexpr std::string_view kEndpoints = "endpoints";
inline constexpr std::string_view kPersistentVolume = "persistentvolume";
inline constexpr std::string_view kPersistentVolumeClaim = "persistentvolumeclaim";
inline constexpr std::string_view kVolumeAttachment = "volumeattachment";
inline constexpr std::string_view kCsr = "certificatesigningrequest";
inline constexpr std::string_view kDevice = "device";
inline constexpr std::string_view kDeviceModel = "devicemodel";
inline constexpr std::string_view kMembership = "membership";
inline constexpr std::string_view kTwin = "twin";
}  // namespace restype

enum class ResourceShape {
  Namespaced,      // <ns>/<type>[/<name>]; ns may be a placeholder ("default", "namespace", "null")
  Rule,            // rule/<name>, ruleendpoint/<name>
  DeviceTwin,      // device/<ns>/<name>/<rest...>, e.g. twin/edge_updated, state/update;
                   // also v1.15's device/<id>/{twin,state}/<x> (ns left empty)
  Membership,      // membership, membership/detail
  Twin,            // twin (device-twin ACK downstream)
  Task,            // <taskType>/<taskName>/node/<nodeID> (v1alpha1)
  NodeJob,         // <group>/<version>/<resourceType>/<jobName>/node/<nodeName> (v1.23)
  CaCert,          // k8s/ca.crt
  NodeConnection,  // node/connection (internal)
  Keepalive,       // node
  Other,           // anything else (one unknown token, 4+ tokens of no known shape): only
                   // `raw` (and `node_id`) are set
};

struct ResourceKey {
  ResourceShape shape = ResourceShape::Other;
  std::string ns;    // Namespaced, DeviceTwin (empty for the v1.15 "device/<id>/..." form)
  std::string type;  // resource type token, task type, rule kind, "membership" ...
  std::string name;  // may be empty (e.g. a list: "default/pod")
  std::string sub;  // DeviceTwin tail ("twin/edge_updated"); Membership "detail"; Task/NodeJob node
  std::string group_version;  // NodeJob only: "<group>/<version>"
  std::string node_id;        // set when a cloud-internal "node/<id>/" prefix was stripped
  std::string raw;            // the string as received

  // Rebuilds the edge-side string: equal to raw for anything parseResource() accepted, minus the
  // "node/<id>/" prefix when one was stripped.
  std::string toString() const;
};

// Longest resource string parseResource() accepts.
inline constexpr size_t kMaxResourceBytes = 4096;

// Parses an edge-side resource (cloud->edge after CloudHub's trim, or edge->cloud). Accepts a
// cloud-internal "node/<id>/..." string too, stripping the prefix the way CloudHub's TrimMessage
// does (resource.cc documents how that is told apart from a namespace called "node"). Fails with
// InvalidArgument on an empty string, empty path segments, or more than kMaxResourceBytes.
// Never throws; safe on untrusted input.
Result<ResourceKey> parseResource(std::string_view resource);

// "<ns>/<type>/<name>" (name omitted when empty).
std::string buildResource(std::string_view ns, std::string_view type, std::string_view name);

}  // namespace edgecore::core
