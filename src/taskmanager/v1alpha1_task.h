#pragma once

// The pure parts of v1alpha1 node tasks (docs/node-tasks.md 1.2, 1.6, 2.4), the API a v1.17
// CloudCore speaks: the resource `<type>/<task>/node/<node>`, the NodeTaskRequest the cloud sends
// once per FSM state, and the NodeTaskResponse the edge answers with (Go field names as keys).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"
#include "task_spec.h"

namespace edgecore::taskmanager::v1alpha1 {

inline constexpr std::string_view kUpgrade = "upgrade";
inline constexpr std::string_view kPrePull = "prepull";

// <type>/<task>/node/<node>, type upgrade or prepull. InvalidArgument otherwise.
struct TaskResource {
  std::string type;
  std::string task;
  std::string node;
};
core::Result<TaskResource> parseTaskResource(std::string_view resource);
// task/<taskID>/node/<node>: where the edge's answer goes (the cloud reads parts 1 and 3).
std::string reportResource(std::string_view task, std::string_view node);

// NodeTaskRequest {"TaskID","Type","State","Item"}. Item stays JSON text: its shape depends on
// State (CheckItem list for Checking, the job request otherwise).
struct TaskRequest {
  std::string task_id;
  std::string type;
  std::string state;
  std::string item;  // JSON text, "null" when absent
};
core::Result<TaskRequest> parseTaskRequest(std::string_view json);

// Item of a Checking request: NodePreCheckRequest {"CheckItem":[...]}.
core::Result<std::vector<std::string>> parseCheckItems(std::string_view item);
// Item of a Pulling request: ImagePrePullJobRequest {"Images","NodeName","Secret","RetryTimes",
// "CheckItems"}, as the v1alpha2 spec the pull code takes.
core::Result<ImagePrePullSpec> parsePrePullRequest(std::string_view item);

// Item of an upgrade request: NodeUpgradeJobRequest {"UpgradeID","HistoryID","Version",
// "UpgradeTool","Image"} (v1.23 adds "ImageDigest", not read here, and "RequireConfirmation").
struct UpgradeRequest {
  std::string upgrade_id;
  std::string history_id;
  std::string version;
  std::string image;
  bool require_confirmation = false;
};
core::Result<UpgradeRequest> parseUpgradeRequest(std::string_view item);

// NodeTaskResponse, keys in the Go struct's order: NodeName, State, Event, Action, Reason, Time,
// ExternalMessage. Action "Success"/"Failure"/"Confirmation".
struct TaskResponse {
  std::string node_name;
  std::string state;
  std::string event;
  std::string action;
  std::string reason;
  std::string time;
  std::string external_message;
};
std::string encodeResponse(const TaskResponse& response);
core::Result<TaskResponse> decodeResponse(std::string_view json);

// The Checking state's result: ok, or Failure with the JSON map item -> result (KubeEdge's
// preCheck: an unknown item is noted as "check item not support" but does not fail).
core::Status runPreCheck(const std::vector<std::string>& items);

// v1alpha1 ImageStatus list for ExternalMessage: [{"image","state":"Successful"|"Failed",
// "reason"}], reason omitted when empty.
std::string encodeImageStates(const std::vector<ImageResult>& results);

// Our row for a v1alpha1 upgrade between the cloud's requests (next to KubeEdge's row of
// docs/node-tasks.md 3.2): who answers, and where it stands. phase: "waiting" (for keadm ctl
// confirm), "ready" (Init answered), "upgrading" / "rollingback" (keadm runs; its report file
// is answered at the next connect when it restarted edgecore).
struct UpgradeState {
  std::string task_id;
  std::string node;
  std::string phase;
  std::string request;  // the NodeTaskRequest JSON text
};
std::string encodeUpgradeState(const UpgradeState& state);
std::optional<UpgradeState> decodeUpgradeState(std::string_view json);

// The event a state answers with (Init, Check, Backup, Upgrade, Rollback, Pull); nullopt for a
// state the executor has no method for.
std::optional<std::string> eventOfState(std::string_view type, std::string_view state);

}  // namespace edgecore::taskmanager::v1alpha1
