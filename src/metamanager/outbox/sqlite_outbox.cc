// Outbox over its own SQLite file (include/edgecore/metamanager/outbox.h).

#include <spdlog/logger.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "edgecore/metamanager/outbox.h"
#include "edgecore/sqlite/sqlite_db.h"

namespace edgecore::metamanager {
namespace {

using sqlite::Connection;
using sqlite::Statement;

constexpr int kBusyTimeoutMs = 5000;

constexpr char kCreate[] =
    "CREATE TABLE IF NOT EXISTS outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " coalesce_key TEXT,"
    " timestamp_ms INTEGER NOT NULL,"
    " message TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS outbox_by_key ON outbox(coalesce_key)"
    " WHERE coalesce_key IS NOT NULL";
constexpr char kCount[] = "SELECT COUNT(*) FROM outbox";
constexpr char kNewest[] = "SELECT MAX(timestamp_ms) FROM outbox WHERE coalesce_key = ?1";
constexpr char kDeleteKey[] = "DELETE FROM outbox WHERE coalesce_key = ?1";
constexpr char kInsert[] =
    "INSERT INTO outbox(coalesce_key, timestamp_ms, message) VALUES(?1, ?2, ?3)";
// Oldest row that no newer status supersedes anyway; else simply the oldest.
constexpr char kTrim[] =
    "DELETE FROM outbox WHERE seq = COALESCE("
    "(SELECT MIN(seq) FROM outbox WHERE coalesce_key IS NULL),"
    "(SELECT MIN(seq) FROM outbox))";
constexpr char kPeek[] = "SELECT seq, message FROM outbox ORDER BY seq LIMIT ?1";
constexpr char kDeleteSeq[] = "DELETE FROM outbox WHERE seq = ?1";

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(std::unique_ptr<Connection> db, size_t max_rows)
      : db_(std::move(db)), max_rows_(std::max<size_t>(max_rows, 1)) {}

  core::Status init() {
    EC_RETURN_IF_ERROR(db_->exec("PRAGMA journal_mode=WAL", "outbox: cannot switch to WAL"));
    EC_RETURN_IF_ERROR(db_->exec("PRAGMA synchronous=FULL", "outbox: cannot set synchronous"));
    EC_RETURN_IF_ERROR(db_->exec(kCreate, "outbox: cannot create the table"));
    EC_ASSIGN_OR_RETURN(Statement * count, db_->prepare(kCount));
    int rc = count->step();
    if (rc != SQLITE_ROW) {
      return count->fail(rc, "outbox: cannot count rows");
    }
    counters_.depth = static_cast<uint64_t>(count->columnInt64(0));
    count->reset();
    return {};
  }

  // Outbox
  core::Status append(const core::Message& msg,
                      const std::optional<std::string>& coalesce_key) override {
    std::lock_guard lock(mu_);
    EC_RETURN_IF_ERROR(db_->exec("BEGIN IMMEDIATE", "outbox: cannot begin"));
    uint64_t replaced = 0;
    uint64_t dropped = 0;
    bool superseded = false;
    core::Status st = appendLocked(msg, coalesce_key, &replaced, &dropped, &superseded);
    if (!st.ok()) {
      (void)db_->exec("ROLLBACK", "outbox: cannot roll back");
      return st;
    }
    EC_RETURN_IF_ERROR(db_->exec("COMMIT", "outbox: cannot commit"));
    if (superseded) {
      ++counters_.coalesced;
      return {};
    }
    counters_.depth = counters_.depth + 1 - replaced - dropped;
    counters_.appended += 1;
    counters_.coalesced += replaced;
    counters_.dropped += dropped;
    return {};
  }

  core::Result<std::vector<OutboxEntry>> peek(size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<OutboxEntry> out;
    std::vector<int64_t> broken;
    EC_ASSIGN_OR_RETURN(Statement * st, db_->prepare(kPeek));
    st->bind(1, static_cast<int64_t>(limit));
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      int64_t seq = st->columnInt64(0);
      auto msg = core::decodeMessage(st->columnText(1));
      if (msg.ok()) {
        out.push_back({seq, std::move(msg).value()});
      } else {
        broken.push_back(seq);
      }
    }
    if (rc != SQLITE_DONE) {
      return st->fail(rc, "outbox: cannot peek");
    }
    st->reset();
    for (int64_t seq : broken) {
      if (deleteSeq(seq).ok() && db_->changes() > 0) {
        --counters_.depth;
        ++counters_.dropped;
      }
    }
    return out;
  }

  core::Status remove(int64_t seq) override {
    std::lock_guard lock(mu_);
    EC_RETURN_IF_ERROR(deleteSeq(seq));
    if (db_->changes() > 0) {
      --counters_.depth;
      ++counters_.delivered;
    }
    return {};
  }

  OutboxCounters counters() const override {
    std::lock_guard lock(mu_);
    return counters_;
  }

 private:
  // Inside BEGIN IMMEDIATE: coalesce, insert, trim to max_rows_.
  core::Status appendLocked(const core::Message& msg, const std::optional<std::string>& key,
                            uint64_t* replaced, uint64_t* dropped, bool* superseded) {
    if (key) {
      EC_ASSIGN_OR_RETURN(Statement * newest, db_->prepare(kNewest));
      newest->bind(1, *key);
      int rc = newest->step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return newest->fail(rc, "outbox: cannot select");
      }
      bool newer_stored = rc == SQLITE_ROW && !newest->isNull(0) &&
                          newest->columnInt64(0) > msg.header.timestamp_ms;
      newest->reset();
      if (newer_stored) {
        // What is stored is newer than this (a failed write coming back late): keep it.
        *superseded = true;
        return {};
      }
      EC_ASSIGN_OR_RETURN(Statement * del, db_->prepare(kDeleteKey));
      del->bind(1, *key);
      EC_RETURN_IF_ERROR(del->run("outbox: cannot delete"));
      *replaced = static_cast<uint64_t>(db_->changes());
    }
    EC_ASSIGN_OR_RETURN(Statement * ins, db_->prepare(kInsert));
    if (key) {
      ins->bind(1, *key);
    } else {
      ins->bindNull(1);
    }
    ins->bind(2, msg.header.timestamp_ms);
    ins->bind(3, core::encodeMessage(msg));
    EC_RETURN_IF_ERROR(ins->run("outbox: cannot insert"));
    uint64_t depth = counters_.depth + 1 - *replaced;
    while (depth > max_rows_) {
      EC_ASSIGN_OR_RETURN(Statement * trim, db_->prepare(kTrim));
      EC_RETURN_IF_ERROR(trim->run("outbox: cannot trim"));
      --depth;
      ++*dropped;
    }
    return {};
  }

  core::Status deleteSeq(int64_t seq) {
    EC_ASSIGN_OR_RETURN(Statement * del, db_->prepare(kDeleteSeq));
    del->bind(1, seq);
    return del->run("outbox: cannot remove");
  }

  std::unique_ptr<Connection> db_;
  size_t max_rows_;
  mutable std::mutex mu_;
  OutboxCounters counters_;
};

}  // namespace

core::Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path, size_t max_rows,
                                                   std::shared_ptr<spdlog::logger> log) {
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    // Status messages name pods and nodes; the directory is edgecore's alone.
    EC_ASSIGN_OR_RETURN(bool created, core::createDirectories(dir.string(), 0700));
    (void)created;
  }
  EC_ASSIGN_OR_RETURN(auto db, Connection::open(path, true, kBusyTimeoutMs));
  for (const core::ModeChange& c : db->modeChanges()) {
    if (log) {
      log->info("outbox file mode narrowed path={} old={} new={}", c.path,
                core::octalMode(c.old_mode), core::octalMode(c.new_mode));
    }
  }
  auto box = std::make_unique<SqliteOutbox>(std::move(db), max_rows);
  EC_RETURN_IF_ERROR(box->init());
  return std::unique_ptr<Outbox>(std::move(box));
}

}  // namespace edgecore::metamanager
