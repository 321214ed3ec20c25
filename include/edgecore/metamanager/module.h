#pragma once

// The metamanager module (bus name "metamanager", group "meta"): stores what the cloud sends in
// the node's SQLite cache, ACKs it once durable, hands it on to edged and twin, answers local
// queries from the cache and forwards remote ones to the cloud while connected
// (spec/local-apis.md section 3; edge/pkg/metamanager/process.go @ v1.20.0).

#include <chrono>
#include <cstdint>
#include <memory>

#include "edgecore/core/cloud_link.h"
#include "edgecore/core/module.h"
#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {

// Monotonic counters, for /metrics. A snapshot; fields are read one by one.
struct MetaManagerCounters {
  // Messages received, by operation.
  uint64_t inserts = 0;
  uint64_t updates = 0;
  uint64_t patches = 0;
  uint64_t deletes = 0;
  uint64_t queries = 0;
  uint64_t responses = 0;
  uint64_t connects = 0;  // node/connection events from edgehub
  uint64_t volume_ops = 0;

  uint64_t acks_sent = 0;       // response/"OK" handed to edgehub after a durable write
  uint64_t acks_unsent = 0;     // ACKs edgehub did not take (not registered or mailbox full)
  uint64_t cloud_unsent = 0;    // other messages for the cloud edgehub did not take
  uint64_t write_failures = 0;  // store batches that failed (no ACK; the cloud resends)
  uint64_t remote_ok = 0;       // remote calls the cloud answered
  uint64_t remote_timeout = 0;  // remote calls that hit remoteQueryTimeout
  uint64_t remote_error = 0;    // remote calls that could not be sent or were cancelled
  uint64_t local_queries = 0;   // queries answered from the cache (incl. offline fallbacks)
  uint64_t edged_absent = 0;    // hand-offs to edged while no edged module is registered
  uint64_t twin_absent = 0;     // hand-offs to twin while no twin module is registered
  uint64_t late_replies = 0;    // replies whose requester had stopped waiting
  uint64_t malformed = 0;       // content of a shape the operation cannot use
  uint64_t v2_skipped = 0;      // objects kept in `meta` only (not storable in meta_v2)
  uint64_t dropped = 0;         // unknown operations, unusable resources, unsupported sources
};

class MetaManager : public core::Module {
 public:
  // Any thread.
  virtual MetaManagerCounters counters() const = 0;
};

// Knobs that are not in edgecore.yaml.
struct MetaManagerOptions {
  // Overrides modules.metaManager.remoteQueryTimeout when non-zero (tests want milliseconds).
  std::chrono::milliseconds remote_query_timeout{0};
  // Failed writes logged at most once per this window (the rest are counted).
  std::chrono::milliseconds failure_log_interval{10000};
  // Mirrors the connection state for code off the bus (MetaServer); may be null.
  core::CloudLinkStatus* link_status = nullptr;
};

// Builds the module. `store` is shared with MetaServer and must outlive the module and every
// write it submitted (main.cc opens it before the daemon and closes it after). Reads
// ctx.config.modules.meta_manager (an empty contextSendModule means "websocket", a zero
// remoteQueryTimeout 60 s). Never blocks. start() fails with AlreadyExists if "metamanager" is
// already on the bus.
Result<std::unique_ptr<MetaManager>> createMetaManager(core::ModuleContext ctx, MetaStore& store,
                                                       MetaManagerOptions options = {});
// The same, as the daemon's generic factory wants it. `link_status` (may be null) follows the
// cloud connection events and must outlive the module.
Result<core::ModulePtr> create(core::ModuleContext ctx, MetaStore& store,
                               core::CloudLinkStatus* link_status = nullptr);

}  // namespace edgecore::metamanager
