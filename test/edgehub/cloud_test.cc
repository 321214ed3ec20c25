// edgehub against the cloud simulator (test/cloudsim/) over real TLS on loopback, ports 0.
// Suites are named Cloud* so ctest labels them `integration`.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "cloudsim.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/edgehub/module.h"
#include "edgecore/metaserver/bus_cloud_forwarder.h"
#include "pki.h"
#include "util/wait.h"

namespace edgecore::edgehub {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::Message;
using nlohmann::json;
using testing::waitFor;

constexpr std::string_view kNode = "edge-1";

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("edgehub-cloud-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Messages a stand-in module received.
class Inbox {
 public:
  void add(Message m) {
    std::lock_guard lock(mu_);
    msgs_.push_back(std::move(m));
  }
  std::vector<Message> all() const {
    std::lock_guard lock(mu_);
    return msgs_;
  }
  bool has(const std::function<bool(const Message&)>& pred) const {
    std::lock_guard lock(mu_);
    return std::any_of(msgs_.begin(), msgs_.end(), pred);
  }

 private:
  mutable std::mutex mu_;
  std::vector<Message> msgs_;
};

asio::awaitable<void> doRequest(core::Bus* bus, Message msg,
                                std::promise<core::Result<Message>>* out) {
  auto op = bus->request(core::names::kEdgeHubModule, std::move(msg), 5s);
  auto result = co_await std::move(op);
  out->set_value(std::move(result));
}

// The edge side: an io_context on two threads, the bus, stand-in twin and meta modules, and
// edgehub instances created and stopped on demand.
class EdgeRig {
 public:
  explicit EdgeRig(const TempDir& dir)
      : dir_(dir),
        work_(asio::make_work_guard(ioc_)),
        bus_(ioc_),
        log_sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_)),
        loggers_(spdlog::level::info, log_sink_),
        strand_(asio::make_strand(ioc_)),
        standin_strand_(asio::make_strand(ioc_)) {
    cfg_ = core::defaultConfig(core::HostInfo{std::string(kNode), "127.0.0.1"});
    cfg_.database.data_source = dir.file("db/edgecore.db");
    auto& hub = cfg_.modules.edge_hub;
    hub.heartbeat = 2s;
    hub.tls_ca_file = dir.file("ca/rootCA.crt");
    hub.tls_cert_file = dir.file("certs/server.crt");
    hub.tls_private_key_file = dir.file("certs/server.key");
    hub.rotate_certificates = false;
    (void)bus_.subscribe("twin", "twin", standin_strand_, [this](Message m) { twin_.add(m); });
    (void)bus_.subscribe("metamanager", "meta", standin_strand_, [this](Message m) {
      if (ack_inserts_ && m.route.operation == "insert" && m.route.source == "edgecontroller") {
        (void)bus_.send(core::names::kEdgeHubModule, m.makeResponse("OK"));  // as metamanager
      }
      meta_.add(std::move(m));
    });
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }
  ~EdgeRig() {
    stopHub();
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
    blocking_.join();
  }

  core::EdgeCoreConfig& config() { return cfg_; }
  // The meta stand-in ACKs cloud inserts, as metamanager does once they are stored.
  void ackInserts(bool on) { ack_inserts_ = on; }
  void pointAt(const cloudsim::CloudSim& sim) {
    cfg_.modules.edge_hub.websocket.server = "127.0.0.1:" + std::to_string(sim.wsPort());
    cfg_.modules.edge_hub.http_server = "https://127.0.0.1:" + std::to_string(sim.httpsPort());
  }

  void startHub(std::string config_path = "", EdgeHubOptions options = {}) {
    options.initial_backoff = 300ms;
    core::ModuleContext ctx{strand_, bus_, cfg_, loggers_.make("edgehub"), clock_, blocking_};
    auto hub = createEdgeHub(ctx, std::move(config_path), options);
    ASSERT_TRUE(hub.ok()) << hub.status().toString();
    hub_ = std::move(hub).value();
    std::promise<core::Status> started;
    asio::post(strand_, [&] { started.set_value(hub_->start()); });
    core::Status st = started.get_future().get();
    ASSERT_TRUE(st.ok()) << st.toString();
  }
  void stopHub() {
    if (!hub_) {
      return;
    }
    std::promise<void> done;
    asio::post(strand_, [&] {
      hub_->stop();
      done.set_value();
    });
    done.get_future().wait();
    hub_.reset();
  }

  EdgeHubStats stats() const { return hub_->stats(); }
  core::Bus& bus() { return bus_; }
  const Inbox& twin() const { return twin_; }
  const Inbox& meta() const { return meta_; }
  std::string logs() {
    log_sink_->flush();
    return log_stream_.str();
  }

  core::Result<Message> request(Message msg) {
    std::promise<core::Result<Message>> result;
    auto fut = result.get_future();
    asio::co_spawn(standin_strand_, doRequest(&bus_, std::move(msg), &result), asio::detached);
    return fut.get();
  }

 private:
  const TempDir& dir_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  core::Bus bus_;
  asio::thread_pool blocking_{2};
  core::SystemClock clock_;
  std::ostringstream log_stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> log_sink_;
  core::LoggerFactory loggers_;
  core::Strand strand_;
  core::Strand standin_strand_;
  core::EdgeCoreConfig cfg_;
  std::unique_ptr<EdgeHubModule> hub_;
  Inbox twin_;
  Inbox meta_;
  std::atomic<bool> ack_inserts_{false};
  std::vector<std::thread> threads_;
};

class CloudEdgeHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    pki_ = *pki;
    startSim();
    rig_ = std::make_unique<EdgeRig>(dir_);
    rig_->pointAt(*sim_);
  }
  void TearDown() override {
    rig_.reset();
    sim_.reset();
  }

  void startSim(uint16_t ws_port = 0, uint16_t https_port = 0) {
    cloudsim::Options o = sim_options_;
    o.node_name = std::string(kNode);
    o.ws_port = ws_port;
    o.https_port = https_port;
    o.keepalive_timeout = 10s;
    auto sim = cloudsim::CloudSim::start(pki_, o);
    ASSERT_TRUE(sim.ok()) << sim.status().toString();
    sim_ = std::move(sim).value();
  }

  // Writes a small edgecore.yaml holding the token and starts edgehub with it.
  std::string writeConfigFile(const std::string& token) {
    std::string path = dir_.file("edgecore.yaml");
    std::ofstream(path) << "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
                           "kind: EdgeCore\n"
                           "# operator comment kept\n"
                           "modules:\n"
                           "  edgeHub:\n"
                           "    enable: true\n"
                           "    heartbeat: 2\n"
                           "    token: "
                        << token
                        << "\n"
                           "  edged:\n"
                           "    hostnameOverride: edge-1\n";
    return path;
  }

  void bootstrapAndConnect() {
    rig_->config().modules.edge_hub.token = sim_->token();
    rig_->startHub();
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 15s)) << rig_->logs();
    ASSERT_TRUE(waitFor([&] { return rig_->stats().connected; }, 5s));
  }

  // Restarts the simulator with `o` (ports and node name as usual) and points the edge at it.
  void restartSim(cloudsim::Options o) {
    sim_.reset();
    sim_options_ = std::move(o);
    startSim();
    rig_->pointAt(*sim_);
  }

  TempDir dir_;
  cloudsim::Options sim_options_;
  cloudsim::Pki pki_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<EdgeRig> rig_;
};

using CloudBootstrap = CloudEdgeHubTest;
using CloudSession = CloudEdgeHubTest;
using CloudReconnect = CloudEdgeHubTest;
using CloudOutbox = CloudEdgeHubTest;
using CloudBadInput = CloudEdgeHubTest;

TEST_F(CloudBootstrap, TokenToConnectedSessionAndTokenBlanked) {
  std::string token = sim_->token();
  std::string config_path = writeConfigFile(token);
  std::string before = slurp(config_path);
  rig_->config().modules.edge_hub.token = token;
  rig_->startHub(config_path);
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 15s)) << rig_->logs();
  EXPECT_EQ(sim_->counters().certs_issued, 1u);

  // Files: CA pinned, cert and key written, the key private.
  EXPECT_EQ(slurp(rig_->config().modules.edge_hub.tls_ca_file), pki_.ca_cert_pem);
  struct stat st {};
  ASSERT_EQ(::stat(rig_->config().modules.edge_hub.tls_private_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The token line, and only it, is blanked.
  std::string after = slurp(config_path);
  std::string want = before;
  want.replace(want.find(token), token.size(), "\"\"");
  EXPECT_EQ(after, want);
  // Connection events reach the groups; the first keepalive has the spec's shape.
  ASSERT_TRUE(waitFor(
      [&] {
        return rig_->twin().has([](const Message& m) { return m.content == "cloud_connected"; }) &&
               rig_->meta().has([](const Message& m) { return m.content == "cloud_connected"; });
      },
      5s));
  auto ka =
      sim_->waitForMessage([](const Message& m) { return m.route.operation == "keepalive"; }, 5s);
  ASSERT_TRUE(ka.has_value());
  EXPECT_EQ(ka->route.source, "websocket");
  EXPECT_EQ(ka->route.group, "resource");
  EXPECT_EQ(ka->route.resource, "node");
  EXPECT_EQ(ka->content, "ping");
  EXPECT_EQ(sim_->counters().violations, 0u);
  EXPECT_NE(rig_->logs().find("cloud connected"), std::string::npos);
  EXPECT_EQ(rig_->logs().find(token), std::string::npos) << "the token must never be logged";
}

TEST_F(CloudBootstrap, WrongCaHashFailsClearly) {
  std::string token = sim_->token();
  token[0] = token[0] == 'a' ? 'b' : 'a';
  rig_->config().modules.edge_hub.token = token;
  rig_->startHub();
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures > 0; }, 10s)) << rig_->logs();
  EXPECT_NE(rig_->stats().last_error.find("CA hash mismatch"), std::string::npos)
      << rig_->stats().last_error;
  EXPECT_FALSE(sim_->connected());
  EXPECT_FALSE(std::filesystem::exists(rig_->config().modules.edge_hub.tls_cert_file));
}

// No certificate and no token is how a node runs offline by design (quickstart): one clear line
// saying what to set, then rechecks at the slowest back-off, not an error every few seconds.
TEST_F(CloudBootstrap, NoCredentialsIsSaidOnceAndRecheckedSlowly) {
  rig_->config().modules.edge_hub.token.clear();
  EdgeHubOptions options;
  options.max_backoff = 1s;
  rig_->startHub("", options);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures >= 3; }, 10s)) << rig_->logs();
  std::string logs = rig_->logs();
  size_t first = logs.find("not joined to a cloud");
  ASSERT_NE(first, std::string::npos) << logs;
  EXPECT_EQ(logs.find("not joined to a cloud", first + 1), std::string::npos) << logs;
  EXPECT_NE(logs.find("modules.edgeHub.token"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("cloud connect failed"), std::string::npos) << logs;
  EXPECT_EQ(logs.find(" E "), std::string::npos) << "no ERROR line for a config state: " << logs;
  // At the 1 s cap, three checks take at least two seconds; the 300 ms start would take 0.9 s.
  auto t0 = std::chrono::steady_clock::now();
  uint64_t before = rig_->stats().connect_failures;
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures >= before + 2; }, 10s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_FALSE(sim_->connected());
}

TEST_F(CloudBootstrap, ExpiredTokenFailsClearly) {
  rig_->config().modules.edge_hub.token = sim_->token(-1h);
  rig_->startHub();
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures > 0; }, 10s)) << rig_->logs();
  EXPECT_NE(rig_->stats().last_error.find("expired"), std::string::npos)
      << rig_->stats().last_error;
}

TEST_F(CloudBootstrap, TokenRejectedByCloudFailsClearly) {
  // Right CA hash, valid-looking JWT signed with another key: the cloud answers 401.
  std::string jwt = cloudsim::makeJwt("not-the-ca-key", std::time(nullptr) + 3600);
  rig_->config().modules.edge_hub.token = cloudsim::sha256Hex(pki_.ca_cert_der) + "." + jwt;
  rig_->startHub();
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures > 0; }, 10s)) << rig_->logs();
  EXPECT_NE(rig_->stats().last_error.find("HTTP 401"), std::string::npos)
      << rig_->stats().last_error;
}

// cloudsim (like CloudHub v1.20 with authorization off) signs a CSR whose CN matches the NodeName
// header, so another node name is not an error: the session simply carries that identity.
TEST_F(CloudBootstrap, OtherNodeNameGetsItsOwnIdentity) {
  rig_->config().modules.edged.hostname_override = "edge-other";
  rig_->config().modules.edge_hub.token = sim_->token();
  rig_->startHub();
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected("edge-other"); }, 10s)) << rig_->logs();
  EXPECT_FALSE(sim_->connected());  // not as edge-1
  auto cert = slurp(rig_->config().modules.edge_hub.tls_cert_file);
  auto der = cloudsim::certPemToDer(cert);
  ASSERT_TRUE(der.ok());
  auto subject = cloudsim::certSubject(*der);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(subject->common_name, "system:node:edge-other");
}

// With cloudHub.authorization.enable (cloudsim Options::authorization) the session must carry a
// certificate for the node it claims: a certificate for edge-1 presented as edge-other is refused.
TEST_F(CloudBootstrap, WrongNodeNameRefusedWhenAuthorizationIsOn) {
  cloudsim::Options o;
  o.authorization = true;
  restartSim(o);
  // A valid certificate for edge-1 first.
  rig_->config().modules.edge_hub.token = sim_->token();
  rig_->startHub();
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 15s)) << rig_->logs();
  rig_->stopHub();
  // The same certificate, now claiming another node name.
  rig_->config().modules.edged.hostname_override = "edge-other";
  rig_->config().modules.edge_hub.token.clear();
  uint64_t seq = sim_->lastSeq();
  rig_->startHub();
  auto rejected =
      sim_->waitForRecord([](const cloudsim::Record& r) { return r.ev == "ws_reject"; }, 10s, seq);
  ASSERT_TRUE(rejected.has_value()) << rig_->logs();
  EXPECT_NE(rejected->detail["reason"].get<std::string>().find("does not match node_id edge-other"),
            std::string::npos)
      << rejected->detail.dump();
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures > 0; }, 10s));
  EXPECT_NE(rig_->stats().last_error.find("400"), std::string::npos) << rig_->stats().last_error;
  EXPECT_FALSE(sim_->connected("edge-other"));
}

// Certificates of 10 s: edgehub rotates at 70-90 % of the lifetime, presenting the current
// certificate to the certificate server, then reconnects with the new one.
TEST_F(CloudBootstrap, RotatesShortLivedCertificateAndReconnectsWithIt) {
  cloudsim::Options o;
  o.cert_validity = 10s;
  restartSim(o);
  rig_->config().modules.edge_hub.rotate_certificates = true;
  bootstrapAndConnect();
  auto issued = sim_->waitForRecord(
      [](const cloudsim::Record& r) {
        return r.ev == "https" && r.detail.value("auth", "") == "token" &&
               r.detail.contains("issued_sha256");
      },
      1s);
  ASSERT_TRUE(issued.has_value());
  const std::string first_cert = issued->detail["issued_sha256"];
  auto rotation = sim_->waitForRecord(
      [](const cloudsim::Record& r) {
        return r.ev == "https" && r.detail.value("auth", "") == "client-cert";
      },
      15s);
  ASSERT_TRUE(rotation.has_value()) << rig_->logs();
  ASSERT_TRUE(rotation->detail.contains("issued_sha256")) << rotation->detail.dump();
  // Presented the certificate it had, and got a new one.
  EXPECT_EQ(rotation->detail["client_cert_sha256"], first_cert);
  const std::string second_cert = rotation->detail["issued_sha256"];
  EXPECT_NE(second_cert, first_cert);
  // NotBefore is the issue time truncated to the second: 70 % of 10 s is 7 s after it, at
  // least 6 s after the issue record; 90 % is at most 9 s after it (plus scheduling slack).
  int64_t after_ms = rotation->t_ms - issued->t_ms;
  EXPECT_GE(after_ms, 6000);
  EXPECT_LE(after_ms, 9800);
  // The next session presents the new certificate.
  auto reconnect = sim_->waitForRecord(
      [&](const cloudsim::Record& r) {
        return r.ev == "ws_connect" && r.detail.value("client_cert_sha256", "") == second_cert;
      },
      10s, rotation->seq);
  ASSERT_TRUE(reconnect.has_value()) << rig_->logs();
  EXPECT_TRUE(waitFor([&] { return rig_->stats().connected; }, 5s));
  EXPECT_EQ(rig_->stats().certificates_issued, 1u);  // one rotation
  EXPECT_NE(rig_->logs().find("certificate rotated, reconnecting"), std::string::npos);
  // The file on disk is the new certificate.
  auto der = cloudsim::certPemToDer(slurp(rig_->config().modules.edge_hub.tls_cert_file));
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(cloudsim::sha256Hex(*der), second_cert);
}

// MetaServer's online reads (Applications, spec local-apis 4.6) are answered by the simulated
// dynamiccontroller from its objects, through edgehub, in well under the 10 s request deadline.
TEST_F(CloudSession, ApplicationsGetAndListAreAnsweredPromptly) {
  bootstrapAndConnect();
  ASSERT_TRUE(
      sim_->putObject(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"only-in-cloud",)"
                      R"("namespace":"default"},"spec":{"nodeName":"edge-1"}})")
          .ok());
  ASSERT_TRUE(sim_->putObject(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"other",)"
                              R"("namespace":"kube-system"}})")
                  .ok());
  auto apply = [&](const std::string& key, const std::string& verb) {
    metaserver::Application app;
    app.key = key;
    app.verb = verb;
    app.option_json = "{}";
    Message m =
        Message::create("metaserver", "dynamiccontroller", "null", "null",
                        json::parse(metaserver::encodeApplication(app, std::string(kNode))));
    auto started = std::chrono::steady_clock::now();
    auto reply = rig_->request(std::move(m));
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(took, 2s);
    EXPECT_TRUE(reply.ok()) << reply.status().toString();
    if (reply.ok()) {
      EXPECT_EQ(reply->route.operation, "applicationResponse");
      EXPECT_EQ(reply->route.source, "dynamiccontroller");
    }
    return reply.ok() ? metaserver::decodeApplicationAnswer(reply->contentData())
                      : metaserver::ApplicationResult{reply.status(), 500, {}};
  };
  auto got = apply("/core/v1/pods/default/only-in-cloud", "get");
  ASSERT_EQ(got.http_code, 200) << got.status.toString();
  EXPECT_EQ(json::parse(got.body)["metadata"]["name"], "only-in-cloud");

  auto list = apply("/core/v1/pods/default/null", "list");
  ASSERT_EQ(list.http_code, 200) << list.status.toString();
  json doc = json::parse(list.body);
  EXPECT_EQ(doc["kind"], "PodList");
  ASSERT_EQ(doc["items"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["items"][0]["metadata"]["name"], "only-in-cloud");
  EXPECT_EQ(json::parse(apply("/core/v1/pods/null/null", "list").body)["items"].size(), 2u);

  auto missing = apply("/core/v1/pods/default/absent", "get");
  EXPECT_EQ(missing.http_code, 404);
  EXPECT_EQ(json::parse(missing.body)["reason"], "NotFound");
  EXPECT_EQ(apply("/core/v1/pods/default/x", "delete").http_code, 405);
}

TEST_F(CloudSession, KeepaliveCadence) {
  bootstrapAndConnect();
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->counters().keepalives >= 4; }, 10s));
  // At connect, then every heartbeat (2 s).
  std::vector<int64_t> at;
  int64_t connected_at = 0;
  for (const auto& r : sim_->records()) {
    if (r.ev == "ws_connect" && connected_at == 0) {
      connected_at = r.t_ms;
    }
    if (r.ev == "recv" && r.msg && r.msg->route.operation == "keepalive") {
      at.push_back(r.t_ms);
    }
  }
  ASSERT_GE(at.size(), 4u);
  EXPECT_LT(at[0] - connected_at, 500);
  for (size_t i = 1; i < at.size(); ++i) {
    EXPECT_NEAR(at[i] - at[i - 1], 2000, 300) << i;
  }
}

TEST_F(CloudSession, CloudAnswerResolvesWaitingRequest) {
  bootstrapAndConnect();
  auto stored = sim_->putObject(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"default"},"data":{"k":"v"}})");
  ASSERT_TRUE(stored.ok()) << stored.status().toString();
  Message q = Message::create("edged", "meta", "query", "default/configmap/cfg");
  auto reply = rig_->request(q);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(reply->header.parent_id, q.header.id);
  EXPECT_EQ(reply->route.operation, "response");
  EXPECT_EQ(reply->content["data"]["k"], "v") << reply->content.dump();
  // The request went out without the in-process sync flag.
  auto sent =
      sim_->waitForMessage([&](const Message& m) { return m.header.id == q.header.id; }, 2s);
  ASSERT_TRUE(sent.has_value());
  EXPECT_FALSE(sent->header.sync);
}

TEST_F(CloudSession, TwinAndResourceMessagesReachTheirGroups) {
  bootstrapAndConnect();
  Message twin = Message::create("devicecontroller", "twin", "update", "membership",
                                 nlohmann::json{{"event_id", "e1"}});
  auto twin_id = sim_->send(twin, cloudsim::Reliability::Unreliable);
  ASSERT_TRUE(twin_id.ok()) << twin_id.status().toString();
  // A twin-group message with a parent id still goes to twin (spec 2.8).
  Message twin_ack = Message::create("devicecontroller", "twin", "response", "twin", "OK");
  twin_ack.header.parent_id = "some-request";
  ASSERT_TRUE(sim_->send(twin_ack, cloudsim::Reliability::Unreliable).ok());
  auto pod_id = sim_->sendManifest(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","uid":"u1"}})",
      "insert", cloudsim::Reliability::Unreliable);
  ASSERT_TRUE(pod_id.ok()) << pod_id.status().toString();
  ASSERT_TRUE(waitFor(
      [&] {
        return rig_->twin().has([&](const Message& m) { return m.header.id == *twin_id; }) &&
               rig_->twin().has(
                   [&](const Message& m) { return m.header.parent_id == "some-request"; }) &&
               rig_->meta().has([&](const Message& m) { return m.header.id == *pod_id; });
      },
      5s));
  EXPECT_FALSE(rig_->meta().has([&](const Message& m) { return m.header.id == *twin_id; }));
}

TEST_F(CloudReconnect, ReconnectsWithinTwoSecondsOfCloudReturning) {
  bootstrapAndConnect();
  uint16_t ws = sim_->wsPort();
  uint16_t https = sim_->httpsPort();
  sim_.reset();
  ASSERT_TRUE(waitFor([&] { return !rig_->stats().connected; }, 5s));
  ASSERT_TRUE(waitFor(
      [&] {
        return rig_->twin().has([](const Message& m) { return m.content == "cloud_disconnected"; });
      },
      2s));
  // The cloud stays away for a few failed attempts: the backoff has grown when it returns.
  std::this_thread::sleep_for(3s);
  startSim(ws, https);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 10s)) << rig_->logs();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // The cloud sees the session a moment before the edge finishes its side of the handshake.
  EXPECT_TRUE(waitFor([&] { return rig_->stats().sessions >= 2; }, 2s)) << rig_->logs();
}

TEST_F(CloudReconnect, HalfOpenLinkDetectedWithinTwoHeartbeats) {
  bootstrapAndConnect();
  auto t0 = std::chrono::steady_clock::now();
  sim_->setSilent(true);
  testing::TimedWait dead =
      testing::waitMeasuringLag([&] { return rig_->stats().dead_links >= 1; }, 10s);
  ASSERT_TRUE(dead.held) << rig_->logs() << rig_->stats().last_error;
  auto took = std::chrono::steady_clock::now() - t0;
  // Dead after 2 x heartbeat (4 s) without a frame or pong, checked every heartbeat/8; a
  // machine busy enough to wake threads late delays the liveness timer by as much.
  EXPECT_LE(took, 4500ms + dead.worst_lag)
      << "worst wake-up lag " << dead.worst_lag.count() << " ms";
  EXPECT_FALSE(rig_->stats().connected);
  sim_->setSilent(false);
  uint64_t opened = sim_->counters().sessions_opened;
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->counters().sessions_opened > opened; }, 10s));
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connected; }, 5s));
}

TEST_F(CloudOutbox, StatusesQueuedOfflineAcrossRestartAreDeliveredCoalesced) {
  bootstrapAndConnect();
  uint16_t ws = sim_->wsPort();
  uint16_t https = sim_->httpsPort();
  sim_.reset();
  ASSERT_TRUE(waitFor([&] { return !rig_->stats().connected; }, 5s));
  constexpr int kPods = 10;
  std::map<std::string, std::string> newest;  // pod -> content of its last status
  auto produce = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      std::string pod = "pod" + std::to_string(i % kPods);
      std::string body = "{\"status\":{\"n\":" + std::to_string(i) + "}}";
      Message m = Message::create("edged", "meta", "patch", "default/podpatch/" + pod, body);
      newest[pod] = body;
      ASSERT_TRUE(rig_->bus().send(core::names::kEdgeHubModule, m).ok());
    }
  };
  produce(0, 50);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().outbox_depth == kPods; }, 5s))
      << rig_->stats().outbox_depth;
  rig_->stopHub();  // an edgecore restart in the middle
  rig_->startHub();
  EXPECT_EQ(rig_->stats().outbox_depth, static_cast<uint64_t>(kPods));
  produce(50, 100);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().outbox_appended >= 50; }, 5s));
  startSim(ws, https);
  ASSERT_TRUE(sim_->waitUntil(
      [&] {
        int n = 0;
        for (const Message& m : sim_->received()) {
          n += m.route.resource.find("/podpatch/") != std::string::npos;
        }
        return n >= kPods;
      },
      15s))
      << rig_->logs();
  ASSERT_TRUE(waitFor([&] { return rig_->stats().outbox_depth == 0; }, 5s));
  std::map<std::string, std::vector<std::string>> got;
  for (const Message& m : sim_->received()) {
    auto pos = m.route.resource.find("/podpatch/");
    if (pos != std::string::npos) {
      got[m.route.resource.substr(pos + 10)].push_back(m.contentData());
    }
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kPods));
  for (const auto& [pod, bodies] : got) {
    ASSERT_EQ(bodies.size(), 1u) << pod;  // coalesced: only the newest status travels
    EXPECT_EQ(bodies.front(), newest[pod]) << pod;
  }
}

TEST_F(CloudBadInput, UnknownGroupAndHugeFrameAreDroppedSessionKept) {
  bootstrapAndConnect();
  uint64_t sessions = rig_->stats().sessions;
  ASSERT_TRUE(sim_->send(Message::create("x", "nonsense", "insert", "default/pod/p"),
                         cloudsim::Reliability::Unreliable)
                  .ok());
  ASSERT_TRUE(waitFor([&] { return rig_->stats().dropped_downstream >= 1; }, 5s));
  // 40 MiB of content: over the 32 MiB frame bound.
  std::string big(40u << 20, 'x');
  ASSERT_TRUE(sim_->send(Message::create("edgecontroller", "resource", "insert",
                                         "default/configmap/big", big),
                         cloudsim::Reliability::Unreliable)
                  .ok());
  ASSERT_TRUE(waitFor([&] { return rig_->stats().oversized_frames >= 1; }, 20s)) << rig_->logs();
  // Still the same session, and it still works.
  auto pod_id = sim_->sendManifest(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"q","namespace":"default"}})", "insert",
      cloudsim::Reliability::Unreliable);
  ASSERT_TRUE(pod_id.ok());
  ASSERT_TRUE(waitFor(
      [&] { return rig_->meta().has([&](const Message& m) { return m.header.id == *pod_id; }); },
      5s));
  EXPECT_EQ(rig_->stats().sessions, sessions);
  EXPECT_TRUE(rig_->stats().connected);
  EXPECT_NE(rig_->logs().find("cloud frame too large"), std::string::npos);
}

// Raw frames straight from the cloud's socket (cloudsim::sendRaw), each followed by a valid
// reliable insert that must still be delivered and ACKed exactly once.
TEST_F(CloudBadInput, RawBadFramesAreLoggedAndSurvived) {
  rig_->ackInserts(true);
  bootstrapAndConnect();
  struct Case {
    std::string name;
    std::string payload;
    bool binary;
    std::function<uint64_t(const EdgeHubStats&)> counter;
    std::string log_phrase;
  };
  std::vector<Case> cases;
  cases.push_back({"not json", "this is not {json", false,
                   [](const EdgeHubStats& s) { return s.malformed_frames; }, "malformed frame"});
  cases.push_back({"json array", "[1,2,3]", false,
                   [](const EdgeHubStats& s) { return s.malformed_frames; }, "malformed frame"});
  cases.push_back({"wrong envelope types",
                   R"({"header":{"msg_id":7,"timestamp":"soon"},"route":{"source":[],"group":{}},)"
                   R"("content":null})",
                   false, [](const EdgeHubStats& s) { return s.malformed_frames; },
                   "malformed frame"});
  cases.push_back({"unknown group",
                   R"({"header":{"msg_id":"6f1c0d1e-0000-4000-8000-000000000001","timestamp":1},)"
                   R"("route":{"source":"x","group":"no-such-group","operation":"insert",)"
                   R"("resource":"default/pod/p"},"content":null})",
                   false, [](const EdgeHubStats& s) { return s.dropped_downstream; },
                   "cloud message dropped"});
  cases.push_back({"binary frame",
                   R"({"header":{"msg_id":"b"},"route":{"group":"resource"},"content":null})", true,
                   [](const EdgeHubStats& s) { return s.binary_frames; }, "binary frame"});
  cases.push_back({"40 MiB text frame", std::string(40u << 20, '{'), false,
                   [](const EdgeHubStats& s) { return s.oversized_frames; },
                   "cloud frame too large"});
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const uint64_t before = c.counter(rig_->stats());
    ASSERT_TRUE(sim_->sendRaw(c.payload, c.binary).ok());
    ASSERT_TRUE(waitFor([&] { return c.counter(rig_->stats()) > before; }, 20s)) << rig_->logs();
    EXPECT_NE(rig_->logs().find(c.log_phrase), std::string::npos) << rig_->logs();
    // The link still carries messages: a reliable insert arrives and is ACKed once.
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 10s));
    std::string name = "after-" + std::to_string(n++);
    auto id = sim_->sendManifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" +
                                     name + R"(","namespace":"default"}})",
                                 "insert", cloudsim::Reliability::Reliable);
    ASSERT_TRUE(id.ok()) << id.status().toString();
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->ackCount(*id) >= 1; }, 10s)) << rig_->logs();
    EXPECT_EQ(sim_->ackCount(*id), 1);
  }
  // None of it cost the session: the edge never reconnected.
  EXPECT_EQ(rig_->stats().sessions, 1u);
  EXPECT_EQ(sim_->counters().sessions_opened, 1u);
  EXPECT_TRUE(rig_->stats().connected);
}

TEST_F(CloudSession, AcksAreNotStarvedByTheLimiter) {
  rig_->config().modules.edge_hub.message_qps = 1;
  rig_->config().modules.edge_hub.message_burst = 1;
  bootstrapAndConnect();
  // Fill the limited lane, then send ACK-shaped responses: they must overtake.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(rig_->bus()
                    .send(core::names::kEdgeHubModule,
                          Message::create("edged", "meta", "update",
                                          "default/node/edge-" + std::to_string(i)))
                    .ok());
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    Message ack = Message::create("edgecontroller", "resource", "response",
                                  "default/pod/p" + std::to_string(i), "OK");
    ack.header.parent_id = "down-" + std::to_string(i);
    ASSERT_TRUE(rig_->bus().send(core::names::kEdgeHubModule, ack).ok());
  }
  ASSERT_TRUE(sim_->waitUntil(
      [&] {
        int n = 0;
        for (const Message& m : sim_->received()) {
          n += m.route.operation == "response";
        }
        return n >= 50;
      },
      3s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace edgecore::edgehub
