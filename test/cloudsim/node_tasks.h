#pragma once

// The cloud side of v1alpha2 node tasks (docs/node-tasks.md 1.1 and 1.5): the message
// CloudCore's taskmanager sends for one node, and the UpdateNodeActionStatus reports the edge
// sends back. Plain functions; CloudSim::sendNodeTask / nodeTaskReports use them.

#include <nlohmann/json.hpp>
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

}  // namespace edgecore::cloudsim
