// edgestream against cloudsim's CloudStream stand-in (test/cloudsim/stream_server.h) over real
// TLS on loopback, with a stand-in edged server (local_edged.h) behind it. Suites are named
// Cloud* so ctest labels them `integration`.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "cloudsim.h"
#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/core/logging.h"
#include "edgecore/edgestream/module.h"
#include "local_edged.h"
#include "pki.h"
#include "stream_server.h"
#include "util/wait.h"

namespace edgecore::edgestream {
namespace {

namespace asio = boost::asio;
using cloudsim::StreamType;
using namespace std::chrono_literals;
using testing::waitFor;

constexpr std::string_view kNode = "edge-1";
constexpr auto kWait = 10s;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("edgestream-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// A client certificate for the node, signed by the simulator's CA. Returns the serial as the
// simulator prints it (uppercase hex) by reading it back from a session later.
void issueClientCert(const cloudsim::Pki& pki, const std::string& cert_path,
                     const std::string& key_path) {
  auto kc = cloudsim::makeCsrForTest({"system:node:" + std::string(kNode), {"system:nodes"}});
  ASSERT_TRUE(kc.ok()) << kc.status().toString();
  auto der = cloudsim::signCsr(pki, kc->csr_der, {2}, std::chrono::hours(24));
  ASSERT_TRUE(der.ok()) << der.status().toString();
  writeFile(cert_path, cloudsim::certDerToPem(*der));
  writeFile(key_path, kc->key_pem);
}

// The edge side: io_context on two threads, a bus, and one edgestream module.
class EdgeRig {
 public:
  EdgeRig()
      : work_(asio::make_work_guard(ioc_)),
        bus_(ioc_),
        log_sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_)),
        loggers_(spdlog::level::debug, log_sink_),
        strand_(asio::make_strand(ioc_)) {
    cfg_ = core::defaultConfig(core::HostInfo{std::string(kNode), "127.0.0.1"});
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }
  ~EdgeRig() {
    stop();
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
    blocking_.join();
  }
  core::EdgeCoreConfig& config() { return cfg_; }

  void start(EdgeStreamOptions options) {
    if (!options.detect_node_ip) {
      options.node_ip = "10.1.2.3";
    }
    core::ModuleContext ctx{strand_, bus_, cfg_, loggers_.make("edgestream"), clock_, blocking_};
    auto m = createEdgeStream(ctx, options);
    ASSERT_TRUE(m.ok()) << m.status().toString();
    module_ = std::move(m).value();
    std::promise<core::Status> started;
    asio::post(strand_, [&] { started.set_value(module_->start()); });
    core::Status st = started.get_future().get();
    ASSERT_TRUE(st.ok()) << st.toString();
  }
  void stop() {
    if (!module_) {
      return;
    }
    std::promise<void> done;
    asio::post(strand_, [&] {
      module_->stop();
      done.set_value();
    });
    done.get_future().wait();
    // Let the coroutines see their sockets closed before the module goes.
    (void)waitFor([&] { return !module_->stats().connected; }, 2s);
    module_.reset();
  }
  EdgeStreamStats stats() const { return module_->stats(); }
  std::string logs() {
    log_sink_->flush();
    return log_stream_.str();
  }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  core::Bus bus_;
  asio::thread_pool blocking_{1};
  core::SystemClock clock_;
  std::ostringstream log_stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> log_sink_;
  core::LoggerFactory loggers_;
  core::Strand strand_;
  core::EdgeCoreConfig cfg_;
  std::unique_ptr<EdgeStreamModule> module_;
  std::vector<std::thread> threads_;
};

const std::map<std::string, std::vector<std::string>> kUpgradeHeaders = {
    {"Connection", {"Upgrade"}},
    {"Upgrade", {"SPDY/3.1"}},
    {"X-Stream-Protocol-Version", {"v4.channel.k8s.io"}}};

class CloudStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    pki_ = *pki;
    cloudsim::StreamServerOptions so;
    so.node_name = std::string(kNode);
    auto server = cloudsim::StreamServer::start(pki_, so);
    ASSERT_TRUE(server.ok()) << server.status().toString();
    server_ = std::move(server).value();
    local_ = std::make_unique<testing::LocalEdged>([this] {
      // The agent's own series, as the edged server's /metrics is to include them.
      std::string out;
      if (rig_) {
        appendMetrics(rig_->stats(), out);
      }
      return out;
    });
    rig_ = std::make_unique<EdgeRig>();
    auto& es = rig_->config().modules.edge_stream;
    es.enable = true;
    es.server = "127.0.0.1:" + std::to_string(server_->port());
    es.tls_tunnel_ca_file = dir_.file("rootCA.crt");
    es.tls_tunnel_cert_file = dir_.file("server.crt");
    es.tls_tunnel_private_key_file = dir_.file("server.key");
    writeFile(es.tls_tunnel_ca_file, pki_.ca_cert_pem);
    issueClientCert(pki_, es.tls_tunnel_cert_file, es.tls_tunnel_private_key_file);
    options_.local_server = local_->address();
    options_.first_dial_delay = 0ms;
    options_.initial_backoff = 100ms;
    options_.ping_interval = 200ms;
  }
  void TearDown() override {
    if (::testing::Test::HasFailure() && rig_) {
      std::cerr << "---- edgestream log ----\n" << rig_->logs();
    }
    rig_.reset();
    local_.reset();
    server_.reset();
  }

  void startEdge() {
    rig_->start(options_);
    ASSERT_TRUE(server_->waitUntil([&] { return server_->openSessions() == 1; }, kWait))
        << rig_->logs();
  }

  // True once the server has seen `n` sessions and the newest is open.
  bool waitForSessions(size_t n) {
    return server_->waitUntil(
        [&] {
          auto s = server_->sessions();
          return s.size() == n && s.back().open;
        },
        kWait);
  }

  TempDir dir_;
  cloudsim::Pki pki_;
  std::unique_ptr<cloudsim::StreamServer> server_;
  std::unique_ptr<testing::LocalEdged> local_;
  std::unique_ptr<EdgeRig> rig_;
  EdgeStreamOptions options_;
};

TEST_F(CloudStreamTest, DialsWithNodeHeadersAndClientCertificate) {
  startEdge();
  auto sessions = server_->sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].target, "/v1/kubeedge/connect");
  EXPECT_EQ(sessions[0].node, kNode);
  EXPECT_EQ(sessions[0].internal_ip, "10.1.2.3");
  EXPECT_EQ(sessions[0].client_cn, "system:node:" + std::string(kNode));
  EXPECT_FALSE(sessions[0].client_serial_hex.empty());
  // The original's keepalive: websocket pings (every ping_interval here).
  EXPECT_TRUE(server_->waitUntil([&] { return server_->sessions()[0].pings >= 2; }, kWait));
  EXPECT_TRUE(rig_->stats().connected);
}

TEST_F(CloudStreamTest, LogsArriveAsDataThenRemove) {
  startEdge();
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/nginx/web", "tailLines=40",
                              kWait, {{"Accept", {"*/*"}}});
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    expected += "nginx line " + std::to_string(i) + "\n";
  }
  EXPECT_EQ(reply->data, expected);
  EXPECT_TRUE(reply->removed);
  auto seen = local_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/containerLogs/default/nginx/web?tailLines=40");
  EXPECT_EQ(seen[0].headers["accept"], "*/*");
  EXPECT_EQ(seen[0].headers["host"], local_->address());
}

// featureGates.moduleRestart with the real module: the daemon stops and destroys a failed
// edgestream and creates a new one with the same factory; the new object dials a new tunnel that
// serves logs, and only its metrics are on /metrics.
TEST_F(CloudStreamTest, RestartedAfterAFailedRunTheNewTunnelServesLogs) {
  core::EdgeCoreConfig cfg = rig_->config();
  cfg.feature_gates[std::string(core::kModuleRestartGate)] = true;
  std::ostringstream log_text;
  core::LoggerFactory loggers(spdlog::level::info,
                              std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text));
  core::DaemonOptions daemon_options;
  daemon_options.handle_signals = false;
  daemon_options.restart_interval = 50ms;
  core::Daemon daemon(cfg, loggers, daemon_options);
  std::mutex mu;
  std::vector<std::function<void(core::Status)>> reporters;
  core::ModuleSpec spec;
  spec.name = "edgestream";
  spec.config_path = "modules.edgeStream";
  spec.enabled = true;
  spec.restart_on_failure = core::hasOnFailureRestartPolicy("edgestream");
  EdgeStreamOptions options = options_;
  options.node_ip = "10.1.2.3";
  spec.factory = [&mu, &reporters,
                  options](core::ModuleContext ctx) -> core::Result<core::ModulePtr> {
    {
      std::lock_guard lock(mu);
      reporters.push_back(ctx.report_failure);
    }
    auto m = createEdgeStream(ctx, options);
    if (!m.ok()) {
      return m.status();
    }
    return core::ModulePtr(std::move(m).value());
  };
  core::Status st;
  std::thread runner([&] { st = daemon.run({spec}); });

  bool first_tunnel = waitForSessions(1);
  std::function<void(core::Status)> fail_first_run;
  {
    std::lock_guard lock(mu);
    if (!reporters.empty()) {
      fail_first_run = reporters[0];
    }
  }
  if (fail_first_run) {
    fail_first_run(core::unavailable("forced failure of run 1"));
  }
  bool second_tunnel = waitForSessions(2);
  bool first_closed = server_->waitUntil(
      [&] {
        auto s = server_->sessions();
        return s.size() == 2 && !s[0].open;
      },
      kWait);
  core::Result<cloudsim::StreamReply> reply = core::unavailable("no second tunnel");
  if (second_tunnel) {
    reply = server_->fetch(StreamType::Logs, "/containerLogs/default/nginx/web", "tailLines=40",
                           kWait, {{"Accept", {"*/*"}}});
  }
  std::string metrics = daemon.metrics().render();
  daemon.requestStop();
  runner.join();

  ASSERT_TRUE(first_tunnel) << log_text.str();
  ASSERT_TRUE(second_tunnel) << log_text.str();
  EXPECT_TRUE(first_closed);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(reply->data.rfind("nginx line 0\nnginx line 1\n", 0), 0u) << reply->data;
  EXPECT_TRUE(reply->removed);
  EXPECT_TRUE(st.ok()) << st.toString();
  EXPECT_EQ(reporters.size(), 2u);
  EXPECT_NE(metrics.find("edgecore_module_restarts_total{module=\"edgestream\"} 1"),
            std::string::npos)
      << metrics;
  // The old object's collector went with it: one family, the new object's counters.
  const std::string family = "# TYPE edgecore_edgestream_sessions_total counter\n";
  EXPECT_NE(metrics.find(family), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find(family), metrics.rfind(family)) << metrics;
  EXPECT_NE(metrics.find("edgecore_edgestream_sessions_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(log_text.str().find("module restarting module=edgestream restart=1 err=\"forced "
                                "failure of run 1\""),
            std::string::npos)
      << log_text.str();
}

TEST_F(CloudStreamTest, FollowLogsStreamUntilTheCloudRemoves) {
  startEdge();
  auto id = server_->open(StreamType::Logs, "/containerLogs/default/bb/c", "follow=true");
  ASSERT_TRUE(id.ok()) << id.status().toString();
  // Lines keep coming while the request is open.
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*id).data.find("tick 5\n") != std::string::npos; }, kWait));
  EXPECT_EQ(server_->reply(*id).data.rfind("bb line 0\nbb line 1\nbb line 2\ntick 3\n", 0), 0u);
  EXPECT_FALSE(server_->reply(*id).removed);
  ASSERT_TRUE(server_->sendRemove(*id).ok());
  // The edge answers with its own REMOVE and closes the local request.
  EXPECT_TRUE(server_->waitUntil([&] { return server_->reply(*id).removed; }, kWait));
  EXPECT_TRUE(waitFor([&] { return local_->active() == 0; }, kWait));
  EXPECT_TRUE(waitFor([&] { return rig_->stats().active_connections == 0; }, kWait));
}

TEST_F(CloudStreamTest, MetricsScrapeCarriesTheAgentsOwnSeries) {
  startEdge();
  auto reply =
      server_->fetch(StreamType::Metrics, "/metrics", "", kWait, {{"Accept-Encoding", {"gzip"}}});
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_NE(reply->data.find("# TYPE edgecore_edgestream_sessions_total counter\n"
                             "edgecore_edgestream_sessions_total 1\n"),
            std::string::npos)
      << reply->data;
  EXPECT_NE(reply->data.find("edgecore_edgestream_connected 1\n"), std::string::npos);
  EXPECT_NE(reply->data.find("standin_up 1\n"), std::string::npos);
  // As the original: compression refused so the text survives the tunnel.
  EXPECT_EQ(local_->seen().back().headers["accept-encoding"], "identity");
}

TEST_F(CloudStreamTest, ExecThatPrintsAndExits) {
  startEdge();
  auto id = server_->open(StreamType::Exec, "/exec/default/bb/c", "command=echo&output=1",
                          kUpgradeHeaders, "POST");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(server_->waitUntil([&] { return server_->reply(*id).removed; }, kWait));
  std::string data = server_->reply(*id).data;
  EXPECT_EQ(data.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << data;
  EXPECT_NE(data.find("\r\n\r\nhello from exec\n"), std::string::npos) << data;
  auto seen = local_->seen().back();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.headers["upgrade"], "SPDY/3.1");
  EXPECT_EQ(seen.headers["x-stream-protocol-version"], "v4.channel.k8s.io");
}

TEST_F(CloudStreamTest, InteractiveExecRoundTrip) {
  startEdge();
  auto id = server_->open(StreamType::Exec, "/exec/default/bb/c", "command=sh&stdin=1&tty=1",
                          kUpgradeHeaders, "POST");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*id).data.find("\r\n\r\n") != std::string::npos; }, kWait));
  ASSERT_TRUE(server_->sendData(*id, "ls /\n").ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*id).data.find("> ls /\n") != std::string::npos; }, kWait));
  ASSERT_TRUE(server_->sendData(*id, "echo hi\n").ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*id).data.find("> echo hi\n") != std::string::npos; }, kWait));
  EXPECT_FALSE(server_->reply(*id).removed);
  ASSERT_TRUE(server_->sendData(*id, "exit\n").ok());
  ASSERT_TRUE(server_->waitUntil([&] { return server_->reply(*id).removed; }, kWait));
  std::string data = server_->reply(*id).data;
  EXPECT_EQ(data.substr(data.size() - 4), "bye\n");
}

// SPDY frames are binary; CloudStream still sends them in text frames. Every byte value must
// cross both ways untouched (a websocket library that insists on UTF-8 text fails here).
TEST_F(CloudStreamTest, ExecCarriesArbitraryBinaryBytes) {
  startEdge();
  auto id = server_->open(StreamType::Exec, "/exec/default/bb/c", "command=sh&stdin=1",
                          kUpgradeHeaders, "POST");
  ASSERT_TRUE(id.ok());
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
  }
  bytes += "\xff\xfe\x80\n";
  ASSERT_TRUE(server_->sendData(*id, bytes).ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*id).data.find("> " + bytes) != std::string::npos; }, kWait))
      << server_->reply(*id).data.size();
  ASSERT_TRUE(server_->sendRemove(*id).ok());
  EXPECT_TRUE(server_->waitUntil([&] { return server_->reply(*id).removed; }, kWait));
  EXPECT_EQ(rig_->stats().bad_frames, 0u);
}

TEST_F(CloudStreamTest, AttachIsProxiedLikeExec) {
  startEdge();
  auto id = server_->open(StreamType::Attach, "/attach/default/bb/c", "stdin=1&stdout=1",
                          kUpgradeHeaders, "POST");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(server_->sendData(*id, "abc\n").ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*id).data.find("> abc\n") != std::string::npos; }, kWait));
  ASSERT_TRUE(server_->sendRemove(*id).ok());
  EXPECT_TRUE(server_->waitUntil([&] { return server_->reply(*id).removed; }, kWait));
  EXPECT_TRUE(waitFor([&] { return local_->active() == 0; }, kWait));
}

TEST_F(CloudStreamTest, RotatedCertificateIsUsedByTheNextDial) {
  startEdge();
  std::string first = server_->sessions()[0].client_serial_hex;
  auto& es = rig_->config().modules.edge_stream;
  issueClientCert(pki_, es.tls_tunnel_cert_file, es.tls_tunnel_private_key_file);
  server_->dropConnections();
  ASSERT_TRUE(server_->waitUntil(
      [&] {
        auto s = server_->sessions();
        return s.size() >= 2 && s.back().open;
      },
      kWait));
  std::string second = server_->sessions().back().client_serial_hex;
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);
  // And the new session works.
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_FALSE(reply->data.empty());
}

TEST_F(CloudStreamTest, BadFramesAreDroppedAndTheSessionSurvives) {
  startEdge();
  std::string truncated("\x80", 1);
  std::string id_only("\x05", 1);
  std::string overflow(11, '\xff');
  std::string unknown("\x01\x09hello", 7);
  std::string oversized("\x01\x03", 2);
  oversized += std::string((1u << 20) + 100, 'z');
  for (const auto& raw : {truncated, id_only, overflow, unknown, oversized}) {
    ASSERT_TRUE(server_->sendRaw(raw).ok());
  }
  // A connect whose JSON is unusable, and DATA / REMOVE for an id nobody opened.
  ASSERT_TRUE(server_->sendRaw(std::string("\x07\x00{not json", 11)).ok());
  ASSERT_TRUE(server_->sendRaw(std::string("\x63\x03stray", 7)).ok());
  ASSERT_TRUE(waitFor(
      [&] {
        auto s = rig_->stats();
        return s.truncated_frames == 2 && s.overflow_frames == 1 && s.unknown_type_frames == 1 &&
               s.oversized_frames == 1 && s.bad_connect_messages == 1 && s.unknown_id_frames == 1;
      },
      kWait))
      << "bad=" << rig_->stats().bad_frames;
  EXPECT_EQ(rig_->stats().bad_frames, 5u);
  // The edge answered the unusable connect with REMOVE for id 7, which this server never
  // opened: it counts it as a frame for an unknown id.
  EXPECT_TRUE(server_->waitUntil([&] { return server_->badFramesFromEdge() >= 1; }, kWait));
  // Same session, still serving.
  EXPECT_EQ(server_->sessions().size(), 1u);
  EXPECT_EQ(rig_->stats().sessions, 1u);
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/after/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(reply->data.rfind("after line 0\n", 0), 0u);
  EXPECT_EQ(server_->sessions().size(), 1u);
}

TEST_F(CloudStreamTest, ReconnectsAfterTheCloudDrops) {
  startEdge();
  server_->dropConnections();
  ASSERT_TRUE(waitForSessions(2));
  EXPECT_TRUE(waitFor([&] { return rig_->stats().sessions == 2; }, kWait));
  auto reply = server_->fetch(StreamType::Metrics, "/metrics", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_NE(reply->data.find("edgecore_edgestream_sessions_total 2\n"), std::string::npos);
}

// Neither edged.nodeIP nor an override: the host's address is detected before every dial, so a
// new address (DHCP renewal, failover link) reaches the cloud with the next session.
TEST_F(CloudStreamTest, SessionInternalIpIsDetectedOnEachDial) {
  auto address = std::make_shared<std::string>("10.9.0.1");
  auto mu = std::make_shared<std::mutex>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  options_.detect_node_ip = [address, mu, calls] {
    ++*calls;
    std::lock_guard lock(*mu);
    return *address;
  };
  startEdge();
  EXPECT_EQ(server_->sessions()[0].internal_ip, "10.9.0.1");
  {
    std::lock_guard lock(*mu);
    *address = "10.9.0.2";
  }
  server_->dropConnections();
  ASSERT_TRUE(waitForSessions(2));
  EXPECT_EQ(server_->sessions().back().internal_ip, "10.9.0.2");
  EXPECT_GE(calls->load(), 2);
}

// The original never notices a half-open cloud; we end a session that answers no ping for 3
// intervals (200 ms here) and dial again.
TEST_F(CloudStreamTest, HalfOpenCloudIsDetectedAndRedialled) {
  startEdge();
  // A session the cloud has served (answered something): from then on silence means dead.
  auto first = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  server_->setSilent(true);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().dead_links >= 1; }, kWait));
  server_->setSilent(false);
  EXPECT_TRUE(
      waitFor([&] { return rig_->stats().connected && rig_->stats().sessions >= 2; }, kWait));
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
}

// Real CloudStream reads nothing from a new tunnel (so answers no ping) until it has recorded
// the kubelet port on the Node, retrying every 20 s while the Node does not exist yet. Closing
// such a tunnel as dead made CloudStream later serve (and keep) the abandoned session, and
// logs/exec failed with "unexpected EOF". The edge waits for the cloud's first answer instead.
TEST_F(CloudStreamTest, TunnelNotServedYetIsNotDeclaredDead) {
  server_->setSilent(true);
  rig_->start(options_);
  ASSERT_TRUE(waitFor([&] { return server_->openSessions() == 1; }, kWait));
  // 7 ping intervals pass without an answer: the edge must not declare the link dead.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(rig_->stats().dead_links, 0u);
  server_->setSilent(false);
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(rig_->stats().sessions, 1u);
  EXPECT_EQ(rig_->stats().dead_links, 0u);
}

// cloudsim's stream server behaves as CloudStream does while the Node does not exist: the
// tunnel is accepted and left unread (pings unanswered), the node looked up every gate_poll;
// once it exists the same session is served.
TEST_F(CloudStreamTest, CloudSimLeavesATunnelUnreadUntilTheNodeExists) {
  auto known = std::make_shared<std::atomic<bool>>(false);
  cloudsim::StreamServerOptions so;
  so.node_name = std::string(kNode);
  so.node_known = [known](const std::string&) { return known->load(); };
  so.gate_poll = 200ms;
  auto gated = cloudsim::StreamServer::start(pki_, so);
  ASSERT_TRUE(gated.ok()) << gated.status().toString();
  server_ = std::move(gated).value();
  rig_->config().modules.edge_stream.server = "127.0.0.1:" + std::to_string(server_->port());
  rig_->start(options_);
  ASSERT_TRUE(server_->waitUntil([&] { return server_->openSessions() == 1; }, kWait));
  // Several gate polls and ping intervals pass with the tunnel left unread.
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(server_->sessions().back().pings, 0u);  // nothing read yet
  EXPECT_EQ(rig_->stats().dead_links, 0u);
  known->store(true);
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(server_->sessions().size(), 1u);
  EXPECT_EQ(rig_->stats().dead_links, 0u);
}

// CloudStream's node gate: CLOSE_CONNECT on every session until the Node exists. The edge keeps
// redialling with backoff and gets through once the gate opens.
TEST_F(CloudStreamTest, NodeGateRejectionsAreRetried) {
  server_->setRejectWithClose("failed to Update KubeletEndpoint Port");
  rig_->start(options_);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().close_messages >= 2; }, kWait));
  server_->setRejectWithClose("");
  ASSERT_TRUE(server_->waitUntil([&] { return server_->openSessions() == 1; }, kWait));
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
}

TEST_F(CloudStreamTest, CloseConnectEndsTheSessionAndTheEdgeRedials) {
  startEdge();
  ASSERT_TRUE(server_->sendClose("failed to Update KubeletEndpoint Port").ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] {
        auto s = server_->sessions();
        return s.size() == 2 && s.back().open;
      },
      kWait));
  EXPECT_EQ(rig_->stats().close_messages, 1u);
  EXPECT_NE(rig_->logs().find("failed to Update KubeletEndpoint Port"), std::string::npos);
}

TEST_F(CloudStreamTest, UnreachableLocalServerIsReportedNotHung) {
  // Nothing listens on this port: a fresh listener bound and closed.
  {
    testing::LocalEdged gone;
    options_.local_server = gone.address();
  }
  startEdge();
  auto reply = server_->fetch(StreamType::Logs, "/containerLogs/default/p/c", "", kWait);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(reply->data.rfind("edgestream: local server", 0), 0u) << reply->data;
  EXPECT_EQ(rig_->stats().local_failures, 1u);
}

TEST_F(CloudStreamTest, ConnectionLimitRefusesExtraRequests) {
  options_.max_connections = 2;
  startEdge();
  auto a = server_->open(StreamType::Logs, "/containerLogs/default/a/c", "follow=true");
  auto b = server_->open(StreamType::Logs, "/containerLogs/default/b/c", "follow=true");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return !server_->reply(*a).data.empty() && !server_->reply(*b).data.empty(); }, kWait));
  auto c = server_->open(StreamType::Logs, "/containerLogs/default/c/c", "follow=true");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(server_->waitUntil([&] { return server_->reply(*c).removed; }, kWait));
  EXPECT_NE(server_->reply(*c).data.find("too many"), std::string::npos);
  EXPECT_FALSE(server_->reply(*a).removed);
  EXPECT_EQ(rig_->stats().connections_refused, 1u);
  ASSERT_TRUE(server_->sendRemove(*a).ok());
  ASSERT_TRUE(server_->sendRemove(*b).ok());
  EXPECT_TRUE(server_->waitUntil(
      [&] { return server_->reply(*a).removed && server_->reply(*b).removed; }, kWait));
}

TEST_F(CloudStreamTest, MissingCertificateIsAConnectFailureThenRecovers) {
  auto& es = rig_->config().modules.edge_stream;
  std::filesystem::rename(es.tls_tunnel_cert_file, es.tls_tunnel_cert_file + ".away");
  rig_->start(options_);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures >= 1; }, kWait));
  EXPECT_NE(rig_->stats().last_error.find("tlsTunnelCertFile"), std::string::npos);
  std::filesystem::rename(es.tls_tunnel_cert_file + ".away", es.tls_tunnel_cert_file);
  EXPECT_TRUE(server_->waitUntil([&] { return server_->openSessions() == 1; }, kWait));
}

TEST_F(CloudStreamTest, ServerCertificateMustChainToTheConfiguredCa) {
  auto other = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(other.ok());
  writeFile(rig_->config().modules.edge_stream.tls_tunnel_ca_file, other->ca_cert_pem);
  rig_->start(options_);
  ASSERT_TRUE(waitFor([&] { return rig_->stats().connect_failures >= 2; }, kWait));
  EXPECT_EQ(server_->openSessions(), 0u);
  EXPECT_NE(rig_->stats().last_error.find("TLS handshake"), std::string::npos)
      << rig_->stats().last_error;
}

// A plain HTTP/1.1 request to 127.0.0.1:port (the cloudsim control API, as curl would do it).
std::pair<int, std::string> httpRequest(uint16_t port, boost::beast::http::verb verb,
                                        const std::string& target, const std::string& body = "") {
  namespace http = boost::beast::http;
  asio::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return {res.result_int(), res.body()};
}

// `cloudsim serve --stream-port`: a person drives the tunnel with curl through the control API.
TEST(CloudSimStreamControlTest, LogsAndExecThroughTheControlApi) {
  auto pki = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(pki.ok());
  cloudsim::Options o;
  o.node_name = std::string(kNode);
  o.control_port = 0;
  o.stream_port = 0;
  auto sim = cloudsim::CloudSim::start(*pki, o);
  ASSERT_TRUE(sim.ok()) << sim.status().toString();
  ASSERT_NE((*sim)->stream(), nullptr);
  TempDir dir;
  testing::LocalEdged local;
  EdgeRig rig;
  auto& es = rig.config().modules.edge_stream;
  es.server = "127.0.0.1:" + std::to_string((*sim)->stream()->port());
  es.tls_tunnel_ca_file = dir.file("rootCA.crt");
  es.tls_tunnel_cert_file = dir.file("server.crt");
  es.tls_tunnel_private_key_file = dir.file("server.key");
  writeFile(es.tls_tunnel_ca_file, pki->ca_cert_pem);
  issueClientCert(*pki, es.tls_tunnel_cert_file, es.tls_tunnel_private_key_file);
  // CloudStream serves a tunnel only once the Node exists (edged registers it).
  ASSERT_TRUE(
      (*sim)->putObject(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1"}})").ok());
  EdgeStreamOptions options;
  options.local_server = local.address();
  options.first_dial_delay = 0ms;
  rig.start(options);
  ASSERT_TRUE(
      (*sim)->stream()->waitUntil([&] { return (*sim)->stream()->openSessions() == 1; }, kWait));
  const uint16_t control = (*sim)->controlPort();
  namespace http = boost::beast::http;
  auto [code, sessions] = httpRequest(control, http::verb::get, "/stream/sessions");
  EXPECT_EQ(code, 200);
  EXPECT_NE(sessions.find("\"client_cn\":\"system:node:edge-1\""), std::string::npos) << sessions;
  auto [fcode, fetched] =
      httpRequest(control, http::verb::post,
                  "/stream/fetch?type=logs&path=/containerLogs/default/web/c&query=tailLines%3D2");
  EXPECT_EQ(fcode, 200) << fetched;
  EXPECT_NE(fetched.find("web line 39\\n"), std::string::npos) << fetched;
  EXPECT_NE(fetched.find("\"removed\":true"), std::string::npos) << fetched;
  EXPECT_EQ(local.seen().back().target, "/containerLogs/default/web/c?tailLines=2");
  auto [ocode, opened] =
      httpRequest(control, http::verb::post,
                  "/stream/open?type=exec&path=/exec/default/web/c&query=command%3Dsh&method=POST",
                  R"({"Connection":["Upgrade"],"Upgrade":["SPDY/3.1"]})");
  ASSERT_EQ(ocode, 200) << opened;
  std::string id = opened.substr(opened.find(':') + 1);
  id = id.substr(0, id.find('}'));
  EXPECT_EQ(httpRequest(control, http::verb::post, "/stream/data?id=" + id, "pwd\n").first, 200);
  EXPECT_TRUE((*sim)->stream()->waitUntil(
      [&] {
        return (*sim)->stream()->reply(std::stoull(id)).data.find("> pwd\n") != std::string::npos;
      },
      kWait));
  EXPECT_EQ(httpRequest(control, http::verb::post, "/stream/remove?id=" + id).first, 200);
  auto [rcode, replied] = httpRequest(control, http::verb::get, "/stream/reply?id=" + id);
  EXPECT_EQ(rcode, 200);
  EXPECT_NE(replied.find("101 Switching Protocols"), std::string::npos) << replied;
  rig.stop();
}

}  // namespace
}  // namespace edgecore::edgestream
