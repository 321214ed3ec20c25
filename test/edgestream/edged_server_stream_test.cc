// edgestream in front of the real edged HTTP server (src/edged/server, wt-edged-spec), through
// cloudsim's tunnel server over real TLS: `kubectl logs` of a CRI log file, plain and follow.
// Built only when the edgecore_edged_server target exists (test/CMakeLists.txt).

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/edgestream/module.h"
#include "pki.h"
#include "server/edged_server.h"
#include "stream_server.h"
#include "util/wait.h"

namespace edgecore::edgestream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

void writeFile(const std::string& path, const std::string& data, bool append = false) {
  std::ofstream out(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  out << data;
}

TEST(CloudEdgedServerStreamTest, LogsOfACriLogFileThroughTheTunnel) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / ("edgestream-edged-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  const std::string log_path = (dir / "0.log").string();
  writeFile(log_path,
            "2026-11-27T10:00:00.000000001Z stdout F hello from busybox\n"
            "2026-11-27T10:00:01.000000001Z stdout P partial \n"
            "2026-11-27T10:00:01.000000002Z stdout F line joined\n");

  auto pki = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(pki.ok());
  cloudsim::StreamServerOptions so;
  so.node_name = "edge-1";
  auto server = cloudsim::StreamServer::start(*pki, so);
  ASSERT_TRUE(server.ok());

  // The edge: one io_context on two threads runs both edged's server and edgestream.
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  std::atomic<bool> running{true};
  edged::EdgedServerCallbacks cb;
  cb.pods = [] { return std::string(R"({"kind":"PodList","apiVersion":"v1","items":[]})"); };
  cb.log_location = [&](const std::string& ns, const std::string& pod, const std::string& c,
                        bool) -> core::Result<edged::LogLocation> {
    if (ns != "default" || pod != "bb" || c != "main") {
      return core::notFound("pod \"" + pod + "\" not found");
    }
    edged::LogLocation loc;
    loc.path = log_path;
    loc.running = [&] { return running.load(); };
    return loc;
  };
  cb.stream_url = [](const edged::StreamRequest&,
                     std::function<void(core::Result<std::string>)> done) {
    done(core::unavailable("no runtime in this test"));
  };
  edged::EdgedServerOptions eo;
  eo.port = 0;
  eo.follow_poll = 20ms;
  auto edged_server = edged::makeEdgedServer(ioc, eo, cb);
  ASSERT_TRUE(edged_server->start().ok());

  core::EdgeCoreConfig cfg = core::defaultConfig(core::HostInfo{"edge-1", "127.0.0.1"});
  auto& es = cfg.modules.edge_stream;
  es.enable = true;
  es.server = "127.0.0.1:" + std::to_string((*server)->port());
  es.tls_tunnel_ca_file = (dir / "ca.crt").string();
  es.tls_tunnel_cert_file = (dir / "server.crt").string();
  es.tls_tunnel_private_key_file = (dir / "server.key").string();
  writeFile(es.tls_tunnel_ca_file, pki->ca_cert_pem);
  auto kc = cloudsim::makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
  ASSERT_TRUE(kc.ok());
  auto der = cloudsim::signCsr(*pki, kc->csr_der, {2}, std::chrono::hours(1));
  ASSERT_TRUE(der.ok());
  writeFile(es.tls_tunnel_cert_file, cloudsim::certDerToPem(*der));
  writeFile(es.tls_tunnel_private_key_file, kc->key_pem);

  core::Bus bus(ioc);
  asio::thread_pool blocking(1);
  core::SystemClock clock;
  core::LoggerFactory loggers(spdlog::level::info);
  core::Strand strand = asio::make_strand(ioc);
  EdgeStreamOptions options;
  options.local_server = "127.0.0.1:" + std::to_string(edged_server->port());
  options.node_ip = "10.0.0.9";
  options.first_dial_delay = 0ms;
  core::ModuleContext ctx{strand, bus, cfg, loggers.make("edgestream"), clock, blocking};
  auto module = createEdgeStream(ctx, options);
  ASSERT_TRUE(module.ok()) << module.status().toString();
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
  std::promise<core::Status> started;
  asio::post(strand, [&] { started.set_value((*module)->start()); });
  ASSERT_TRUE(started.get_future().get().ok());
  ASSERT_TRUE((*server)->waitUntil([&] { return (*server)->openSessions() == 1; }, 10s));

  auto plain =
      (*server)->fetch(cloudsim::StreamType::Logs, "/containerLogs/default/bb/main", "", 10s);
  ASSERT_TRUE(plain.ok()) << plain.status().toString();
  EXPECT_EQ(plain->data, "hello from busybox\npartial line joined\n");

  auto missing =
      (*server)->fetch(cloudsim::StreamType::Logs, "/containerLogs/default/nope/main", "", 10s);
  ASSERT_TRUE(missing.ok());
  EXPECT_NE(missing->data.find("not found"), std::string::npos) << missing->data;

  auto id =
      (*server)->open(cloudsim::StreamType::Logs, "/containerLogs/default/bb/main", "follow=true");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*server)->waitUntil(
      [&] { return (*server)->reply(*id).data.find("line joined\n") != std::string::npos; }, 10s));
  writeFile(log_path, "2026-11-27T10:00:02.000000001Z stderr F appended later\n", true);
  EXPECT_TRUE((*server)->waitUntil(
      [&] { return (*server)->reply(*id).data.find("appended later\n") != std::string::npos; },
      10s))
      << (*server)->reply(*id).data;
  ASSERT_TRUE((*server)->sendRemove(*id).ok());
  EXPECT_TRUE((*server)->waitUntil([&] { return (*server)->reply(*id).removed; }, 10s));

  std::promise<void> stopped;
  asio::post(strand, [&] {
    (*module)->stop();
    edged_server->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  (*server)->stop();
  work.reset();
  // The closed sockets' handlers run until the context is out of work; stop it anyway after 2 s.
  (void)testing::waitFor([&] { return ioc.stopped(); }, 2s);
  ioc.stop();
  for (auto& t : threads) t.join();
  blocking.join();
  module->reset();
  edged_server.reset();
  std::filesystem::remove_all(dir);
}

// edged off loopback serves only TLS with client certificates (issue #17): edgestream connects
// with TLS and the node's certificate (edgeHub tlsCertFile/tlsPrivateKeyFile), so the cloud's
// `kubectl logs` keeps working.
TEST(CloudEdgedServerStreamTest, LogsThroughTheTunnelFromATlsEdgedServer) {
  std::random_device rd;
  auto dir =
      std::filesystem::temp_directory_path() / ("edgestream-edged-tls-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  auto file = [&](const char* name) { return (dir / name).string(); };
  const std::string log_path = file("0.log");
  writeFile(log_path, "2026-11-27T10:00:00.000000001Z stdout F hello over tls\n");

  auto pki = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(pki.ok());
  cloudsim::StreamServerOptions so;
  so.node_name = "edge-1";
  auto server = cloudsim::StreamServer::start(*pki, so);
  ASSERT_TRUE(server.ok());

  // The node's PKI files as keadm leaves them: CA, node certificate (clientAuth) and key; edged
  // serves with the CA's server certificate.
  writeFile(file("ca.crt"), pki->ca_cert_pem);
  auto kc = cloudsim::makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
  ASSERT_TRUE(kc.ok());
  auto der = cloudsim::signCsr(*pki, kc->csr_der, {2}, std::chrono::hours(1));
  ASSERT_TRUE(der.ok());
  writeFile(file("node.crt"), cloudsim::certDerToPem(*der));
  writeFile(file("node.key"), kc->key_pem);
  writeFile(file("edged.crt"), pki->server_cert_pem);
  writeFile(file("edged.key"), pki->server_key_pem);

  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  edged::EdgedServerCallbacks cb;
  cb.log_location = [&](const std::string& ns, const std::string& pod, const std::string&,
                        bool) -> core::Result<edged::LogLocation> {
    if (ns != "default" || pod != "bb") return core::notFound("pod \"" + pod + "\" not found");
    edged::LogLocation loc;
    loc.path = log_path;
    loc.running = [] { return false; };
    return loc;
  };
  core::EdgeCoreConfig cfg = core::defaultConfig(core::HostInfo{"edge-1", "127.0.0.1"});
  auto& ed = cfg.modules.edged;
  ed.address = "0.0.0.0";
  ed.tls_cert_file = file("edged.crt");
  ed.tls_private_key_file = file("edged.key");
  ed.client_ca_file = file("ca.crt");
  cfg.modules.edge_hub.tls_ca_file = file("ca.crt");
  cfg.modules.edge_hub.tls_cert_file = file("node.crt");
  cfg.modules.edge_hub.tls_private_key_file = file("node.key");
  edged::EdgedServerOptions eo;
  eo.address = ed.address;
  eo.port = 0;
  eo.tls_cert_file = ed.tls_cert_file;
  eo.tls_private_key_file = ed.tls_private_key_file;
  eo.client_ca_file = ed.client_ca_file;
  auto edged_server = edged::makeEdgedServer(ioc, eo, cb);
  ASSERT_TRUE(edged_server->start().ok());
  ed.read_only_port = edged_server->port();

  auto& es = cfg.modules.edge_stream;
  es.enable = true;
  es.server = "127.0.0.1:" + std::to_string((*server)->port());
  es.tls_tunnel_ca_file = file("ca.crt");
  es.tls_tunnel_cert_file = file("node.crt");
  es.tls_tunnel_private_key_file = file("node.key");

  core::Bus bus(ioc);
  asio::thread_pool blocking(1);
  core::SystemClock clock;
  core::LoggerFactory loggers(spdlog::level::info);
  core::Strand strand = asio::make_strand(ioc);
  EdgeStreamOptions options;  // local_server from the edged config: 0.0.0.0 -> 127.0.0.1
  options.node_ip = "10.0.0.9";
  options.first_dial_delay = 0ms;
  core::ModuleContext ctx{strand, bus, cfg, loggers.make("edgestream"), clock, blocking};
  auto module = createEdgeStream(ctx, options);
  ASSERT_TRUE(module.ok()) << module.status().toString();
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
  std::promise<core::Status> started;
  asio::post(strand, [&] { started.set_value((*module)->start()); });
  ASSERT_TRUE(started.get_future().get().ok());
  ASSERT_TRUE((*server)->waitUntil([&] { return (*server)->openSessions() == 1; }, 10s));

  auto logs =
      (*server)->fetch(cloudsim::StreamType::Logs, "/containerLogs/default/bb/main", "", 10s);
  ASSERT_TRUE(logs.ok()) << logs.status().toString();
  EXPECT_EQ(logs->data, "hello over tls\n");

  std::promise<void> stopped;
  asio::post(strand, [&] {
    (*module)->stop();
    edged_server->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  (*server)->stop();
  work.reset();
  (void)testing::waitFor([&] { return ioc.stopped(); }, 2s);
  ioc.stop();
  for (auto& t : threads) t.join();
  blocking.join();
  module->reset();
  edged_server.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgecore::edgestream
