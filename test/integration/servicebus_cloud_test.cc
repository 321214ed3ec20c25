// servicebus end to end: the real edgecore binary connected to the cloud simulator over real
// TLS; the simulator sends REST rule requests as the cloud router does, they reach an HTTP
// service started by the test on 127.0.0.1, and its answer (or the edge's error reply) comes
// back to the cloud as KubeEdge's HTTPResponse message.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "cloudsim/service_rule.h"
#include "edgecore/core/base64.h"
#include "servicebus/local_http_server.h"
#include "util/cloudsim_start.h"
#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

class ServiceBusCloud : public ::testing::Test {
 protected:
  void SetUp() override {
    cloudsim::Options o;
    o.node_name = "edge-sb";
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    const std::string d = dir_.path();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
               "database:\n  dataSource: " +
                   d + "/edgecore.db\nmodules:\n" +
                   cloudEdgeHubYaml(d, sim_->httpsPort(), sim_->wsPort(), sim_->token()) +
                   "  edged:\n    enable: false\n    hostnameOverride: edge-sb\n"
                   "  metaManager:\n    metaServer:\n      enable: false\n"
                   "  serviceBus:\n    enable: true\n    timeout: 5\n    port: " +
                   std::to_string(bus_port_) + "\n");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{EDGECORE_BINARY, "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << daemon_->stderrSoFar();
  }
  void TearDown() override {
    stopAndReset(daemon_, 10s);
    sim_.reset();
  }

  static json content(const core::Message& m) { return m.content; }
  static std::string body(const core::Message& m) {
    return core::base64Decode(m.content.value("body", "")).value_or("<bad base64>");
  }

  TempDir dir_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  int bus_port_ = freeLoopbackPort();
};

// A local app's POST to the edge's servicebus server; {"code","msg","body"} or null.
json postToServiceBus(int port, const std::string& body) {
  try {
    asio::io_context io;
    beast::tcp_stream s(io);
    s.expires_after(20s);
    s.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return json::parse(res.body(), nullptr, false);
  } catch (const std::exception&) {
    return nullptr;
  }
}

TEST_F(ServiceBusCloud, RuleRequestReachesTheLocalServiceAndItsAnswerComesBack) {
  servicebus::testing::LocalHttpServer local;
  cloudsim::ServiceRuleCall call;
  call.service_port = std::to_string(local.port());
  call.path = "/api/";
  call.param = "items/7";
  call.method = "POST";
  call.header = {{"Content-Type", {"application/json"}}};
  call.body = R"({"x":1})";
  auto reply = cloudsim::callServiceRule(*sim_, call, 15s);
  ASSERT_TRUE(reply.ok()) << reply.status().toString() << "\n" << daemon_->stderrSoFar();

  auto seen = local.lastRequest();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/api/items/7");
  EXPECT_EQ(seen.body, R"({"x":1})");
  EXPECT_EQ(seen.headers.find("Content-Type")->second, "application/json");

  EXPECT_EQ(reply->route.source, "servicebus");
  EXPECT_EQ(reply->route.group, "user");
  EXPECT_EQ(reply->route.operation, "upload");
  EXPECT_EQ(reply->route.resource, "");
  EXPECT_EQ(content(*reply)["status_code"], 200);
  EXPECT_EQ(content(*reply)["header"]["X-Echo-Method"], json::array({"POST"}));
  EXPECT_EQ(body(*reply), R"(echo:{"x":1})");
  EXPECT_EQ(sim_->counters().violations, 0u);
}

TEST_F(ServiceBusCloud, UnreachableServiceAndBadResourceGetErrorReplies) {
  cloudsim::ServiceRuleCall call;
  call.service_port = std::to_string(freeLoopbackPort());  // nobody listens there
  call.path = "/x";
  auto reply = cloudsim::callServiceRule(*sim_, call, 15s);
  ASSERT_TRUE(reply.ok()) << reply.status().toString() << "\n" << daemon_->stderrSoFar();
  EXPECT_EQ(reply->route.operation, "");
  EXPECT_EQ(content(*reply)["status_code"], 404);
  EXPECT_EQ(content(*reply)["header"]["Server"], json::array({"kubeedge-edgecore"}));
  EXPECT_EQ(body(*reply), "error to call service");

  call.service_port = "80:extra";  // three parts after the split
  reply = cloudsim::callServiceRule(*sim_, call, 15s);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(content(*reply)["status_code"], 400);
  EXPECT_EQ(body(*reply), "the format of resource 80:extra:/x is incorrect");

  // Still serving after the errors.
  servicebus::testing::LocalHttpServer local;
  call.service_port = std::to_string(local.port());
  reply = cloudsim::callServiceRule(*sim_, call, 15s);
  ASSERT_TRUE(reply.ok()) << reply.status().toString();
  EXPECT_EQ(content(*reply)["status_code"], 200);
  EXPECT_EQ(sim_->counters().violations, 0u);
}

TEST_F(ServiceBusCloud, LocalAppReachesTheCloudThroughARuleUrl) {
  // No rule yet: the server is not listening.
  EXPECT_TRUE(postToServiceBus(bus_port_, "{}").is_null());
  ASSERT_TRUE(sim_->send(cloudsim::serviceRuleUrl("edge-sb", "ruleurl/orders", true)).ok());
  ASSERT_TRUE(waitFor(
      [&] { return !postToServiceBus(bus_port_, R"({"targetURL":"nope"})").is_null(); }, 10s))
      << daemon_->stderrSoFar();
  json refused = postToServiceBus(bus_port_, R"({"targetURL":"nope"})");
  EXPECT_EQ(refused["code"], 400);
  EXPECT_EQ(refused["msg"],
            "url nope is not allowed and please make a rule for this url in the cloud");

  // The router's part: answer the edge's upload with the rule target's response body.
  const uint64_t after = sim_->lastSeq();
  const std::string body = R"({"method":"POST","targetURL":"ruleurl/orders","payload":{"n":3}})";
  auto app = std::async(std::launch::async, [&] { return postToServiceBus(bus_port_, body); });
  auto up = sim_->waitForMessage(
      [](const core::Message& m) {
        return m.route.source == "servicebus" && m.route.operation == "upload";
      },
      10s, after);
  ASSERT_TRUE(up.has_value()) << daemon_->stderrSoFar();
  EXPECT_EQ(up->route.group, "user");
  EXPECT_EQ(up->route.resource, "ruleurl/orders");
  EXPECT_EQ(core::base64Decode(up->content.get<std::string>()).value_or(""), body);
  ASSERT_TRUE(sim_->send(up->makeResponse("order accepted")).ok());
  json answer = app.get();
  EXPECT_EQ(answer, json({{"code", 200},
                          {"msg", "receive response from cloud successfully"},
                          {"body", "order accepted"}}));

  // The last rule stopped: the server closes.
  ASSERT_TRUE(sim_->send(cloudsim::serviceRuleUrl("edge-sb", "ruleurl/orders", false)).ok());
  EXPECT_TRUE(waitFor([&] { return postToServiceBus(bus_port_, "{}").is_null(); }, 10s));
  EXPECT_EQ(sim_->counters().violations, 0u);
}

}  // namespace
}  // namespace edgecore::testing
