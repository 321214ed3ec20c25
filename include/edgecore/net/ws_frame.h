#pragma once

// Minimal RFC 6455 client framing, for net::WsSession's raw framing (edgestream's tunnel).
// Beast's websocket stream cannot be used there: it fails the connection on a text frame whose
// payload is not UTF-8, and CloudStream sends binary payloads (SPDY bytes of exec/attach, uvarint
// headers) in text frames (spec 6.2). So the raw session does the upgrade with Beast's HTTP
// parser and frames the stream itself. Pure code; the session does the I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgecore::net {

enum class WsOpcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
};

struct WsFrameHeader {
  bool fin = false;
  uint8_t opcode = 0;  // raw: unknown opcodes are the caller's business
  bool masked = false;
  uint8_t mask[4] = {0, 0, 0, 0};
  uint64_t payload_len = 0;
  size_t header_len = 0;  // bytes the header took
};

enum class WsHeaderStatus { Ok, NeedMore, Invalid };

// Parses a frame header at the start of `in`. Invalid for reserved bits set (no extensions were
// negotiated), control frames that are fragmented or longer than 125 bytes, and 64-bit lengths
// with the top bit set.
WsHeaderStatus parseWsHeader(std::string_view in, WsFrameHeader& out);

// One complete client frame (FIN set, masked with `mask` as RFC 6455 requires of clients).
std::string encodeWsFrame(WsOpcode op, std::string_view payload, const uint8_t mask[4]);

// The size on the wire of encodeWsFrame's frame for a `payload_len`-byte payload.
size_t wsClientFrameSize(size_t payload_len);

// XORs `data` with the mask, starting at mask byte `offset % 4`.
void applyWsMask(char* data, size_t len, const uint8_t mask[4], uint64_t offset);

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
std::string wsAcceptFor(std::string_view key);
// A fresh random Sec-WebSocket-Key (16 random bytes, base64).
std::string newWsKey();

}  // namespace edgecore::net
