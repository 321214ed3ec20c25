// The tunnel frame codec and the connect-message parser: pure functions, no sockets.

#include "frame.h"

#include <gtest/gtest.h>

#include "connect_request.h"
#include "edgecore/edgestream/module.h"

namespace edgecore::edgestream {
namespace {

TEST(StreamFrameTest, RoundTripsEveryTypeAndLargeIds) {
  for (uint64_t id : {0ull, 1ull, 127ull, 128ull, 300ull, 0xffffffffffffffffull}) {
    for (uint64_t t = 0; t <= 6; ++t) {
      std::string data = "payload-" + std::to_string(id);
      std::string wire = encodeFrame(id, static_cast<MessageType>(t), data);
      DecodeResult r = decodeFrame(wire);
      ASSERT_TRUE(r.ok()) << frameErrorName(r.error);
      EXPECT_EQ(r.frame.connect_id, id);
      EXPECT_EQ(static_cast<uint64_t>(r.frame.type), t);
      EXPECT_EQ(r.frame.data, data);
    }
  }
}

TEST(StreamFrameTest, MatchesGoPutUvarintBytes) {
  // binary.PutUvarint(300) = ac 02; type DATA = 03.
  EXPECT_EQ(encodeFrame(300, MessageType::Data, "x"), std::string("\xac\x02\x03x", 4));
  // The largest uint64 takes 10 bytes, the last one 0x01.
  std::string max;
  appendUvarint(max, ~0ull);
  ASSERT_EQ(max.size(), 10u);
  EXPECT_EQ(static_cast<uint8_t>(max.back()), 1);
  EXPECT_EQ(encodeFrame(1, MessageType::RemoveConnect, ""), std::string("\x01\x04", 2));
}

TEST(StreamFrameTest, RejectsTruncatedVarints) {
  EXPECT_EQ(decodeFrame("").error, FrameError::Truncated);
  EXPECT_EQ(decodeFrame("\x80").error, FrameError::Truncated);
  EXPECT_EQ(decodeFrame("\x01").error, FrameError::Truncated);  // id only, no type
  EXPECT_EQ(decodeFrame("\x01\x83").error, FrameError::Truncated);
}

TEST(StreamFrameTest, RejectsOverflowingVarints) {
  std::string eleven(11, '\xff');
  EXPECT_EQ(decodeFrame(eleven).error, FrameError::Overflow);
  // Ten bytes whose last one carries more than the top bit of a uint64.
  std::string ten(9, '\xff');
  ten.push_back('\x02');
  EXPECT_EQ(decodeFrame(ten + "\x03").error, FrameError::Overflow);
  std::string ok(9, '\xff');
  ok.push_back('\x01');
  EXPECT_TRUE(decodeFrame(ok + "\x03").ok());
}

TEST(StreamFrameTest, RejectsUnknownTypes) {
  EXPECT_EQ(decodeFrame(std::string("\x01\x07", 2)).error, FrameError::UnknownType);
  EXPECT_EQ(decodeFrame(encodeFrame(1, static_cast<MessageType>(1000), "x")).error,
            FrameError::UnknownType);
}

TEST(StreamFrameTest, EnforcesTheOneMebibyteLimit) {
  std::string at_limit = encodeFrame(1, MessageType::Data, std::string(kMaxFrameData, 'a'));
  EXPECT_TRUE(decodeFrame(at_limit).ok());
  std::string over = encodeFrame(1, MessageType::Data, std::string(kMaxFrameData + 1, 'a'));
  EXPECT_EQ(decodeFrame(over).error, FrameError::Oversized);
  EXPECT_EQ(decodeFrame(std::string(kMaxFrameBytes + 1, '\x01')).error, FrameError::Oversized);
}

TEST(ConnectRequestTest, ParsesCloudStreamLogsConnect) {
  auto r = parseConnectRequest(R"({"MessID":7,"url":{"Scheme":"http","Opaque":"","User":null,
    "Host":"127.0.0.1:10350","Path":"/containerLogs/default/nginx/nginx","RawPath":"",
    "OmitHost":false,"ForceQuery":false,"RawQuery":"follow=true&tailLines=10","Fragment":"",
    "RawFragment":""},"header":{"Accept":["*/*"],"X-Multi":["a","b"]}})");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->mess_id, 7u);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->host, "127.0.0.1:10350");
  EXPECT_EQ(r->target, "/containerLogs/default/nginx/nginx?follow=true&tailLines=10");
  ASSERT_EQ(r->headers.size(), 3u);
  std::string head = buildRequestHead(*r, "127.0.0.1:9999", false);
  EXPECT_EQ(
      head.rfind("GET /containerLogs/default/nginx/nginx?follow=true&tailLines=10 HTTP/1.1\r\n"
                 "Host: 127.0.0.1:9999\r\n",
                 0),
      0u)
      << head;
  EXPECT_NE(head.find("X-Multi: a\r\nX-Multi: b\r\n"), std::string::npos);
  EXPECT_NE(head.find("User-Agent: edgecore-cpp\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(ConnectRequestTest, ExecMethodRawPathAndEscaping) {
  auto r = parseConnectRequest(
      R"({"MessID":1,"method":"POST","url":{"Path":"/exec/ns/a b/c","RawQuery":"command=ls"},
          "header":{"Upgrade":["SPDY/3.1"],"Connection":["Upgrade"]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->target, "/exec/ns/a%20b/c?command=ls");
  auto raw = parseConnectRequest(R"({"url":{"Path":"/a/b","RawPath":"/a%2Fb"}})");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->target, "/a%2Fb");
}

TEST(ConnectRequestTest, MetricsForceIdentityEncoding) {
  auto r = parseConnectRequest(
      R"({"url":{"Path":"/metrics"},"header":{"Accept-Encoding":["gzip"],"User-Agent":["k"]}})");
  ASSERT_TRUE(r.ok());
  std::string head = buildRequestHead(*r, "h:1", true);
  EXPECT_EQ(head.find("gzip"), std::string::npos);
  EXPECT_NE(head.find("Accept-Encoding: identity\r\n"), std::string::npos);
  EXPECT_NE(head.find("User-Agent: k\r\n"), std::string::npos);
  EXPECT_EQ(head.find("edgecore-cpp"), std::string::npos);
}

TEST(ConnectRequestTest, RejectsOrDropsInjection) {
  EXPECT_FALSE(parseConnectRequest("not json").ok());
  EXPECT_FALSE(parseConnectRequest("[]").ok());
  EXPECT_FALSE(parseConnectRequest(R"({"MessID":1})").ok());
  EXPECT_FALSE(parseConnectRequest(R"({"url":{"Path":"relative"}})").ok());
  EXPECT_FALSE(parseConnectRequest(R"({"url":{"Path":"/x","RawQuery":"a\r\nHost: evil"}})").ok());
  EXPECT_FALSE(parseConnectRequest(R"({"method":"GET /x HTTP/1.1\r\n","url":{"Path":"/x"}})").ok());
  auto r = parseConnectRequest(
      R"({"url":{"Path":"/x"},"header":{"Ok":["1"],"Bad Name":["2"],"X":["a\r\nInjected: 1"],
          "Y":"not-a-list","Z":[3]}})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "Ok");
  EXPECT_EQ(buildRequestHead(*r, "h:1", false).find("Injected"), std::string::npos);
}

// Tunnelled requests go where edged listens, whatever host:port the cloud's URL names.
TEST(EdgedServerAddressTest, FollowsTheEdgedServerConfig) {
  core::EdgedConfig e;
  EXPECT_EQ(edgedServerAddress(e), "127.0.0.1:10350");
  e.read_only_port = 10450;
  EXPECT_EQ(edgedServerAddress(e), "127.0.0.1:10450");
  e.address = "0.0.0.0";
  EXPECT_EQ(edgedServerAddress(e), "127.0.0.1:10450");
  e.address = "192.0.2.7";
  EXPECT_EQ(edgedServerAddress(e), "192.0.2.7:10450");
  e.address = "::";
  EXPECT_EQ(edgedServerAddress(e), "[::1]:10450");
  e.address = "fd00::5";
  EXPECT_EQ(edgedServerAddress(e), "[fd00::5]:10450");
}

}  // namespace
}  // namespace edgecore::edgestream
