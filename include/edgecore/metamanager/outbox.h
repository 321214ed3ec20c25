#pragma once

// Outbox: edgehub's durable upstream outbox: status-like messages for the cloud kept in SQLite
// while the link is down (or after a failed write) and delivered in order once it is back
// (docs/edgehub.md). Its own file (edgecore-outbox.db next to the database, not KubeEdge's
// file), stored with the same SQLite wrapper as MetaStore; built as the small library
// edgecore_outbox that edgehub links (cmake/EdgecoreModuleGraph.cmake).
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
#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"

namespace spdlog {
class logger;
}

namespace edgecore::metamanager {

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
  // Opens or creates the file (and its directory, 0700). The file and its -wal/-shm are 0600
  // whatever the umask; an existing one that grants more is narrowed and that is logged on
  // `log` (if not null). Unavailable/DataLoss on SQLite errors.
  static core::Result<std::unique_ptr<Outbox>> open(const std::string& path, size_t max_rows,
                                                    std::shared_ptr<spdlog::logger> log = nullptr);
  virtual ~Outbox() = default;

  // Errors: Unavailable (locked, I/O), ResourceExhausted (disk full), DataLoss, Internal.
  virtual core::Status append(const core::Message& msg,
                              const std::optional<std::string>& coalesce_key) = 0;
  // Up to `limit` oldest rows. A row that no longer decodes is deleted and counted as dropped.
  virtual core::Result<std::vector<OutboxEntry>> peek(size_t limit) = 0;
  // Deletes a delivered row; a row already replaced by coalescing is fine (no-op).
  virtual core::Status remove(int64_t seq) = 0;
  virtual OutboxCounters counters() const = 0;
};

}  // namespace edgecore::metamanager
