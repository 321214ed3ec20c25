// MetaServer's hold-upgrade release routes (KubeEdge v1.22): POST /api/v1/pods/unhold-upgrade
// with "<ns>/<name>" and POST /api/v1/nodes/unhold-upgrade with the node name. Real parts: the
// MetaServer over HTTP on 127.0.0.1:0, the SQLite store holding the pods and the node, and the
// bus, on which a stand-in edged records the unhold-upgrade messages it is sent.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgecore/core/bus.h"
#include "edgecore/metaserver/meta_server.h"
#include "metaserver/test_objects.h"
#include "pod_ops_handler.h"
#include "util/sqlite_test_store.h"
#include "util/wait.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

struct Reply {
  int code = 0;
  std::string content_type;
  std::string body;
};

Reply rawPost(uint16_t port, const std::string& target, const std::string& body) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  timeval tv{10, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  asio::write(s,
              asio::buffer("POST " + target +
                           " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           "Content-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body));
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
  size_t ct = all.find("Content-Type: ");
  if (ct != std::string::npos) r.content_type = all.substr(ct + 14, all.find("\r\n", ct) - ct - 14);
  size_t end = all.find("\r\n\r\n");
  if (end != std::string::npos) r.body = all.substr(end + 4);
  return r;
}

class UnholdUpgradeRoute : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bus_.subscribe("edged", "edged", asio::make_strand(ioc_),
                               [this](core::Message m) {
                                 std::lock_guard lock(mu_);
                                 to_edged_.push_back(std::move(m));
                               })
                    .ok());
    // On edge-1: "held" (annotated, Pending), "plain" (Pending, no annotation), "running"
    // (annotated, Running), "held2" in another namespace; "far" is held but on edge-2.
    putPod("default", "held", "edge-1", "Pending", true);
    putPod("default", "plain", "edge-1", "Pending", false);
    putPod("default", "running", "edge-1", "Running", true);
    putPod("apps", "held2", "edge-1", "Pending", true);
    putPod("default", "far", "edge-2", "Pending", true);
    store_.put(testing::kNodes,
               json{{"apiVersion", "v1"},
                    {"kind", "Node"},
                    {"metadata", {{"name", "edge-1"}, {"uid", "n1"}, {"resourceVersion", "7"}}}}
                   .dump());

    auto ops = std::make_shared<LocalOps>();
    ops->blocking = &pool_;
    ops->bus = &bus_;
    ops->store = &*store_;
    MetaServerOptions options;
    options.port = 0;
    options.local_ops = ops;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, offline_, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    bus_.unsubscribe("edged");
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  void putPod(const std::string& ns, const std::string& name, const std::string& node,
              const std::string& phase, bool annotated) {
    testing::PodSpec p;
    p.ns = ns;
    p.name = name;
    p.node = node;
    p.phase = phase;
    json pod = testing::makePodJson(p);
    if (annotated) pod["metadata"]["annotations"]["edge.kubeedge.io/hold-upgrade"] = "true";
    store_.put(testing::kPods, pod.dump());
  }

  // The resources of the unhold-upgrade messages edged got so far (waits briefly for `n`).
  std::vector<std::string> unholds(size_t n) {
    testing::waitFor(
        [&] {
          std::lock_guard lock(mu_);
          return to_edged_.size() >= n;
        },
        2s);
    std::this_thread::sleep_for(100ms);  // nothing more may come
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& m : to_edged_) {
      EXPECT_EQ(m.route.operation, "unhold-upgrade");
      EXPECT_EQ(m.route.source, "metamanager");
      EXPECT_EQ(m.route.group, "");
      out.push_back(m.route.resource);
    }
    return out;
  }

  testing::SqliteTestStore store_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  core::Bus bus_{ioc_};
  asio::thread_pool pool_{1};
  std::thread thread_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  MetaServerPtr server_;
  std::mutex mu_;
  std::vector<core::Message> to_edged_;
};

TEST(MatchLocalOp, UnholdUpgradeForAnyResourceName) {
  auto m = matchLocalOp("POST", "/api/v1/pods/unhold-upgrade");
  EXPECT_EQ(m.kind, LocalOpKind::UnholdUpgrade);
  EXPECT_EQ(m.resource, "pods");
  EXPECT_EQ(matchLocalOp("POST", "/api/v1/nodes/unhold-upgrade").resource, "nodes");
  EXPECT_EQ(matchLocalOp("POST", "/api/v1/configmaps/unhold-upgrade").kind,
            LocalOpKind::UnholdUpgrade);  // answered 400 by the handler
  EXPECT_EQ(matchLocalOp("GET", "/api/v1/pods/unhold-upgrade").kind, LocalOpKind::None);
}

TEST_F(UnholdUpgradeRoute, PodReleasesOnlyAnAnnotatedPendingPod) {
  Reply ok = rawPost(server_->port(), "/api/v1/pods/unhold-upgrade", "default/held");
  EXPECT_EQ(ok.code, 200) << ok.body;
  EXPECT_EQ(ok.body, "");
  EXPECT_EQ(unholds(1), std::vector<std::string>({"default/pod/held"}));

  Reply unknown = rawPost(server_->port(), "/api/v1/pods/unhold-upgrade", "default/nope");
  EXPECT_EQ(unknown.code, 404);
  EXPECT_EQ(unknown.body, "pod not found: pods \"nope\" not found\n");
  EXPECT_EQ(unknown.content_type, "text/plain; charset=utf-8");
  Reply bad = rawPost(server_->port(), "/api/v1/pods/unhold-upgrade", "held");
  EXPECT_EQ(bad.code, 400);
  EXPECT_EQ(bad.body, "invalid format, expected <namespace>/<name>\n");
  Reply plain = rawPost(server_->port(), "/api/v1/pods/unhold-upgrade", "default/plain");
  EXPECT_EQ(plain.code, 400);
  EXPECT_EQ(plain.body, "pod is not marked with hold-upgrade annotation\n");
  Reply running = rawPost(server_->port(), "/api/v1/pods/unhold-upgrade", "default/running");
  EXPECT_EQ(running.code, 400);
  EXPECT_EQ(running.body, "pod is not in pending phase\n");
  Reply other = rawPost(server_->port(), "/api/v1/configmaps/unhold-upgrade", "default/held");
  EXPECT_EQ(other.code, 400);
  EXPECT_EQ(other.body, "unsupported resource for unhold-upgrade\n");
  EXPECT_EQ(unholds(1).size(), 1u) << "refused requests sent nothing to edged";
}

TEST_F(UnholdUpgradeRoute, NodeReleasesEveryHeldPodOfTheNode) {
  Reply ok = rawPost(server_->port(), "/api/v1/nodes/unhold-upgrade", "  edge-1\n");
  EXPECT_EQ(ok.code, 200) << ok.body;
  auto sent = unholds(2);
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, std::vector<std::string>({"apps/pod/held2", "default/pod/held"}));

  Reply empty = rawPost(server_->port(), "/api/v1/nodes/unhold-upgrade", " \n");
  EXPECT_EQ(empty.code, 400);
  EXPECT_EQ(empty.body, "node name required in body\n");
  Reply unknown = rawPost(server_->port(), "/api/v1/nodes/unhold-upgrade", "edge-9");
  EXPECT_EQ(unknown.code, 404);
  EXPECT_EQ(unknown.body, "node not found: nodes \"edge-9\" not found\n");
  EXPECT_EQ(unholds(2).size(), 2u);
}

}  // namespace
}  // namespace edgecore::metaserver
