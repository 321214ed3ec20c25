#pragma once

// UpgradeRecords: the node-upgrade rows keadm ctl confirm-upgrade acts on (spec/local-apis.md
// 4.9): meta_v2 rows named "NodeUpgradeJobRequest" and "NodeTaskRequest" whose value is the JSON
// of types.NodeUpgradeJobRequest / types.NodeTaskRequest (common/types/types.go @ v1.20.0).

#include <functional>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::metamanager {

struct UpgradeRequestRows {
  std::string job;   // NodeUpgradeJobRequest JSON, empty if there is no such row
  std::string task;  // NodeTaskRequest JSON, empty if there is no such row
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
};

}  // namespace edgecore::metamanager
