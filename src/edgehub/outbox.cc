#include "outbox.h"

#include <sqlite3.h>

#include <filesystem>

namespace edgecore::edgehub {

namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

core::Status sqliteError(sqlite3* db, const std::string& what) {
  return core::unavailable("outbox " + what + ": " + sqlite3_errmsg(db));
}

}  // namespace

core::Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path, size_t max_rows) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
  }
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return core::unavailable("cannot open outbox " + path + ": " + err);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Outbox> box(new Outbox(db, max_rows));
  EC_RETURN_IF_ERROR(box->exec("PRAGMA journal_mode=WAL"));
  EC_RETURN_IF_ERROR(box->exec("PRAGMA synchronous=FULL"));
  EC_RETURN_IF_ERROR(
      box->exec("CREATE TABLE IF NOT EXISTS outbox ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " coalesce_key TEXT,"
                " timestamp_ms INTEGER NOT NULL,"
                " message TEXT NOT NULL)"));
  EC_RETURN_IF_ERROR(
      box->exec("CREATE INDEX IF NOT EXISTS outbox_by_key ON outbox(coalesce_key)"
                " WHERE coalesce_key IS NOT NULL"));
  EC_ASSIGN_OR_RETURN(int64_t rows, box->countRows());
  box->counters_.depth = static_cast<uint64_t>(rows);
  return box;
}

Outbox::Outbox(sqlite3* db, size_t max_rows) : db_(db), max_rows_(std::max<size_t>(max_rows, 1)) {}

Outbox::~Outbox() { sqlite3_close(db_); }

core::Status Outbox::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string text = err ? err : "unknown error";
    sqlite3_free(err);
    return core::unavailable(std::string("outbox: ") + text);
  }
  return {};
}

core::Result<int64_t> Outbox::countRows() {
  Stmt st(db_, "SELECT COUNT(*) FROM outbox");
  if (!st.ok() || sqlite3_step(st.get()) != SQLITE_ROW) {
    return sqliteError(db_, "count");
  }
  return sqlite3_column_int64(st.get(), 0);
}

core::Status Outbox::append(const core::Message& msg,
                            const std::optional<std::string>& coalesce_key) {
  std::lock_guard lock(mu_);
  EC_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  auto fail = [&](const std::string& what) {
    core::Status st = sqliteError(db_, what);
    (void)exec("ROLLBACK");
    return st;
  };
  uint64_t replaced = 0;
  if (coalesce_key) {
    Stmt newest(db_, "SELECT MAX(timestamp_ms) FROM outbox WHERE coalesce_key = ?1");
    if (!newest.ok()) {
      return fail("select");
    }
    sqlite3_bind_text(newest.get(), 1, coalesce_key->c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(newest.get()) == SQLITE_ROW &&
        sqlite3_column_type(newest.get(), 0) != SQLITE_NULL &&
        sqlite3_column_int64(newest.get(), 0) > msg.header.timestamp_ms) {
      // What is stored is newer than this (a failed write coming back late): keep it.
      ++counters_.coalesced;
      return exec("COMMIT");
    }
    Stmt del(db_, "DELETE FROM outbox WHERE coalesce_key = ?1");
    if (!del.ok()) {
      return fail("delete");
    }
    sqlite3_bind_text(del.get(), 1, coalesce_key->c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(del.get()) != SQLITE_DONE) {
      return fail("delete");
    }
    replaced = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  std::string json = core::encodeMessage(msg);
  Stmt ins(db_, "INSERT INTO outbox(coalesce_key, timestamp_ms, message) VALUES(?1, ?2, ?3)");
  if (!ins.ok()) {
    return fail("insert");
  }
  if (coalesce_key) {
    sqlite3_bind_text(ins.get(), 1, coalesce_key->c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(ins.get(), 1);
  }
  sqlite3_bind_int64(ins.get(), 2, msg.header.timestamp_ms);
  sqlite3_bind_text(ins.get(), 3, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
  if (sqlite3_step(ins.get()) != SQLITE_DONE) {
    return fail("insert");
  }
  uint64_t depth = counters_.depth + 1 - replaced;
  uint64_t dropped = 0;
  while (depth > max_rows_) {
    // Oldest row that no newer status supersedes anyway; else simply the oldest.
    Stmt drop(db_,
              "DELETE FROM outbox WHERE seq = COALESCE("
              "(SELECT MIN(seq) FROM outbox WHERE coalesce_key IS NULL),"
              "(SELECT MIN(seq) FROM outbox))");
    if (!drop.ok() || sqlite3_step(drop.get()) != SQLITE_DONE) {
      return fail("trim");
    }
    --depth;
    ++dropped;
  }
  EC_RETURN_IF_ERROR(exec("COMMIT"));
  counters_.depth = depth;
  counters_.appended += 1;
  counters_.coalesced += replaced;
  counters_.dropped += dropped;
  return {};
}

core::Result<std::vector<OutboxEntry>> Outbox::peek(size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<OutboxEntry> out;
  std::vector<int64_t> broken;
  {
    Stmt st(db_, "SELECT seq, message FROM outbox ORDER BY seq LIMIT ?1");
    if (!st.ok()) {
      return sqliteError(db_, "peek");
    }
    sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(limit));
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      int64_t seq = sqlite3_column_int64(st.get(), 0);
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 1));
      int len = sqlite3_column_bytes(st.get(), 1);
      auto msg = core::decodeMessage(std::string_view(text ? text : "", static_cast<size_t>(len)));
      if (msg.ok()) {
        out.push_back({seq, std::move(msg).value()});
      } else {
        broken.push_back(seq);
      }
    }
    if (rc != SQLITE_DONE) {
      return sqliteError(db_, "peek");
    }
  }
  for (int64_t seq : broken) {
    Stmt del(db_, "DELETE FROM outbox WHERE seq = ?1");
    sqlite3_bind_int64(del.get(), 1, seq);
    if (sqlite3_step(del.get()) == SQLITE_DONE && sqlite3_changes(db_) > 0) {
      --counters_.depth;
      ++counters_.dropped;
    }
  }
  return out;
}

core::Status Outbox::remove(int64_t seq) {
  std::lock_guard lock(mu_);
  Stmt del(db_, "DELETE FROM outbox WHERE seq = ?1");
  if (!del.ok()) {
    return sqliteError(db_, "remove");
  }
  sqlite3_bind_int64(del.get(), 1, seq);
  if (sqlite3_step(del.get()) != SQLITE_DONE) {
    return sqliteError(db_, "remove");
  }
  if (sqlite3_changes(db_) > 0) {
    --counters_.depth;
    ++counters_.delivered;
  }
  return {};
}

OutboxCounters Outbox::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

}  // namespace edgecore::edgehub
