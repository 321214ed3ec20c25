#include "edgecore/core/message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>

namespace edgecore::core {
namespace {

using nlohmann::json;

std::string readGolden(const std::string& name) {
  const std::filesystem::path path =
      std::filesystem::path(EDGECORE_TEST_DATA_DIR) / "message" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing golden file " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Message decodeOrDie(std::string_view text) {
  Result<Message> r = decodeMessage(text);
  EXPECT_TRUE(r.ok()) << r.status().toString();
  return r.ok() ? std::move(r).value() : Message{};
}

// ---------------------------------------------------------------------------------------------
// Golden frames from the wire recordings of Go edgecore v1.15 (test/data/message/make_golden.py).

// Edge frames whose bytes are already in Go's canonical order: decode + encode gives the frame
// back byte for byte (the recording ends every frame with one "\n", which is framing, not JSON).
class EdgeFrameExactTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EdgeFrameExactTest, DecodeEncodeGivesTheSameBytes) {
  const std::string wire = readGolden(std::string(GetParam()) + ".json");
  ASSERT_FALSE(wire.empty());
  ASSERT_EQ(wire.back(), '\n');
  const Message msg = decodeOrDie(wire);
  EXPECT_EQ(encodeMessage(msg) + "\n", wire);
}

INSTANTIATE_TEST_SUITE_P(RefData, EdgeFrameExactTest,
                         ::testing::Values("edge_keepalive", "edge_membership_detail",
                                           "edge_query_node", "edge_ack_pod", "edge_ack_lease",
                                           "edge_nodepatch_empty", "edge_nodepatch_status",
                                           "edge_podpatch", "edge_pod_delete",
                                           "edge_twin_edge_updated"));

// Edge frames carrying a Go struct (Node, Lease): Go writes struct fields in declaration order,
// and we keep objects with keys in byte order, which is also what Go produces when it decodes
// such a frame and marshals it again. Same bytes modulo key order, so the same length.
class EdgeFrameStructTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EdgeFrameStructTest, DecodeEncodeGivesGoRoundTripBytes) {
  const std::string wire = readGolden(std::string(GetParam()) + ".json");
  const std::string go_round_trip = readGolden(std::string(GetParam()) + ".sorted.json");
  const Message msg = decodeOrDie(wire);
  const std::string encoded = encodeMessage(msg);
  EXPECT_EQ(encoded, go_round_trip);
  EXPECT_EQ(encoded.size() + 1, wire.size());
  EXPECT_EQ(decodeOrDie(encoded), msg);
}

INSTANTIATE_TEST_SUITE_P(RefData, EdgeFrameStructTest,
                         ::testing::Values("edge_node_insert", "edge_lease_update"));

// Cloud frames (Go's canonical encoding of what the stand-in cloud sent).
class CloudFrameTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CloudFrameTest, DecodeEncodeGivesTheSameBytes) {
  const std::string wire = readGolden(std::string(GetParam()) + ".json");
  EXPECT_EQ(encodeMessage(decodeOrDie(wire)), wire);
}

INSTANTIATE_TEST_SUITE_P(RefData, CloudFrameTest,
                         ::testing::Values("cloud_pod_insert", "cloud_lease_objectresp_err",
                                           "cloud_node_errstatus", "cloud_podpatch_objectresp",
                                           "cloud_membership_update", "cloud_pod_delete_ok"));

TEST(MessageGoldenTest, KeepaliveFields) {
  const Message msg = decodeOrDie(readGolden("edge_keepalive.json"));
  EXPECT_EQ(msg.header.id, "80877aab-cb65-4718-91e7-a931c80f19c7");
  EXPECT_EQ(msg.header.timestamp_ms, 1795793001939);
  EXPECT_EQ(msg.header.parent_id, "");
  EXPECT_EQ(msg.route.source, names::kEdgeHubModule);
  EXPECT_EQ(msg.route.group, names::kResourceGroup);
  EXPECT_EQ(msg.route.operation, op::kKeepalive);
  EXPECT_EQ(msg.route.resource, "node");
  EXPECT_EQ(msg.content, json("ping"));
}

TEST(MessageGoldenTest, AckShape) {
  const Message msg = decodeOrDie(readGolden("edge_ack_pod.json"));
  EXPECT_EQ(msg.header.parent_id, "3ff971db-cb72-4de7-aabe-3c9fa523d3cf");
  EXPECT_EQ(msg.route.source, "edgecontroller");
  EXPECT_EQ(msg.route.group, "resource");
  EXPECT_EQ(msg.route.operation, op::kResponse);
  EXPECT_EQ(msg.route.resource, "default/pod/bb-1");
  EXPECT_TRUE(msg.content.is_string());
  EXPECT_EQ(msg.contentData(), "OK");
}

TEST(MessageGoldenTest, QueryHasNullContent) {
  const std::string wire = readGolden("edge_query_node.json");
  EXPECT_THAT(wire, ::testing::HasSubstr("\"content\":null}"));
  const Message msg = decodeOrDie(wire);
  EXPECT_TRUE(msg.content.is_null());
  EXPECT_EQ(msg.contentData(), "null");
}

TEST(MessageGoldenTest, PodpatchIsAStringHoldingJson) {
  const Message msg = decodeOrDie(readGolden("edge_podpatch.json"));
  ASSERT_TRUE(msg.content.is_string());
  const json patch = json::parse(msg.contentData());
  EXPECT_EQ(patch["metadata"]["uid"], "6a0b1f3e-6c1e-4f57-9a55-0d3c2f6f0b01");
  // Still a string after a round trip, not turned into an object.
  EXPECT_TRUE(decodeOrDie(encodeMessage(msg)).content.is_string());
}

TEST(MessageGoldenTest, FirstNodepatchIsTheStringBraces) {
  const Message msg = decodeOrDie(readGolden("edge_nodepatch_empty.json"));
  EXPECT_EQ(msg.content, json("{}"));
  EXPECT_THAT(encodeMessage(msg), ::testing::HasSubstr(R"("content":"{}")"));
}

TEST(MessageGoldenTest, PodInsertFromCloud) {
  const Message msg = decodeOrDie(readGolden("cloud_pod_insert.json"));
  EXPECT_EQ(msg.route.operation, op::kInsert);
  EXPECT_EQ(msg.route.resource, "default/pod/bb-1");
  EXPECT_FALSE(msg.header.resource_version.empty());
  ASSERT_TRUE(msg.content.is_object());
  EXPECT_EQ(msg.content["kind"], "Pod");
  EXPECT_EQ(msg.content["metadata"]["name"], "bb-1");
  EXPECT_EQ(msg.content["metadata"]["uid"], "6a0b1f3e-6c1e-4f57-9a55-0d3c2f6f0b01");
}

TEST(MessageGoldenTest, ObjectRespWithErr) {
  const Message msg = decodeOrDie(readGolden("cloud_lease_objectresp_err.json"));
  ASSERT_TRUE(msg.content.is_object());
  EXPECT_TRUE(msg.content.at("Object").is_null());
  EXPECT_EQ(msg.content.at("Err").at("ErrStatus").at("code"), 404);
  EXPECT_EQ(msg.content.at("Err").at("ErrStatus").at("reason"), "NotFound");
}

TEST(MessageGoldenTest, ObjectRespWithObject) {
  const Message msg = decodeOrDie(readGolden("cloud_podpatch_objectresp.json"));
  EXPECT_TRUE(msg.content.at("Err").is_null());
  EXPECT_EQ(msg.content.at("Object").at("kind"), "Pod");
}

TEST(MessageGoldenTest, BareErrStatus) {
  const Message msg = decodeOrDie(readGolden("cloud_node_errstatus.json"));
  EXPECT_EQ(msg.content.at("ErrStatus").at("status"), "Failure");
  EXPECT_EQ(msg.content.at("ErrStatus").at("details").at("kind"), "nodes");
  // The message text holds quotes: they survive the round trip escaped.
  EXPECT_THAT(encodeMessage(msg), ::testing::HasSubstr(R"(nodes \"edge-ref-1\" not found)"));
}

// ---------------------------------------------------------------------------------------------
// Encoding.

Message fixedMessage() {
  Message m;
  m.header.id = "11111111-2222-4333-8444-555555555555";
  m.header.timestamp_ms = 1718000000123;
  return m;
}

TEST(EncodeMessageTest, MinimalMessageKeepsAlwaysEmittedKeys) {
  EXPECT_EQ(encodeMessage(Message{}),
            R"({"header":{"msg_id":"","timestamp":0},"route":{},"content":null})");
}

TEST(EncodeMessageTest, KeyOrderAndOmitEmpty) {
  Message m = fixedMessage();
  m.header.parent_id = "p";
  m.header.resource_version = "42";
  m.header.sync = true;
  m.header.type = "channel";
  m.route = {"edgecontroller", "dst", "resource", "insert", "default/pod/nginx"};
  m.content = json::object({{"b", 1}, {"a", 2}});
  EXPECT_EQ(encodeMessage(m),
            R"({"header":{"msg_id":"11111111-2222-4333-8444-555555555555","parent_msg_id":"p",)"
            R"("timestamp":1718000000123,"resourceversion":"42","sync":true,"type":"channel"},)"
            R"("route":{"source":"edgecontroller","destination":"dst","group":"resource",)"
            R"("operation":"insert","resource":"default/pod/nginx"},"content":{"a":2,"b":1}})");
}

TEST(EncodeMessageTest, ContentKinds) {
  Message m = fixedMessage();
  const std::string prefix =
      R"({"header":{"msg_id":"11111111-2222-4333-8444-555555555555","timestamp":1718000000123},)"
      R"("route":{},"content":)";
  m.content = "OK";
  EXPECT_EQ(encodeMessage(m), prefix + R"("OK"})");
  m.content = R"({"a":1})";
  EXPECT_EQ(encodeMessage(m), prefix + R"("{\"a\":1}"})");
  m.content = json::array({1, "x", nullptr, true});
  EXPECT_EQ(encodeMessage(m), prefix + R"([1,"x",null,true]})");
  m.content = json::object();
  EXPECT_EQ(encodeMessage(m), prefix + "{}}");
}

// A Go struct's field order survives encodeOrderedJsonValue and, as raw JSON content, the
// envelope; a plain json object would come out sorted.
TEST(EncodeJsonValueTest, OrderedValueAndRawContentKeepFieldOrder) {
  nlohmann::ordered_json o = nlohmann::ordered_json::object();
  o["event_type"] = "e<";
  o["event_id"] = "x";
  o["twin"] = {{"b", 1}, {"a", true}};
  const std::string text = encodeOrderedJsonValue(o);
  EXPECT_EQ(text, R"({"event_type":"e\u003c","event_id":"x","twin":{"b":1,"a":true}})");
  Message m = Message::create("twin", "resource", "update", "device/d/twin/edge_updated",
                              rawJsonContent(text));
  EXPECT_EQ(m.contentData(), text);
  const std::string wire = encodeMessage(m);
  EXPECT_NE(wire.find(",\"content\":" + text + "}"), std::string::npos) << wire;
  auto back = decodeMessage(wire);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->content["twin"]["b"], 1);
  // Plain binary content is still Go's []byte: base64.
  m.content = nlohmann::json::binary({'h', 'i'});
  EXPECT_NE(encodeMessage(m).find(R"("content":"aGk=")"), std::string::npos);
}

TEST(EncodeJsonValueTest, EscapesLikeGo) {
  EXPECT_EQ(encodeJsonValue("<a href=\"x\">&</a>"),
            R"("\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e")");
  EXPECT_EQ(encodeJsonValue("a/b\\c"), R"("a/b\\c")");  // '/' stays as it is
  EXPECT_EQ(encodeJsonValue("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(encodeJsonValue(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(encodeJsonValue(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(encodeJsonValue("\u2028x\u2029"), R"("\u2028x\u2029")");
  EXPECT_EQ(encodeJsonValue("h\u00e9 \u4e16 \U0001F600"), "\"h\u00e9 \u4e16 \U0001F600\"");
  EXPECT_EQ(encodeJsonValue(json::object({{"<k>", 1}})), R"({"\u003ck\u003e":1})");
}

TEST(EncodeJsonValueTest, InvalidUtf8BecomesReplacementPerByte) {
  EXPECT_EQ(encodeJsonValue(std::string("a\xff"
                                        "b")),
            R"("a\ufffdb")");
  EXPECT_EQ(encodeJsonValue(std::string("\xe2\x82")), R"("\ufffd\ufffd")");            // truncated
  EXPECT_EQ(encodeJsonValue(std::string("\xc0\xaf")), R"("\ufffd\ufffd")");            // overlong
  EXPECT_EQ(encodeJsonValue(std::string("\xed\xa0\x80")), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(encodeJsonValue(std::string("\xf4\x90\x80\x80")),                          // > U+10FFFF
            R"("\ufffd\ufffd\ufffd\ufffd")");
  // Inside a whole message, in content and in a route field: no exception, valid output.
  Message m = fixedMessage();
  m.route.resource = std::string("default/pod/\xfe");
  m.content = json::object({{std::string("k\xff"), std::string("v\x80")}});
  std::string out;
  ASSERT_NO_THROW(out = encodeMessage(m));
  EXPECT_THAT(out, ::testing::HasSubstr(R"("resource":"default/pod/\ufffd")"));
  EXPECT_THAT(out, ::testing::HasSubstr(R"({"k\ufffd":"v\ufffd"})"));
  EXPECT_TRUE(json::accept(out));
}

TEST(EncodeJsonValueTest, NumbersLikeGo) {
  EXPECT_EQ(encodeJsonValue(0), "0");
  EXPECT_EQ(encodeJsonValue(-42), "-42");
  EXPECT_EQ(encodeJsonValue(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(encodeJsonValue(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(encodeJsonValue(1.5), "1.5");
  EXPECT_EQ(encodeJsonValue(100.0), "100");  // nlohmann would write 100.0
  EXPECT_EQ(encodeJsonValue(0.1), "0.1");
  EXPECT_EQ(encodeJsonValue(-0.0), "-0");
  EXPECT_EQ(encodeJsonValue(1e20), "100000000000000000000");
  EXPECT_EQ(encodeJsonValue(1e21), "1e+21");
  EXPECT_EQ(encodeJsonValue(1.5e300), "1.5e+300");
  EXPECT_EQ(encodeJsonValue(0.000001), "0.000001");
  EXPECT_EQ(encodeJsonValue(1e-7), "1e-7");
  EXPECT_EQ(encodeJsonValue(1.25e-10), "1.25e-10");
  EXPECT_EQ(encodeJsonValue(std::nan("")), "null");
  EXPECT_EQ(encodeJsonValue(std::numeric_limits<double>::infinity()), "null");
  // Floats read from text: "1e3" and "2.50" are float64 in Go and come back as 1000 and 2.5.
  EXPECT_EQ(encodeJsonValue(json::parse("[1e3,2.50,-1.0E-8]")), "[1000,2.5,-1e-8]");
}

TEST(EncodeJsonValueTest, BinaryIsBase64LikeGoBytes) {
  EXPECT_EQ(encodeJsonValue(json::binary({'h', 'i', '!', '?'})), R"("aGkhPw==")");
  EXPECT_EQ(encodeJsonValue(json::binary({})), R"("")");
}

// ---------------------------------------------------------------------------------------------
// Constructors.

TEST(MessageTest, CreateFillsIdTimeAndRoute) {
  const int64_t before = nowUnixMillis();
  const Message m = Message::create("edged", "meta", "query", "default/node/n1");
  const int64_t after = nowUnixMillis();
  EXPECT_EQ(m.header.id.size(), 36u);
  EXPECT_GE(m.header.timestamp_ms, before);
  EXPECT_LE(m.header.timestamp_ms, after);
  EXPECT_EQ(m.route, (MessageRoute{"edged", "", "meta", "query", "default/node/n1"}));
  EXPECT_TRUE(m.header.parent_id.empty());
  EXPECT_TRUE(m.content.is_null());
  // The query shape seen on the wire.
  EXPECT_THAT(encodeMessage(m),
              ::testing::EndsWith(R"("route":{"source":"edged","group":"meta","operation":)"
                                  R"("query","resource":"default/node/n1"},"content":null})"));
}

TEST(MessageTest, MakeResponseIsTheAckShape) {
  const Message req = decodeOrDie(readGolden("cloud_pod_insert.json"));
  const Message ack = req.makeResponse("OK");
  EXPECT_NE(ack.header.id, req.header.id);
  EXPECT_EQ(ack.header.parent_id, req.header.id);
  EXPECT_TRUE(ack.header.resource_version.empty());
  EXPECT_EQ(ack.route.source, req.route.source);
  EXPECT_EQ(ack.route.group, req.route.group);
  EXPECT_EQ(ack.route.resource, req.route.resource);
  EXPECT_EQ(ack.route.operation, "response");
  // Byte layout of the recorded ACK, with this ACK's own id and time.
  const std::string expected = R"({"header":{"msg_id":")" + ack.header.id +
                               R"(","parent_msg_id":")" + req.header.id + R"(","timestamp":)" +
                               std::to_string(ack.header.timestamp_ms) +
                               R"(},"route":{"source":"edgecontroller","group":"resource",)"
                               R"("operation":"response","resource":"default/pod/bb-1"},)"
                               R"("content":"OK"})";
  EXPECT_EQ(encodeMessage(ack), expected);
}

TEST(MessageTest, MakeResponseCopiesTypeNotDestination) {
  Message req = fixedMessage();
  req.header.type = "unixsocket";
  req.route.destination = "somewhere";
  const Message resp = req.makeResponse(json::object({{"x", 1}}));
  EXPECT_EQ(resp.header.type, "unixsocket");
  EXPECT_EQ(resp.route.destination, "");
  EXPECT_EQ(resp.content, json::object({{"x", 1}}));
}

TEST(MessageTest, MakeErrorFollowsNewErrorMessage) {
  const Message req = decodeOrDie(readGolden("cloud_pod_insert.json"));
  const Message err = req.makeError("store failed: disk full");
  EXPECT_EQ(err.header.parent_id, req.header.id);
  EXPECT_NE(err.header.id, req.header.id);
  EXPECT_EQ(err.route.operation, op::kError);
  EXPECT_EQ(err.route.resource, "default/pod/bb-1");
  EXPECT_EQ(err.route.source, "");
  EXPECT_EQ(err.route.group, "");
  EXPECT_EQ(err.content, json("store failed: disk full"));
}

TEST(MessageTest, ContentData) {
  Message m;
  m.content = "{\"a\": 1}";
  EXPECT_EQ(m.contentData(), "{\"a\": 1}");  // raw text, no quoting
  m.content = json::object({{"b", "<"}, {"a", 1.0}});
  EXPECT_EQ(m.contentData(), R"({"a":1,"b":"\u003c"})");
  m.content = nullptr;
  EXPECT_EQ(m.contentData(), "null");
  m.content = json::binary({'r', 'a', 'w'});
  EXPECT_EQ(m.contentData(), "raw");
}

// ---------------------------------------------------------------------------------------------
// Decoding.

TEST(DecodeMessageTest, UnknownKeysIgnored) {
  const Message m =
      decodeOrDie(R"({"extra":[1,2],"header":{"msg_id":"a","timestamp":5,"future":{"x":1}},)"
                  R"("route":{"operation":"insert","router":"no"},"content":7,"more":null})");
  EXPECT_EQ(m.header.id, "a");
  EXPECT_EQ(m.header.timestamp_ms, 5);
  EXPECT_EQ(m.route.operation, "insert");
  EXPECT_EQ(m.content, json(7));
}

TEST(DecodeMessageTest, MissingKeysAreZero) {
  const Message m = decodeOrDie("{}");
  EXPECT_EQ(m, Message{});
  EXPECT_TRUE(m.content.is_null());
  const Message h = decodeOrDie(R"({"header":{}})");
  EXPECT_EQ(h, Message{});
}

TEST(DecodeMessageTest, NullIsLikeAbsent) {
  const Message m =
      decodeOrDie(R"({"header":{"msg_id":null,"parent_msg_id":null,"timestamp":null,"sync":null,)"
                  R"("resourceversion":null,"type":null},"route":{"source":null},"content":null})");
  EXPECT_EQ(m, Message{});
  EXPECT_EQ(decodeOrDie(R"({"header":null,"route":null})"), Message{});
}

TEST(DecodeMessageTest, ContentKindsPreserved) {
  for (const char* text :
       {R"({"content":"OK"})", R"({"content":"{\"a\":1}"})", R"({"content":{"a":1}})",
        R"({"content":null})", R"({"content":[]})", R"({"content":false})"}) {
    const Message m = decodeOrDie(text);
    const std::string again = encodeMessage(m);
    const std::string content_text = std::string(text).substr(11, std::strlen(text) - 12);
    EXPECT_THAT(again, ::testing::EndsWith("\"content\":" + content_text + "}")) << text;
  }
}

TEST(DecodeMessageTest, KeysMatchCaseInsensitivelyLikeGo) {
  const Message m =
      decodeOrDie(R"({"Header":{"MSG_ID":"x","Timestamp":3},"ROUTE":{"Resource":"r"}})");
  EXPECT_EQ(m.header.id, "x");
  EXPECT_EQ(m.header.timestamp_ms, 3);
  EXPECT_EQ(m.route.resource, "r");
  // The exact spelling wins over a case variant.
  EXPECT_EQ(decodeOrDie(R"({"header":{"MSG_ID":"fold","msg_id":"exact"}})").header.id, "exact");
}

TEST(DecodeMessageTest, WrongTypesRejectedNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"header":{"timestamp":"1718000000123"}})", "header.timestamp"},
      {R"({"header":{"timestamp":1.5}})", "header.timestamp"},
      {R"({"header":{"timestamp":1e3}})", "header.timestamp"},
      {R"({"header":{"timestamp":9223372036854775808}})", "header.timestamp"},
      {R"({"header":{"timestamp":true}})", "header.timestamp"},
      {R"({"header":[]})", "header"},
      {R"({"header":"h"})", "header"},
      {R"({"route":"r"})", "route"},
      {R"({"route":[1]})", "route"},
      {R"({"header":{"msg_id":5}})", "header.msg_id"},
      {R"({"header":{"parent_msg_id":{}}})", "header.parent_msg_id"},
      {R"({"header":{"resourceversion":123}})", "header.resourceversion"},
      {R"({"header":{"sync":"true"}})", "header.sync"},
      {R"({"header":{"type":false}})", "header.type"},
      {R"({"route":{"source":1}})", "route.source"},
      {R"({"route":{"destination":[]}})", "route.destination"},
      {R"({"route":{"group":{}}})", "route.group"},
      {R"({"route":{"operation":true}})", "route.operation"},
      {R"({"route":{"resource":0}})", "route.resource"},
  };
  for (const auto& [text, key] : cases) {
    const Result<Message> r = decodeMessage(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument) << text;
    EXPECT_THAT(r.status().message(), ::testing::HasSubstr("\"" + key + "\"")) << text;
  }
}

TEST(DecodeMessageTest, TimestampLimits) {
  EXPECT_EQ(decodeOrDie(R"({"header":{"timestamp":-5}})").header.timestamp_ms, -5);
  EXPECT_EQ(decodeOrDie(R"({"header":{"timestamp":9223372036854775807}})").header.timestamp_ms,
            std::numeric_limits<int64_t>::max());
}

TEST(DecodeMessageTest, NotJsonOrNotObjectRejected) {
  for (const char* text : {"", " ", "not json", "{", R"({"header":})", "[]", "\"x\"", "1", "null",
                           "true", R"({"a":1} trailing)", R"({"a":1}{"b":2})", "{'a':1}"}) {
    const Result<Message> r = decodeMessage(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument) << text;
  }
  // Surrounding whitespace, including the frame's trailing newline, is fine.
  EXPECT_TRUE(decodeMessage(" \t{}\r\n").ok());
}

std::string nested(int depth) {
  return R"({"content":)" + std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']') + "}";
}

TEST(DecodeMessageTest, DeepNestingRejected) {
  // The message object itself is one level.
  EXPECT_TRUE(decodeMessage(nested(kMaxJsonDepth - 1)).ok());
  const Result<Message> r = decodeMessage(nested(kMaxJsonDepth));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("nested"));
  // A million unclosed brackets: refused quickly, no stack overflow.
  EXPECT_FALSE(decodeMessage(std::string(1'000'000, '[')).ok());
  // Brackets inside strings do not count.
  const std::string in_string = R"({"content":")" + std::string(10'000, '[') + R"(\"[{"})";
  EXPECT_TRUE(decodeMessage(in_string).ok());
}

TEST(DecodeMessageTest, InvalidUtf8ReplacedLikeGo) {
  const Message m =
      decodeOrDie(std::string("{\"route\":{\"resource\":\"a\xff"
                              "b\"},"
                              "\"content\":\"\xe2\x82\"}"));
  EXPECT_EQ(m.route.resource,
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(m.content, json("\xef\xbf\xbd\xef\xbf\xbd"));
  // Invalid UTF-8 outside a string is still a syntax error, not a crash.
  EXPECT_FALSE(decodeMessage(std::string("{\xff}")).ok());
}

TEST(DecodeMessageTest, LoneSurrogateEscapesBecomeReplacement) {
  EXPECT_EQ(decodeOrDie(R"({"content":"a\ud800b"})").content, json("a\ufffdb"));
  EXPECT_EQ(decodeOrDie(R"({"content":"\udc00"})").content, json("\ufffd"));
  EXPECT_EQ(decodeOrDie(R"({"content":"\ud800\u0041"})").content, json("\ufffdA"));
  EXPECT_EQ(decodeOrDie(R"({"content":"\ud83d\ude00"})").content, json("\U0001F600"));
  EXPECT_EQ(decodeOrDie(R"({"content":"\\ud800"})").content, json("\\ud800"));  // not an escape
}

TEST(DecodeMessageTest, GarbageNeverThrows) {
  const std::string base = readGolden("edge_podpatch.json");
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = base;
    if (i % 3 == 0) {
      text.resize(rng() % text.size());  // truncation
    } else {
      for (int k = 0; k < 1 + i % 8; ++k) {
        text[rng() % text.size()] = static_cast<char>(rng() & 0xFF);  // byte flips
      }
    }
    Result<Message> r = Status(StatusCode::Unknown, "unset");
    ASSERT_NO_THROW(r = decodeMessage(text));
    if (r.ok()) {
      ++accepted;
      ASSERT_NO_THROW((void)encodeMessage(*r));
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
    }
  }
  EXPECT_GT(accepted, 0);  // flips inside string values still decode
}

// ---------------------------------------------------------------------------------------------
// Ids and time.

// Text from the network may nest far deeper than decodeMessage's bound (a string content, a
// cloud answer body); every recursive walk after parseJsonBounded relies on its bound.
TEST(ParseJsonBoundedTest, RefusesNestingBeyondTheBound) {
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '[') +
           std::string(static_cast<size_t>(depth), ']');
  };
  EXPECT_FALSE(parseJsonBounded(nested(kMaxJsonDepth)).is_discarded());
  EXPECT_TRUE(parseJsonBounded(nested(kMaxJsonDepth + 1)).is_discarded());
  EXPECT_TRUE(parseJsonBounded(nested(200000)).is_discarded());
  EXPECT_TRUE(parseJsonBounded(R"({"a":[1,2)").is_discarded());  // not JSON
  // Brackets inside strings (also after an escaped quote) do not count.
  std::string in_string = "[\"\\\"" + std::string(600, '[') + "\"]";
  auto j = parseJsonBounded(in_string);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0].get<std::string>().size(), 601u);
  EXPECT_TRUE(jsonNestingWithin(nested(3), 3));
  EXPECT_FALSE(jsonNestingWithin(nested(4), 3));
}

TEST(UuidTest, FormatIsCanonicalV4) {
  const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 200; ++i) {
    const std::string id = newUuidV4();
    ASSERT_EQ(id.size(), 36u);
    ASSERT_TRUE(std::regex_match(id, v4)) << id;
  }
}

TEST(UuidTest, TenThousandAreDistinct) {
  std::set<std::string> ids;
  for (int i = 0; i < 10'000; ++i) {
    ids.insert(newUuidV4());
  }
  EXPECT_EQ(ids.size(), 10'000u);
}

TEST(TimeTest, UnixMillisHas13Digits) {
  const int64_t now = nowUnixMillis();
  EXPECT_EQ(std::to_string(now).size(), 13u);
  EXPECT_GT(now, 1'700'000'000'000);  // after Nov 2023: milliseconds, not seconds or micros
}

}  // namespace
}  // namespace edgecore::core
