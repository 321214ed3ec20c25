#pragma once

// Seeding a database the way an operator would: SQL text run by the sqlite3 shell.

#include <string>

#include "util/process.h"

namespace edgecore::testing {

// A single-quoted SQL string literal ('' for each ').
inline std::string sqlQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// `sqlite3 <db> ".read <sql_file>"`: creates the database when it does not exist.
inline ProcessResult sqliteRead(const std::string& db, const std::string& sql_file) {
  return runCommand({"/usr/bin/sqlite3", db, ".read " + sql_file});
}

}  // namespace edgecore::testing
