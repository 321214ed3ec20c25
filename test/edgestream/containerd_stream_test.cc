// The whole path of `kubectl exec` and a metrics scrape from the cloud, with nothing stood in on
// the edge: cloudsim's tunnel server (real TLS) -> edgestream -> the edged module's HTTP server
// -> containerd's streaming server -> a busybox container of a hostNetwork pod that edged runs
// on the real containerd. The cloud side speaks the kubelet's websocket exec protocol
// (v4.channel.k8s.io: binary messages whose first byte is the stream: 0 stdin, 1 stdout,
// 2 stderr, 3 the status JSON), which containerd's streaming server accepts like SPDY.
// Label "containerd", run serially; skipped when containerd's socket is missing.

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "cloudsim.h"
#include "edgecore/core/base64.h"
#include "edgecore/edgestream/module.h"
#include "edged/edged_harness.h"
#include "pki.h"
#include "stream_server.h"

namespace edgecore::testing {
namespace {

using cloudsim::StreamType;
constexpr auto kWait = 60s;

void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// One client-to-server websocket message (masked, as RFC 6455 requires of clients).
std::string maskedBinaryFrame(std::string_view payload) {
  static std::mt19937 rng(std::random_device{}());
  std::string f;
  f.push_back(static_cast<char>(0x82));  // FIN, binary
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  char mask[4];
  for (char& m : mask) {
    m = static_cast<char>(rng() & 0xff);
  }
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  }
  return f;
}

// What came back from the runtime: the HTTP head and the websocket messages by channel.
struct ExecOutput {
  std::string head;
  std::map<int, std::string> channels;
  bool closed = false;  // a websocket close frame arrived
  bool complete = false;
};

ExecOutput parseExecReply(const std::string& data) {
  ExecOutput out;
  size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos) {
    return out;
  }
  out.head = data.substr(0, end + 4);
  size_t pos = end + 4;
  while (pos + 2 <= data.size()) {
    auto b0 = static_cast<unsigned char>(data[pos]);
    auto b1 = static_cast<unsigned char>(data[pos + 1]);
    uint64_t len = b1 & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (pos + 4 > data.size()) break;
      len = (static_cast<unsigned char>(data[pos + 2]) << 8) |
            static_cast<unsigned char>(data[pos + 3]);
      hdr = 4;
    } else if (len == 127) {
      if (pos + 10 > data.size()) break;
      len = 0;
      for (int i = 0; i < 8; ++i) {
        len = (len << 8) | static_cast<unsigned char>(data[pos + 2 + i]);
      }
      hdr = 10;
    }
    if (b1 & 0x80) hdr += 4;  // a server never masks; tolerate it anyway
    if (pos + hdr + len > data.size()) break;
    std::string payload = data.substr(pos + hdr, len);
    int opcode = b0 & 0x0f;
    if (opcode == 8) {
      out.closed = true;
    } else if ((opcode == 1 || opcode == 2) && !payload.empty()) {
      out.channels[static_cast<unsigned char>(payload[0])] += payload.substr(1);
    }
    pos += hdr + len;
  }
  out.complete = pos == data.size();
  return out;
}

std::map<std::string, std::vector<std::string>> wsUpgradeHeaders() {
  std::string key(16, '\0');
  std::mt19937 rng(std::random_device{}());
  for (char& c : key) {
    c = static_cast<char>(rng() & 0xff);
  }
  return {{"Connection", {"Upgrade"}},
          {"Upgrade", {"websocket"}},
          {"Sec-Websocket-Version", {"13"}},
          {"Sec-Websocket-Key", {core::base64Encode(key)}},
          {"Sec-Websocket-Protocol", {"v4.channel.k8s.io"}}};
}

class ContainerdStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EC_SKIP_WITHOUT_CONTAINERD();
    auto c = cri::CriClient::create(cri::CriClientOptions{});
    ASSERT_TRUE(c.ok()) << c.status().toString();
    cri_ = std::move(c).value();
    removeLeftoversOfDeadTestRuns(*cri_);
    ns_ = "edged-test-" + uniqueSuffix();  // a prefix removeLeftoversOfDeadTestRuns knows
    node_ = "node-" + ns_;

    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    cloudsim::StreamServerOptions so;
    so.node_name = node_;
    auto server = cloudsim::StreamServer::start(*pki, so);
    ASSERT_TRUE(server.ok()) << server.status().toString();
    server_ = std::move(server).value();

    // The node's tunnel certificate, issued by cloudsim's CA as CloudCore would.
    const std::string ca = dir_.file("rootCA.crt");
    const std::string cert = dir_.file("server.crt");
    const std::string key = dir_.file("server.key");
    writeFile(ca, pki->ca_cert_pem);
    auto kc = cloudsim::makeCsrForTest({"system:node:" + node_, {"system:nodes"}});
    ASSERT_TRUE(kc.ok()) << kc.status().toString();
    auto der = cloudsim::signCsr(*pki, kc->csr_der, {2}, std::chrono::hours(24));
    ASSERT_TRUE(der.ok()) << der.status().toString();
    writeFile(cert, cloudsim::certDerToPem(*der));
    writeFile(key, kc->key_pem);

    const int edged_port = freeLoopbackPort();
    const uint16_t stream_port = server_->port();
    HarnessCustomizer customize = [=](core::EdgeCoreConfig& config,
                                      std::vector<core::ModuleSpec>& specs) {
      config.modules.edged.read_only_port = edged_port;
      auto& es = config.modules.edge_stream;
      es.enable = true;
      es.server = "127.0.0.1:" + std::to_string(stream_port);
      es.tls_tunnel_ca_file = ca;
      es.tls_tunnel_cert_file = cert;
      es.tls_tunnel_private_key_file = key;
      core::ModuleSpec spec;
      spec.name = "edgestream";
      spec.enabled = true;
      spec.factory = [edged_port](core::ModuleContext ctx) -> core::Result<core::ModulePtr> {
        edgestream::EdgeStreamOptions options;
        options.local_server = "127.0.0.1:" + std::to_string(edged_port);
        options.initial_backoff = 100ms;
        options.first_dial_delay = 0ms;
        auto m = edgestream::createEdgeStream(ctx, options);
        if (!m.ok()) {
          return m.status();
        }
        return core::ModulePtr(std::move(m).value());
      };
      specs.push_back(std::move(spec));
    };
    harness_ = std::make_unique<EdgedHarness>(dir_.path(), node_, edged::EdgedOptions{}, true, 1,
                                              /*report_event=*/false, nullptr, customize);
    ASSERT_TRUE(server_->waitUntil([&] { return server_->openSessions() == 1; }, kWait));
  }

  void TearDown() override {
    harness_.reset();
    server_.reset();
    if (cri_) {
      removeNamespacePods(*cri_, ns_);
    }
  }

  // A hostNetwork busybox pod that idles; waits until edged reports it Running.
  void runIdlePod(const std::string& name) {
    json pod = makePod(ns_, name, node_, json::array({busyboxContainer("c", "sleep 3600")}));
    ASSERT_TRUE(harness_->insert(pod).ok());
    ASSERT_TRUE(waitFor(
        [&] { return harness_->localStatus(ns_, name).value("phase", "") == "Running"; }, kWait))
        << harness_->localStatus(ns_, name).dump();
  }

  // Opens an exec through the tunnel, as CloudStream forwards `kubectl exec`.
  uint64_t openExec(const std::string& pod, const std::string& query) {
    auto id = server_->open(StreamType::Exec, "/exec/" + ns_ + "/" + pod + "/c", query,
                            wsUpgradeHeaders(), "GET");
    EXPECT_TRUE(id.ok()) << id.status().toString();
    return id.ok() ? *id : 0;
  }

  // Waits for the edge's REMOVE_CONNECT (the process ended, containerd closed the stream) and
  // returns what came back.
  ExecOutput waitForEnd(uint64_t id) {
    EXPECT_TRUE(server_->waitUntil([&] { return server_->reply(id).removed; }, kWait))
        << server_->reply(id).data;
    return parseExecReply(server_->reply(id).data);
  }

  TempDir dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<cloudsim::StreamServer> server_;
  std::unique_ptr<EdgedHarness> harness_;
  std::string ns_;
  std::string node_;
};

TEST_F(ContainerdStreamTest, MetricsScrapeThroughTheTunnelCarriesTheAgentsSeries) {
  // Some traffic first, so the counters have something to say.
  auto pods = server_->fetch(StreamType::Logs, "/pods", "", kWait);
  ASSERT_TRUE(pods.ok()) << pods.status().toString();
  auto reply =
      server_->fetch(StreamType::Metrics, "/metrics", "", kWait, {{"Accept-Encoding", {"gzip"}}});
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  const std::string& m = reply->data;
  // edgestream's own session, read live from the module.
  EXPECT_NE(m.find("\nedgecore_edgestream_connected 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nedgecore_edgestream_sessions_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE edgecore_edgestream_connections_total counter\n"), std::string::npos);
  // The process and the bus (registered by the daemon).
  EXPECT_NE(m.find("\nprocess_resident_memory_bytes "), std::string::npos) << m;
  EXPECT_NE(m.find("\nprocess_open_fds "), std::string::npos) << m;
  EXPECT_NE(m.find("edgecore_uptime_seconds "), std::string::npos) << m;
  EXPECT_NE(m.find("\nedgecore_bus_messages_delivered_total "), std::string::npos) << m;
  // What is scraped is what the agent's registry renders: one implementation.
  EXPECT_NE(harness_->metrics().render().find("edgecore_edgestream_connected 1\n"),
            std::string::npos);
  // The RSS is a real figure, not a placeholder.
  size_t at = m.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(at, std::string::npos);
  double rss = std::stod(m.substr(at + std::strlen("\nprocess_resident_memory_bytes ")));
  EXPECT_GT(rss, 1e6);
}

TEST_F(ContainerdStreamTest, ExecInARealContainerPrintsAndExits) {
  runIdlePod("exec-once");
  // sh -c 'echo exec output $(echo ok); echo to stderr >&2'
  uint64_t id = openExec("exec-once",
                         "command=sh&command=-c&command=echo+exec+output+%24%28echo+ok%29%3B+"
                         "echo+to+stderr+%3E%262&output=1&error=1");
  ASSERT_NE(id, 0u);
  ExecOutput out = waitForEnd(id);
  EXPECT_EQ(out.head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << out.head;
  EXPECT_NE(out.head.find("v4.channel.k8s.io"), std::string::npos) << out.head;
  EXPECT_EQ(out.channels[1], "exec output ok\n");
  EXPECT_EQ(out.channels[2], "to stderr\n");
  EXPECT_NE(out.channels[3].find("\"status\":\"Success\""), std::string::npos) << out.channels[3];
}

TEST_F(ContainerdStreamTest, InteractiveExecInARealContainer) {
  runIdlePod("exec-chat");
  // Reads two lines from stdin and answers each; exits after the second.
  uint64_t id = openExec("exec-chat",
                         "command=sh&command=-c&command=read+a%3B+echo+got+%24a%3B+read+b%3B+"
                         "echo+then+%24b&input=1&output=1&error=1");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(server_->waitUntil(
      [&] { return server_->reply(id).data.find("\r\n\r\n") != std::string::npos; }, kWait))
      << server_->reply(id).data;
  ASSERT_EQ(server_->reply(id).data.rfind("HTTP/1.1 101", 0), 0u) << server_->reply(id).data;
  ASSERT_TRUE(server_->sendData(id, maskedBinaryFrame(std::string("\0first\n", 7))).ok());
  ASSERT_TRUE(server_->waitUntil(
      [&] { return parseExecReply(server_->reply(id).data).channels[1] == "got first\n"; }, kWait))
      << server_->reply(id).data;
  // Still running: it waits for the second line.
  EXPECT_FALSE(server_->reply(id).removed);
  ASSERT_TRUE(server_->sendData(id, maskedBinaryFrame(std::string("\0second\n", 8))).ok());
  ExecOutput out = waitForEnd(id);
  EXPECT_EQ(out.channels[1], "got first\nthen second\n");
  EXPECT_NE(out.channels[3].find("\"status\":\"Success\""), std::string::npos) << out.channels[3];
}

}  // namespace
}  // namespace edgecore::testing
