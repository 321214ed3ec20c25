#pragma once

// cloudsim's stand-in for CloudCore's CloudStream tunnel server (:10004), written from
// spec/cloud-protocol.md section 6, not from the edge code: it has its own uvarint encoder and
// decoder and shares nothing with src/edgestream. A test (or a person, through the control API of
// the `cloudsim` program) issues logs/exec/attach/metrics requests through the tunnel and reads
// what the edge sends back.
//
// Server facts mirrored (cloud/pkg/cloudstream/tunnelserver.go @ v1.20.0): route GET
// /v1/kubeedge/connect; TLS 1.2+, client certificate required and verified against the CA, TLS 1.2
// cipher ECDHE-ECDSA-AES128-GCM-SHA256 only; session keyed by the SessionHostNameOverride header
// (any case), SessionInternalIP falling back to the peer address; ConnectIDs from 1 upwards.
//
// Threading: one io thread of its own; every public method is thread-safe and never blocks on
// the network.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"
#include "pki.h"

namespace edgecore::cloudsim {

struct StreamServerOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 0;                 // 0 = ephemeral; read back with port()
  std::string node_name = "edge-1";  // default target of requests
  // CloudStream's "node gate": answer a new session with CLOSE_CONNECT (ConnectID 0) and this
  // text, then close, as it does when the Node object never appears. Empty = accept.
  std::string reject_with_close;
  // CloudStream's wait for the Node before it serves a session (tunnelserver.go
  // updateNodeKubeletEndpoint): when set and the node is unknown, the session is left unread
  // (no pong, no frame) and the node looked up again every gate_poll; after gate_timeout the
  // session gets CLOSE_CONNECT. Null = serve at once. Called on the server's thread.
  std::function<bool(const std::string& node)> node_known;
  std::chrono::milliseconds gate_poll{20000};      // CloudStream's retrySleepTime
  std::chrono::milliseconds gate_timeout{120000};  // CloudStream's nodeStatusUpdateTimeout
};

// Message types on the wire (spec 6.2).
enum class StreamType : uint64_t {
  Logs = 0,
  Exec = 1,
  Metrics = 2,
  Data = 3,
  Remove = 4,
  Close = 5,
  Attach = 6,
};

struct TunnelSessionInfo {
  uint64_t id = 0;
  std::string node;               // SessionHostNameOverride
  std::string internal_ip;        // SessionInternalIP, or the peer address when absent
  std::string target;             // request target of the upgrade
  std::string client_serial_hex;  // the client certificate's serial (uppercase hex)
  std::string client_cn;
  std::map<std::string, std::string> headers;  // lowercase name -> value
  bool open = true;
  uint64_t pings = 0;  // websocket pings received
};

// What the edge sent back for one ConnectID.
struct StreamReply {
  std::string data;                 // DATA payloads concatenated
  std::vector<size_t> frame_sizes;  // payload size of each DATA frame
  bool removed = false;             // the edge sent REMOVE_CONNECT
};

class StreamServer {
 public:
  static core::Result<std::unique_ptr<StreamServer>> start(const Pki& pki,
                                                           StreamServerOptions options);
  ~StreamServer();  // stop()
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;
  void stop();  // idempotent

  uint16_t port() const;

  // ---- requests through the tunnel (to `node`'s newest open session; default node_name)
  // Sends a *_CONNECT frame for `path` (decoded, as Go's URL.Path) and `raw_query`, with
  // `headers` (http.Header) and, for exec/attach, `method`. Returns the ConnectID.
  // Unavailable when the node has no open session.
  core::Result<uint64_t> open(StreamType kind, std::string path, std::string raw_query,
                              std::map<std::string, std::vector<std::string>> headers = {},
                              std::string method = "", std::string node = "");
  core::Status sendData(uint64_t connect_id, std::string_view bytes);
  core::Status sendRemove(uint64_t connect_id);
  // CLOSE_CONNECT (ConnectID 0) with `text`.
  core::Status sendClose(std::string text, std::string node = "");
  // Any bytes as one websocket frame (text or binary): malformed frames for robustness tests.
  core::Status sendRaw(std::string payload, bool text = true, std::string node = "");
  // A request that ends by itself (logs without follow, metrics): open, then wait until the
  // edge sends REMOVE_CONNECT. DeadlineExceeded on timeout.
  core::Result<StreamReply> fetch(StreamType kind, std::string path, std::string raw_query,
                                  std::chrono::milliseconds timeout,
                                  std::map<std::string, std::vector<std::string>> headers = {});

  // ---- faults
  void dropConnections();  // closes every session's TCP connection, no close frame
  void setRejectWithClose(std::string text);  // see StreamServerOptions::reject_with_close
  // Half-open: stop reading (so pings go unanswered) on every session, keep sockets open.
  void setSilent(bool silent);

  // ---- observation
  StreamReply reply(uint64_t connect_id) const;
  std::vector<TunnelSessionInfo> sessions() const;  // oldest first, closed ones included
  size_t openSessions(std::string_view node = "") const;
  uint64_t framesFromEdge() const;
  uint64_t badFramesFromEdge() const;  // undecodable frames or unknown ids from the edge
  // Waits until pred() holds (re-checked on every state change). False on timeout.
  bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;

  // ---- the /stream/* routes of cloudsim's control API (test/cloudsim/README.md). `query`
  // holds decoded parameters. Returns the HTTP status and a JSON body. May block up to the
  // timeout a /stream/fetch asks for (the control server runs it on its own thread).
  struct ControlAnswer {
    int status = 200;
    std::string json;
  };
  ControlAnswer control(std::string_view method, std::string_view path,
                        const std::map<std::string, std::string>& query, const std::string& body);

  class Impl;

 private:
  explicit StreamServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgecore::cloudsim
