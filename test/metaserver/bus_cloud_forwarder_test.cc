// The bus-backed CloudForwarder against a stand-in edgehub on a real bus and io_context.

#include "edgecore/metaserver/bus_cloud_forwarder.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/test_util.h"
#include "edgecore/core/logging.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;

class BusCloudForwarderTest : public ::testing::Test {
 protected:
  BusCloudForwarderTest() : bus_(ioc_), log_(core::LoggerFactory(spdlog::level::off).make("t")) {}

  // A stand-in "websocket" module: records the request and answers with `answer` (if set).
  void standInCloud(std::optional<json> answer) {
    ASSERT_TRUE(bus_.subscribe("websocket", "hub", asio::make_strand(ioc_),
                               [this, answer](core::Message m) {
                                 requests_.push_back(m);
                                 if (answer) {
                                   core::Message reply = m.makeResponse(*answer);
                                   (void)bus_.deliverResponse(std::move(reply));
                                 }
                               })
                    .ok());
  }

  ApplicationResult run(Application app, std::chrono::milliseconds timeout = 2000ms) {
    auto fwd = createBusCloudForwarder(bus_, asio::make_strand(ioc_), link_,
                                       BusCloudForwarderOptions{"edge-1", timeout}, log_);
    std::optional<ApplicationResult> result;
    fwd->apply(std::move(app), [&](ApplicationResult r) { result = std::move(r); });
    EXPECT_TRUE(testing::runUntil(
        ioc_, [&] { return result.has_value(); }, 5s));
    return result.value_or(ApplicationResult{core::internalError("no answer"), 0, {}});
  }

  Application getPod() {
    Application app;
    app.key = "/core/v1/pods/default/nginx";
    app.verb = "get";
    app.option_json = R"({"resourceVersion":"0"})";
    return app;
  }

  asio::io_context ioc_;
  core::Bus bus_;
  core::CloudLinkStatus link_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<core::Message> requests_;
};

TEST_F(BusCloudForwarderTest, DisconnectedFailsAtOnceWithTheOriginalsText) {
  ApplicationResult r = run(getPod());
  EXPECT_EQ(r.status.code(), core::StatusCode::Unavailable);
  EXPECT_EQ(r.status.message(), "connection lost between EdgeCore and CloudCore");
}

TEST_F(BusCloudForwarderTest, RequestHasTheApplicationShapeAndApprovedAnswerIsDecoded) {
  link_.setConnected(true);
  // {"kind":"Pod"} base64-encoded, as Go marshals a []byte RespBody.
  standInCloud(json{{"Status", "Approved"}, {"RespBody", "eyJraW5kIjoiUG9kIn0="}});
  ApplicationResult r = run(getPod());
  ASSERT_TRUE(r.status.ok()) << r.status.toString();
  EXPECT_EQ(r.body, R"({"kind":"Pod"})");

  ASSERT_EQ(requests_.size(), 1u);
  const core::Message& m = requests_[0];
  EXPECT_EQ(m.route.source, "metaserver");
  EXPECT_EQ(m.route.group, "dynamiccontroller");
  EXPECT_EQ(m.route.operation, "null");
  EXPECT_EQ(m.route.resource, "null");
  const json& app = m.content;
  EXPECT_EQ(app["Key"], "/core/v1/pods/default/nginx");
  EXPECT_EQ(app["Verb"], "get");
  EXPECT_EQ(app["Nodename"], "edge-1");
  EXPECT_EQ(app["Option"], "eyJyZXNvdXJjZVZlcnNpb24iOiIwIn0=");  // base64 of the options JSON
  EXPECT_TRUE(app["ReqBody"].is_null());
  // ID = hex SHA-256 of nodename+key+verb+option+reqBody+subresource.
  std::string input = "edge-1/core/v1/pods/default/nginxget{\"resourceVersion\":\"0\"}";
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), d);
  std::string hex;
  for (unsigned char c : d) {
    static const char* k = "0123456789abcdef";
    hex += k[c >> 4];
    hex += k[c & 15];
  }
  EXPECT_EQ(app["ID"], hex);
}

TEST_F(BusCloudForwarderTest, RejectedKeepsTheCloudsStatusAndCode) {
  link_.setConnected(true);
  standInCloud(json{{"Status", "Rejected"},
                    {"Reason", "forbidden"},
                    {"Error",
                     {{"ErrStatus",
                       {{"status", "Failure"},
                        {"reason", "Forbidden"},
                        {"message", "pods is forbidden"},
                        {"code", 403}}}}}});
  ApplicationResult r = run(getPod());
  EXPECT_EQ(r.status.code(), core::StatusCode::FailedPrecondition);
  EXPECT_EQ(r.http_code, 403);
  json body = json::parse(r.body);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["message"], "pods is forbidden");
}

TEST_F(BusCloudForwarderTest, NoAnswerTimesOut) {
  link_.setConnected(true);
  standInCloud(std::nullopt);
  ApplicationResult r = run(getPod(), 50ms);
  EXPECT_EQ(r.status.code(), core::StatusCode::DeadlineExceeded) << r.status.toString();
  EXPECT_NE(r.status.message().find("failed to access cloud Application center"),
            std::string::npos);
}

TEST_F(BusCloudForwarderTest, GarbageAnswerIsAnErrorNotACrash) {
  link_.setConnected(true);
  standInCloud(json("not an application"));
  ApplicationResult r = run(getPod());
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.http_code, 500);
}

}  // namespace
}  // namespace edgecore::metaserver
