#include "module_tables.h"

#include <optional>
#include <utility>

namespace edgecore::metamanager {
namespace {

using sqlite::Connection;
using sqlite::Statement;

// dtclient's statements (edge/pkg/devicetwin/dtclient/*_db.go @ v1.20.0 through beego's ORM),
// column for column.
constexpr char kSaveDevice[] =
    "INSERT OR REPLACE INTO device (id, name, description, state, last_online) VALUES "
    "(?,?,?,?,?)";
constexpr char kSetDeviceState[] = "UPDATE device SET state = ?, last_online = ? WHERE id = ?";
constexpr char kAddDeviceAttr[] =
    "INSERT INTO device_attr (deviceid, name, description, value, optional, attr_type, "
    "metadata) VALUES (?,?,?,?,?,?,?)";
constexpr char kInsertTwin[] =
    "INSERT INTO device_twin (deviceid, name, expected, actual, expected_meta, actual_meta, "
    "expected_version, actual_version, optional, attr_type, metadata) VALUES "
    "(?,?,?,?,?,?,?,?,?,?,?)";
constexpr char kUpdateTwin[] =
    "UPDATE device_twin SET expected = ?, actual = ?, expected_meta = ?, actual_meta = ?, "
    "expected_version = ?, actual_version = ?, optional = ?, attr_type = ?, metadata = ? "
    "WHERE deviceid = ? AND name = ?";
constexpr char kDeleteTwins[] = "DELETE FROM device_twin WHERE deviceid = ?";
constexpr char kDeleteAttrs[] = "DELETE FROM device_attr WHERE deviceid = ?";
constexpr char kDeleteDevice[] = "DELETE FROM device WHERE id = ?";
constexpr char kSelectDevices[] = "SELECT id, name, description, state, last_online FROM device";
constexpr char kSelectAttrs[] =
    "SELECT deviceid, name, value, optional, attr_type, metadata FROM device_attr";
constexpr char kSelectTwins[] =
    "SELECT deviceid, name, expected, actual, expected_meta, actual_meta, expected_version, "
    "actual_version, optional, attr_type, metadata FROM device_twin";

constexpr char kAddSubTopic[] = "INSERT OR REPLACE INTO sub_topics (topic) VALUES (?)";
constexpr char kRemoveSubTopic[] = "DELETE FROM sub_topics WHERE topic = ?";
constexpr char kSelectSubTopics[] = "SELECT topic FROM sub_topics";

// MetaServer's confirm-upgrade (edge/pkg/metamanager/metaserver/handlerfactory, v1.20.0).
constexpr char kSelectUpgradeRow[] = "SELECT value FROM meta_v2 WHERE name = ? LIMIT 1";
constexpr char kSelectUpgradeKeys[] =
    "SELECT key FROM meta_v2 WHERE name IN ('NodeUpgradeJobRequest','NodeTaskRequest')";
constexpr char kDeleteUpgradeRows[] =
    "DELETE FROM meta_v2 WHERE name IN ('NodeUpgradeJobRequest','NodeTaskRequest')";

constexpr char kUpsertNodeTaskRow[] =
    "INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace, name, "
    "resourceversion, value) VALUES (?,?,'',?,0,?)";
constexpr char kSelectNodeTaskKeysOfGvr[] =
    "SELECT key FROM meta_v2 WHERE groupversionresource = ? AND key != ?";
constexpr char kDeleteNodeTaskRowsOfGvr[] =
    "DELETE FROM meta_v2 WHERE groupversionresource = ? AND key != ?";
constexpr char kDeleteNodeTaskRow[] = "DELETE FROM meta_v2 WHERE key = ?";
constexpr char kSelectNodeTaskRows[] =
    "SELECT key, groupversionresource, name, value FROM meta_v2 WHERE groupversionresource = ? "
    "ORDER BY key";

void bindOptional(Statement* stmt, int index, const std::optional<std::string>& v) {
  if (v) {
    stmt->bind(index, *v);
  } else {
    stmt->bindNull(index);
  }
}

// The nine value columns of a twin row, from `first` on, in the statements' order.
void bindTwinValues(Statement* stmt, int first, const DeviceTwinRow& t) {
  bindOptional(stmt, first, t.expected);
  bindOptional(stmt, first + 1, t.actual);
  bindOptional(stmt, first + 2, t.expected_meta);
  bindOptional(stmt, first + 3, t.actual_meta);
  bindOptional(stmt, first + 4, t.expected_version);
  bindOptional(stmt, first + 5, t.actual_version);
  stmt->bind(first + 6, int64_t{t.optional ? 1 : 0});
  stmt->bind(first + 7, t.attr_type);
  stmt->bind(first + 8, t.metadata);
}

Status runKeyed(Connection& db, const char* sql, const std::string& key, std::string_view what) {
  EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(sql));
  stmt->bind(1, key);
  return stmt->run(std::string(what) + " " + key);
}

std::string text(const Statement& stmt, int col) { return std::string(stmt.columnText(col)); }

std::optional<std::string> optionalText(const Statement& stmt, int col) {
  if (stmt.isNull(col)) {
    return std::nullopt;
  }
  return text(stmt, col);
}

// beego stores bool as an integer; a text "1"/"true" (a hand-edited file) reads as true too.
bool boolean(const Statement& stmt, int col) {
  if (stmt.isInteger(col)) {
    return stmt.columnInt64(col) != 0;
  }
  if (stmt.isNull(col)) {
    return false;
  }
  std::string_view v = stmt.columnText(col);
  return v == "1" || v == "true";
}

// Runs a SELECT, calling `row` for each result row.
template <typename RowFn>
Status forEachRow(Connection& db, const char* sql, std::string_view what, RowFn row) {
  EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(sql));
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    row(*stmt);
  }
  if (rc != SQLITE_DONE) {
    return stmt->fail(rc, what);
  }
  stmt->reset();
  return {};
}

}  // namespace

bool isModuleTableOp(WriteOp::Kind kind) {
  switch (kind) {
    case WriteOp::Kind::SaveDevice:
    case WriteOp::Kind::SetDeviceState:
    case WriteOp::Kind::AddDeviceAttr:
    case WriteOp::Kind::InsertTwin:
    case WriteOp::Kind::UpdateTwin:
    case WriteOp::Kind::DeleteDevice:
    case WriteOp::Kind::AddSubTopic:
    case WriteOp::Kind::RemoveSubTopic:
    case WriteOp::Kind::DeleteUpgradeRequests:
    case WriteOp::Kind::UpsertNodeTaskRow:
    case WriteOp::Kind::ReplaceNodeTaskRows:
    case WriteOp::Kind::DeleteNodeTaskRow:
      return true;
    default:
      return false;
  }
}

Status applyModuleTableOp(Connection& db, const WriteOp& op,
                          std::vector<std::string>* deleted_v2_keys) {
  const auto* device = std::get_if<DeviceRow>(&op.row);
  const auto* attr = std::get_if<DeviceAttrRow>(&op.row);
  const auto* twin = std::get_if<DeviceTwinRow>(&op.row);
  switch (op.kind) {
    case WriteOp::Kind::SaveDevice:
    case WriteOp::Kind::SetDeviceState: {
      if (device == nullptr) {
        return core::invalidArgument("device op without a device row");
      }
      bool save = op.kind == WriteOp::Kind::SaveDevice;
      EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(save ? kSaveDevice : kSetDeviceState));
      if (save) {
        stmt->bind(1, device->id);
        stmt->bind(2, device->name);
        stmt->bind(3, device->description);
        stmt->bind(4, device->state);
        stmt->bind(5, device->last_online);
      } else {
        stmt->bind(1, device->state);
        stmt->bind(2, device->last_online);
        stmt->bind(3, device->id);
      }
      return stmt->run("cannot write device " + device->id);
    }
    case WriteOp::Kind::AddDeviceAttr: {
      if (attr == nullptr) {
        return core::invalidArgument("device attribute op without an attribute row");
      }
      EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kAddDeviceAttr));
      stmt->bind(1, attr->device_id);
      stmt->bind(2, attr->name);
      stmt->bind(3, std::string_view(""));  // "", not NULL, as beego writes the empty field
      stmt->bind(4, attr->value);
      stmt->bind(5, int64_t{attr->optional ? 1 : 0});
      stmt->bind(6, attr->attr_type);
      stmt->bind(7, attr->metadata);
      return stmt->run("cannot write attribute " + attr->name + " of device " + attr->device_id);
    }
    case WriteOp::Kind::InsertTwin:
    case WriteOp::Kind::UpdateTwin: {
      if (twin == nullptr) {
        return core::invalidArgument("twin op without a twin row");
      }
      if (op.kind == WriteOp::Kind::InsertTwin) {
        EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kInsertTwin));
        stmt->bind(1, twin->device_id);
        stmt->bind(2, twin->name);
        bindTwinValues(stmt, 3, *twin);
        return stmt->run("cannot insert twin " + twin->name + " of device " + twin->device_id);
      }
      EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kUpdateTwin));
      bindTwinValues(stmt, 1, *twin);
      stmt->bind(10, twin->device_id);
      stmt->bind(11, twin->name);
      return stmt->run("cannot update twin " + twin->name + " of device " + twin->device_id);
    }
    case WriteOp::Kind::DeleteDevice:
      EC_RETURN_IF_ERROR(runKeyed(db, kDeleteTwins, op.key, "cannot delete twins of device"));
      EC_RETURN_IF_ERROR(runKeyed(db, kDeleteAttrs, op.key, "cannot delete attributes of device"));
      return runKeyed(db, kDeleteDevice, op.key, "cannot delete device");
    case WriteOp::Kind::AddSubTopic:
      return runKeyed(db, kAddSubTopic, op.key, "cannot store topic");
    case WriteOp::Kind::RemoveSubTopic:
      return runKeyed(db, kRemoveSubTopic, op.key, "cannot remove topic");
    case WriteOp::Kind::DeleteUpgradeRequests: {
      EC_RETURN_IF_ERROR(
          forEachRow(db, kSelectUpgradeKeys, "cannot read upgrade requests",
                     [&](const Statement& row) { deleted_v2_keys->push_back(text(row, 0)); }));
      EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kDeleteUpgradeRows));
      return stmt->run("cannot delete upgrade requests");
    }
    case WriteOp::Kind::ReplaceNodeTaskRows: {
      EC_ASSIGN_OR_RETURN(Statement * select, db.prepare(kSelectNodeTaskKeysOfGvr));
      select->bind(1, op.type);
      select->bind(2, op.key);
      int rc;
      while ((rc = select->step()) == SQLITE_ROW) {
        deleted_v2_keys->push_back(text(*select, 0));
      }
      select->reset();
      if (rc != SQLITE_DONE) return select->fail(rc, "cannot read node task rows");
      EC_ASSIGN_OR_RETURN(Statement * del, db.prepare(kDeleteNodeTaskRowsOfGvr));
      del->bind(1, op.type);
      del->bind(2, op.key);
      EC_RETURN_IF_ERROR(del->run("cannot delete node task rows"));
      [[fallthrough]];
    }
    case WriteOp::Kind::UpsertNodeTaskRow: {
      EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kUpsertNodeTaskRow));
      stmt->bind(1, op.key);
      stmt->bind(2, op.type);
      stmt->bind(3, op.uid);
      stmt->bind(4, op.value);
      return stmt->run("cannot write node task row " + op.key);
    }
    case WriteOp::Kind::DeleteNodeTaskRow: {
      deleted_v2_keys->push_back(op.key);
      EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kDeleteNodeTaskRow));
      stmt->bind(1, op.key);
      return stmt->run("cannot delete node task row " + op.key);
    }
    default:
      return core::invalidArgument("not a module table op");
  }
}

Result<DeviceTables> readDeviceTables(Connection& db) {
  DeviceTables out;
  EC_RETURN_IF_ERROR(forEachRow(db, kSelectDevices, "cannot read devices", [&](const Statement& r) {
    out.devices.push_back(DeviceRow{.id = text(r, 0),
                                    .name = text(r, 1),
                                    .description = text(r, 2),
                                    .state = text(r, 3),
                                    .last_online = text(r, 4)});
  }));
  EC_RETURN_IF_ERROR(
      forEachRow(db, kSelectAttrs, "cannot read device attributes", [&](const Statement& r) {
        out.attrs.push_back(DeviceAttrRow{.device_id = text(r, 0),
                                          .name = text(r, 1),
                                          .value = text(r, 2),
                                          .optional = boolean(r, 3),
                                          .attr_type = text(r, 4),
                                          .metadata = text(r, 5)});
      }));
  EC_RETURN_IF_ERROR(forEachRow(db, kSelectTwins, "cannot read twins", [&](const Statement& r) {
    out.twins.push_back(DeviceTwinRow{.device_id = text(r, 0),
                                      .name = text(r, 1),
                                      .expected = optionalText(r, 2),
                                      .actual = optionalText(r, 3),
                                      .expected_meta = optionalText(r, 4),
                                      .actual_meta = optionalText(r, 5),
                                      .expected_version = optionalText(r, 6),
                                      .actual_version = optionalText(r, 7),
                                      .optional = boolean(r, 8),
                                      .attr_type = text(r, 9),
                                      .metadata = text(r, 10)});
  }));
  return out;
}

Result<std::vector<std::string>> readSubTopics(Connection& db) {
  std::vector<std::string> out;
  EC_RETURN_IF_ERROR(
      forEachRow(db, kSelectSubTopics, "cannot read sub_topics", [&](const Statement& r) {
        if (!r.isNull(0)) {
          out.push_back(text(r, 0));
        }
      }));
  return out;
}

Result<UpgradeRequestRows> readUpgradeRequestRows(Connection& db) {
  UpgradeRequestRows out;
  for (auto [name, dest] : {std::pair<const char*, std::string*>{"NodeUpgradeJobRequest", &out.job},
                            {"NodeTaskRequest", &out.task}}) {
    EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kSelectUpgradeRow));
    stmt->bind(1, std::string_view(name));
    int rc = stmt->step();
    if (rc == SQLITE_ROW) {
      *dest = text(*stmt, 0);
    } else if (rc != SQLITE_DONE) {
      return stmt->fail(rc, std::string("cannot read ") + name);
    }
    stmt->reset();
  }
  return out;
}

Result<std::vector<NodeTaskRow>> readNodeTaskRowsOf(Connection& db, std::string_view gvr) {
  std::vector<NodeTaskRow> out;
  EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare(kSelectNodeTaskRows));
  stmt->bind(1, gvr);
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back({text(*stmt, 0), text(*stmt, 1), text(*stmt, 2), text(*stmt, 3)});
  }
  stmt->reset();
  if (rc != SQLITE_DONE) return stmt->fail(rc, "cannot read node task rows");
  return out;
}

}  // namespace edgecore::metamanager
