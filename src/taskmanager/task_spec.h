#pragma once

// The pure parts of node tasks (docs/node-tasks.md 1.1-1.5, 2): the v1alpha2 resource string,
// the three job specs, the action flows, the report body, and the keadm argument vectors with
// the checks that keep job fields away from anything but argv.

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::taskmanager {

inline constexpr std::string_view kNodeJobApiVersion = "operations.kubeedge.io/v1alpha2";
inline constexpr std::string_view kNodeUpgradeJob = "nodeupgradejob";
inline constexpr std::string_view kImagePrePullJob = "imageprepulljob";
inline constexpr std::string_view kConfigUpdateJob = "configupdatejob";

// `text` as a JSON object (bounded parse); InvalidArgument naming `what` otherwise. Shared by
// the v1alpha2 specs and the v1alpha1 requests.
core::Result<nlohmann::json> parseObject(std::string_view text, std::string_view what);

// operations.kubeedge.io/v1alpha2/<type>/<job>/node/<node>
struct NodeJobResource {
  std::string type;
  std::string job;
  std::string node;
  std::string toString() const;
};
// Exactly 6 '/'-separated non-empty parts, the first two the v1alpha2 API version, part 4
// "node", a known type. InvalidArgument otherwise.
core::Result<NodeJobResource> parseNodeJobResource(std::string_view resource);
bool isNodeJobResource(std::string_view resource);

// One action of a flow: the next action on success / on failure ("" = none, the flow ends).
struct ActionStep {
  std::string_view name;
  std::string_view next_success;
  std::string_view next_failure;
};
// The step `action` of `type`'s flow; nullopt for an unknown action.
std::optional<ActionStep> findAction(std::string_view type, std::string_view action);

struct NodeUpgradeSpec {
  std::string version;
  std::string image;
  std::vector<std::string> check_items;
  bool require_confirmation = false;
};
struct ImagePrePullSpec {
  std::vector<std::string> images;
  std::vector<std::string> check_items;
  std::string image_secrets;  // "<ns>/<name>" or empty
  int retry_times = 0;
};
struct ConfigUpdateSpec {
  std::map<std::string, std::string> update_fields;  // sorted by key
};

// Go-like decoding of the spec JSON (unknown keys ignored, wrong types an error).
core::Result<NodeUpgradeSpec> parseNodeUpgradeSpec(std::string_view json);
core::Result<ImagePrePullSpec> parseImagePrePullSpec(std::string_view json);
core::Result<ConfigUpdateSpec> parseConfigUpdateSpec(std::string_view json);

// The v1.23.1 edge regexes (1.4).
core::Status validateVersion(std::string_view version);
core::Status validateImage(std::string_view image);

// keadm argument vectors (the contract with keadm): argv[0] is `keadm`. The upgrade one checks
// version and image first and fails without building anything when either is bad.
std::vector<std::string> keadmBackupArgv(const std::string& keadm);
std::vector<std::string> keadmRollbackArgv(const std::string& keadm);
core::Result<std::vector<std::string>> keadmUpgradeArgv(const std::string& keadm,
                                                        const NodeUpgradeSpec& spec);
core::Result<std::vector<std::string>> keadmConfigUpdateArgv(const std::string& keadm,
                                                             const ConfigUpdateSpec& spec);

// The UpdateNodeActionStatus body: every key present, in the original's field order.
struct ActionReport {
  std::string action;
  bool succ = false;
  std::string finish_time;
  std::string reason;
  std::string extend;
};
std::string encodeReport(const ActionReport& report);
core::Result<ActionReport> decodeReport(std::string_view json);

// keadm's report file (4.5).
struct UpgradeReportFile {
  std::string event;
  bool success = false;
  std::string from_version;
  std::string to_version;
  std::string error_message;
};
core::Result<UpgradeReportFile> parseUpgradeReportFile(std::string_view json);

// Per-image result of Pull, the extend of its report: JSON text of [{"image","status","reason"}].
struct ImageResult {
  std::string image;
  bool ok = false;
  std::string reason;
};
std::string encodeImageResults(const std::vector<ImageResult>& results);

// "2006-01-02T15:04:05Z" for now.
std::string rfc3339Now();

}  // namespace edgecore::taskmanager
