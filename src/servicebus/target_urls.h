#pragma once

// The allowed-URL table of servicebus (KubeEdge's `target_urls`, one `url` text primary key, in
// the node's database; docs/node-tasks.md 7.2). Blocking SQLite calls: use from a blocking pool,
// one caller at a time.

#include <memory>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::sqlite {
class Connection;
}

namespace edgecore::servicebus {

class TargetUrlTable {
 public:
  // Opens (creating the file and the table if needed) database.dataSource.
  static core::Result<std::unique_ptr<TargetUrlTable>> open(const std::string& path);
  ~TargetUrlTable();

  core::Result<std::vector<std::string>> list();
  core::Status add(const std::string& url);     // INSERT OR REPLACE
  core::Status remove(const std::string& url);  // no error when absent

 private:
  explicit TargetUrlTable(std::unique_ptr<sqlite::Connection> db);
  std::unique_ptr<sqlite::Connection> db_;
};

}  // namespace edgecore::servicebus
