#pragma once

// KubeEdge v1.20's database schema (spec/local-apis.md 2.2), created and upgraded the way beego's
// RunSyncdb does it (vendor/github.com/beego/beego/v2/client/orm/cmd.go, ddl.go @ v1.20.0), so a
// file we create is byte-for-byte the schema Go edgecore creates, and the other way round.

#include <string>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/sqlite/sqlite_db.h"

namespace edgecore::metamanager {

struct SchemaOptions {
  bool device_tables = true;  // device, device_attr, device_twin (DeviceTwin enabled)
  bool meta_tables = true;    // meta, meta_v2 (MetaManager enabled)
};

// The CREATE TABLE statements for the enabled tables, in creation order.
std::vector<std::string> createTableStatements(const SchemaOptions& options);

// Creates absent tables and adds absent columns (never drops or retypes), in one transaction.
core::Status syncSchema(sqlite::Connection& db, const SchemaOptions& options);

}  // namespace edgecore::metamanager
