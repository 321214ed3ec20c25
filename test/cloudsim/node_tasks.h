#pragma once

// The cloud side of v1alpha2 node tasks (docs/node-tasks.md 1.1 and 1.5): the message
// CloudCore's taskmanager sends for one node, and the UpdateNodeActionStatus reports the edge
// sends back. Plain functions; CloudSim::sendNodeTask / nodeTaskReports use them.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"

namespace edgecore::cloudsim {

// One report as the cloud's taskmanager reads it.
struct NodeTaskReport {
  std::string type;  // nodeupgradejob, imageprepulljob, configupdatejob
  std::string job;
  std::string node;
  nlohmann::json body;  // {"action","succ","finishTime","reason","extend"}
  std::string msg_id;

  nlohmann::json toJson() const;
};

// Source and group "taskmanager", resource operations.kubeedge.io/v1alpha2/<type>/<job>/node/
// <node>, operation = the action (normally "Check"), content = the job's spec. InvalidArgument
// for an empty part or a '/' in one.
core::Result<core::Message> nodeTaskMessage(std::string_view type, std::string_view job,
                                            std::string_view node, std::string_view action,
                                            const nlohmann::json& spec);

// The UpdateNodeActionStatus messages among `received` (oldest first), of `job` if not empty.
// A report whose body is not a JSON object is kept with a null body.
std::vector<NodeTaskReport> nodeTaskReports(const std::vector<core::Message>& received,
                                            std::string_view job = "");

// ---- v1alpha1 (docs/node-tasks.md 1.2, 1.6): what a v1.17 CloudCore sends and reads ----

// An edge answer (NodeTaskResponse, Go field names) to a v1alpha1 task request.
struct V1alpha1Answer {
  std::string type;  // the operation: upgrade, prepull
  std::string task;
  std::string node;
  nlohmann::json body;  // {"NodeName","State","Event","Action","Reason","Time","ExternalMessage"}
  std::string msg_id;

  nlohmann::json toJson() const;
};

// Source and group "taskmanager", resource <type>/<task>/node/<node>, operation <type>, content
// NodeTaskRequest {"TaskID","Type","State","Item"}. For state "Checking" Item is
// {"CheckItem": check_items}, otherwise `item` (the job request) as the cloud does.
core::Result<core::Message> v1alpha1TaskMessage(std::string_view type, std::string_view task,
                                                std::string_view node, std::string_view state,
                                                const nlohmann::json& item,
                                                const std::vector<std::string>& check_items = {});

// The answers among `received` (op upgrade/prepull, resource task/<id>/node/<node>), oldest
// first, of `task` if not empty.
std::vector<V1alpha1Answer> v1alpha1Answers(const std::vector<core::Message>& received,
                                            std::string_view task = "");

// The v1.17 rule tables (pkg/apis/fsm/v1alpha1 PrePullRule, UpgradeRule): the node's next state
// for "<state>/<event>/<action>"; nullopt when the table has no such row (the cloud then keeps
// the state and logs an error).
std::optional<std::string> v1alpha1NextState(std::string_view type, std::string_view state,
                                             std::string_view event, std::string_view action);
bool v1alpha1Final(std::string_view state);  // Successful, Failed

}  // namespace edgecore::cloudsim
