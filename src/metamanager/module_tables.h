#pragma once

// The SQL for the rows other modules own in the store's file: devicetwin's `device`,
// `device_attr`, `device_twin`, eventbus's `sub_topics`, and the node-upgrade rows of meta_v2
// MetaServer's confirm-upgrade consumes. SqliteMetaStore runs the writes on its writer
// connection inside its transactions and the reads on its reader connection.

#include <string>
#include <vector>

#include "edgecore/metamanager/meta_store.h"
#include "edgecore/sqlite/sqlite_db.h"

namespace edgecore::metamanager {

// True for the WriteOp kinds applyModuleTableOp handles.
bool isModuleTableOp(WriteOp::Kind kind);

// Runs one such op on `db` (inside the caller's transaction). For DeleteUpgradeRequests the
// meta_v2 keys of the deleted rows are appended to *deleted_v2_keys.
core::Status applyModuleTableOp(sqlite::Connection& db, const WriteOp& op,
                                std::vector<std::string>* deleted_v2_keys);

core::Result<DeviceTables> readDeviceTables(sqlite::Connection& db);
core::Result<std::vector<std::string>> readSubTopics(sqlite::Connection& db);
core::Result<UpgradeRequestRows> readUpgradeRequestRows(sqlite::Connection& db);
// taskmanager's rows of one gvr (UpgradeRecords::readNodeTaskRows).
core::Result<std::vector<NodeTaskRow>> readNodeTaskRowsOf(sqlite::Connection& db,
                                                          std::string_view gvr);

}  // namespace edgecore::metamanager
