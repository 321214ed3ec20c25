// The tunnel's own websocket framing (include/edgecore/net/ws_frame.h).

#include "edgecore/net/ws_frame.h"

#include <gtest/gtest.h>

namespace edgecore::net {
namespace {

const uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

TEST(WsFrameTest, EncodesRfcExampleAndParsesItBack) {
  // RFC 6455 5.7: a masked "Hello" text frame.
  std::string wire = encodeWsFrame(WsOpcode::Text, "Hello", kMask);
  EXPECT_EQ(wire, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  WsFrameHeader h;
  ASSERT_EQ(parseWsHeader(wire, h), WsHeaderStatus::Ok);
  EXPECT_TRUE(h.fin);
  EXPECT_EQ(h.opcode, 0x1);
  EXPECT_TRUE(h.masked);
  EXPECT_EQ(h.payload_len, 5u);
  EXPECT_EQ(h.header_len, 6u);
  std::string payload = wire.substr(h.header_len);
  applyWsMask(payload.data(), payload.size(), h.mask, 0);
  EXPECT_EQ(payload, "Hello");
}

TEST(WsFrameTest, ExtendedLengthsAndPartialHeaders) {
  for (size_t n : {125u, 126u, 65535u, 65536u, 1u << 20}) {
    std::string wire = encodeWsFrame(WsOpcode::Binary, std::string(n, 'x'), kMask);
    EXPECT_EQ(wsClientFrameSize(n), wire.size()) << n;
    WsFrameHeader h;
    ASSERT_EQ(parseWsHeader(wire, h), WsHeaderStatus::Ok) << n;
    EXPECT_EQ(h.payload_len, n);
    EXPECT_EQ(wire.size(), h.header_len + n);
    for (size_t cut = 0; cut < h.header_len; ++cut) {
      EXPECT_EQ(parseWsHeader(std::string_view(wire).substr(0, cut), h), WsHeaderStatus::NeedMore);
    }
  }
}

TEST(WsFrameTest, RejectsReservedBitsAndBadControlFrames) {
  WsFrameHeader h;
  EXPECT_EQ(parseWsHeader(std::string("\xc1\x00", 2), h), WsHeaderStatus::Invalid);  // RSV1
  EXPECT_EQ(parseWsHeader(std::string("\x09\x00", 2), h), WsHeaderStatus::Invalid);  // frag ping
  EXPECT_EQ(parseWsHeader(std::string("\x89\x7e\x00\x7e", 4), h), WsHeaderStatus::Invalid);
  std::string huge("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10);
  EXPECT_EQ(parseWsHeader(huge, h), WsHeaderStatus::Invalid);
  // Unmasked server frame is fine.
  ASSERT_EQ(parseWsHeader(std::string("\x8a\x02", 2), h), WsHeaderStatus::Ok);
  EXPECT_FALSE(h.masked);
  EXPECT_EQ(h.opcode, 0xa);
}

TEST(WsFrameTest, AcceptKeyMatchesRfcExample) {
  EXPECT_EQ(wsAcceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(newWsKey().size(), 24u);
  EXPECT_NE(newWsKey(), newWsKey());
}

}  // namespace
}  // namespace edgecore::net
