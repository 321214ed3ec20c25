#pragma once

// edgestream: the node's end of CloudCore's stream tunnel (spec/cloud-protocol.md section 6),
// through which the cloud runs `kubectl logs/exec/attach` and metrics scrapes against the local
// edged server. Bus name "edgestream", group "stream", as in KubeEdge; it has no bus traffic.
//
// What it does:
//  - dials wss://<edgeStream.server>/v1/kubeedge/connect with the node's client certificate,
//    read from tlsTunnelCertFile/tlsTunnelPrivateKeyFile on EVERY dial (a rotated certificate is
//    used by the next session without a restart), headers SessionHostNameOverride and
//    SessionInternalIP; the server certificate is verified against tlsTunnelCAFile (chain and
//    serverAuth purpose; see docs/edgestream.md for why the SAN is not checked);
//  - sends a websocket ping "ping you" every 5 s, and ends a session that has been silent (no
//    frame, no pong) for 3 ping intervals; redials with jittered, capped backoff;
//  - decodes frames strictly (frame.h): oversized frames, bad uvarints and unknown types are
//    dropped, logged (rate-limited) and counted; the session survives;
//  - per ConnectID one local connection to the edged server (at most max_connections): LOGS and
//    METRICS are HTTP GETs whose bodies stream back as DATA frames; EXEC and ATTACH write the
//    upgrade request and then proxy raw bytes both ways; REMOVE_CONNECT closes the local side and
//    is answered with REMOVE_CONNECT; CLOSE_CONNECT ends the session (it redials).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "edgecore/core/config.h"
#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::edgestream {

// Counters only grow; `connected` and `active_connections` describe the present.
struct EdgeStreamStats {
  bool connected = false;
  uint64_t sessions = 0;              // tunnel sessions established
  uint64_t connect_failures = 0;      // dial/TLS/upgrade/certificate failures
  uint64_t dead_links = 0;            // sessions ended for silence (no frame, no pong)
  uint64_t close_messages = 0;        // CLOSE_CONNECT frames from the cloud
  uint64_t frames_in = 0;             // websocket data frames read, good or bad
  uint64_t frames_out = 0;            // tunnel frames written
  uint64_t bad_frames = 0;            // all rejected frames (the next four, plus binary)
  uint64_t oversized_frames = 0;      // over kMaxFrameBytes
  uint64_t truncated_frames = 0;      // a uvarint ran off the end
  uint64_t overflow_frames = 0;       // a uvarint over 64 bits
  uint64_t unknown_type_frames = 0;   // type outside 0..6
  uint64_t bad_connect_messages = 0;  // CONNECT frames whose JSON could not be used
  uint64_t unknown_id_frames = 0;     // DATA/REMOVE for a ConnectID we do not have
  uint64_t connections_opened = 0;    // local connections started
  uint64_t connections_refused = 0;   // CONNECTs refused: limit reached or duplicate id
  uint64_t local_failures = 0;        // the local edged server could not be reached
  uint64_t inbound_overflows = 0;     // exec/attach closed: local side did not drain input
  uint64_t bytes_to_cloud = 0;        // DATA payload bytes sent
  uint64_t bytes_from_cloud = 0;      // DATA payload bytes received
  uint64_t active_connections = 0;
  std::string last_error;  // the last connect failure ("" after a success)
};

// Knobs for tests; the defaults are what edgecore runs with.
struct EdgeStreamOptions {
  // Where LOGS/METRICS/EXEC/ATTACH go: the edged (kubelet-style) server. The URL host sent by
  // the cloud is never dialled (CloudStream always names 127.0.0.1:10350). Empty: where edged
  // listens, from modules.edged.tailoredKubeletConfig.address and readOnlyPort.
  std::string local_server;
  // The original dials first on its 2 s ticker; by then a new node is registered, so CloudStream
  // records the tunnel port at once instead of 20 s later (see unserved_grace).
  std::chrono::milliseconds first_dial_delay{2000};
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds ping_interval{5000};  // the original's ticker
  int dead_after_pings = 3;                       // silence of this many intervals ends a session
  // Until the cloud's first frame or pong, a silent tunnel is not dead: CloudStream reads nothing
  // (so answers no ping) while it records the node's kubelet port, retrying every 20 s for up to
  // 2 min when the node is not registered yet; then it serves the tunnel or closes it.
  std::chrono::milliseconds unserved_grace{130000};
  size_t max_connections = 128;  // concurrent ConnectIDs
  // Upper bound on bytes queued towards the cloud; local readers pause above it.
  size_t max_outbound_bytes = 4u << 20;
  // Upper bound on bytes queued towards one local exec/attach connection.
  size_t max_inbound_bytes = 1u << 20;
  std::chrono::milliseconds inbound_stall_limit{10000};  // then the connection is closed
  std::chrono::milliseconds local_connect_timeout{5000};
  std::string node_ip;  // SessionInternalIP override; empty: edged.nodeIP, else detected
  // How the host's address is detected, before each dial, when neither node_ip nor edged.nodeIP
  // is set (called on the blocking pool; may block briefly). Empty: core::detectHostInfo().
  std::function<std::string()> detect_node_ip;
};

class EdgeStreamModule : public core::Module {
 public:
  // A consistent snapshot. Any thread, never blocks for long.
  virtual EdgeStreamStats stats() const = 0;
};

// The factory main.cc lists. InvalidArgument for a config edgestream cannot use (bad server
// address, empty node name, bad local_server).
core::Result<core::ModulePtr> create(core::ModuleContext ctx);
core::Result<std::unique_ptr<EdgeStreamModule>> createEdgeStream(core::ModuleContext ctx,
                                                                 EdgeStreamOptions options = {});

// "host:port" of edged's server (tailoredKubeletConfig.address and readOnlyPort, 10350 when
// unset; a wildcard address becomes loopback): where tunnelled requests are sent.
std::string edgedServerAddress(const core::EdgedConfig& edged);

// The agent's tunnel series in Prometheus text format (complete # HELP/# TYPE blocks). The
// module adds them to ModuleContext::metrics (the registry the edged server's and MetaServer's
// /metrics render) itself. Any thread.
void appendMetrics(const EdgeStreamStats& stats, std::string& out);

}  // namespace edgecore::edgestream
