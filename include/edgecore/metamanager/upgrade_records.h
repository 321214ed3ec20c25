#pragma once

// UpgradeRecords: the node-upgrade rows keadm ctl confirm-upgrade acts on (spec/local-apis.md
// 4.9): meta_v2 rows named "NodeUpgradeJobRequest" and "NodeTaskRequest" whose value is the JSON
// of types.NodeUpgradeJobRequest / types.NodeTaskRequest (common/types/types.go @ v1.20.0).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::metamanager {

struct UpgradeRequestRows {
  std::string job;   // NodeUpgradeJobRequest JSON, empty if there is no such row
  std::string task;  // NodeTaskRequest JSON, empty if there is no such row
};

// One meta_v2 row of the v1alpha2 node tasks (docs/node-tasks.md 3.1): the NodeUpgradeJob spec
// row KubeEdge writes, and taskmanager's own task-state rows.
struct NodeTaskRow {
  std::string key;
  std::string gvr;  // groupversionresource column, Go's GVR String() form
  std::string name;
  std::string value;
};

class UpgradeRecords {
 public:
  using WriteCallback = std::function<void(core::Status)>;

  virtual ~UpgradeRecords() = default;

  // The first row of each name, read from the file (another process may have written them).
  // Synchronous SQLite read: call from a blocking pool. Errors: Unavailable (locked, I/O),
  // DataLoss, Internal.
  virtual core::Result<UpgradeRequestRows> readUpgradeRequests() = 0;
  // Deletes every row of both names through the store's writer; `done` runs on the writer thread
  // once that is durable (or failed). Never blocks; Unavailable (and `done` not called) when the
  // write queue is full or the store closed.
  virtual core::Status deleteUpgradeRequests(WriteCallback done) = 0;

  // Every meta_v2 row whose groupversionresource is `gvr`, by key. Synchronous SQLite read: call
  // from a blocking pool. Errors as readUpgradeRequests.
  virtual core::Result<std::vector<NodeTaskRow>> readNodeTaskRows(std::string_view gvr) = 0;
  // Writes `row` through the store's writer (INSERT OR REPLACE by key); with `only_of_gvr` every
  // other row of the same gvr is deleted in the same transaction (KubeEdge keeps one upgrade
  // spec row). `done` as deleteUpgradeRequests.
  virtual core::Status saveNodeTaskRow(NodeTaskRow row, bool only_of_gvr, WriteCallback done) = 0;
  // Deletes the row `key` (no-op if absent). `done` as deleteUpgradeRequests.
  virtual core::Status deleteNodeTaskRow(std::string key, WriteCallback done) = 0;
};

}  // namespace edgecore::metamanager
