#pragma once

// Thin RAII over the SQLite C API: a connection, its cached prepared statements and the mapping of
// SQLite result codes onto Status. The only place that calls sqlite3_*; its users are the
// metadata store and the outbox storage (src/metamanager), which own their SQL.
// Not thread-safe: each connection belongs to one thread at a time (its owner serialises access).

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/file.h"
#include "edgecore/core/status.h"

namespace edgecore::sqlite {

// Maps a SQLite result code to a Status naming the database file; `what` says what failed.
core::Status sqliteStatus(int rc, std::string_view what, std::string_view path,
                          std::string_view detail);

class Connection;

// A prepared statement owned by its Connection (cached there), reset on every prepare().
class Statement {
 public:
  Statement(Connection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Resets and clears bindings, so a statement can be reused after an error. Also ends the read
  // transaction a SELECT left open, so checkpoints can proceed.
  void reset();
  void bind(int index, std::string_view text);
  void bind(int index, int64_t value);
  void bindNull(int index) { sqlite3_bind_null(stmt_, index); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  bool isInteger(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_INTEGER; }
  std::string_view columnText(int col) const;
  int64_t columnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }

  // Steps once (a write, or a read whose row is not needed) and resets: Ok for SQLITE_DONE or
  // SQLITE_ROW, else the mapped error with `what`.
  core::Status run(std::string_view what);
  // The mapped error for `rc` (the result of step()) with this connection's message; resets.
  core::Status fail(int rc, std::string_view what);

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens `path` read-write (creating it if `create`); applies busy_timeout. The database
  // holds Secrets, so with `create` the file is created 0600 whatever the umask (SQLite then
  // gives its -wal and -shm the same mode), and an existing database, -wal or -shm that grants
  // more is narrowed to 0600 first (modeChanges() says which, for the caller's log). A symlink
  // as the database file is refused (FailedPrecondition).
  static core::Result<std::unique_ptr<Connection>> open(const std::string& path, bool create,
                                                        int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& path() const { return path_; }
  // Runs SQL without results (several statements allowed).
  core::Status exec(std::string_view sql, std::string_view what);
  // The cached statement for `sql`, reset and ready to bind.
  core::Result<Statement*> prepare(const std::string& sql);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const { return sqlite3_changes64(db_); }
  // True inside BEGIN ... COMMIT/ROLLBACK.
  bool inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Makes the statement running on this connection (on any thread) stop with SQLITE_INTERRUPT.
  void interrupt() { sqlite3_interrupt(db_); }
  // Last error message of this connection.
  std::string errorMessage() const { return sqlite3_errmsg(db_); }
  // Files whose mode open() narrowed to 0600 (empty when all were private already).
  const std::vector<core::ModeChange>& modeChanges() const { return mode_changes_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::vector<core::ModeChange> mode_changes_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

}  // namespace edgecore::sqlite
