// edgehub against the cloud simulator (test/cloudsim/) over real TLS on loopback, ports 0.
// Suites are named Cloud* so ctest labels them `integration`.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

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
#include "pki.h"

namespace edgecore::edgehub {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::Message;

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

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return pred();
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
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
    (void)bus_.subscribe("metamanager", "meta", standin_strand_,
                         [this](Message m) { meta_.add(m); });
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
    cloudsim::Options o;
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

  TempDir dir_;
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
  std::this_thread::sleep_for(3s);  // a few failed attempts while the cloud is away
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
  ASSERT_TRUE(waitFor([&] { return rig_->stats().dead_links >= 1; }, 8s))
      << rig_->logs() << rig_->stats().last_error;
  auto took = std::chrono::steady_clock::now() - t0;
  // Dead after 2 x heartbeat (4 s) without a frame or pong, checked every heartbeat/8.
  EXPECT_LE(took, 4500ms);
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
