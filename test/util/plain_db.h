#pragma once

// A plain sqlite3 connection to a database file, as Go edgecore or an operator's sqlite3 shell
// would have: tests look at (and plant) rows behind the store's back with it. Header-only; link
// SQLite::SQLite3. Failures are gtest failures, not exceptions.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

namespace edgecore::testing {

class PlainDb {
 public:
  explicit PlainDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~PlainDb() { sqlite3_close(db_); }
  PlainDb(const PlainDb&) = delete;
  PlainDb& operator=(const PlainDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
  }
  // Every row, each column as text ("<null>" for NULL); `args` bound as text in order.
  std::vector<std::vector<std::string>> query(const std::string& sql,
                                              const std::vector<std::string>& args = {}) {
    sqlite3_stmt* stmt = nullptr;
    std::vector<std::vector<std::string>> rows;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
      return rows;
    }
    for (size_t i = 0; i < args.size(); ++i) {
      sqlite3_bind_text(stmt, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row.emplace_back(text ? std::string(text, sqlite3_column_bytes(stmt, c)) : "<null>");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }
  // The first column of the first row; nullopt without a row or for NULL.
  std::optional<std::string> value(const std::string& sql,
                                   const std::vector<std::string>& args = {}) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
      return std::nullopt;
    }
    for (size_t i = 0; i < args.size(); ++i) {
      sqlite3_bind_text(stmt, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    std::optional<std::string> out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out.emplace(text, sqlite3_column_bytes(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace edgecore::testing
