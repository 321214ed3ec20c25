// MetaServer's pod-logs proxy against what an attacker controls: the decoded query values and
// path segments that end up in the request MetaServer sends to edged. Real parts: the MetaServer,
// a sandbox and container on the real containerd (the handler lists them through CRI before it
// calls edged), and a real HTTP server on 127.0.0.1:0 standing in for edged's /containerLogs that
// records every request it receives. Label containerd (serial); containerd missing is a failure.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgecore/cri/cri_client.h"
#include "edgecore/metaserver/meta_server.h"
#include "edged/cri_test_util.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

// edged's read-only server, as far as /containerLogs goes: one request per connection, the
// request head recorded, "hello\n" answered.
class FakeEdged {
 public:
  FakeEdged() : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~FakeEdged() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with one last connection.
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void run() {
    while (!stopping_) {
      tcp::socket s(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) {
        continue;
      }
      timeval tv{5, 0};
      setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string head;
      asio::read_until(s, asio::dynamic_buffer(head), "\r\n\r\n", ec);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(head);
      }
      const std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
          "Connection: close\r\n\r\nhello\n";
      asio::write(s, asio::buffer(answer), ec);
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

struct Reply {
  int code = 0;
  std::string body;
};

// One HTTP/1.1 GET with a raw target (exactly the bytes a client could send).
Reply rawGet(uint16_t port, const std::string& target) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  timeval tv{10, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  asio::write(s,
              asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string all;
  boost::system::error_code ec;
  char buf[4096];
  while (true) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    all.append(buf, n);
    if (ec) break;
  }
  Reply r;
  if (all.rfind("HTTP/1.1 ", 0) == 0) r.code = std::atoi(all.c_str() + 9);
  size_t end = all.find("\r\n\r\n");
  if (end != std::string::npos) r.body = all.substr(end + 4);
  return r;
}

class PodOpsProxyContainerd : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not a skip: without containerd the check cannot run, and that must show.
    ASSERT_TRUE(testing::containerdAvailable())
        << "containerd socket " << testing::kContainerdSocket
        << " missing: scripts/test-services.sh start";
    auto c = cri::CriClient::create({});
    ASSERT_TRUE(c.ok()) << c.status().toString();
    cri_ = std::shared_ptr<cri::CriClient>(std::move(c).value());
    testing::removeLeftoversOfDeadTestRuns(*cri_);
    ns_ = "cri-test-" + testing::uniqueSuffix();
    std::string tmpl = (std::filesystem::temp_directory_path() / "podops-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    logs_ = tmpl;
    makePod();

    auto ops = std::make_shared<LocalOps>();
    // The module's path: the client is made by the first request that needs it.
    ops->lazy_cri =
        std::make_shared<const LazyCriClient>([] { return cri::CriClient::create({}); });
    ops->blocking = &pool_;
    ops->edged_enabled = true;
    ops->edged_address = "127.0.0.1";
    ops->edged_port = edged_.port();
    MetaServerOptions options;
    options.port = 0;
    options.local_ops = ops;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, offline_, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    if (cri_) testing::removeNamespacePods(*cri_, ns_);
    std::error_code ec;
    std::filesystem::remove_all(logs_, ec);
  }

  // Pod "web" with a created (not started) container "app": enough for the handler to list it.
  void makePod() {
    runtimeapi::PodSandboxConfig sb;
    sb.mutable_metadata()->set_name("web");
    sb.mutable_metadata()->set_uid("uid-" + ns_);
    sb.mutable_metadata()->set_namespace_(ns_);
    sb.set_log_directory(logs_);
    (*sb.mutable_labels())["io.kubernetes.pod.name"] = "web";
    (*sb.mutable_labels())["io.kubernetes.pod.namespace"] = ns_;
    auto* nso = sb.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    nso->set_network(runtimeapi::NODE);
    auto sandbox = cri_->runPodSandbox(sb);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().toString();
    runtimeapi::ContainerConfig cc;
    cc.mutable_metadata()->set_name("app");
    cc.mutable_image()->set_image(testing::kBusyboxImage);
    cc.add_command("true");
    cc.set_log_path("app/0.log");
    (*cc.mutable_labels())["io.kubernetes.pod.name"] = "web";
    (*cc.mutable_labels())["io.kubernetes.pod.namespace"] = ns_;
    (*cc.mutable_labels())["io.kubernetes.container.name"] = "app";
    auto id = cri_->createContainer(*sandbox, cc, sb);
    ASSERT_TRUE(id.ok()) << id.status().toString();
  }

  std::string logPath(const std::string& query) const {
    return "/api/v1/namespaces/" + ns_ + "/pods/web/log" + query;
  }

  static void expectBadRequestStatus(const Reply& r, const std::string& what) {
    EXPECT_EQ(r.code, 400) << what << ": " << r.body;
    json body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << what << ": " << r.body;
    EXPECT_EQ(body.value("kind", ""), "Status") << what;
    EXPECT_EQ(body.value("reason", ""), "BadRequest") << what;
    EXPECT_EQ(body.value("code", 0), 400) << what;
  }

  edgecore::testing::SqliteTestStore store_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  asio::thread_pool pool_{2};
  std::thread thread_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  FakeEdged edged_;
  std::shared_ptr<cri::CriClient> cri_;
  std::string ns_;
  std::string logs_;
  MetaServerPtr server_;
};

TEST_F(PodOpsProxyContainerd, HeaderInjectionThroughContainerIsRefused) {
  Reply r = rawGet(server_->port(), logPath("?container=a%0d%0aX-Injected:%20y"));
  expectBadRequestStatus(r, "CR LF in container");
  EXPECT_NE(r.body.find("container"), std::string::npos) << r.body;
  EXPECT_TRUE(edged_.requests().empty()) << edged_.requests().front();
}

TEST_F(PodOpsProxyContainerd, ControlBytesAndPathCharactersInForwardedValuesAreRefused) {
  for (const std::string& query :
       {std::string("?container=app&sinceTime=2024-01-01T00:00:00Z%0d%0aX-Injected:%20y"),
        std::string("?container=app%00"), std::string("?container=app&tailLines=1%0a"),
        std::string("?container=..%2Fother"), std::string("?container=app%3Fx=1"),
        std::string("?container=app%23frag"), std::string("?container=%2e%2e")}) {
    Reply r = rawGet(server_->port(), logPath(query));
    expectBadRequestStatus(r, query);
  }
  EXPECT_TRUE(edged_.requests().empty()) << edged_.requests().front();
}

TEST_F(PodOpsProxyContainerd, LegitimateLogRequestStillReachesEdged) {
  Reply r =
      rawGet(server_->port(), logPath("?container=app&tailLines=5&sinceTime=2024-01-01T00:00:00Z"));
  ASSERT_EQ(r.code, 200) << r.body;
  json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body["logMessages"], json::array({"hello\n"})) << r.body;
  auto seen = edged_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].rfind("GET //containerLogs/" + ns_ +
                              "/web/app?sinceTime=2024-01-01T00:00:00Z"
                              "&tailLines=5 HTTP/1.1\r\n",
                          0),
            0u)
      << seen[0];
  // Without `container` the runtime's only container is used.
  Reply defaulted = rawGet(server_->port(), logPath(""));
  EXPECT_EQ(defaulted.code, 200) << defaulted.body;
  ASSERT_EQ(edged_.requests().size(), 2u);
  EXPECT_EQ(edged_.requests()[1].rfind("GET //containerLogs/" + ns_ + "/web/app HTTP/1.1\r\n", 0),
            0u)
      << edged_.requests()[1];
}

}  // namespace
}  // namespace edgecore::metaserver
