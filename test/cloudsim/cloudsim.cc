// The simulator's sockets: CloudHub's WebSocket server, the certificate server and the local
// control API, all on one io thread. The protocol decisions live in cloud_logic.cc.
//
// g++ 12 note: no temporary with a destructor inside a co_await expression (it may be destroyed
// twice); operations are bound to a local first: `auto op = f(...); co_await std::move(op);`.

#include "cloudsim.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "cloud_logic.h"
#include "listener.h"
#include "util/wait.h"

namespace edgecore::cloudsim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using core::Message;
using nlohmann::json;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using SteadyTime = std::chrono::steady_clock::time_point;

json messageJson(const Message& m) {
  json j = json::parse(core::encodeMessage(m), nullptr, false);
  return j.is_discarded() ? json() : j;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Subject summary and DER of the TLS peer's leaf certificate (empty when none).
struct PeerCert {
  std::string der;
  Subject subject;
};

PeerCert peerCertificate(SSL* ssl) {
  PeerCert out;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) {
    return out;
  }
  unsigned char* buf = nullptr;
  int len = i2d_X509(cert, &buf);
  if (len > 0) {
    out.der.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
    OPENSSL_free(buf);
  }
  X509_free(cert);
  if (auto s = certSubject(out.der); s.ok()) {
    out.subject = *s;
  }
  return out;
}

// Chain check against the CA with the clientAuth purpose (Go: x509.Verify with
// ExtKeyUsageClientAuth). Empty string = ok, else the reason.
std::string verifyClientCert(const std::string& ca_der, const std::string& leaf_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(ca_der.data());
  X509* ca = d2i_X509(nullptr, &p, static_cast<long>(ca_der.size()));
  p = reinterpret_cast<const unsigned char*>(leaf_der.data());
  X509* leaf = d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size()));
  std::string err;
  if (ca == nullptr || leaf == nullptr) {
    err = "unparseable certificate";
  } else {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx) != 1) {
      err = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
  }
  X509_free(ca);
  X509_free(leaf);
  ERR_clear_error();
  return err;
}

std::string queryParam(const boost::urls::url_view& url, std::string_view key,
                       std::string fallback = "") {
  auto it = url.params().find(key);
  if (it == url.params().end()) {
    return fallback;
  }
  return std::string((*it).value);
}

Reliability parseReliability(std::string_view s) {
  if (s == "yes" || s == "true" || s == "1" || s == "reliable") {
    return Reliability::Reliable;
  }
  if (s == "no" || s == "false" || s == "0" || s == "unreliable") {
    return Reliability::Unreliable;
  }
  return Reliability::Auto;
}

}  // namespace

json Record::toJson() const {
  json j = {{"seq", seq}, {"t", t_ms}, {"ev", ev}};
  if (conn != 0) {
    j["conn"] = conn;
  }
  if (!node.empty()) {
    j["node"] = node;
  }
  if (msg) {
    j["msg"] = messageJson(*msg);
  }
  for (const auto& [k, v] : detail.items()) {
    j[k] = v;
  }
  return j;
}

json Counters::toJson() const {
  return {{"sessions_opened", sessions_opened},
          {"sessions_rejected", sessions_rejected},
          {"sessions_refused", sessions_refused},
          {"keepalives", keepalives},
          {"frames_in", frames_in},
          {"frames_out", frames_out},
          {"resends", resends},
          {"acks", acks},
          {"untracked_acks", untracked_acks},
          {"violations", violations},
          {"keepalive_timeouts", keepalive_timeouts},
          {"duplicate_msg_ids", duplicate_msg_ids},
          {"cert_requests", cert_requests},
          {"certs_issued", certs_issued}};
}

// ------------------------------------------------------------------------------------------
// One CloudHub session. Lives on the io thread only.
struct WsSession : std::enable_shared_from_this<WsSession> {
  using Stream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

  WsSession(tcp::socket socket, ssl::context& ctx, uint64_t session_id)
      : ws(std::move(socket), ctx),
        wake(ws.get_executor()),
        keepalive_timer(ws.get_executor()),
        id(session_id) {}

  Stream ws;
  asio::steady_timer wake;  // writer wake-up and silent-mode parking
  asio::steady_timer keepalive_timer;
  uint64_t id;
  std::string node;
  struct OutFrame {
    std::string data;
    bool binary = false;
  };
  std::deque<OutFrame> outq;
  bool closed = false;
  SteadyTime last_keepalive = std::chrono::steady_clock::now();

  void closeTcp() {
    if (closed) {
      return;
    }
    closed = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws).socket().close(ec);
    wake.cancel();
    keepalive_timer.cancel();
  }
};

struct Pending {
  Message msg;
  std::string frame;
  std::string node;
  uint64_t order = 0;
  int sends = 0;
  SteadyTime last_sent{};
};

class CloudSim::Impl {
 public:
  Impl(Pki pki, Options opts)
      : pki_(std::move(pki)),
        opts_(std::move(opts)),
        ws_ctx_(ssl::context::tls_server),
        https_ctx_(ssl::context::tls_server),
        ws_acceptor_(ioc_),
        https_acceptor_(ioc_),
        control_acceptor_(ioc_),
        resend_timer_(ioc_) {
    answer_opts_.ca_pem = pki_.ca_cert_pem;
    answer_opts_.pod_update_after_patch = opts_.pod_update_after_patch;
    answer_opts_.pod_delete_after_edge_delete = opts_.pod_delete_after_edge_delete;
    answer_opts_.sign_serving_csr = [this](std::string_view csr_pem) -> core::Result<std::string> {
      auto der = csrPemToDer(csr_pem);
      if (!der.ok()) return der.status();
      // serverAuth only, as the kubelet-serving signer issues it.
      auto cert = signCsr(pki_, *der, {1}, opts_.serving_cert_validity);
      if (!cert.ok()) return cert.status();
      return certDerToPem(*cert);
    };
    answer_opts_.tokens.max_lifetime = opts_.sa_token_max_lifetime;
  }

  core::Status init() {
    // The ServiceAccount token signing key (kube-apiserver's --service-account-signing-key-file).
    auto sa_key = generateRsaKeyPem();
    if (!sa_key.ok()) {
      return sa_key.status();
    }
    auto sa_pub = publicKeyPemOf(*sa_key);
    if (!sa_pub.ok()) {
      return sa_pub.status();
    }
    answer_opts_.tokens.signing_key_pem = std::move(*sa_key);
    sa_public_key_pem_ = std::move(*sa_pub);
    try {
      configureServerTls(ws_ctx_, pki_);
      configureServerTls(https_ctx_, pki_);
      // CloudHub: RequireAndVerifyClientCert against the CA; TLS 1.2 suites as in
      // cloud/pkg/cloudhub/servers/server.go (1.3 suites are left alone there too).
      SSL_CTX_set_cipher_list(ws_ctx_.native_handle(),
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256");
      ws_ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      // Certificate server: RequestClientCert (asked for, not verified in the handshake).
      https_ctx_.set_verify_mode(ssl::verify_peer);
      https_ctx_.set_verify_callback([](bool, ssl::verify_context&) { return true; });

      ws_port_ = openListener(ws_acceptor_, opts_.listen_host, opts_.ws_port);
      https_port_ = openListener(https_acceptor_, opts_.listen_host, opts_.https_port);
      if (opts_.control_port) {
        control_port_ = openListener(control_acceptor_, "127.0.0.1", *opts_.control_port);
      }
    } catch (const std::exception& e) {
      return core::unavailable(std::string("cloudsim listen: ") + e.what());
    }
    if (opts_.stream_port) {
      StreamServerOptions so;
      so.listen_host = opts_.listen_host;
      so.port = *opts_.stream_port;
      so.node_name = opts_.node_name;
      if (opts_.stream_node_gate_poll.count() > 0) {
        so.gate_poll = opts_.stream_node_gate_poll;
        so.node_known = [this](const std::string& node) {
          return getObject("node", "", node).has_value();
        };
      }
      auto stream = StreamServer::start(pki_, so);
      if (!stream.ok()) {
        return stream.status();
      }
      stream_ = std::move(stream).value();
    }
    if (!opts_.record_file.empty()) {
      record_out_.open(opts_.record_file, std::ios::app);
      if (!record_out_) {
        return core::internalError("cannot open record file " + opts_.record_file);
      }
    }
    record("start", 0, "", std::nullopt,
           {{"ws_port", wsPort()},
            {"https_port", httpsPort()},
            {"control_port", controlPort()},
            {"node", opts_.node_name}});
    spawn(wsAcceptLoop(), "ws accept");
    spawn(httpsAcceptLoop(), "https accept");
    if (opts_.control_port) {
      spawn(controlAcceptLoop(), "control accept");
    }
    spawn(resendLoop(), "resend");
    thread_ = std::thread([this] { ioc_.run(); });
    return {};
  }

  void stop() {
    std::call_once(stop_once_, [this] {
      asio::post(ioc_, [this] {
        beast::error_code ec;
        ws_acceptor_.close(ec);
        https_acceptor_.close(ec);
        control_acceptor_.close(ec);
        resend_timer_.cancel();
        for (auto& [id, s] : sessions_) {
          s->closeTcp();
        }
        for (auto* sock : http_sockets_) {
          sock->close(ec);
        }
      });
      // Give coroutines a moment to see their sockets closed, then stop regardless.
      (void)testing::waitFor(
          [this] {
            std::lock_guard lock(mu_);
            return ioc_.stopped() || live_coroutines_ == 0;
          },
          std::chrono::seconds(2));
      ioc_.stop();
      if (thread_.joinable()) {
        thread_.join();
      }
      if (stream_) {
        stream_->stop();
      }
    });
  }

  StreamServer* stream() const { return stream_.get(); }
  uint16_t wsPort() const { return ws_port_; }
  uint16_t httpsPort() const { return https_port_; }
  uint16_t controlPort() const { return control_port_; }
  const Pki& pki() const { return pki_; }
  const Options& options() const { return opts_; }

  // ---------------------------------------------------------------- public operations
  core::Result<std::string> send(Message msg, Reliability reliability, std::string node,
                                 bool content_is_error = false) {
    if (node.empty()) {
      node = opts_.node_name;
    }
    if (msg.header.id.empty()) {
      msg.header.id = core::newUuidV4();
    }
    if (msg.header.timestamp_ms == 0) {
      msg.header.timestamp_ms = core::nowUnixMillis();
    }
    msg.route.resource = trimResource(msg.route.resource);
    bool reliable = reliability == Reliability::Reliable ||
                    (reliability == Reliability::Auto && ackRequired(msg, content_is_error));
    // json.Encoder's trailing newline, as CloudHub's gorilla WriteJSON writes it.
    std::string frame = core::encodeMessage(msg) + "\n";
    std::string id = msg.header.id;
    {
      std::lock_guard lock(mu_);
      bool online = connected_nodes_.count(node) > 0;
      if (!reliable && !online) {
        return core::unavailable("node " + node + " is not connected");
      }
      if (reliable) {
        pending_[id] = Pending{msg, frame, node, ++pending_order_, 0, {}};
      }
      if (!online) {
        recordLocked("send", 0, node, msg, {{"reliable", reliable}, {"delivered", false}});
        return id;
      }
    }
    asio::post(ioc_, [this, msg = std::move(msg), frame = std::move(frame), node, reliable] {
      deliver(node, msg, frame, reliable, false);
    });
    return id;
  }

  // Test hook: any bytes as one frame, outside the protocol (no record of a message, no
  // resend). Unavailable when the node has no session.
  core::Status sendRaw(std::string payload, bool binary, std::string node) {
    if (node.empty()) {
      node = opts_.node_name;
    }
    {
      std::lock_guard lock(mu_);
      if (connected_nodes_.count(node) == 0) {
        return core::unavailable("node " + node + " is not connected");
      }
    }
    size_t len = payload.size();
    asio::post(ioc_, [this, payload = std::move(payload), binary, node, len]() mutable {
      auto s = sessionFor(node);
      if (!s || s->closed) {
        record("note", 0, node, std::nullopt, {{"what", "raw frame not sent: no session"}});
        return;
      }
      record("raw", s->id, node, std::nullopt,
             {{"opcode", binary ? "binary" : "text"}, {"len", len}});
      s->outq.push_back({std::move(payload), binary});
      s->wake.cancel();
    });
    return {};
  }

  core::Result<std::string> sendManifest(std::string_view text, std::string_view op,
                                         Reliability reliability, std::string node) {
    EC_ASSIGN_OR_RETURN(json manifest, parseManifest(text));
    Message msg;
    {
      std::lock_guard lock(mu_);
      EC_ASSIGN_OR_RETURN(msg, manifestMessage(manifest, op, store_));
    }
    return send(std::move(msg), reliability, std::move(node));
  }

  core::Result<json> putObject(std::string_view text) {
    EC_ASSIGN_OR_RETURN(json manifest, parseManifest(text));
    std::lock_guard lock(mu_);
    auto r = store_.put(std::move(manifest));
    bump();
    return r;
  }
  bool deleteObject(std::string_view type, std::string_view ns, std::string_view name) {
    std::lock_guard lock(mu_);
    return store_.erase(type, ns, name);
  }
  std::optional<json> getObject(std::string_view type, std::string_view ns,
                                std::string_view name) const {
    std::lock_guard lock(mu_);
    return store_.get(type, ns, name);
  }
  json dumpObjects() const {
    std::lock_guard lock(mu_);
    return store_.dump();
  }

  void dropConnections() {
    asio::post(ioc_, [this] {
      for (auto& [id, s] : sessions_) {
        record("note", id, s->node, std::nullopt, {{"what", "drop requested"}});
        s->closeTcp();
      }
    });
  }
  void setSilent(bool silent) {
    {
      std::lock_guard lock(mu_);
      silent_ = silent;
      recordLocked("note", 0, "", std::nullopt, {{"what", silent ? "silent on" : "silent off"}});
    }
    asio::post(ioc_, [this] {
      for (auto& [id, s] : sessions_) {
        s->wake.cancel();  // parked readers/writers re-check the flag
        s->last_keepalive = std::chrono::steady_clock::now();
        s->keepalive_timer.cancel();
      }
    });
  }
  void setRefuse(bool refuse) {
    std::lock_guard lock(mu_);
    refuse_ = refuse;
    recordLocked("note", 0, "", std::nullopt, {{"what", refuse ? "refuse on" : "refuse off"}});
  }

  std::string serviceAccountPublicKeyPem() const { return sa_public_key_pem_; }
  void setServiceAccountTokenMaxLifetime(std::chrono::seconds max) {
    std::lock_guard lock(mu_);
    answer_opts_.tokens.max_lifetime = max;
  }

  size_t sessionCount() const {
    std::lock_guard lock(mu_);
    return session_count_;
  }
  bool connected(std::string_view node) const {
    std::lock_guard lock(mu_);
    return connected_nodes_.count(std::string(node.empty() ? opts_.node_name : node)) > 0;
  }
  std::vector<Record> records(uint64_t after) const {
    std::lock_guard lock(mu_);
    std::vector<Record> out;
    for (const auto& r : records_) {
      if (r.seq > after) {
        out.push_back(r);
      }
    }
    return out;
  }
  uint64_t lastSeq() const {
    std::lock_guard lock(mu_);
    return records_.empty() ? 0 : records_.back().seq;
  }
  std::vector<Message> received() const {
    std::lock_guard lock(mu_);
    std::vector<Message> out;
    for (const auto& r : records_) {
      if (r.ev == "recv" && r.msg) {
        out.push_back(*r.msg);
      }
    }
    return out;
  }
  Counters counters() const {
    std::lock_guard lock(mu_);
    return counters_;
  }
  int ackCount(std::string_view id) const {
    std::lock_guard lock(mu_);
    auto it = ack_counts_.find(std::string(id));
    return it == ack_counts_.end() ? 0 : it->second;
  }
  std::map<std::string, int> ackCounts() const {
    std::lock_guard lock(mu_);
    return ack_counts_;
  }
  std::vector<std::string> pendingIds() const {
    std::lock_guard lock(mu_);
    std::vector<std::pair<uint64_t, std::string>> v;
    for (const auto& [id, p] : pending_) {
      v.emplace_back(p.order, id);
    }
    std::sort(v.begin(), v.end());
    std::vector<std::string> out;
    for (auto& e : v) {
      out.push_back(e.second);
    }
    return out;
  }
  int sendCount(std::string_view id) const {
    std::lock_guard lock(mu_);
    auto it = send_counts_.find(std::string(id));
    return it == send_counts_.end() ? 0 : it->second;
  }

  bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
    return waitForChange(mu_, cv_, generation_, pred, timeout);
  }

 private:
  // ---------------------------------------------------------------- helpers
  template <typename Awaitable>
  void spawn(Awaitable&& a, const char* what) {
    {
      std::lock_guard lock(mu_);
      ++live_coroutines_;
    }
    asio::co_spawn(ioc_, std::forward<Awaitable>(a), [this, what](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::cerr << "cloudsim: " << what << " failed: " << ex.what() << "\n";
        }
      }
      std::lock_guard lock(mu_);
      --live_coroutines_;
    });
  }

  void bump() {
    ++generation_;
    cv_.notify_all();
  }

  void record(std::string ev, uint64_t conn, std::string node, std::optional<Message> msg,
              json detail = json::object()) {
    std::lock_guard lock(mu_);
    recordLocked(std::move(ev), conn, std::move(node), std::move(msg), std::move(detail));
  }

  void recordLocked(std::string ev, uint64_t conn, std::string node, std::optional<Message> msg,
                    json detail = json::object()) {
    Record r;
    r.seq = ++seq_;
    r.t_ms = core::nowUnixMillis();
    r.ev = std::move(ev);
    r.conn = conn;
    r.node = std::move(node);
    r.msg = std::move(msg);
    r.detail = std::move(detail);
    if (r.ev == "violation") {
      ++counters_.violations;
    }
    if (record_out_.is_open()) {
      record_out_ << r.toJson().dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      record_out_.flush();
    }
    records_.push_back(std::move(r));
    bump();
  }

  std::shared_ptr<WsSession> sessionFor(const std::string& node) {
    auto it = node_session_.find(node);
    if (it == node_session_.end()) {
      return nullptr;
    }
    auto s = sessions_.find(it->second);
    return s == sessions_.end() ? nullptr : s->second;
  }

  // On the io thread: write a frame to the node's session (if any) and account for it.
  void deliver(const std::string& node, const Message& msg, const std::string& frame, bool reliable,
               bool resend) {
    auto s = sessionFor(node);
    std::lock_guard lock(mu_);
    if (!s || s->closed) {
      recordLocked(resend ? "resend" : "send", 0, node, msg,
                   {{"reliable", reliable}, {"delivered", false}});
      return;
    }
    if (reliable) {
      auto it = pending_.find(msg.header.id);
      if (it == pending_.end() && resend) {
        return;  // ACKed meanwhile
      }
      if (it != pending_.end()) {
        ++it->second.sends;
        it->second.last_sent = std::chrono::steady_clock::now();
      }
    }
    ++send_counts_[msg.header.id];
    if (resend) {
      ++counters_.resends;
    }
    recordLocked(resend ? "resend" : "send", s->id, node, msg,
                 {{"reliable", reliable}, {"delivered", true}});
    s->outq.push_back({frame, false});
    s->wake.cancel();
  }

  // ---------------------------------------------------------------- CloudHub websocket
  asio::awaitable<void> wsAcceptLoop() {
    while (true) {
      auto op = ws_acceptor_.async_accept(kTuple);
      auto [ec, socket] = co_await std::move(op);
      if (ec) {
        if (!ws_acceptor_.is_open()) {
          co_return;
        }
        continue;
      }
      bool refuse;
      {
        std::lock_guard lock(mu_);
        refuse = refuse_;
      }
      if (refuse) {
        {
          std::lock_guard lock(mu_);
          ++counters_.sessions_refused;
        }
        beast::error_code ignored;
        auto peer = socket.remote_endpoint(ignored);
        record("ws_refused", 0, "", std::nullopt,
               {{"peer", peer.address().to_string() + ":" + std::to_string(peer.port())}});
        socket.close(ignored);
        continue;
      }
      uint64_t id = ++next_session_id_;
      auto session = std::make_shared<WsSession>(std::move(socket), ws_ctx_, id);
      spawn(runSession(session), "ws session");
    }
  }

  void reject(const std::shared_ptr<WsSession>& s, std::string reason, json extra = {}) {
    {
      std::lock_guard lock(mu_);
      ++counters_.sessions_rejected;
    }
    json detail = {{"reason", reason}};
    if (extra.is_object()) {
      detail.update(extra);
    }
    record("ws_reject", s->id, s->node, std::nullopt, detail);
  }

  asio::awaitable<void> runSession(std::shared_ptr<WsSession> s) {
    auto& tcp_stream = beast::get_lowest_layer(s->ws);
    tcp_stream.expires_after(std::chrono::seconds(15));
    auto hs = s->ws.next_layer().async_handshake(ssl::stream_base::server, kTuple);
    auto [hs_ec] = co_await std::move(hs);
    if (hs_ec) {
      reject(s, "tls handshake failed: " + hs_ec.message());
      s->closeTcp();
      co_return;
    }
    PeerCert peer = peerCertificate(s->ws.next_layer().native_handle());

    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto rd = http::async_read(s->ws.next_layer(), buffer, req, kTuple);
    auto [rd_ec, rd_n] = co_await std::move(rd);
    (void)rd_n;
    if (rd_ec) {
      reject(s, "reading the upgrade request failed: " + rd_ec.message());
      s->closeTcp();
      co_return;
    }
    // Header names compared case-insensitively (Beast's field lookup does); Go sends
    // Node_id / Project_id / Connectionuse (spec 9 item 1).
    json headers = json::array();
    for (const auto& f : req) {
      headers.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    std::string node(req["node_id"]);
    std::string project(req["project_id"]);
    std::string use(req["connectionuse"]);
    s->node = node;
    json info = {{"target", std::string(req.target())},
                 {"headers", headers},
                 {"tls_version", SSL_get_version(s->ws.next_layer().native_handle())},
                 {"cipher", SSL_get_cipher_name(s->ws.next_layer().native_handle())},
                 {"client_cn", peer.subject.common_name},
                 {"client_o", peer.subject.organizations},
                 {"client_cert_sha256", peer.der.empty() ? "" : sha256Hex(peer.der)}};
    std::string problem;
    if (!websocket::is_upgrade(req)) {
      problem = "not a websocket upgrade";
    } else if (node.empty()) {
      problem = "missing node_id header";
    } else if (project.empty()) {
      problem = "missing project_id header";
    } else if (use.empty()) {
      problem = "missing ConnectionUse header";
    } else if (use != "msg") {
      problem = "ConnectionUse is not msg: " + use;
    } else if (opts_.authorization && peer.subject.common_name != "system:node:" + node) {
      // CloudHub with authorization on: the certificate must name the node the edge claims.
      problem = "certificate CN " + peer.subject.common_name + " does not match node_id " + node +
                " (want system:node:" + node + ")";
    }
    if (!problem.empty()) {
      reject(s, problem, info);
      http::response<http::string_body> res{http::status::bad_request, req.version()};
      res.set(http::field::content_type, "text/plain");
      res.set(http::field::connection, "close");
      res.body() = problem + "\n";
      res.prepare_payload();
      auto wr = http::async_write(s->ws.next_layer(), res, kTuple);
      co_await std::move(wr);
      s->closeTcp();
      co_return;
    }
    // Non-blocking notes (the session still opens, as CloudHub would).
    std::string expected_path = "/" + std::string(kDefaultProjectId) + "/" + node + "/events";
    if (req.target() != expected_path) {
      info["note"] = "path differs from /<projectID>/<node>/events (CloudHub ignores it)";
    }
    if (project != kDefaultProjectId) {
      info["note_project"] = "non-default project_id";
    }

    tcp_stream.expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = std::chrono::seconds(15);
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    s->ws.set_option(to);
    s->ws.read_message_max(64 * 1024 * 1024);
    auto acc = s->ws.async_accept(req, kTuple);
    auto [acc_ec] = co_await std::move(acc);
    if (acc_ec) {
      reject(s, "websocket accept failed: " + acc_ec.message(), info);
      s->closeTcp();
      co_return;
    }
    s->ws.text(true);

    // Register; a second session for the same node replaces the first (CloudHub closes it).
    if (auto old = sessionFor(node)) {
      record("note", old->id, node, std::nullopt, {{"what", "replaced by a new session"}});
      old->closeTcp();
    }
    sessions_[s->id] = s;
    node_session_[node] = s->id;
    std::vector<Pending> resend_now;
    {
      std::lock_guard lock(mu_);
      ++counters_.sessions_opened;
      session_count_ = sessions_.size();
      connected_nodes_.insert(node);
      recordLocked("ws_connect", s->id, node, std::nullopt, info);
      for (const auto& [id, p] : pending_) {
        if (p.node == node) {
          resend_now.push_back(p);
        }
      }
    }
    std::sort(resend_now.begin(), resend_now.end(),
              [](const Pending& a, const Pending& b) { return a.order < b.order; });
    for (const auto& p : resend_now) {
      deliver(node, p.msg, p.frame, true, p.sends > 0);
    }

    spawn(writeLoop(s), "ws writer");
    spawn(keepaliveLoop(s), "ws keepalive");
    auto reading = readLoop(s);
    co_await std::move(reading);

    s->closeTcp();
    sessions_.erase(s->id);
    if (auto it = node_session_.find(node); it != node_session_.end() && it->second == s->id) {
      node_session_.erase(it);
    }
    std::lock_guard lock(mu_);
    session_count_ = sessions_.size();
    if (node_session_.count(node) == 0) {
      connected_nodes_.erase(node);
    }
    recordLocked("ws_closed", s->id, node, std::nullopt);
  }

  bool silent() {
    std::lock_guard lock(mu_);
    return silent_;
  }

  // Parks until woken (silent toggled or session closed).
  asio::awaitable<void> park(const std::shared_ptr<WsSession>& s) {
    s->wake.expires_at(SteadyTime::max());
    auto w = s->wake.async_wait(kTuple);
    co_await std::move(w);
  }

  asio::awaitable<void> readLoop(std::shared_ptr<WsSession> s) {
    while (!s->closed) {
      if (silent()) {
        // Half-open: no reads; wait on a timer of our own so the writer's wake-ups don't spin.
        asio::steady_timer t(s->ws.get_executor(), std::chrono::milliseconds(20));
        auto w = t.async_wait(kTuple);
        co_await std::move(w);
        continue;
      }
      beast::flat_buffer buf;
      auto rd = s->ws.async_read(buf, kTuple);
      auto [ec, n] = co_await std::move(rd);
      (void)n;
      if (ec) {
        if (!s->closed) {
          record("note", s->id, s->node, std::nullopt,
                 {{"what", "read ended"}, {"err", ec.message()}});
        }
        co_return;
      }
      std::string payload = beast::buffers_to_string(buf.data());
      bool text = s->ws.got_text();
      if (silent()) {
        record("ignored", s->id, s->node, std::nullopt,
               {{"why", "frame arrived while silent"}, {"len", payload.size()}});
        continue;
      }
      handleFrame(s, payload, text);
    }
  }

  asio::awaitable<void> writeLoop(std::shared_ptr<WsSession> s) {
    while (!s->closed) {
      if (s->outq.empty() || silent()) {
        auto parked = park(s);
        co_await std::move(parked);
        continue;
      }
      WsSession::OutFrame frame = std::move(s->outq.front());
      s->outq.pop_front();
      s->ws.binary(frame.binary);
      auto wr = s->ws.async_write(asio::buffer(frame.data), kTuple);
      auto [ec, n] = co_await std::move(wr);
      (void)n;
      if (ec) {
        s->closeTcp();
        co_return;
      }
      std::lock_guard lock(mu_);
      ++counters_.frames_out;
      bump();
    }
  }

  asio::awaitable<void> keepaliveLoop(std::shared_ptr<WsSession> s) {
    while (!s->closed) {
      // While silent the deadline is suspended: re-check a timeout later instead of re-arming
      // at a time already past (which would spin).
      if (silent()) {
        s->keepalive_timer.expires_after(opts_.keepalive_timeout);
      } else {
        s->keepalive_timer.expires_at(s->last_keepalive + opts_.keepalive_timeout);
      }
      auto w = s->keepalive_timer.async_wait(kTuple);
      co_await std::move(w);
      if (s->closed) {
        co_return;
      }
      if (silent() ||
          std::chrono::steady_clock::now() < s->last_keepalive + opts_.keepalive_timeout) {
        continue;
      }
      {
        std::lock_guard lock(mu_);
        ++counters_.keepalive_timeouts;
        recordLocked("keepalive_timeout", s->id, s->node, std::nullopt,
                     {{"timeout_ms", opts_.keepalive_timeout.count()}});
      }
      s->closeTcp();
    }
  }

  void handleFrame(const std::shared_ptr<WsSession>& s, const std::string& payload, bool text) {
    bool nl = !payload.empty() && payload.back() == '\n';
    json frame_info = {{"opcode", text ? "text" : "binary"}, {"len", payload.size()}, {"nl", nl}};
    {
      std::lock_guard lock(mu_);
      ++counters_.frames_in;
    }
    auto decoded = core::decodeMessage(payload);
    if (!decoded.ok()) {
      json d = frame_info;
      d["why"] = decoded.status().message();
      d["payload_head"] = payload.substr(0, 200);
      record("violation", s->id, s->node, std::nullopt, d);
      return;  // CloudHub would log and carry on reading
    }
    Message msg = std::move(decoded).value();
    bool duplicate = false;
    std::vector<std::string> violations = upstreamViolations(msg);
    if (!text) {
      violations.push_back("binary frame (the edge writes text frames)");
    }
    {
      std::lock_guard lock(mu_);
      if (msg.route.operation != "keepalive" && !seen_ids_.insert(msg.header.id).second) {
        duplicate = true;
        ++counters_.duplicate_msg_ids;
        frame_info["duplicate"] = true;
      }
      recordLocked("recv", s->id, s->node, msg, frame_info);
      for (const auto& v : violations) {
        recordLocked("violation", s->id, s->node, msg, {{"why", v}});
      }
    }
    const std::string& op = msg.route.operation;
    if (op == "keepalive") {
      s->last_keepalive = std::chrono::steady_clock::now();
      std::lock_guard lock(mu_);
      ++counters_.keepalives;
      bump();  // waiters may be watching the counter
      return;
    }
    if (op == "config" || op == "ping" || op == "pong") {
      // viaduct control message (spec 2.6): answered at once with "ack".
      Message ack = msg.makeResponse("ack");
      (void)send(std::move(ack), Reliability::Unreliable, s->node);
      return;
    }
    if (op == "response") {
      std::lock_guard lock(mu_);
      ++counters_.acks;
      int count = ++ack_counts_[msg.header.parent_id];
      auto it = pending_.find(msg.header.parent_id);
      bool tracked = it != pending_.end();
      if (tracked) {
        pending_.erase(it);
      } else {
        ++counters_.untracked_acks;
      }
      recordLocked(
          "ack", s->id, s->node, std::nullopt,
          {{"parent_msg_id", msg.header.parent_id}, {"tracked", tracked}, {"count", count}});
      return;
    }
    if (op == "error") {
      return;  // CloudHub only logs it; the recv record keeps it
    }
    if (!opts_.answer_requests) {
      return;
    }
    Answer answer;
    {
      std::lock_guard lock(mu_);
      answer = answerUpstream(msg, s->node, store_, answer_opts_);
      if (!answer.handled) {
        recordLocked("note", s->id, s->node, std::nullopt,
                     {{"what", "no handler; not answered"},
                      {"msg_id", msg.header.id},
                      {"duplicate", duplicate}});
      }
    }
    for (auto& r : answer.replies) {
      (void)send(std::move(r.msg), Reliability::Auto, s->node, r.content_is_error);
    }
  }

  asio::awaitable<void> resendLoop() {
    auto tick = std::max(std::chrono::milliseconds(10), opts_.resend_interval / 5);
    while (true) {
      resend_timer_.expires_after(tick);
      auto w = resend_timer_.async_wait(kTuple);
      auto [ec] = co_await std::move(w);
      if (ec || !ws_acceptor_.is_open()) {
        co_return;
      }
      std::vector<Pending> due;
      {
        std::lock_guard lock(mu_);
        if (silent_) {
          continue;
        }
        auto now = std::chrono::steady_clock::now();
        for (const auto& [id, p] : pending_) {
          if (p.sends > 0 && now - p.last_sent >= opts_.resend_interval) {
            due.push_back(p);
          }
        }
      }
      std::sort(due.begin(), due.end(),
                [](const Pending& a, const Pending& b) { return a.order < b.order; });
      for (const auto& p : due) {
        if (sessionFor(p.node)) {
          deliver(p.node, p.msg, p.frame, true, true);
        }
      }
    }
  }

  // ---------------------------------------------------------------- HTTP (cert + control)
  template <typename Stream, typename Handler>
  asio::awaitable<void> serveHttp(Stream& stream, Handler handler) {
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(8 * 1024 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      auto rd = http::async_read(stream, buffer, parser, kTuple);
      auto [ec, n] = co_await std::move(rd);
      (void)n;
      if (ec) {
        co_return;
      }
      http::request<http::string_body> req = parser.release();
      http::response<http::string_body> res = handler(req);
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto wr = http::async_write(stream, res, kTuple);
      auto [wec, wn] = co_await std::move(wr);
      (void)wn;
      if (wec || !res.keep_alive()) {
        co_return;
      }
    }
  }

  asio::awaitable<void> httpsAcceptLoop() {
    while (true) {
      auto op = https_acceptor_.async_accept(kTuple);
      auto [ec, socket] = co_await std::move(op);
      if (ec) {
        if (!https_acceptor_.is_open()) {
          co_return;
        }
        continue;
      }
      spawn(runHttps(std::move(socket)), "https session");
    }
  }

  asio::awaitable<void> runHttps(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), https_ctx_);
    tcp::socket* raw = &beast::get_lowest_layer(stream).socket();
    http_sockets_.insert(raw);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(15));
    auto hs = stream.async_handshake(ssl::stream_base::server, kTuple);
    auto [ec] = co_await std::move(hs);
    if (!ec) {
      PeerCert peer = peerCertificate(stream.native_handle());
      auto handler = [this, &peer](const http::request<http::string_body>& req) {
        return handleCertRequest(req, peer);
      };
      auto serving = serveHttp(stream, handler);
      co_await std::move(serving);
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    } else {
      record("https", 0, "", std::nullopt, {{"error", "tls handshake: " + ec.message()}});
    }
    http_sockets_.erase(raw);
  }

  http::response<http::string_body> textResponse(http::status status, std::string body,
                                                 const char* type = "text/plain") {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    return res;
  }

  http::response<http::string_body> handleCertRequest(const http::request<http::string_body>& req,
                                                      const PeerCert& peer) {
    json info = {{"method", std::string(req.method_string())}, {"path", std::string(req.target())}};
    json headers = json::array();
    for (const auto& f : req) {
      std::string value(f.value());
      if (lower(f.name_string()) == "authorization") {
        value = "<redacted len=" + std::to_string(value.size()) + ">";
      }
      headers.push_back({std::string(f.name_string()), value});
    }
    info["headers"] = headers;
    if (!peer.der.empty()) {
      info["client_cn"] = peer.subject.common_name;
      info["client_o"] = peer.subject.organizations;
    }
    auto finish = [&](http::status st, std::string body, bool der = false) {
      info["status"] = static_cast<int>(st);
      if (!der) {
        info["error"] = body;
      }
      record("https", 0, std::string(req["nodename"]), std::nullopt, info);
      auto res = textResponse(st, std::move(body));
      if (der) {
        res.erase(http::field::content_type);  // CloudHub sets none
      }
      return res;
    };
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    if (path == "/ca.crt" && req.method() == http::verb::get) {
      return finish(http::status::ok, pki_.ca_cert_der, true);
    }
    if (path != "/edge.crt" || req.method() != http::verb::get) {
      return finish(http::status::not_found, "404 page not found");
    }
    {
      std::lock_guard lock(mu_);
      ++counters_.cert_requests;
    }
    std::string node(req["nodename"]);
    if (!peer.der.empty()) {
      // Rotation (spec 3.3): the current client certificate instead of a token.
      info["auth"] = "client-cert";
      info["client_cert_sha256"] = sha256Hex(peer.der);
      std::string err = verifyClientCert(pki_.ca_cert_der, peer.der);
      const auto& o = peer.subject.organizations;
      bool subject_ok =
          !o.empty() &&
          ((o[0] == "KubeEdge" && peer.subject.common_name == "kubeedge.io") ||
           (o[0] == "system:nodes" && peer.subject.common_name == "system:node:" + node));
      if (!err.empty()) {
        return finish(http::status::unauthorized,
                      "failed to verify the certificate for edgenode: " + node + ", err: " + err);
      }
      if (!subject_ok) {
        return finish(http::status::unauthorized,
                      "failed to verify the certificate for edgenode: " + node +
                          ", err: request node name is not match with the certificate");
      }
    } else {
      info["auth"] = "token";
      std::string auth(req[http::field::authorization]);
      if (auth.empty()) {
        return finish(http::status::unauthorized, "token validation failure, token is empty");
      }
      size_t sp = auth.find(' ');
      if (sp == std::string::npos || auth.find(' ', sp + 1) != std::string::npos) {
        return finish(http::status::unauthorized,
                      "token validation failure, token cannot be splited");
      }
      int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      core::Status st = verifyJwt(auth.substr(sp + 1), pki_.ca_key_der, now);
      if (!st.ok()) {
        return finish(http::status::unauthorized, "token validation failure, err: " + st.message());
      }
    }
    auto subject = csrSubject(req.body());
    if (!subject.ok()) {
      return finish(http::status::bad_request, "failed to sign certs for edgenode " + node +
                                                   ", err: " + subject.status().message());
    }
    info["csr_cn"] = subject->common_name;
    info["csr_o"] = subject->organizations;
    if (opts_.enforce_csr_subject) {
      std::string want_cn = "system:node:" + (node.empty() ? opts_.node_name : node);
      bool ok = subject->common_name == want_cn && subject->organizations.size() == 1 &&
                subject->organizations[0] == "system:nodes";
      if (node.empty()) {
        record("violation", 0, "", std::nullopt, {{"why", "/edge.crt without NodeName header"}});
      }
      if (!ok) {
        record("violation", 0, node, std::nullopt,
               {{"why", "CSR subject is not CN=" + want_cn + ", O=system:nodes"},
                {"csr_cn", subject->common_name},
                {"csr_o", subject->organizations}});
        return finish(http::status::forbidden,
                      "CSR subject must be CN=" + want_cn + ", O=system:nodes");
      }
    }
    std::vector<int> usages{2};
    std::string usages_header(req["extkeyusages"]);
    if (!usages_header.empty()) {
      json u = json::parse(usages_header, nullptr, false);
      usages.clear();
      if (!u.is_array()) {
        return finish(http::status::internal_server_error,
                      "unmarshal http header ExtKeyUsages fail");
      }
      for (const auto& e : u) {
        if (!e.is_number_integer()) {
          return finish(http::status::internal_server_error,
                        "unmarshal http header ExtKeyUsages fail");
        }
        usages.push_back(e.get<int>());
      }
    }
    auto cert = signCsr(pki_, req.body(), usages, opts_.cert_validity);
    if (!cert.ok()) {
      return finish(
          http::status::internal_server_error,
          "failed to sign certs for edgenode " + node + ", err: " + cert.status().message());
    }
    {
      std::lock_guard lock(mu_);
      ++counters_.certs_issued;
    }
    info["issued_sha256"] = sha256Hex(*cert);
    return finish(http::status::ok, *cert, true);
  }

  asio::awaitable<void> controlAcceptLoop() {
    while (true) {
      auto op = control_acceptor_.async_accept(kTuple);
      auto [ec, socket] = co_await std::move(op);
      if (ec) {
        if (!control_acceptor_.is_open()) {
          co_return;
        }
        continue;
      }
      spawn(runControl(std::move(socket)), "control session");
    }
  }

  asio::awaitable<void> runControl(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    tcp::socket* raw = &stream.socket();
    http_sockets_.insert(raw);
    auto handler = [this](const http::request<http::string_body>& req) {
      return handleControl(req);
    };
    auto serving = serveHttp(stream, handler);
    co_await std::move(serving);
    http_sockets_.erase(raw);
  }

  http::response<http::string_body> jsonResponse(http::status st, const json& body) {
    return textResponse(st, body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                        "application/json");
  }

  http::response<http::string_body> handleControl(const http::request<http::string_body>& req);

 public:
  core::Result<std::string> sendJson(std::string_view body, Reliability r, std::string node) {
    auto msg = core::decodeMessage(body);
    if (!msg.ok()) {
      return msg.status();
    }
    return send(std::move(msg).value(), r, std::move(node));
  }

 private:
  Pki pki_;
  Options opts_;
  AnswerOptions answer_opts_;
  std::string sa_public_key_pem_;  // set in init(), then read-only
  asio::io_context ioc_;
  ssl::context ws_ctx_;
  ssl::context https_ctx_;
  tcp::acceptor ws_acceptor_;
  tcp::acceptor https_acceptor_;
  tcp::acceptor control_acceptor_;
  asio::steady_timer resend_timer_;
  uint16_t ws_port_ = 0, https_port_ = 0, control_port_ = 0;
  std::thread thread_;
  std::unique_ptr<StreamServer> stream_;  // CloudStream's tunnel server, when configured
  std::once_flag stop_once_;

  // io thread only
  std::map<uint64_t, std::shared_ptr<WsSession>> sessions_;
  std::map<std::string, uint64_t> node_session_;
  std::set<tcp::socket*> http_sockets_;
  uint64_t next_session_id_ = 0;

  // guarded by mu_
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  uint64_t generation_ = 0;
  int live_coroutines_ = 0;
  std::vector<Record> records_;
  uint64_t seq_ = 0;
  std::ofstream record_out_;
  Counters counters_;
  std::map<std::string, Pending> pending_;
  uint64_t pending_order_ = 0;
  std::map<std::string, int> ack_counts_;
  std::map<std::string, int> send_counts_;
  std::unordered_set<std::string> seen_ids_;
  std::set<std::string> connected_nodes_;
  size_t session_count_ = 0;
  bool silent_ = false;
  bool refuse_ = false;
  ObjectStore store_;
};

http::response<http::string_body> CloudSim::Impl::handleControl(
    const http::request<http::string_body>& req) {
  auto parsed = boost::urls::parse_origin_form(req.target());
  if (!parsed) {
    return jsonResponse(http::status::bad_request, {{"error", "bad target"}});
  }
  boost::urls::url_view url = *parsed;
  std::string path(url.path());
  auto method = req.method();
  auto ok = [&](json body) { return jsonResponse(http::status::ok, body); };
  auto fail = [&](const core::Status& st) {
    http::status code = st.code() == core::StatusCode::NotFound      ? http::status::not_found
                        : st.code() == core::StatusCode::Unavailable ? http::status::conflict
                                                                     : http::status::bad_request;
    return jsonResponse(code, {{"error", st.toString()}});
  };
  auto flag = [&]() {
    std::string on = queryParam(url, "on", "1");
    return on == "1" || on == "true" || on == "yes";
  };
  std::string node = queryParam(url, "node");
  Reliability rel = parseReliability(queryParam(url, "reliable", "auto"));

  if (path == "/status" && method == http::verb::get) {
    json nodes = json::array();
    {
      std::lock_guard lock(mu_);
      for (const auto& n : connected_nodes_) {
        nodes.push_back(n);
      }
    }
    return ok({{"ws_port", ws_port_},
               {"stream_port", stream_ ? stream_->port() : 0},
               {"https_port", https_port_},
               {"node", opts_.node_name},
               {"sessions", sessionCount()},
               {"connected_nodes", nodes},
               {"pending", pendingIds()},
               {"counters", counters().toJson()}});
  }
  if (path == "/records" && method == http::verb::get) {
    uint64_t since = std::strtoull(queryParam(url, "since", "0").c_str(), nullptr, 10);
    std::string ev = queryParam(url, "ev");
    json out = json::array();
    for (const auto& r : records(since)) {
      if (ev.empty() || r.ev == ev) {
        out.push_back(r.toJson());
      }
    }
    return ok(out);
  }
  if (path == "/acks" && method == http::verb::get) {
    return ok(ackCounts());
  }
  if (path == "/serviceaccount/public-key" && method == http::verb::get) {
    // For authenticators that verify the tokens (kube-apiserver's --service-account-key-file).
    return ok({{"pem", serviceAccountPublicKeyPem()},
               {"issuer", "https://kubernetes.default.svc.cluster.local"}});
  }
  if (path == "/serviceaccount/max-lifetime" && method == http::verb::post) {
    long seconds = std::strtol(queryParam(url, "seconds", "0").c_str(), nullptr, 10);
    if (seconds < 0) {
      return fail(core::invalidArgument("seconds must be >= 0 (0 = no cap)"));
    }
    setServiceAccountTokenMaxLifetime(std::chrono::seconds(seconds));
    return ok({{"max_lifetime_seconds", seconds}});
  }
  if (path == "/token" && method == http::verb::get) {
    long ttl = std::strtol(queryParam(url, "ttl", "86400").c_str(), nullptr, 10);
    return ok({{"token", makeToken(pki_, std::chrono::seconds(ttl))}});
  }
  if (path == "/send" && method == http::verb::post) {
    auto id = sendJson(req.body(), rel, node);
    return id.ok() ? ok({{"msg_id", *id}}) : fail(id.status());
  }
  if (path == "/raw" && method == http::verb::post) {
    // ?binary=1 for a binary frame; ?repeat=N sends the body N times in one frame (big frames
    // without a big request).
    bool binary = queryParam(url, "binary", "0") == "1";
    long repeat = std::strtol(queryParam(url, "repeat", "1").c_str(), nullptr, 10);
    if (repeat < 1 || static_cast<double>(repeat) * static_cast<double>(req.body().size()) >
                          256.0 * 1024 * 1024) {
      return fail(core::invalidArgument("repeat must be >= 1 and the frame at most 256 MiB"));
    }
    std::string payload;
    payload.reserve(req.body().size() * static_cast<size_t>(repeat));
    for (long i = 0; i < repeat; ++i) {
      payload += req.body();
    }
    size_t len = payload.size();
    core::Status st = sendRaw(std::move(payload), binary, node);
    return st.ok() ? ok({{"sent", len}}) : fail(st);
  }
  if (path == "/nodetask" && method == http::verb::post) {
    json spec = core::parseJsonBounded(req.body());
    if (spec.is_discarded())
      return fail(core::invalidArgument("the body must be the job's spec JSON"));
    auto msg = nodeTaskMessage(queryParam(url, "type"), queryParam(url, "job"),
                               node.empty() ? opts_.node_name : node,
                               queryParam(url, "action", "Check"), spec);
    if (!msg.ok()) return fail(msg.status());
    auto id = send(std::move(*msg), Reliability::Unreliable, node);
    return id.ok() ? ok({{"msg_id", *id}}) : fail(id.status());
  }
  if (path == "/nodetask/reports" && method == http::verb::get) {
    json out = json::array();
    for (const auto& r : cloudsim::nodeTaskReports(received(), queryParam(url, "job"))) {
      out.push_back(r.toJson());
    }
    return ok(out);
  }
  if (path == "/manifest" && method == http::verb::post) {
    auto id = sendManifest(req.body(), queryParam(url, "op", "insert"), rel, node);
    return id.ok() ? ok({{"msg_id", *id}}) : fail(id.status());
  }
  if (path == "/objects" && method == http::verb::get) {
    return ok(dumpObjects());
  }
  if (path == "/objects" && (method == http::verb::put || method == http::verb::post)) {
    auto obj = putObject(req.body());
    return obj.ok() ? ok(*obj) : fail(obj.status());
  }
  if (path.rfind("/objects/", 0) == 0 && method == http::verb::delete_) {
    // /objects/<type>/<ns>/<name> (ns ignored for cluster-scoped types)
    std::string rest = path.substr(9);
    size_t a = rest.find('/');
    size_t b = a == std::string::npos ? a : rest.find('/', a + 1);
    if (b == std::string::npos) {
      return fail(core::invalidArgument("want /objects/<type>/<ns>/<name>"));
    }
    bool erased =
        deleteObject(rest.substr(0, a), rest.substr(a + 1, b - a - 1), rest.substr(b + 1));
    return erased ? ok({{"deleted", true}}) : fail(core::notFound("no such object"));
  }
  if (path.rfind("/stream/", 0) == 0) {
    if (!stream_) {
      return jsonResponse(http::status::not_found, {{"error", "no stream server (--stream-port)"}});
    }
    std::map<std::string, std::string> query;
    for (auto p : url.params()) {
      query[std::string(p.key)] = std::string(p.value);
    }
    auto a = stream_->control(std::string(req.method_string()), path, query, req.body());
    http::response<http::string_body> res{static_cast<http::status>(a.status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(a.json);
    return res;
  }
  if (path == "/drop" && method == http::verb::post) {
    dropConnections();
    return ok({{"dropped", true}});
  }
  if (path == "/silent" && method == http::verb::post) {
    setSilent(flag());
    return ok({{"silent", flag()}});
  }
  if (path == "/refuse" && method == http::verb::post) {
    setRefuse(flag());
    return ok({{"refuse", flag()}});
  }
  return jsonResponse(http::status::not_found, {{"error", "no such endpoint"}});
}

// ------------------------------------------------------------------------------------------

core::Result<std::unique_ptr<CloudSim>> CloudSim::start(Pki pki, Options options) {
  auto impl = std::make_unique<Impl>(std::move(pki), std::move(options));
  EC_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<CloudSim>(new CloudSim(std::move(impl)));
}

CloudSim::CloudSim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CloudSim::~CloudSim() { stop(); }
void CloudSim::stop() { impl_->stop(); }
uint16_t CloudSim::wsPort() const { return impl_->wsPort(); }
uint16_t CloudSim::httpsPort() const { return impl_->httpsPort(); }
uint16_t CloudSim::controlPort() const { return impl_->controlPort(); }
StreamServer* CloudSim::stream() const { return impl_->stream(); }
const Pki& CloudSim::pki() const { return impl_->pki(); }
const Options& CloudSim::options() const { return impl_->options(); }
std::string CloudSim::token(std::chrono::seconds ttl) const { return makeToken(impl_->pki(), ttl); }
std::string CloudSim::serviceAccountPublicKeyPem() const {
  return impl_->serviceAccountPublicKeyPem();
}
void CloudSim::setServiceAccountTokenMaxLifetime(std::chrono::seconds max) {
  impl_->setServiceAccountTokenMaxLifetime(max);
}

core::Result<std::string> CloudSim::send(Message msg, Reliability reliability, std::string node) {
  return impl_->send(std::move(msg), reliability, std::move(node));
}
core::Status CloudSim::sendRaw(std::string payload, bool binary, std::string node) {
  return impl_->sendRaw(std::move(payload), binary, std::move(node));
}
core::Result<std::string> CloudSim::sendManifest(std::string_view manifest,
                                                 std::string_view operation,
                                                 Reliability reliability, std::string node) {
  return impl_->sendManifest(manifest, operation, reliability, std::move(node));
}
core::Result<json> CloudSim::putObject(std::string_view manifest) {
  return impl_->putObject(manifest);
}
bool CloudSim::deleteObject(std::string_view type, std::string_view ns, std::string_view name) {
  return impl_->deleteObject(type, ns, name);
}
std::optional<json> CloudSim::getObject(std::string_view type, std::string_view ns,
                                        std::string_view name) const {
  return impl_->getObject(type, ns, name);
}
void CloudSim::dropConnections() { impl_->dropConnections(); }
void CloudSim::setSilent(bool silent) { impl_->setSilent(silent); }
void CloudSim::setRefuseConnections(bool refuse) { impl_->setRefuse(refuse); }
size_t CloudSim::sessionCount() const { return impl_->sessionCount(); }
bool CloudSim::connected(std::string_view node) const { return impl_->connected(node); }
std::vector<Record> CloudSim::records(uint64_t after_seq) const {
  return impl_->records(after_seq);
}
uint64_t CloudSim::lastSeq() const { return impl_->lastSeq(); }
std::vector<Message> CloudSim::received() const { return impl_->received(); }
Counters CloudSim::counters() const { return impl_->counters(); }
int CloudSim::ackCount(std::string_view msg_id) const { return impl_->ackCount(msg_id); }
std::map<std::string, int> CloudSim::ackCounts() const { return impl_->ackCounts(); }
std::vector<std::string> CloudSim::pendingIds() const { return impl_->pendingIds(); }
int CloudSim::sendCount(std::string_view msg_id) const { return impl_->sendCount(msg_id); }

bool CloudSim::waitUntil(const std::function<bool()>& pred,
                         std::chrono::milliseconds timeout) const {
  return impl_->waitUntil(pred, timeout);
}

std::optional<Record> CloudSim::waitForRecord(const std::function<bool(const Record&)>& pred,
                                              std::chrono::milliseconds timeout,
                                              uint64_t after_seq) const {
  std::optional<Record> found;
  uint64_t scanned = after_seq;
  impl_->waitUntil(
      [&] {
        for (auto& r : impl_->records(scanned)) {
          scanned = r.seq;
          if (pred(r)) {
            found = std::move(r);
            return true;
          }
        }
        return false;
      },
      timeout);
  return found;
}

std::optional<Message> CloudSim::waitForMessage(const std::function<bool(const Message&)>& pred,
                                                std::chrono::milliseconds timeout,
                                                uint64_t after_seq) const {
  auto r = waitForRecord(
      [&](const Record& rec) { return rec.ev == "recv" && rec.msg && pred(*rec.msg); }, timeout,
      after_seq);
  if (!r) {
    return std::nullopt;
  }
  return r->msg;
}

}  // namespace edgecore::cloudsim
