#pragma once

// The node-task reports cloudsim collected, as one line: "Check+ BackUp+ Upgrade- " (action,
// then + for succ true, - for false), the form the node-task tests compare against.

#include <string>
#include <vector>

#include "cloudsim/node_tasks.h"

namespace edgecore::testing {

inline std::string reportedActions(const std::vector<cloudsim::NodeTaskReport>& reports) {
  std::string out;
  for (const auto& r : reports) {
    out += r.body.value("action", "?") + (r.body.value("succ", false) ? "+" : "-") + " ";
  }
  return out;
}

}  // namespace edgecore::testing
