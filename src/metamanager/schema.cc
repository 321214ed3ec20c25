#include "schema.h"

#include <set>
#include <string_view>

namespace edgecore::metamanager {
namespace {

using sqlite::Connection;
using sqlite::sqliteStatus;
using sqlite::Statement;

struct Column {
  std::string_view name;
  std::string_view type;        // SQL type as beego prints it
  std::string_view constraint;  // for primary keys: the whole constraint text
  bool not_null = false;        // non-key columns: beego adds NOT NULL and a default
  std::string_view default_clause;
};

struct Table {
  std::string_view name;
  std::vector<Column> columns;
};

// Spelled-out beego output: a non-null string gets " DEFAULT '' " and a non-null number
// " DEFAULT 0 " (leading and trailing space included).
constexpr std::string_view kStringDefault = " DEFAULT '' ";
constexpr std::string_view kNumberDefault = " DEFAULT 0 ";

Column pk(std::string_view name, std::string_view type, std::string_view constraint) {
  return {name, type, constraint, false, {}};
}
Column nullable(std::string_view name, std::string_view type) {
  return {name, type, {}, false, {}};
}
Column required(std::string_view name, std::string_view type, std::string_view def) {
  return {name, type, {}, true, def};
}

std::vector<Table> tables(const SchemaOptions& options) {
  std::vector<Table> out;
  if (options.device_tables) {
    out.push_back({"device",
                   {pk("id", "varchar(64)", "NOT NULL PRIMARY KEY"), nullable("name", "text"),
                    nullable("description", "text"), nullable("state", "text"),
                    nullable("last_online", "text")}});
    out.push_back(
        {"device_attr",
         {pk("id", "integer", "NOT NULL PRIMARY KEY AUTOINCREMENT"), nullable("deviceid", "text"),
          nullable("name", "text"), nullable("description", "text"), nullable("value", "text"),
          nullable("optional", "bool"), nullable("attr_type", "text"),
          nullable("metadata", "text")}});
    out.push_back(
        {"device_twin",
         {pk("id", "integer", "NOT NULL PRIMARY KEY AUTOINCREMENT"), nullable("deviceid", "text"),
          nullable("name", "text"), nullable("description", "text"), nullable("expected", "text"),
          nullable("actual", "text"), nullable("expected_meta", "text"),
          nullable("actual_meta", "text"), nullable("expected_version", "text"),
          nullable("actual_version", "text"), nullable("optional", "bool"),
          nullable("attr_type", "text"), nullable("metadata", "text")}});
  }
  out.push_back({"sub_topics", {pk("topic", "text", "NOT NULL PRIMARY KEY")}});
  if (options.meta_tables) {
    out.push_back({"meta",
                   {pk("key", "varchar(256)", "NOT NULL PRIMARY KEY"),
                    required("type", "varchar(32)", kStringDefault), nullable("value", "text")}});
    out.push_back({"meta_v2",
                   {pk("key", "varchar(256)", "NOT NULL PRIMARY KEY"),
                    required("groupversionresource", "varchar(256)", kStringDefault),
                    required("namespace", "varchar(256)", kStringDefault),
                    required("name", "varchar(256)", kStringDefault),
                    required("resourceversion", "bigint unsigned", kNumberDefault),
                    nullable("value", "text")}});
  }
  out.push_back({"target_urls", {pk("url", "text", "NOT NULL PRIMARY KEY")}});
  return out;
}

std::string quoted(std::string_view name) {
  std::string out = "`";
  out += name;
  out += '`';
  return out;
}

std::string createStatement(const Table& table) {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + quoted(table.name) + " (\n";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const Column& c = table.columns[i];
    sql += "    " + quoted(c.name) + " ";
    sql += c.type;
    if (!c.constraint.empty()) {
      sql += " ";
      sql += c.constraint;
    } else {
      if (c.not_null) {
        sql += " NOT NULL";
      }
      sql += c.default_clause;
    }
    sql += i + 1 < table.columns.size() ? ",\n" : "\n";
  }
  sql += ");";
  return sql;
}

// beego's getColumnAddQuery: type, NOT NULL when required, then a space and the default clause.
std::string addColumnStatement(const Table& table, const Column& c) {
  std::string sql = "ALTER TABLE " + quoted(table.name) + " ADD COLUMN " + quoted(c.name) + " ";
  sql += c.type;
  if (c.not_null) {
    sql += " NOT NULL";
  }
  sql += " ";
  sql += c.default_clause;
  return sql;
}

core::Result<std::set<std::string>> existingTables(Connection& db) {
  EC_ASSIGN_OR_RETURN(Statement * stmt,
                      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'"));
  std::set<std::string> names;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    names.emplace(stmt->columnText(0));
  }
  if (rc != SQLITE_DONE) {
    return sqliteStatus(rc, "cannot read the schema", db.path(), db.errorMessage());
  }
  return names;
}

core::Result<std::set<std::string>> existingColumns(Connection& db, std::string_view table) {
  EC_ASSIGN_OR_RETURN(Statement * stmt, db.prepare("PRAGMA table_info(" + quoted(table) + ")"));
  std::set<std::string> names;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    names.emplace(stmt->columnText(1));
  }
  stmt->reset();
  if (rc != SQLITE_DONE) {
    return sqliteStatus(rc, "cannot read the columns of " + std::string(table), db.path(),
                        db.errorMessage());
  }
  return names;
}

core::Status syncTables(Connection& db, const SchemaOptions& options) {
  EC_ASSIGN_OR_RETURN(auto present, existingTables(db));
  for (const Table& table : tables(options)) {
    if (!present.contains(std::string(table.name))) {
      EC_RETURN_IF_ERROR(
          db.exec(createStatement(table), "cannot create table " + std::string(table.name)));
      continue;
    }
    EC_ASSIGN_OR_RETURN(auto columns, existingColumns(db, table.name));
    for (const Column& c : table.columns) {
      if (columns.contains(std::string(c.name))) {
        continue;
      }
      if (!c.constraint.empty()) {
        // SQLite cannot add a key column; this file was not written by KubeEdge.
        return core::failedPrecondition("table " + std::string(table.name) + " in " + db.path() +
                                        " has no key column " + std::string(c.name) +
                                        "; it is not a KubeEdge database");
      }
      EC_RETURN_IF_ERROR(
          db.exec(addColumnStatement(table, c),
                  "cannot add column " + std::string(c.name) + " to " + std::string(table.name)));
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> createTableStatements(const SchemaOptions& options) {
  std::vector<std::string> out;
  for (const Table& t : tables(options)) {
    out.push_back(createStatement(t));
  }
  return out;
}

core::Status syncSchema(Connection& db, const SchemaOptions& options) {
  EC_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE", "cannot start the schema transaction"));
  core::Status st = syncTables(db, options);
  if (!st.ok()) {
    (void)db.exec("ROLLBACK", "rollback");
    return st;
  }
  return db.exec("COMMIT", "cannot commit the schema");
}

}  // namespace edgecore::metamanager
