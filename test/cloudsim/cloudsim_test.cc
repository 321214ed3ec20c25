// cloudsim checked from outside with a minimal raw client written here (not edgehub): Beast
// HTTPS for the certificate server and a Beast websocket over TLS for CloudHub.

#include "cloudsim.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "cloud_logic.h"
#include "edgecore/core/base64.h"
#include "pki.h"

namespace edgecore::cloudsim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using core::Message;
using nlohmann::json;
using namespace std::chrono_literals;

const Pki& testPki() {
  static const Pki pki = [] {
    auto p = generatePki("127.0.0.1");
    EXPECT_TRUE(p.ok());
    return *p;
  }();
  return pki;
}

std::string jwtOf(const std::string& token) { return token.substr(token.find('.') + 1); }

struct ClientCert {
  std::string cert_pem;
  std::string key_pem;
};

ssl::context clientContext(const Pki& pki, const ClientCert* cert) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.add_certificate_authority(asio::buffer(pki.ca_cert_pem));
  ctx.set_verify_mode(ssl::verify_peer);
  if (cert != nullptr) {
    ctx.use_certificate_chain(asio::buffer(cert->cert_pem));
    ctx.use_private_key(asio::buffer(cert->key_pem), ssl::context::pem);
  }
  return ctx;
}

struct HttpResult {
  int status = 0;
  std::string body;
};

// One GET to the certificate server (a body is allowed, as edgecore sends the CSR that way).
HttpResult httpsGet(const Pki& pki, uint16_t port, const std::string& path,
                    const std::map<std::string, std::string>& headers, const std::string& body = "",
                    const ClientCert* cert = nullptr) {
  asio::io_context ioc;
  ssl::context ctx = clientContext(pki, cert);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), "127.0.0.1");
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), "127.0.0.1");
  beast::get_lowest_layer(stream).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.handshake(ssl::stream_base::client);
  http::request<http::string_body> req{http::verb::get, path, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) {
    req.set(k, v);
  }
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  beast::error_code ec;
  stream.shutdown(ec);
  return {static_cast<int>(res.result_int()), res.body()};
}

// Bootstraps a client certificate the way an edge would: token + CSR -> DER cert.
ClientCert bootstrapCert(const CloudSim& sim, const std::string& node) {
  auto csr = makeCsrForTest({"system:node:" + node, {"system:nodes"}});
  EXPECT_TRUE(csr.ok());
  auto res = httpsGet(sim.pki(), sim.httpsPort(), "/edge.crt",
                      {{"Authorization", "Bearer " + jwtOf(sim.token())}, {"Nodename", node}},
                      csr->csr_der);
  EXPECT_EQ(res.status, 200) << res.body;
  return {certDerToPem(res.body), csr->key_pem};
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers goHeaders(const std::string& node) {
  // As Go puts them on the wire (canonicalised names, spec 9 item 1).
  return {
      {"Connectionuse", "msg"}, {"Node_id", node}, {"Project_id", std::string(kDefaultProjectId)}};
}

// A minimal websocket edge: frames read by a background thread into a queue.
class RawEdge {
 public:
  RawEdge(const Pki& pki, const ClientCert* cert)
      : ctx_(clientContext(pki, cert)), ws_(ioc_, ctx_) {}
  ~RawEdge() {
    beast::error_code ec;
    asio::post(ioc_, [this] {
      beast::error_code e;
      beast::get_lowest_layer(ws_).socket().close(e);
    });
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  // Connects; on an HTTP refusal returns the status and body in `refusal`.
  beast::error_code connect(uint16_t port, const Headers& headers, std::string* refusal = nullptr,
                            const std::string& node = "edge-1") {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                         ec);
    if (ec) {
      return ec;
    }
    SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), "127.0.0.1");
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ws_.next_layer().native_handle()), "127.0.0.1");
    ws_.next_layer().handshake(ssl::stream_base::client, ec);
    if (ec) {
      return ec;
    }
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [k, v] : headers) {
        req.set(k, v);
      }
    }));
    websocket::response_type res;
    ws_.handshake(res, "127.0.0.1", "/" + std::string(kDefaultProjectId) + "/" + node + "/events",
                  ec);
    if (ec) {
      if (refusal != nullptr) {
        *refusal = std::to_string(res.result_int()) + " " + res.body();
      }
      return ec;
    }
    ws_.text(true);
    startReading();
    thread_ = std::thread([this] { ioc_.run(); });
    return {};
  }

  // Writes one text frame (with the trailing "\n" Go's encoder adds, unless told otherwise).
  void sendRaw(std::string payload) {
    std::promise<beast::error_code> done;
    asio::post(ioc_, [&] {
      beast::error_code ec;
      ws_.write(asio::buffer(payload), ec);
      done.set_value(ec);
    });
    EXPECT_FALSE(done.get_future().get());
  }
  void send(const Message& m) { sendRaw(core::encodeMessage(m) + "\n"); }
  void ack(const Message& m) {
    Message a = m.makeResponse("OK");
    a.route.operation = "response";
    send(a);
  }
  void keepalive() { send(Message::create("websocket", "resource", "keepalive", "node", "ping")); }

  // The next frame, or nullopt after `timeout` or when the connection ended.
  std::optional<Message> next(std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !frames_.empty() || ended_; }) ||
        frames_.empty()) {
      return std::nullopt;
    }
    std::string f = std::move(frames_.front());
    frames_.pop_front();
    auto m = core::decodeMessage(f);
    EXPECT_TRUE(m.ok()) << f;
    EXPECT_EQ(f.back(), '\n');
    return m.ok() ? std::optional<Message>(*m) : std::nullopt;
  }
  // Next frame matching pred (others are skipped).
  std::optional<Message> nextMatching(const std::function<bool(const Message&)>& pred,
                                      std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        return std::nullopt;
      }
      auto m = next(left);
      if (!m || pred(*m)) {
        return m;
      }
    }
  }
  bool waitEnded(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ended_; });
  }
  beast::error_code endError() {
    std::lock_guard lock(mu_);
    return end_ec_;
  }

 private:
  void startReading() {
    ws_.async_read(buf_, [this](beast::error_code ec, size_t) {
      std::lock_guard lock(mu_);
      if (ec) {
        ended_ = true;
        end_ec_ = ec;
        cv_.notify_all();
        return;
      }
      frames_.push_back(beast::buffers_to_string(buf_.data()));
      buf_.consume(buf_.size());
      cv_.notify_all();
      startReading();
    });
  }

  asio::io_context ioc_;
  ssl::context ctx_;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buf_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> frames_;
  bool ended_ = false;
  beast::error_code end_ec_;
};

class CloudSimTest : public ::testing::Test {
 protected:
  void SetUp() override { startSim(Options{}); }

  void startSim(Options opts) {
    sim_.reset();
    opts.node_name = "edge-1";
    opts.keepalive_timeout = opts.keepalive_timeout == 30000ms ? 10s : opts.keepalive_timeout;
    opts.resend_interval = opts.resend_interval == 5000ms ? 200ms : opts.resend_interval;
    auto sim = CloudSim::start(testPki(), opts);
    ASSERT_TRUE(sim.ok()) << sim.status().toString();
    sim_ = std::move(sim).value();
  }

  // A connected edge with a certificate from the cert server.
  std::unique_ptr<RawEdge> connectEdge(const std::string& node = "edge-1") {
    cert_ = bootstrapCert(*sim_, node);
    auto edge = std::make_unique<RawEdge>(sim_->pki(), &cert_);
    auto ec = edge->connect(sim_->wsPort(), goHeaders(node), nullptr, node);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(sim_->waitUntil([&] { return sim_->connected(node); }, 3s));
    return edge;
  }

  std::unique_ptr<CloudSim> sim_;
  ClientCert cert_;
};

// ---------------------------------------------------------------- certificate server

TEST_F(CloudSimTest, CaIsServedAsDerAndMatchesTheTokenHash) {
  auto res = httpsGet(sim_->pki(), sim_->httpsPort(), "/ca.crt", {});
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.body, sim_->pki().ca_cert_der);
  const auto* p = reinterpret_cast<const unsigned char*>(res.body.data());
  X509* ca = d2i_X509(nullptr, &p, static_cast<long>(res.body.size()));
  ASSERT_NE(ca, nullptr);
  X509_free(ca);
  std::string token = sim_->token();
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 3);
  EXPECT_EQ(token.substr(0, token.find('.')), sha256Hex(res.body));
}

TEST_F(CloudSimTest, GoodTokenGetsADerClientCertificateForTheCsrSubject) {
  auto csr = makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
  ASSERT_TRUE(csr.ok());
  auto res = httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt",
                      {{"authorization", "Bearer " + jwtOf(sim_->token())}, {"NODENAME", "edge-1"}},
                      csr->csr_der);
  ASSERT_EQ(res.status, 200) << res.body;
  const auto* p = reinterpret_cast<const unsigned char*>(res.body.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(res.body.size()));
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT, XKU_SSL_CLIENT);
  EXPECT_EQ(X509_get_key_usage(cert),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  EXPECT_EQ(days, 365);
  X509_free(cert);
  auto subject = certSubject(res.body);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(subject->common_name, "system:node:edge-1");
  EXPECT_EQ(subject->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(sim_->counters().certs_issued, 1u);
}

TEST_F(CloudSimTest, BadMissingOrExpiredTokensAre401) {
  auto csr = makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
  ASSERT_TRUE(csr.ok());
  auto get = [&](const std::map<std::string, std::string>& h) {
    return httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt", h, csr->csr_der).status;
  };
  std::string good = jwtOf(sim_->token());
  std::string bad_sig = good.substr(0, good.rfind('.') + 1) + base64UrlEncode(std::string(32, 'x'));
  std::string other_key = makeJwt("not the CA key", 4102444800);
  std::string expired = jwtOf(makeToken(sim_->pki(), -60s));
  EXPECT_EQ(get({{"Nodename", "edge-1"}}), 401);
  EXPECT_EQ(get({{"Authorization", "Bearer " + bad_sig}, {"Nodename", "edge-1"}}), 401);
  EXPECT_EQ(get({{"Authorization", "Bearer " + other_key}, {"Nodename", "edge-1"}}), 401);
  EXPECT_EQ(get({{"Authorization", "Bearer " + expired}, {"Nodename", "edge-1"}}), 401);
  EXPECT_EQ(get({{"Authorization", good}, {"Nodename", "edge-1"}}), 401);  // no "Bearer "
  EXPECT_EQ(get({{"Authorization", "Bearer " + good}, {"Nodename", "edge-1"}}), 200);
  EXPECT_TRUE(verifyJwt(good, sim_->pki().ca_key_der, 0).ok());
  EXPECT_EQ(verifyJwt(expired, sim_->pki().ca_key_der, 4102444800).message(), "token is expired");
}

TEST_F(CloudSimTest, CsrSubjectIsEnforcedAndGarbageIsRefused) {
  auto h = std::map<std::string, std::string>{{"Authorization", "Bearer " + jwtOf(sim_->token())},
                                              {"Nodename", "edge-1"}};
  auto legacy = makeCsrForTest({"kubeedge.io", {"kubeEdge"}});
  auto other_node = makeCsrForTest({"system:node:edge-2", {"system:nodes"}});
  ASSERT_TRUE(legacy.ok() && other_node.ok());
  EXPECT_EQ(httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt", h, legacy->csr_der).status, 403);
  EXPECT_EQ(httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt", h, other_node->csr_der).status,
            403);
  EXPECT_EQ(httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt", h, "not a csr").status, 400);
  EXPECT_GE(sim_->counters().violations, 2u);
}

TEST_F(CloudSimTest, RotationWithTheCurrentClientCertificateNeedsNoToken) {
  ClientCert current = bootstrapCert(*sim_, "edge-1");
  auto csr = makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
  ASSERT_TRUE(csr.ok());
  auto res = httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt", {{"Nodename", "edge-1"}},
                      csr->csr_der, &current);
  EXPECT_EQ(res.status, 200) << res.body;
  // The certificate must name the node in the header.
  auto csr2 = makeCsrForTest({"system:node:edge-2", {"system:nodes"}});
  res = httpsGet(sim_->pki(), sim_->httpsPort(), "/edge.crt", {{"Nodename", "edge-2"}},
                 csr2->csr_der, &current);
  EXPECT_EQ(res.status, 401);
}

// ---------------------------------------------------------------- websocket session

TEST_F(CloudSimTest, HeadersAreCheckedCaseInsensitivelyAndMissingOnesRefused) {
  ClientCert cert = bootstrapCert(*sim_, "edge-1");
  struct Case {
    Headers headers;
    std::string reason;
  };
  std::vector<Case> cases = {
      {{{"Project_id", std::string(kDefaultProjectId)}, {"Connectionuse", "msg"}},
       "missing node_id header"},
      {{{"Node_id", "edge-1"}, {"Project_id", std::string(kDefaultProjectId)}},
       "missing ConnectionUse header"},
      {{{"Node_id", "edge-1"},
        {"Project_id", std::string(kDefaultProjectId)},
        {"ConnectionUse", "str"}},
       "ConnectionUse is not msg: str"},
  };
  for (const auto& c : cases) {
    RawEdge edge(sim_->pki(), &cert);
    std::string refusal;
    auto ec = edge.connect(sim_->wsPort(), c.headers, &refusal);
    EXPECT_TRUE(ec) << c.reason;
    EXPECT_NE(refusal.find("400"), std::string::npos) << refusal;
    auto rec = sim_->waitForRecord(
        [&](const Record& r) { return r.ev == "ws_reject" && r.detail["reason"] == c.reason; }, 2s);
    EXPECT_TRUE(rec) << c.reason;
  }
  EXPECT_EQ(sim_->sessionCount(), 0u);
  // Spec spelling in another case works too.
  RawEdge ok(sim_->pki(), &cert);
  EXPECT_FALSE(ok.connect(sim_->wsPort(), {{"NODE_ID", "edge-1"},
                                           {"project_id", std::string(kDefaultProjectId)},
                                           {"connectionUse", "msg"}}));
  EXPECT_TRUE(sim_->waitUntil([&] { return sim_->sessionCount() == 1; }, 2s));
}

TEST_F(CloudSimTest, TlsWithoutAClientCertificateIsRefused) {
  RawEdge edge(sim_->pki(), nullptr);
  EXPECT_TRUE(edge.connect(sim_->wsPort(), goHeaders("edge-1")));
  EXPECT_TRUE(sim_->waitForRecord([](const Record& r) { return r.ev == "ws_reject"; }, 2s));
  EXPECT_EQ(sim_->counters().sessions_opened, 0u);
}

TEST_F(CloudSimTest, KeepaliveTimeoutDropsAnIdleSessionButNotALiveOne) {
  Options o;
  o.keepalive_timeout = 400ms;
  startSim(o);
  auto idle = connectEdge();
  EXPECT_TRUE(idle->waitEnded(3s));
  EXPECT_TRUE(sim_->waitForRecord([](const Record& r) { return r.ev == "keepalive_timeout"; }, 1s));
  EXPECT_EQ(sim_->counters().keepalive_timeouts, 1u);

  auto live = connectEdge();
  for (int i = 0; i < 8; ++i) {  // 8 x 150 ms = 1.2 s, three timeouts' worth
    live->keepalive();
    EXPECT_FALSE(live->waitEnded(150ms));
  }
  EXPECT_EQ(sim_->counters().keepalive_timeouts, 1u);
  EXPECT_GE(sim_->counters().keepalives, 8u);
}

TEST_F(CloudSimTest, ReliableMessageIsResentUntilAckedThenNeverAgain) {
  auto edge = connectEdge();
  auto id = sim_->sendManifest(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"cm1","namespace":"default"},"data":{"k":"v"}})",
                               "insert");
  ASSERT_TRUE(id.ok());
  auto first = edge->nextMatching([&](const Message& m) { return m.header.id == *id; });
  ASSERT_TRUE(first);
  EXPECT_EQ(first->route.resource, "default/configmap/cm1");
  EXPECT_EQ(first->route.source, "edgecontroller");
  EXPECT_EQ(first->route.group, "resource");
  EXPECT_EQ(first->route.operation, "insert");
  EXPECT_FALSE(first->header.resource_version.empty());
  auto again = edge->nextMatching([&](const Message& m) { return m.header.id == *id; }, 2s);
  ASSERT_TRUE(again);  // resent after 200 ms without an ACK
  EXPECT_EQ(again->content, first->content);
  edge->ack(*first);
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->ackCount(*id) == 1; }, 2s));
  EXPECT_TRUE(sim_->pendingIds().empty());
  int sends = sim_->sendCount(*id);
  // Four resend intervals later nothing more came (frames already queued may still drain).
  auto late = edge->nextMatching([&](const Message& m) { return m.header.id == *id; }, 800ms);
  EXPECT_LE(sim_->sendCount(*id), sends);
  if (late) {
    EXPECT_FALSE(edge->nextMatching([&](const Message& m) { return m.header.id == *id; }, 600ms));
  }
  EXPECT_EQ(sim_->ackCount(*id), 1);
}

TEST_F(CloudSimTest, ReliableMessageQueuedOfflineIsDeliveredOnConnect) {
  auto id = sim_->sendManifest(
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
      "  namespace: ns1\ndata:\n  k: dg==\n",
      "update");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(sim_->pendingIds(), std::vector<std::string>{*id});
  Message unreliable = Message::create("edgecontroller", "resource", "update", "default/pod/x");
  EXPECT_EQ(sim_->send(unreliable, Reliability::Unreliable).status().code(),
            core::StatusCode::Unavailable);
  auto edge = connectEdge();
  auto m = edge->nextMatching([&](const Message& x) { return x.header.id == *id; });
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route.resource, "ns1/secret/s1");
  EXPECT_EQ(m->content["data"]["k"], "dg==");
}

TEST_F(CloudSimTest, QueriesAreAnsweredWithSpecShapes) {
  ASSERT_TRUE(sim_->putObject(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"cm1","namespace":"default"},"data":{"k":"v"}})")
                  .ok());
  auto edge = connectEdge();
  auto ask = [&](std::string op, std::string res, json content = nullptr) {
    Message q = Message::create("edged", "meta", op, res, content);
    edge->send(q);
    auto a =
        edge->nextMatching([&](const Message& m) { return m.header.parent_id == q.header.id; });
    EXPECT_TRUE(a) << res;
    return a.value_or(Message{});
  };
  Message cm = ask("query", "default/configmap/cm1");
  EXPECT_EQ(cm.route.operation, "response");
  EXPECT_EQ(cm.route.source, "edgecontroller");
  EXPECT_EQ(cm.route.group, "resource");
  EXPECT_EQ(cm.route.resource, "default/configmap/cm1");
  EXPECT_EQ(cm.content["kind"], "ConfigMap");
  EXPECT_EQ(cm.content["data"]["k"], "v");
  EXPECT_EQ(cm.header.resource_version, cm.content["metadata"]["resourceVersion"]);
  EXPECT_EQ(sim_->pendingIds(), std::vector<std::string>{cm.header.id});  // reliable: needs ACK
  edge->ack(cm);
  EXPECT_TRUE(sim_->waitUntil([&] { return sim_->pendingIds().empty(); }, 2s));

  Message missing = ask("query", "default/secret/nope");
  EXPECT_EQ(missing.content["ErrStatus"]["reason"], "NotFound");
  EXPECT_EQ(missing.content["ErrStatus"]["code"], 404);
  EXPECT_EQ(missing.content["ErrStatus"]["message"], "secrets \"nope\" not found");
  EXPECT_TRUE(sim_->pendingIds().empty());  // errors are not reliable

  Message lease_q = ask("query", "kube-node-lease/lease/edge-1");
  EXPECT_TRUE(lease_q.content.contains("Object"));
  EXPECT_EQ(lease_q.content["Err"]["ErrStatus"]["reason"], "NotFound");
  // Leases as kube-apiserver keeps them: an update needs the resourceVersion handed out last.
  json lease = {{"metadata", {{"name", "edge-1"}, {"namespace", "kube-node-lease"}}},
                {"spec", {{"holderIdentity", "edge-1"}}}};
  EXPECT_EQ(
      ask("update", "kube-node-lease/lease/edge-1", lease).content["Err"]["ErrStatus"]["reason"],
      "NotFound");
  Message created = ask("insert", "kube-node-lease/lease/edge-1", lease);
  ASSERT_EQ(created.content["Err"], nullptr);
  EXPECT_EQ(
      ask("update", "kube-node-lease/lease/edge-1", lease).content["Err"]["ErrStatus"]["reason"],
      "Invalid");
  json stale = created.content["Object"];
  stale["metadata"]["resourceVersion"] = "1";
  EXPECT_EQ(
      ask("update", "kube-node-lease/lease/edge-1", stale).content["Err"]["ErrStatus"]["reason"],
      "Conflict");
  Message renewed = ask("update", "kube-node-lease/lease/edge-1", created.content["Object"]);
  EXPECT_EQ(renewed.content["Err"], nullptr);
  EXPECT_NE(renewed.content["Object"]["metadata"]["resourceVersion"],
            created.content["Object"]["metadata"]["resourceVersion"]);

  json node = {
      {"metadata", {{"name", "edge-1"}, {"labels", {{"node-role.kubernetes.io/edge", ""}}}}},
      {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  Message ins = ask("insert", "default/node/edge-1", node);
  EXPECT_EQ(ins.content["Err"], nullptr);
  EXPECT_EQ(ins.content["Object"]["metadata"]["name"], "edge-1");
  Message patched = ask("patch", "default/nodepatch/edge-1", "{}");
  EXPECT_EQ(patched.content["Err"], nullptr);
  EXPECT_EQ(patched.content["Object"]["status"]["conditions"][0]["type"], "Ready");
  Message got = ask("query", "default/node/edge-1");
  EXPECT_EQ(got.content["metadata"]["name"], "edge-1");
  EXPECT_FALSE(got.header.resource_version.empty());

  Message ca = ask("query", "k8s/ca.crt");
  EXPECT_EQ(ca.content, sim_->pki().ca_cert_pem);
  EXPECT_EQ(ca.route.source, "cloudhub");
  EXPECT_TRUE(sim_->pendingIds().empty());
}

// MetaServer's serving-certificate CSR (requireAuthorization): insert answers an ObjectResp of
// the created object (edgecontroller processCSR), a kubelet-serving CSR is approved and signed
// with the cloud's CA, a query returns the object with status.certificate (queryInner); any
// other signer stays pending.
TEST_F(CloudSimTest, CertificateSigningRequestsAreIssuedLikeTheRealCloud) {
  auto edge = connectEdge();
  auto ask = [&](std::string op, std::string res, json content = nullptr) {
    Message q = Message::create("edged", "meta", op, res, content);
    edge->send(q);
    auto a =
        edge->nextMatching([&](const Message& m) { return m.header.parent_id == q.header.id; });
    EXPECT_TRUE(a) << res;
    return a.value_or(Message{});
  };
  auto csr = makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
  ASSERT_TRUE(csr.ok());
  // PEM wraps base64 at 64 columns.
  std::string body = core::base64Encode(csr->csr_der), wrapped;
  for (size_t i = 0; i < body.size(); i += 64) wrapped += body.substr(i, 64) + "\n";
  std::string pem =
      "-----BEGIN CERTIFICATE REQUEST-----\n" + wrapped + "-----END CERTIFICATE REQUEST-----\n";
  json object = {{"kind", "CertificateSigningRequest"},
                 {"apiVersion", "certificates.k8s.io/v1"},
                 {"metadata", {{"name", "csr-abcde"}}},
                 {"spec",
                  {{"request", core::base64Encode(pem)},
                   {"signerName", "kubernetes.io/kubelet-serving"},
                   {"usages", {"digital signature", "key encipherment", "server auth"}}}}};
  Message created = ask("insert", "default/certificatesigningrequest/csr-abcde", object);
  EXPECT_EQ(created.route.source, "edgecontroller");
  EXPECT_EQ(created.route.operation, "response");
  EXPECT_EQ(created.content["Err"], nullptr);
  EXPECT_EQ(created.content["Object"]["metadata"]["name"], "csr-abcde");
  EXPECT_FALSE(created.content["Object"]["metadata"].value("uid", "").empty());
  // The same name again: AlreadyExists, as the API answers.
  Message again = ask("insert", "default/certificatesigningrequest/csr-abcde", object);
  EXPECT_EQ(again.content["Err"]["ErrStatus"]["reason"], "AlreadyExists");

  Message got = ask("query", "default/certificatesigningrequest/csr-abcde");
  EXPECT_EQ(got.content["kind"], "CertificateSigningRequest");
  EXPECT_EQ(got.content["apiVersion"], "certificates.k8s.io/v1");
  EXPECT_FALSE(got.header.resource_version.empty());
  EXPECT_EQ(got.content["status"]["conditions"][0]["type"], "Approved");
  auto cert_pem = core::base64Decode(got.content["status"].value("certificate", ""));
  ASSERT_TRUE(cert_pem);
  auto der = certPemToDer(*cert_pem);
  ASSERT_TRUE(der.ok());
  auto subject = certSubject(*der);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(subject->common_name, "system:node:edge-1");

  // Not a kubelet-serving request: created, never approved.
  object["metadata"]["name"] = "csr-other";
  object["spec"]["signerName"] = "example.com/other";
  EXPECT_EQ(ask("insert", "default/certificatesigningrequest/csr-other", object).content["Err"],
            nullptr);
  Message pending = ask("query", "default/certificatesigningrequest/csr-other");
  EXPECT_FALSE(pending.content["status"].contains("certificate"));
  Message missing = ask("query", "default/certificatesigningrequest/nope");
  EXPECT_EQ(missing.content["ErrStatus"]["reason"], "NotFound");
}

TEST_F(CloudSimTest, DropClosesTcpWithoutACloseFrame) {
  auto edge = connectEdge();
  sim_->dropConnections();
  ASSERT_TRUE(edge->waitEnded(3s));
  EXPECT_NE(edge->endError(), websocket::error::closed);  // no close frame was sent
  EXPECT_TRUE(sim_->waitUntil([&] { return sim_->sessionCount() == 0 && !sim_->connected(); }, 2s));
  auto again = connectEdge();  // and the edge may come back
  EXPECT_EQ(sim_->sessionCount(), 1u);
}

TEST_F(CloudSimTest, SilentModeNeitherReadsNorWritesNorTimesOut) {
  Options o;
  o.keepalive_timeout = 600ms;  // room for a loaded machine between connect and first keepalive
  startSim(o);
  auto edge = connectEdge();
  edge->keepalive();
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->counters().keepalives == 1; }, 2s));
  sim_->setSilent(true);
  uint64_t mark = sim_->lastSeq();
  auto id = sim_->sendManifest(R"({"kind":"ConfigMap","metadata":{"name":"c"}})", "insert");
  ASSERT_TRUE(id.ok());
  for (int i = 0; i < 5; ++i) {
    edge->keepalive();
  }
  EXPECT_FALSE(edge->next(1500ms));  // nothing written, no timeout drop: 2.5 timeouts' worth
  EXPECT_FALSE(edge->waitEnded(1ms));
  EXPECT_EQ(sim_->counters().keepalive_timeouts, 0u);
  for (const auto& r : sim_->records(mark)) {
    EXPECT_NE(r.ev, "recv");
  }
  EXPECT_EQ(sim_->sessionCount(), 1u);
  sim_->dropConnections();
  EXPECT_TRUE(edge->waitEnded(3s));
}

TEST_F(CloudSimTest, RefuseModeClosesNewConnectionsBeforeTls) {
  ClientCert cert = bootstrapCert(*sim_, "edge-1");
  sim_->setRefuseConnections(true);
  RawEdge edge(sim_->pki(), &cert);
  EXPECT_TRUE(edge.connect(sim_->wsPort(), goHeaders("edge-1")));
  EXPECT_EQ(sim_->counters().sessions_refused, 1u);
  sim_->setRefuseConnections(false);
  RawEdge edge2(sim_->pki(), &cert);
  EXPECT_FALSE(edge2.connect(sim_->wsPort(), goHeaders("edge-1")));
}

TEST_F(CloudSimTest, RecordsEveryUpstreamFrameAndCountsViolations) {
  std::string file =
      ::testing::TempDir() + "cloudsim_record_" + std::to_string(::getpid()) + ".jsonl";
  std::filesystem::remove(file);
  Options o;
  o.record_file = file;
  startSim(o);
  auto edge = connectEdge();
  Message ka = Message::create("websocket", "resource", "keepalive", "node", "ping");
  edge->send(ka);
  edge->sendRaw(core::encodeMessage(
      Message::create("twin", "resource", "get", "membership/detail", "{}")));  // no "\n"
  edge->sendRaw("this is not json\n");
  edge->sendRaw(R"({"header":{"msg_id":7},"route":{},"content":null})");
  Message prefixed = Message::create("edged", "meta", "query", "node/edge-1/default/configmap/x");
  edge->send(prefixed);
  // The frame counter moves before the frame is recorded: wait for both (and the verdicts).
  ASSERT_TRUE(sim_->waitUntil(
      [&] {
        return sim_->counters().frames_in == 5 && sim_->received().size() == 3 &&
               sim_->counters().violations == 3;
      },
      3s));
  auto received = sim_->received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0], ka);
  EXPECT_EQ(received[1].route.resource, "membership/detail");
  auto recs = sim_->records();
  auto recv_it = std::find_if(recs.begin(), recs.end(), [](const Record& r) {
    return r.ev == "recv" && r.msg->route.resource == "membership/detail";
  });
  ASSERT_NE(recv_it, recs.end());
  EXPECT_EQ(recv_it->detail["nl"], false);
  EXPECT_EQ(sim_->counters().violations, 3u);  // not JSON, wrong type, node/ prefix
  EXPECT_EQ(sim_->sessionCount(), 1u);         // bad frames do not end the session

  sim_->stop();
  std::ifstream in(file);
  std::string line;
  int recv_lines = 0, violation_lines = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    recv_lines += j["ev"] == "recv";
    violation_lines += j["ev"] == "violation";
    if (j["ev"] == "recv" && j["msg"]["route"]["operation"] == "keepalive") {
      EXPECT_EQ(j["msg"]["content"], "ping");
    }
  }
  EXPECT_EQ(recv_lines, 3);
  EXPECT_EQ(violation_lines, 3);
  std::filesystem::remove(file);
}

// ---------------------------------------------------------------- pure logic

TEST(CloudLogicTest, AckRequiredFollowsCloudHubRules) {
  auto m = [](std::string src, std::string op, std::string res, std::string rv,
              json content = nullptr) {
    Message x = Message::create(src, "resource", op, res, content);
    x.header.resource_version = rv;
    return x;
  };
  EXPECT_TRUE(ackRequired(m("edgecontroller", "insert", "default/pod/p", "5"), false));
  EXPECT_FALSE(ackRequired(m("edgecontroller", "insert", "default/pod/p", ""), false));
  EXPECT_TRUE(ackRequired(m("edgecontroller", "delete", "default/pod/p", ""), false));
  EXPECT_FALSE(ackRequired(m("edgecontroller", "response", "default/node/n", "5"), false));
  EXPECT_FALSE(
      ackRequired(m("edgecontroller", "response", "default/configmap/c", "5", "OK"), false));
  EXPECT_FALSE(ackRequired(m("edgecontroller", "response", "default/configmap/c", "5"), true));
  EXPECT_TRUE(ackRequired(m("edgecontroller", "response", "default/configmap/c", "5"), false));
  EXPECT_FALSE(ackRequired(m("devicecontroller", "update", "membership", "5"), false));
  EXPECT_FALSE(
      ackRequired(m("edgecontroller", "response", "default/serviceaccounttoken/s", "5"), false));
  EXPECT_EQ(trimResource("node/edge-1/default/pod/p"), "default/pod/p");
  EXPECT_EQ(trimResource("node/edge-1/membership"), "membership");
  EXPECT_EQ(trimResource("upgrade/job/node/edge-1"), "upgrade/job/node/edge-1");
}

TEST(CloudLogicTest, StatusPatchMergesConditionsByTypeAndReplacesOtherLists) {
  json pod = {{"status",
               {{"conditions", json::array({{{"type", "Ready"}, {"status", "False"}},
                                            {{"type", "Initialized"}, {"status", "True"}}})},
                {"containerStatuses",
                 json::array({{{"name", "c"}, {"state", {{"waiting", json::object()}}}}})}}}};
  json patch = {{"status",
                 {{"$setElementOrder/conditions", json::array()},
                  {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})},
                  {"containerStatuses",
                   json::array({{{"name", "c"}, {"state", {{"running", json::object()}}}}})}}}};
  json out = applyStatusPatch(pod, patch);
  EXPECT_EQ(out["status"]["conditions"].size(), 2u);
  EXPECT_EQ(out["status"]["conditions"][0]["status"], "True");
  EXPECT_FALSE(out["status"]["containerStatuses"][0]["state"].contains("waiting"));
  EXPECT_FALSE(out["status"].contains("$setElementOrder/conditions"));
}

TEST(CloudLogicTest, InitPkiWritesLoadableFilesAndIpv6Sans) {
  std::string dir = ::testing::TempDir() + "cloudsim_pki_" + std::to_string(::getpid());
  auto pki = initPki(dir, "edge-9", "::1");
  ASSERT_TRUE(pki.ok()) << pki.status().toString();
  auto loaded = loadPki(dir);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->ca_cert_der, pki->ca_cert_der);
  EXPECT_EQ(loaded->ca_key_der, pki->ca_key_der);
  std::ifstream tf(dir + "/token");
  std::string token;
  std::getline(tf, token);
  EXPECT_EQ(token.substr(0, 64), sha256Hex(pki->ca_cert_der));
  EXPECT_TRUE(verifyJwt(jwtOf(token), loaded->ca_key_der, 0).ok());
  auto der = certPemToDer(pki->server_cert_pem);
  ASSERT_TRUE(der.ok());
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  X509_free(cert);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgecore::cloudsim
