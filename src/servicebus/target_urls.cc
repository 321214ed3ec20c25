#include "target_urls.h"

#include "edgecore/sqlite/sqlite_db.h"

namespace edgecore::servicebus {

namespace {

// The DDL metamanager's schema writes too (src/metamanager/schema.cc), so either may come first.
constexpr char kCreate[] =
    "CREATE TABLE IF NOT EXISTS `target_urls` (\n    `url` text NOT NULL PRIMARY KEY\n);";
constexpr char kSelect[] = "SELECT url FROM target_urls";
constexpr char kInsert[] = "INSERT OR REPLACE INTO target_urls (url) VALUES (?)";
constexpr char kDelete[] = "DELETE FROM target_urls WHERE url = ?";
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

core::Result<std::unique_ptr<TargetUrlTable>> TargetUrlTable::open(const std::string& path) {
  EC_ASSIGN_OR_RETURN(auto db, sqlite::Connection::open(path, true, kBusyTimeoutMs));
  EC_RETURN_IF_ERROR(db->exec(kCreate, "cannot create target_urls"));
  return std::unique_ptr<TargetUrlTable>(new TargetUrlTable(std::move(db)));
}

TargetUrlTable::TargetUrlTable(std::unique_ptr<sqlite::Connection> db) : db_(std::move(db)) {}
TargetUrlTable::~TargetUrlTable() = default;

core::Result<std::vector<std::string>> TargetUrlTable::list() {
  EC_ASSIGN_OR_RETURN(sqlite::Statement * stmt, db_->prepare(kSelect));
  std::vector<std::string> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.emplace_back(stmt->columnText(0));
  }
  if (rc != SQLITE_DONE) {
    return stmt->fail(rc, "cannot read target_urls");
  }
  stmt->reset();
  return out;
}

core::Status TargetUrlTable::add(const std::string& url) {
  EC_ASSIGN_OR_RETURN(sqlite::Statement * stmt, db_->prepare(kInsert));
  stmt->bind(1, url);
  return stmt->run("cannot store target url");
}

core::Status TargetUrlTable::remove(const std::string& url) {
  EC_ASSIGN_OR_RETURN(sqlite::Statement * stmt, db_->prepare(kDelete));
  stmt->bind(1, url);
  return stmt->run("cannot remove target url");
}

}  // namespace edgecore::servicebus
