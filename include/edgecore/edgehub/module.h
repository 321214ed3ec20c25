#pragma once

// edgehub: the tunnel between this node and CloudCore's CloudHub (spec/cloud-protocol.md
// sections 2 and 3). Bus name "websocket", group "hub", as in KubeEdge.
//
// What it does:
//  - obtains the node's client certificate with the bootstrap token when none exists (spec 3.2),
//    then blanks the token in edgecore.yaml; rotates it at 70-90 % of its lifetime (spec 3.3);
//  - keeps one wss session to `<websocket.server>/<projectID>/<node>/events`, sends a keepalive
//    every `heartbeat` s, and declares the link dead after 2 x heartbeat without any frame or
//    pong (websocket pings are sent after 1 x heartbeat of silence);
//  - routes downstream messages by spec 2.8 and writes everything sent to "websocket" (or group
//    "hub") to the cloud through a token bucket; keepalives, `response` and `error` messages
//    bypass the bucket (see docs/edgehub.md);
//  - keeps status-like upstream messages (pod/node status patches, events, twin reports) in a
//    durable SQLite outbox while the cloud is unreachable and delivers them after reconnecting.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::edgehub {

// A snapshot of edgehub's counters. Counters only grow; `connected`, `outbox_depth` and
// `last_error` describe the present.
struct EdgeHubStats {
  bool connected = false;
  uint64_t sessions = 0;            // websocket sessions established
  uint64_t connect_failures = 0;    // dial/TLS/upgrade/certificate attempts that failed
  uint64_t dead_links = 0;          // sessions ended because nothing (not even a pong) came back
  uint64_t frames_in = 0;           // every data frame read, good or bad
  uint64_t frames_out = 0;          // every frame written, keepalives included
  uint64_t keepalives = 0;          // keepalive messages written
  uint64_t malformed_frames = 0;    // not JSON, not an object, or a known key of the wrong type
  uint64_t binary_frames = 0;       // binary frames (dropped)
  uint64_t oversized_frames = 0;    // frames over kMaxFrameBytes (dropped, session kept)
  uint64_t dropped_downstream = 0;  // no route, nobody waiting, or the target refused it
  uint64_t dropped_upstream = 0;    // upstream messages lost (memory queue full, write failed)
  uint64_t outbox_depth = 0;        // rows waiting in the durable outbox
  uint64_t outbox_appended = 0;
  uint64_t outbox_delivered = 0;
  uint64_t outbox_coalesced = 0;     // rows replaced by a newer status of the same object
  uint64_t outbox_dropped = 0;       // rows dropped because the outbox was full
  uint64_t certificates_issued = 0;  // successful rotations (the bootstrap is not counted)
  std::string last_error;            // the last connect/certificate failure ("" after success)
};

// Knobs for tests; the defaults are what edgecore runs with.
struct EdgeHubOptions {
  std::chrono::milliseconds initial_backoff{500};  // first retry within 1 s (jittered)
  std::chrono::milliseconds max_backoff{30000};
  // Empty: "edgecore-outbox.db" next to database.dataSource.
  std::string outbox_path;
  size_t outbox_max_rows = 10000;
  // Upstream messages held in memory while offline (non-durable kinds); beyond it they are
  // dropped and counted.
  size_t memory_queue_limit = 1024;
};

inline constexpr size_t kMaxFrameBytes = 32u << 20;  // larger frames are dropped, session kept

class EdgeHubModule : public core::Module {
 public:
  // A consistent snapshot. Any thread, never blocks for long.
  virtual EdgeHubStats stats() const = 0;
};

// edgehub's connection state and counters in Prometheus text format (complete # HELP/# TYPE
// blocks, names edgecore_edgehub_*). The module adds them to ModuleContext::metrics itself. Any
// thread.
void appendMetrics(const EdgeHubStats& stats, std::string& out);

// The factory main.cc lists. `config_path` is the edgecore.yaml the token is blanked in after
// a successful certificate bootstrap (empty: leave files alone). InvalidArgument for a config
// edgehub cannot use (bad server address, non-positive heartbeat, QUIC only).
core::Result<core::ModulePtr> create(core::ModuleContext ctx, std::string config_path);
// The same with the concrete type and test options.
core::Result<std::unique_ptr<EdgeHubModule>> createEdgeHub(core::ModuleContext ctx,
                                                           std::string config_path,
                                                           EdgeHubOptions options = {});

}  // namespace edgecore::edgehub
