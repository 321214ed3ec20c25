#pragma once

// The durable upstream outbox: status-like messages for the cloud kept in SQLite while the link
// is down (or after a failed write) and delivered in order once it is back (docs/edgehub.md).
//
// One table, rows in insertion order (`seq`), each the message's wire JSON (its msg_id kept, so
// the cloud can de-duplicate a row delivered twice across a crash). A row with a coalesce key
// replaces any older row with that key (only the newest status of an object matters); an
// incoming message older than the stored one (by header timestamp) is discarded instead. At
// `max_rows` the oldest row without a key is dropped (else the oldest row), counted.
//
// Thread-safe (one mutex around one connection); every call may block on disk: call it from
// the blocking pool. WAL + synchronous=FULL: an appended row survives power loss.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"

struct sqlite3;

namespace edgecore::edgehub {

struct OutboxEntry {
  int64_t seq = 0;
  core::Message message;
};

struct OutboxCounters {
  uint64_t depth = 0;
  uint64_t appended = 0;
  uint64_t coalesced = 0;  // rows replaced by (or incoming messages superseded by) a newer one
  uint64_t dropped = 0;    // rows dropped because the outbox was full
  uint64_t delivered = 0;  // rows removed after a successful write
};

class Outbox {
 public:
  // Opens or creates the file (and its directory). Unavailable/DataLoss on SQLite errors.
  static core::Result<std::unique_ptr<Outbox>> open(const std::string& path, size_t max_rows);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  core::Status append(const core::Message& msg, const std::optional<std::string>& coalesce_key);
  // Up to `limit` oldest rows. A row that no longer decodes is deleted and counted as dropped.
  core::Result<std::vector<OutboxEntry>> peek(size_t limit);
  // Deletes a delivered row; a row already replaced by coalescing is fine (no-op).
  core::Status remove(int64_t seq);
  OutboxCounters counters() const;

 private:
  Outbox(sqlite3* db, size_t max_rows);
  core::Status exec(const char* sql);
  core::Result<int64_t> countRows();

  sqlite3* db_;
  size_t max_rows_;
  mutable std::mutex mu_;
  OutboxCounters counters_;
};

}  // namespace edgecore::edgehub
