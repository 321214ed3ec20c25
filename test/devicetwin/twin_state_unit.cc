// TwinState without sockets or SQLite: the version rules and JSON shapes of
// edge/pkg/devicetwin/dtmanager/twin.go @ v1.20.0 as our state machine applies them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "twin_state.h"

namespace edgecore::devicetwin {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1700000000000;

// The cloud report as it goes on the wire (rawJsonContent text).
std::string cloudText(const CloudReport& c) {
  if (!c.content.is_binary()) {
    return c.content.dump();
  }
  const auto& b = c.content.get_binary();
  return std::string(b.begin(), b.end());
}
json cloudJson(const CloudReport& c) { return json::parse(cloudText(c)); }

class TwinStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json content = {{"event_id", "m"},
                    {"timestamp", 0},
                    {"added_devices", json::array({{{"id", "ns/dev"}, {"name", "dev"}}})},
                    {"removed_devices", json::array()}};
    Effects fx = state_.membershipUpdate(content, false, kNow);
    ASSERT_FALSE(fx.ops.empty());
    ASSERT_NE(state_.find("ns/dev"), nullptr);
  }
  const Publish* find(const Effects& fx, const std::string& suffix) {
    for (const auto& p : fx.publishes) {
      if (p.topic == "$hw/events/device/ns/dev" + suffix) {
        return &p;
      }
    }
    return nullptr;
  }
  TwinState state_{"node-1"};
};

TEST_F(TwinStateTest, RestUpdateBumpsTheEdgeVersionAndShapesTheResult) {
  Effects fx = state_.twinUpdate("ns/dev",
                                 R"({"event_id":"e","twin":{"t":{"actual":{"value":"1"}}}})", kNow);
  ASSERT_EQ(fx.ops.size(), 1u);  // one INSERT
  const Publish* r = find(fx, "/twin/update/result");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(
      r->payload,
      R"({"event_id":"e","timestamp":1700000000000,"twin":{"t":{"actual":{"value":"1",)"
      R"("metadata":{"timestamp":1700000000000}},"optional":true,"metadata":{"type":"string"}}}})");
  fx = state_.twinUpdate("ns/dev", R"({"event_id":"e2","twin":{"t":{"actual":{"value":"2"}}}})",
                         kNow + 1);
  ASSERT_EQ(state_.find("ns/dev")->twins.at("t").actual_version->edge, 2);
  ASSERT_EQ(fx.cloud.size(), 1u);
  EXPECT_EQ(fx.cloud[0].resource, "device/ns/dev/twin/edge_updated");
  EXPECT_EQ(cloudJson(fx.cloud[0])["twin"]["t"]["actual_version"]["edge"], 2);
  const Publish* doc = find(fx, "/twin/update/document");
  ASSERT_NE(doc, nullptr);
  json d = json::parse(doc->payload);
  EXPECT_EQ(d["twin"]["t"]["last"]["actual"]["value"], "1");
  EXPECT_EQ(d["twin"]["t"]["current"]["actual"]["value"], "2");
  EXPECT_EQ(find(fx, "/twin/update/delta"), nullptr);  // no expected value: no delta
}

TEST_F(TwinStateTest, DeltaWhenExpectedDiffersFromActual) {
  Effects fx = state_.twinUpdate(
      "ns/dev",
      R"({"event_id":"e","twin":{"t":{"expected":{"value":"5"},"actual":{"value":"1"}}}})", kNow);
  const Publish* delta = find(fx, "/twin/update/delta");
  ASSERT_NE(delta, nullptr);
  EXPECT_EQ(json::parse(delta->payload)["delta"], json({{"t", "5"}}));
}

TEST_F(TwinStateTest, NullTwinDeletesAnOptionalTwin) {
  (void)state_.twinUpdate("ns/dev", R"({"twin":{"t":{"actual":{"value":"1"}}}})", kNow);
  Effects fx = state_.twinUpdate("ns/dev", R"({"event_id":"d","twin":{"t":null}})", kNow);
  EXPECT_EQ(state_.find("ns/dev")->twins.at("t").type, "deleted");
  const Publish* r = find(fx, "/twin/update/result");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(json::parse(r->payload)["twin"]["t"].is_null());
  // Deleted twins are left out of get results.
  Effects get = state_.twinGet("ns/dev", R"({"event_id":"g"})", kNow);
  EXPECT_EQ(json::parse(get.publishes.at(0).payload)["twin"], json::object());
}

TEST_F(TwinStateTest, SyncWithAnOlderVersionIsRefusedAndTheEdgeStateReported) {
  (void)state_.twinUpdate("ns/dev", R"({"twin":{"t":{"expected":{"value":"1"}}}})", kNow);
  (void)state_.twinUpdate("ns/dev", R"({"twin":{"t":{"expected":{"value":"2"}}}})", kNow);
  // The cloud syncs edge version 1 while the edge is at 2: conflict.
  json content = {
      {"event_id", "s"},
      {"added_devices", json::array({{{"id", "ns/dev"},
                                      {"twin",
                                       {{"t",
                                         {{"expected", {{"value", "9"}}},
                                          {"expected_version", {{"cloud", 1}, {"edge", 1}}}}}}}}})},
      {"removed_devices", json::array()}};
  Effects fx = state_.membershipUpdate(content, false, kNow);
  EXPECT_EQ(*state_.find("ns/dev")->twins.at("t").expected->value, "2");
  ASSERT_EQ(fx.cloud.size(), 1u);
  EXPECT_EQ(cloudJson(fx.cloud[0])["twin"]["t"]["expected"]["value"], "2");
  // A newer cloud version wins.
  content["added_devices"][0]["twin"]["t"]["expected_version"] = {{"cloud", 3}, {"edge", 2}};
  fx = state_.membershipUpdate(content, false, kNow);
  EXPECT_EQ(*state_.find("ns/dev")->twins.at("t").expected->value, "9");
  EXPECT_EQ(state_.find("ns/dev")->twins.at("t").expected_version->cloud, 3);
}

TEST_F(TwinStateTest, ErrorsLeaveTheStateUntouched) {
  (void)state_.twinUpdate(
      "ns/dev", R"({"twin":{"n":{"actual":{"value":"1"},"metadata":{"type":"int"}}}})", kNow);
  Effects fx = state_.twinUpdate(
      "ns/dev",
      R"({"event_id":"x","twin":{"n":{"actual":{"value":"1.5"}},"m":{"actual":{"value":"2"}}}})",
      kNow);
  EXPECT_TRUE(fx.ops.empty());
  EXPECT_EQ(json::parse(fx.publishes.at(0).payload)["code"], 400);
  EXPECT_EQ(state_.find("ns/dev")->twins.count("m"), 0u);
  EXPECT_EQ(*state_.find("ns/dev")->twins.at("n").actual->value, "1");
  // Unknown device: 404; not an object: 400; 64 KiB + 1 value: 400.
  EXPECT_EQ(json::parse(
                state_.twinUpdate("ns/none", R"({"twin":{}})", kNow).publishes[0].payload)["code"],
            404);
  EXPECT_EQ(json::parse(state_.twinUpdate("ns/dev", "[1,2]", kNow).publishes[0].payload)["code"],
            400);
  std::string big(kMaxTwinValueBytes + 1, 'a');
  EXPECT_EQ(
      json::parse(
          state_
              .twinUpdate("ns/dev", R"({"twin":{"b":{"actual":{"value":")" + big + R"("}}}})", kNow)
              .publishes[0]
              .payload)["code"],
      400);
}

TEST_F(TwinStateTest, TwinCountLimitIsAnErrorAnswerAndTheDeviceKeepsServing) {
  // Fill the device up to the limit in a few updates.
  for (size_t base = 0; base < kMaxTwinsPerDevice; base += 256) {
    json twins = json::object();
    for (size_t i = base; i < base + 256 && i < kMaxTwinsPerDevice; ++i) {
      twins["t" + std::to_string(i)] = {{"actual", {{"value", "1"}}}};
    }
    Effects fx = state_.twinUpdate("ns/dev", json{{"twin", twins}}.dump(), kNow);
    ASSERT_FALSE(fx.ops.empty());
  }
  ASSERT_EQ(state_.find("ns/dev")->twins.size(), kMaxTwinsPerDevice);
  // One more key: the original's error JSON with 400, nothing written or changed.
  Effects fx = state_.twinUpdate(
      "ns/dev", R"({"event_id":"over","twin":{"extra":{"actual":{"value":"1"}}}})", kNow);
  EXPECT_TRUE(fx.ops.empty());
  ASSERT_EQ(fx.publishes.size(), 1u);
  EXPECT_EQ(fx.publishes[0].topic, "$hw/events/device/ns/dev/twin/update/result");
  json err = json::parse(fx.publishes[0].payload);
  EXPECT_EQ(err["code"], 400);
  EXPECT_EQ(err["event_id"], "over");
  EXPECT_NE(err["reason"].get<std::string>().find("at most 1024 twins"), std::string::npos);
  EXPECT_EQ(state_.find("ns/dev")->twins.count("extra"), 0u);
  // Updating existing twins still works.
  fx = state_.twinUpdate("ns/dev", R"({"event_id":"ok","twin":{"t7":{"actual":{"value":"2"}}}})",
                         kNow);
  EXPECT_EQ(fx.ops.size(), 1u);
  EXPECT_EQ(*state_.find("ns/dev")->twins.at("t7").actual->value, "2");
}

TEST_F(TwinStateTest, TooDeeplyNestedPayloadIsAnUnmarshalError) {
  std::string deep = R"({"event_id":"d","twin":{"k":{"actual":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}}}";
  Effects fx = state_.twinUpdate("ns/dev", deep, kNow);
  EXPECT_TRUE(fx.ops.empty());
  ASSERT_EQ(fx.publishes.size(), 1u);
  EXPECT_EQ(json::parse(fx.publishes[0].payload)["code"], 400);
  // A membership message whose content is deeply nested JSON text is not an object.
  std::string text = R"({"added_devices":[{"id":"ns/x","extra":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}]}";
  EXPECT_TRUE(membershipContent(json(text)).is_null());
  EXPECT_TRUE(membershipContent(json(R"({"added_devices":[]})")).is_object());
}

// Found by the twin_mqtt fuzzer: a cloud membership whose twin has a field of the wrong JSON type
// ("optional": {...}) added the device and then published a 400 "Unmarshal update request body
// failed" on the device's twin/update/result topic, which no one had asked on. Go cannot get that
// far (the typed unmarshal of the whole message fails): the message is dropped.
TEST_F(TwinStateTest, MembershipWithAMistypedTwinIsDroppedWithoutAnswers) {
  json content = {
      {"added_devices", json::array({{{"id", "ns/new"},
                                      {"twin",
                                       {{"temp",
                                         {{"optional", {{"type", "deleted"}}},
                                          {"actual_version", {{"cloud", 9}, {"edge", 9}}}}}}}}})}};
  Effects fx = state_.membershipUpdate(content, false, kNow);
  EXPECT_TRUE(fx.empty());
  EXPECT_EQ(state_.find("ns/new"), nullptr);
  // The same message with a well-typed twin adds the device.
  content["added_devices"][0]["twin"]["temp"]["optional"] = false;
  fx = state_.membershipUpdate(content, false, kNow);
  EXPECT_FALSE(fx.ops.empty());
  EXPECT_NE(state_.find("ns/new"), nullptr);
  for (const auto& p : fx.publishes) {
    EXPECT_EQ(p.topic.find("/twin/update/result"), std::string::npos) << p.topic;
  }
}

TEST(TwinTopicTest, TopicsMapToTheirKinds) {
  using K = TwinTopic::Kind;
  EXPECT_EQ(parseTwinTopic("$hw/events/device/ns/d/twin/update").kind, K::TwinUpdate);
  EXPECT_EQ(parseTwinTopic("$hw/events/device/ns/d/twin/update").device_id, "ns/d");
  EXPECT_EQ(parseTwinTopic("$hw/events/device/ns/d/twin/get").kind, K::TwinGet);
  EXPECT_EQ(parseTwinTopic("$hw/events/device/ns/d/state/update").kind, K::StateUpdate);
  EXPECT_EQ(parseTwinTopic("$hw/events/device/ns/d/twin/update/result").kind, K::Ignored);
  // The id is two levels: "onlyone/twin" here, and "/update" is no suffix we answer.
  EXPECT_EQ(parseTwinTopic("$hw/events/device/onlyone/twin/update").kind, K::Ignored);
  EXPECT_EQ(parseTwinTopic("$hw/events/device/nodevice").kind, K::NoDeviceId);
  EXPECT_EQ(parseTwinTopic("$hw/events/node/n1/membership/get").kind, K::MembershipGet);
  EXPECT_EQ(parseTwinTopic("$hw/events/node/n1/other").kind, K::Ignored);
  EXPECT_EQ(parseTwinTopic("membership/detail").kind, K::NotMqtt);
  EXPECT_TRUE(isMembershipDetail("membership/detail"));
  EXPECT_TRUE(isMembershipResource("node/n1/membership"));
  EXPECT_FALSE(isMembershipDetail("membership"));
}

TEST_F(TwinStateTest, StateUpdateAcceptsKnownStatesOnly) {
  Effects fx = state_.stateUpdate("ns/dev", R"({"State":"Online"})", kNow);
  ASSERT_EQ(fx.cloud.size(), 1u);
  EXPECT_TRUE(fx.cloud[0].content.is_string());
  json payload = json::parse(fx.cloud[0].content.get<std::string>());
  EXPECT_EQ(payload["device"]["state"], "Online");
  EXPECT_EQ(payload["device"]["lastOnlineTime"], "2023-11-14T22:13:20Z");
  EXPECT_TRUE(state_.stateUpdate("ns/dev", R"({"state":"exploded"})", kNow).empty());
  EXPECT_TRUE(state_.stateUpdate("ns/dev", "garbage", kNow).empty());
}

TEST_F(TwinStateTest, MembershipRemoveDeletesRowsAndAnnounces) {
  json content = {{"event_id", "r"},
                  {"added_devices", json::array()},
                  {"removed_devices", json::array({{{"id", "ns/dev"}}})}};
  Effects fx = state_.membershipUpdate(content, false, kNow);
  EXPECT_EQ(state_.find("ns/dev"), nullptr);
  // One op deletes the device's twin, attr and device rows (in that order, in the store).
  ASSERT_EQ(fx.ops.size(), 1u);
  EXPECT_EQ(fx.ops[0].kind, metamanager::WriteOp::Kind::DeleteDevice);
  EXPECT_EQ(fx.ops[0].key, "ns/dev");
  ASSERT_EQ(fx.publishes.size(), 1u);
  EXPECT_EQ(fx.publishes[0].topic, "$hw/events/node/node-1/membership/updated");
  EXPECT_EQ(json::parse(fx.publishes[0].payload)["removed_devices"][0]["id"], "ns/dev");
}

// refdata/go-edgecore-v1.15/e-query-device.jsonl: the cloud's membership update (line 34) adds
// dev-e1 with twin `temperature`; the original answers (line 38) with the content
// {"event_id":"5d83ead6-a378-47ed-9d22-27e052515289","timestamp":1795793445481,
//  "twin":{"temperature":{}}}
// Byte for byte, up to the fresh event id and the clock.
TEST(TwinStateCloudReport, MembershipAddMatchesTheRecordingByteForByte) {
  TwinState state("edge-ref-1");
  json content = json::parse(
      R"({"event_id":"3f0e6a55-0000-4000-8000-00000000e001","timestamp":1700000000000,)"
      R"("added_devices":[{"id":"dev-e1","name":"dev-e1","description":"refcloud test device",)"
      R"("state":"unknown","twin":{"temperature":{"expected":{"value":"21","metadata":)"
      R"({"timestamp":1700000000000}},"optional":false,"metadata":{"type":"string"}}}}],)"
      R"("removed_devices":[]})");
  Effects fx = state.membershipUpdate(content, false, 1795793445481);
  ASSERT_EQ(fx.cloud.size(), 1u);
  EXPECT_EQ(fx.cloud[0].resource, "device/dev-e1/twin/edge_updated");
  EXPECT_TRUE(std::regex_match(
      cloudText(fx.cloud[0]),
      std::regex(
          R"(\{"event_id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",)"
          R"("timestamp":1795793445481,"twin":\{"temperature":\{\}\}\})")))
      << cloudText(fx.cloud[0]);
}

// dttype.DeviceTwinResult / MsgTwin / TwinValue / TwinVersion are Go structs: json.Marshal writes
// their fields in declaration order (only the twin map's keys are sorted). Our cloud report keeps
// that order, where a plain JSON object would sort it (actual < expected).
TEST_F(TwinStateTest, CloudReportKeepsGoStructFieldOrder) {
  (void)state_.twinUpdate("ns/dev", R"({"twin":{"t":{"actual":{"value":"1"}}}})", kNow);
  Effects fx = state_.twinUpdate(
      "ns/dev",
      R"({"event_id":"e","twin":{"t":{"expected":{"value":"5"},"actual":{"value":"2"}},)"
      R"("b":{"actual":{"value":"x"}}}})",
      kNow + 1);
  ASSERT_EQ(fx.cloud.size(), 1u);
  nlohmann::ordered_json c = nlohmann::ordered_json::parse(cloudText(fx.cloud[0]));
  auto keys = [](const nlohmann::ordered_json& o) {
    std::vector<std::string> out;
    for (auto it = o.begin(); it != o.end(); ++it) {
      out.push_back(it.key());
    }
    return out;
  };
  EXPECT_EQ(keys(c), (std::vector<std::string>{"event_id", "timestamp", "twin"}));
  EXPECT_EQ(keys(c["twin"]), (std::vector<std::string>{"b", "t"}));  // a map: sorted
  const std::vector<std::string> go_order = {"expected", "actual",           "optional",
                                             "metadata", "expected_version", "actual_version"};
  for (const char* twin : {"b", "t"}) {
    std::vector<std::string> got = keys(c["twin"][twin]);
    std::vector<std::string> want;
    for (const auto& k : go_order) {
      if (c["twin"][twin].contains(k)) {
        want.push_back(k);
      }
    }
    EXPECT_EQ(got, want) << twin;
    if (c["twin"][twin].contains("actual")) {
      EXPECT_EQ(keys(c["twin"][twin]["actual"]), (std::vector<std::string>{"value", "metadata"}));
    }
    if (c["twin"][twin].contains("actual_version")) {
      EXPECT_EQ(keys(c["twin"][twin]["actual_version"]),
                (std::vector<std::string>{"cloud", "edge"}));
    }
  }
  EXPECT_EQ(keys(c["twin"]["t"]).front(), "expected");
  EXPECT_TRUE(c["twin"]["t"].contains("actual"));
}

// Go escapes <, > and & in every string it marshals; the MQTT payloads follow.
TEST_F(TwinStateTest, PayloadsEscapeLikeGo) {
  Effects fx = state_.twinUpdate(
      "ns/dev", R"({"event_id":"<a&b>","twin":{"t":{"actual":{"value":"1"}}}})", kNow);
  const Publish* r = find(fx, "/twin/update/result");
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->payload.find(R"("event_id":"\u003ca\u0026b\u003e")"), std::string::npos)
      << r->payload;
}

}  // namespace
}  // namespace edgecore::devicetwin
