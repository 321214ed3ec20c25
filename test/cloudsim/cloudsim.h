#pragma once

// cloudsim: a scripted stand-in for KubeEdge CloudCore's CloudHub (WebSocket, :10000) and its
// certificate server (HTTPS, :10002), for testing edgecore from outside. It is written from
// spec/cloud-protocol.md (sections 1-5, 9), not from edge code, so the two sides never share
// connection logic; they share only the message codec (core/message.h).
//
// Threading: CloudSim owns one io_context run by one thread of its own. Every public method is
// thread-safe, never blocks on the network and may be called from any thread, including from
// inside the control HTTP handlers. State that tests read (records, counters, pending messages,
// objects) sits behind one mutex; sockets are touched only on the io thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"
#include "node_tasks.h"
#include "pki.h"
#include "stream_server.h"

namespace edgecore::cloudsim {

inline constexpr std::string_view kDefaultProjectId = "e632aba927ea4ac2b575ec1603d56f10";

struct Options {
  std::string node_name = "edge-1";  // the node we expect: CSR subject check, default target
  std::string listen_host = "127.0.0.1";
  uint16_t ws_port = 0;                  // 0 = ephemeral; read back with wsPort()
  uint16_t https_port = 0;               // certificate server
  std::optional<uint16_t> control_port;  // local HTTP control API on 127.0.0.1; nullopt = none
  // CloudStream's tunnel server (stream_server.h) on listen_host; nullopt = none.
  std::optional<uint16_t> stream_port;
  // The stream server waits for the Node before it serves a tunnel, polling this often
  // (CloudStream: every 20 s, for up to 2 min). 0 = serve at once.
  std::chrono::milliseconds stream_node_gate_poll{20000};
  // CloudHub drops a session that sent no keepalive for this long (cloudHub.keepaliveInterval).
  std::chrono::milliseconds keepalive_timeout{30000};
  // Unacknowledged reliable messages are resent this often (CloudHub: 5 s).
  std::chrono::milliseconds resend_interval{5000};
  std::chrono::seconds cert_validity{std::chrono::hours(24 * 365)};  // edgeCertSigningDuration
  // Lifetime of certificates issued for certificates.k8s.io CSRs (MetaServer's serving
  // certificate; kube-controller-manager's --cluster-signing-duration, 1 year by default).
  std::chrono::seconds serving_cert_validity{std::chrono::hours(24 * 365)};
  // Refuse (403) CSRs whose subject is not CN=system:node:<NodeName>, O=system:nodes. Real
  // CloudHub v1.20 signs whatever it gets; the simulator is stricter on purpose.
  bool enforce_csr_subject = true;
  // cloudHub.authorization.enable (spec cloud-protocol 2.3): refuse a websocket session whose
  // client certificate CN is not system:node:<node_id header>. Off by default, as in CloudHub,
  // which then accepts any certificate its CA signed, whatever node name the edge claims.
  bool authorization = false;
  // Answer the edge's queries/inserts/patches (spec 4.2-4.6) and MetaServer's get/list
  // Applications (local-apis 4.6) from the object store.
  bool answer_requests = true;
  bool pod_update_after_patch = true;
  bool pod_delete_after_edge_delete = true;
  std::string record_file;  // JSON lines; empty = memory only
  // Caps the lifetime of the ServiceAccount tokens the simulated API server issues (a short cap
  // lets a test see the edge refresh them); 0 = as requested.
  std::chrono::seconds sa_token_max_lifetime{0};
};

enum class Reliability {
  Auto,        // CloudHub's rule: noAckRequired + resourceversion (cloud_logic.h ackRequired)
  Reliable,    // resent every resend_interval until an upstream response names it
  Unreliable,  // sent once
};

// One recorded event. `ev` is one of: start, https, ws_connect, ws_reject, ws_refused,
// ws_closed, recv, send, resend, raw, ack, violation, keepalive_timeout, ignored, note.
struct Record {
  uint64_t seq = 0;
  int64_t t_ms = 0;  // wall clock
  std::string ev;
  uint64_t conn = 0;  // session id (0 = none)
  std::string node;
  std::optional<core::Message> msg;  // recv/send/resend
  nlohmann::json detail = nlohmann::json::object();

  nlohmann::json toJson() const;
};

struct Counters {
  uint64_t sessions_opened = 0;
  uint64_t sessions_rejected = 0;  // bad headers / TLS failures
  uint64_t sessions_refused = 0;   // refuse mode
  uint64_t keepalives = 0;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t resends = 0;
  uint64_t acks = 0;            // upstream responses
  uint64_t untracked_acks = 0;  // responses naming no pending reliable message
  uint64_t violations = 0;
  uint64_t keepalive_timeouts = 0;
  uint64_t duplicate_msg_ids = 0;  // upstream msg_id seen before (non-keepalive)
  uint64_t cert_requests = 0;
  uint64_t certs_issued = 0;

  nlohmann::json toJson() const;
};

class CloudSim {
 public:
  // Binds all listeners and starts the io thread.
  static core::Result<std::unique_ptr<CloudSim>> start(Pki pki, Options options);
  ~CloudSim();  // stop()
  CloudSim(const CloudSim&) = delete;
  CloudSim& operator=(const CloudSim&) = delete;

  // Closes listeners and sessions, joins the io thread. Idempotent.
  void stop();

  uint16_t wsPort() const;
  uint16_t httpsPort() const;
  uint16_t controlPort() const;  // 0 when there is no control server
  // The tunnel server when options().stream_port was set, else null. Owned by this object.
  StreamServer* stream() const;
  const Pki& pki() const;
  const Options& options() const;
  // A fresh bootstrap token ("<ca hash>.<jwt>").
  std::string token(std::chrono::seconds ttl = std::chrono::hours(24)) const;
  // The PKIX PEM of the key that signs ServiceAccount tokens (RS256; issuer
  // https://kubernetes.default.svc.cluster.local), generated at start. Also GET
  // /serviceaccount/public-key on the control API.
  std::string serviceAccountPublicKeyPem() const;
  // Options::sa_token_max_lifetime at run time (also POST /serviceaccount/max-lifetime?seconds=N).
  void setServiceAccountTokenMaxLifetime(std::chrono::seconds max);

  // ---- downstream
  // Sends `msg` to `node`'s session (default options().node_name). Fills msg_id and timestamp
  // when empty and trims a "node/<id>/" resource prefix. Reliable messages are kept until
  // ACKed and delivered whenever the node (re)connects; an unreliable message with no session
  // fails with Unavailable. Returns the msg_id.
  core::Result<std::string> send(core::Message msg, Reliability reliability = Reliability::Auto,
                                 std::string node = "");
  // A manifest (JSON or YAML) as an edgecontroller insert/update/delete of
  // "<ns>/<type>/<name>" with a fresh resourceversion; insert/update also store it for queries,
  // delete removes it. Returns the msg_id.
  core::Result<std::string> sendManifest(std::string_view manifest, std::string_view operation,
                                         Reliability reliability = Reliability::Auto,
                                         std::string node = "");

  // Writes `payload` as one websocket frame (text, or binary when `binary`) to the node's
  // session, whatever it holds: for bad-input tests (not JSON, huge, wrong envelope types,
  // unknown groups, binary). Not a message: no resend, no ACK tracking; recorded as "raw".
  // Unavailable when the node has no session.
  core::Status sendRaw(std::string payload, bool binary = false, std::string node = "");

  // A v1alpha2 node task for `node` (node_tasks.h), sent once like CloudHub does (no ACK);
  // Unavailable when the node is not connected. Returns the msg_id. Also POST
  // /nodetask?type=&job=&action=&node= with the spec as body on the control API.
  core::Result<std::string> sendNodeTask(std::string_view type, std::string_view job,
                                         std::string_view action, const nlohmann::json& spec,
                                         std::string node = "");
  // A v1alpha1 NodeTaskRequest (node_tasks.h) for the node's `state`, sent once like a v1.17
  // CloudCore does; the answers come back through v1alpha1Answers. Returns the msg_id.
  core::Result<std::string> sendV1alpha1Task(std::string_view type, std::string_view task,
                                             std::string_view state, const nlohmann::json& item,
                                             const std::vector<std::string>& check_items = {},
                                             std::string node = "");
  std::vector<V1alpha1Answer> v1alpha1Answers(std::string_view task = "") const;
  // The node task reports received so far (of `job` if not empty), oldest first. Also GET
  // /nodetask/reports?job= on the control API.
  std::vector<NodeTaskReport> nodeTaskReports(std::string_view job = "") const;

  // ---- object store behind query answers
  core::Result<nlohmann::json> putObject(std::string_view manifest);  // returns stored object
  bool deleteObject(std::string_view type, std::string_view ns, std::string_view name);
  std::optional<nlohmann::json> getObject(std::string_view type, std::string_view ns,
                                          std::string_view name) const;

  // ---- faults
  // Closes every session's TCP connection without a close frame (CloudHub's way).
  void dropConnections();
  // Half-open: stop reading and writing on every current and future session, keep sockets
  // open, suspend keepalive timeouts and resends. silent(false) resumes.
  void setSilent(bool silent);
  // Accept TCP and close it at once, before TLS.
  void setRefuseConnections(bool refuse);

  // ---- observation
  size_t sessionCount() const;
  bool connected(std::string_view node = "") const;
  std::vector<Record> records(uint64_t after_seq = 0) const;
  uint64_t lastSeq() const;
  // Upstream messages received (decoded), oldest first.
  std::vector<core::Message> received() const;
  Counters counters() const;
  int ackCount(std::string_view msg_id) const;  // upstream responses naming msg_id
  std::map<std::string, int> ackCounts() const;
  std::vector<std::string> pendingIds() const;   // reliable, not yet ACKed
  int sendCount(std::string_view msg_id) const;  // first send + resends actually written

  // Waits until pred() holds (re-evaluated whenever state changes). pred may call this
  // object's getters. False on timeout.
  bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;
  // The first record after `after_seq` matching pred, waiting up to `timeout`.
  std::optional<Record> waitForRecord(const std::function<bool(const Record&)>& pred,
                                      std::chrono::milliseconds timeout,
                                      uint64_t after_seq = 0) const;
  // The first upstream message after `after_seq` matching pred.
  std::optional<core::Message> waitForMessage(const std::function<bool(const core::Message&)>& pred,
                                              std::chrono::milliseconds timeout,
                                              uint64_t after_seq = 0) const;

  class Impl;

 private:
  explicit CloudSim(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgecore::cloudsim
