#include "edgecore/sqlite/sqlite_db.h"

#include <utility>

namespace edgecore::sqlite {

core::Status sqliteStatus(int rc, std::string_view what, std::string_view path,
                          std::string_view detail) {
  std::string msg(what);
  msg += " (database ";
  msg += path;
  msg += "): ";
  msg += detail.empty() ? std::string_view(sqlite3_errstr(rc)) : detail;
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return core::resourceExhausted(
          msg +
          "; the disk holding the database is full (or the database hit its size limit): "
          "free space there and the writes will succeed again");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return core::unavailable(msg + "; another process holds the database lock");
    case SQLITE_IOERR:
      return core::unavailable(msg + "; the disk holding the database reported an I/O error");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return core::unavailable(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return core::dataLoss(msg);
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return core::invalidArgument(msg);
    default:
      return core::internalError(msg);
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

core::Status Statement::run(std::string_view what) {
  int rc = step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    return fail(rc, what);
  }
  reset();
  return {};
}

core::Status Statement::fail(int rc, std::string_view what) {
  core::Status st = sqliteStatus(rc, what, conn_->path(), conn_->errorMessage());
  reset();
  return st;
}

std::string_view Statement::columnText(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) {
    return {};
  }
  return {text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

namespace {

constexpr unsigned kPrivateFileMode = 0600;

// Creates the database 0600 (or narrows an existing one and its -wal/-shm left by an older
// version or a crash) before SQLite opens it: SQLite creates a new -wal and -shm with the main
// file's mode, so they follow.
core::Result<std::vector<core::ModeChange>> makePrivate(const std::string& path) {
  std::vector<core::ModeChange> changes;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    EC_ASSIGN_OR_RETURN(auto change,
                        core::ensurePrivateFile(path + suffix, kPrivateFileMode, suffix[0] == 0));
    if (change) {
      changes.push_back(std::move(*change));
    }
  }
  return changes;
}

}  // namespace

core::Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool create,
                                                           int busy_timeout_ms) {
  std::vector<core::ModeChange> changes;
  if (create) {
    EC_ASSIGN_OR_RETURN(changes, makePrivate(path));
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
              (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return sqliteStatus(rc, "cannot open", path, detail);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  std::unique_ptr<Connection> conn(new Connection(db, path));
  conn->mode_changes_ = std::move(changes);
  return conn;
}

Connection::~Connection() {
  statements_.clear();  // finalize before close
  sqlite3_close_v2(db_);
}

core::Status Connection::exec(std::string_view sql, std::string_view what) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return sqliteStatus(rc, what, path_, detail);
  }
  return {};
}

core::Result<Statement*> Connection::prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return sqliteStatus(rc, "cannot prepare \"" + sql + "\"", path_, sqlite3_errmsg(db_));
  }
  auto owned = std::make_unique<Statement>(this, stmt);
  Statement* out = owned.get();
  statements_.emplace(sql, std::move(owned));
  return out;
}

}  // namespace edgecore::sqlite
