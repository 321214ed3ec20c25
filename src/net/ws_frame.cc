#include "edgecore/net/ws_frame.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "edgecore/core/base64.h"

namespace edgecore::net {

WsHeaderStatus parseWsHeader(std::string_view in, WsFrameHeader& out) {
  if (in.size() < 2) {
    return WsHeaderStatus::NeedMore;
  }
  auto b0 = static_cast<uint8_t>(in[0]);
  auto b1 = static_cast<uint8_t>(in[1]);
  if ((b0 & 0x70) != 0) {
    return WsHeaderStatus::Invalid;  // RSV bits: no extension was negotiated
  }
  out.fin = (b0 & 0x80) != 0;
  out.opcode = b0 & 0x0f;
  out.masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7f;
  size_t pos = 2;
  if (len == 126) {
    if (in.size() < 4) {
      return WsHeaderStatus::NeedMore;
    }
    len = (static_cast<uint64_t>(static_cast<uint8_t>(in[2])) << 8) | static_cast<uint8_t>(in[3]);
    pos = 4;
  } else if (len == 127) {
    if (in.size() < 10) {
      return WsHeaderStatus::NeedMore;
    }
    len = 0;
    for (int i = 0; i < 8; ++i) {
      len = (len << 8) | static_cast<uint8_t>(in[2 + i]);
    }
    if ((len >> 63) != 0) {
      return WsHeaderStatus::Invalid;
    }
    pos = 10;
  }
  if (out.masked) {
    if (in.size() < pos + 4) {
      return WsHeaderStatus::NeedMore;
    }
    for (int i = 0; i < 4; ++i) {
      out.mask[i] = static_cast<uint8_t>(in[pos + i]);
    }
    pos += 4;
  }
  if (out.opcode >= 0x8 && (!out.fin || len > 125)) {
    return WsHeaderStatus::Invalid;
  }
  out.payload_len = len;
  out.header_len = pos;
  return WsHeaderStatus::Ok;
}

void applyWsMask(char* data, size_t len, const uint8_t mask[4], uint64_t offset) {
  for (size_t i = 0; i < len; ++i) {
    data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ mask[(offset + i) & 3]);
  }
}

size_t wsClientFrameSize(size_t payload_len) {
  size_t length_bytes = payload_len < 126 ? 0 : (payload_len <= 0xffff ? 2 : 8);
  return 2 + length_bytes + 4 + payload_len;
}

std::string encodeWsFrame(WsOpcode op, std::string_view payload, const uint8_t mask[4]) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(op)));
  const uint64_t len = payload.size();
  if (len < 126) {
    out.push_back(static_cast<char>(0x80 | len));
  } else if (len <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>((len >> 8) & 0xff));
    out.push_back(static_cast<char>(len & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) {
      out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    }
  }
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>(mask[i]));
  }
  size_t start = out.size();
  out.append(payload);
  applyWsMask(out.data() + start, payload.size(), mask, 0);
  return out;
}

std::string wsAcceptFor(std::string_view key) {
  std::string text(key);
  text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return core::base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string newWsKey() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    for (size_t i = 0; i < sizeof raw; ++i) {
      raw[i] = static_cast<unsigned char>(i * 37 + 11);  // uniqueness is not a security need
    }
  }
  return core::base64Encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

}  // namespace edgecore::net
