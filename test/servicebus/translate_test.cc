// servicebus's message <-> HTTP translation (docs/node-tasks.md 7.3), as tables of messages.

#include "translate.h"

#include <gtest/gtest.h>

#include "edgecore/core/base64.h"

namespace edgecore::servicebus {
namespace {

using json = nlohmann::json;

core::Message ruleRequest(std::string resource, json content, std::string op = "POST") {
  core::Message m =
      core::Message::create("router_servicebus", "user", op, resource, std::move(content));
  return m;
}

json httpRequest(std::string method, std::string body, json header = nullptr) {
  return json{{"header", std::move(header)},
              {"body", core::base64Encode(body)},
              {"method", std::move(method)},
              {"url", ""}};
}

// The reply's content decoded back from the wire, as the cloud reads it.
json wireContent(const core::Message& m) {
  auto decoded = core::decodeMessage(core::encodeMessage(m));
  EXPECT_TRUE(decoded.ok());
  return decoded->content;
}

TEST(ServiceBusTranslate, ParsesPortPathMethodHeadersAndBody) {
  auto p = parseRuleRequest(
      ruleRequest("8080:/api/v1/items", httpRequest("PUT", "payload", {{"X-Trace", {"a", "b"}}})),
      100);
  ASSERT_TRUE(p.ok) << p.error.text;
  EXPECT_EQ(p.call.port, "8080");
  EXPECT_EQ(p.call.path, "/api/v1/items");
  EXPECT_EQ(p.call.method, "PUT");  // from the content, not the operation
  EXPECT_EQ(p.call.body, "payload");
  HeaderList want{{"X-Trace", "a"}, {"X-Trace", "b"}, {"Accept", "*/*"}};
  EXPECT_EQ(p.call.headers, want);
}

TEST(ServiceBusTranslate, KeepsTheCloudsAcceptAndDropsWriterOwnedHeaders) {
  auto p = parseRuleRequest(ruleRequest("80:/", httpRequest("GET", "",
                                                            {{"Accept", {"text/plain"}},
                                                             {"content-length", {"999"}},
                                                             {"Host", {"evil"}}})),
                            100);
  ASSERT_TRUE(p.ok);
  HeaderList want{{"Accept", "text/plain"}};
  EXPECT_EQ(p.call.headers, want);
}

TEST(ServiceBusTranslate, EmptyMethodIsGetAndEmptyPathIsRoot) {
  auto p = parseRuleRequest(ruleRequest("80:", json{{"body", nullptr}}), 100);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.call.method, "GET");
  EXPECT_EQ(p.call.path, "/");
  EXPECT_EQ(p.call.body, "");
}

TEST(ServiceBusTranslate, BadResourceIs400WithUpstreamText) {
  for (std::string r : {"8080", "8080:/a:b", ""}) {
    auto p = parseRuleRequest(ruleRequest(r, httpRequest("GET", "")), 100);
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error.code, 400);
    EXPECT_EQ(p.error.text, "the format of resource " + r + " is incorrect");
  }
}

TEST(ServiceBusTranslate, MalformedContentIs400) {
  const json bad[] = {
      "not json",
      json::array({1, 2}),
      json{{"method", 5}},
      json{{"body", "%%%not-base64"}},
      json{{"body", 12}},
      json{{"header", "x"}},
      json{{"header", {{"A", "not-a-list"}}}},
      json{{"header", {{"A", {1}}}}},
  };
  for (const json& c : bad) {
    auto p = parseRuleRequest(ruleRequest("80:/x", c), 100);
    EXPECT_FALSE(p.ok) << c.dump();
    EXPECT_EQ(p.error.code, 400) << c.dump();
    EXPECT_EQ(p.error.text, "error to parse http request") << c.dump();
  }
  auto none = parseRuleRequest(ruleRequest("80:/x", nullptr), 100);
  EXPECT_EQ(none.error.code, 400);
  EXPECT_EQ(none.error.text, "error to marshal request msg content");
}

TEST(ServiceBusTranslate, OversizedBodyIs400) {
  auto p = parseRuleRequest(ruleRequest("80:/x", httpRequest("POST", std::string(101, 'a'))), 100);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error.code, 400);
  EXPECT_NE(p.error.text.find("body over 100 bytes"), std::string::npos);
  EXPECT_TRUE(
      parseRuleRequest(ruleRequest("80:/x", httpRequest("POST", std::string(100, 'a'))), 100).ok);
}

TEST(ServiceBusTranslate, UncallableTargetsAre404) {
  const core::Message bad[] = {
      ruleRequest("http:/x", httpRequest("GET", "")),
      ruleRequest("0:/x", httpRequest("GET", "")),
      ruleRequest("70000:/x", httpRequest("GET", "")),
      ruleRequest("80:/a b", httpRequest("GET", "")),
      ruleRequest("80:/x", httpRequest("GE T", "")),
      ruleRequest("80:/x", httpRequest("GET", "", {{"X", {"a\r\nInjected: 1"}}})),
      ruleRequest("80:/x", httpRequest("GET", "", {{"Bad Name", {"v"}}})),
  };
  for (const auto& m : bad) {
    auto p = parseRuleRequest(m, 100);
    EXPECT_FALSE(p.ok) << m.route.resource;
    EXPECT_EQ(p.error.code, 404) << m.route.resource;
    EXPECT_EQ(p.error.text, "error to call service");
  }
}

TEST(ServiceBusTranslate, CanonicalHeaderKeyMatchesGo) {
  EXPECT_EQ(canonicalHeaderKey("content-type"), "Content-Type");
  EXPECT_EQ(canonicalHeaderKey("X-TRACE-ID"), "X-Trace-Id");
  EXPECT_EQ(canonicalHeaderKey("bad name"), "bad name");
}

TEST(ServiceBusTranslate, ResponseMessageHasUpstreamShape) {
  core::Message req = ruleRequest("80:/x", httpRequest("GET", ""));
  LocalAnswer a{201, {{"X-B", "2"}, {"Content-Type", "text/plain"}, {"X-B", "3"}}, "done"};
  core::Message m = buildResponse(req, a);
  EXPECT_EQ(m.header.parent_id, req.header.id);
  EXPECT_NE(m.header.id, req.header.id);
  EXPECT_EQ(m.route.source, "servicebus");
  EXPECT_EQ(m.route.group, "user");
  EXPECT_EQ(m.route.operation, "upload");
  EXPECT_EQ(m.route.resource, "");
  // Go struct field order, map keys sorted, []byte as base64.
  EXPECT_EQ(m.contentData(),
            R"({"header":{"Content-Type":["text/plain"],"X-B":["2","3"]},"status_code":201,)"
            R"("body":"ZG9uZQ=="})");
  json c = wireContent(m);
  EXPECT_EQ(c["status_code"], 201);
}

TEST(ServiceBusTranslate, ErrorMessageHasNoOperationAndServerHeader) {
  core::Message req = ruleRequest("80:/x", httpRequest("GET", ""));
  core::Message m = buildErrorResponse(req, {404, "error to call service"});
  EXPECT_EQ(m.header.parent_id, req.header.id);
  EXPECT_EQ(m.route.source, "servicebus");
  EXPECT_EQ(m.route.group, "user");
  EXPECT_EQ(m.route.operation, "");
  EXPECT_EQ(m.route.resource, "");
  json c = wireContent(m);
  EXPECT_EQ(c["header"], json({{"Server", {"kubeedge-edgecore"}}}));
  EXPECT_EQ(c["status_code"], 404);
  EXPECT_EQ(core::base64Decode(c["body"].get<std::string>()).value(), "error to call service");
}

}  // namespace
}  // namespace edgecore::servicebus
