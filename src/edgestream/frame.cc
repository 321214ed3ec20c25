#include "frame.h"

namespace edgecore::edgestream {

void appendUvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

FrameError readUvarint(std::string_view in, size_t& pos, uint64_t& value) {
  uint64_t result = 0;
  unsigned shift = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (pos + i >= in.size()) {
      return FrameError::Truncated;
    }
    auto b = static_cast<uint8_t>(in[pos + i]);
    if (b < 0x80) {
      // Go's binary.ReadUvarint: the 10th byte may only carry the top bit of a uint64.
      if (i == 9 && b > 1) {
        return FrameError::Overflow;
      }
      value = result | (static_cast<uint64_t>(b) << shift);
      pos += i + 1;
      return FrameError::None;
    }
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    shift += 7;
  }
  return FrameError::Overflow;
}

DecodeResult decodeFrame(std::string_view payload) {
  DecodeResult r;
  if (payload.size() > kMaxFrameBytes) {
    r.error = FrameError::Oversized;
    return r;
  }
  size_t pos = 0;
  uint64_t id = 0;
  uint64_t type = 0;
  if (FrameError e = readUvarint(payload, pos, id); e != FrameError::None) {
    r.error = e;
    return r;
  }
  if (FrameError e = readUvarint(payload, pos, type); e != FrameError::None) {
    r.error = e;
    return r;
  }
  if (type > static_cast<uint64_t>(MessageType::AttachConnect)) {
    r.error = FrameError::UnknownType;
    return r;
  }
  if (payload.size() - pos > kMaxFrameData) {
    r.error = FrameError::Oversized;
    return r;
  }
  r.frame.connect_id = id;
  r.frame.type = static_cast<MessageType>(type);
  r.frame.data = payload.substr(pos);
  return r;
}

std::string encodeFrame(uint64_t connect_id, MessageType type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 4);
  appendUvarint(out, connect_id);
  appendUvarint(out, static_cast<uint64_t>(type));
  out.append(data);
  return out;
}

std::string_view messageTypeName(MessageType type) {
  switch (type) {
    case MessageType::LogsConnect:
      return "LOGS_CONNECT";
    case MessageType::ExecConnect:
      return "EXEC_CONNECT";
    case MessageType::MetricConnect:
      return "METRIC_CONNECT";
    case MessageType::Data:
      return "DATA";
    case MessageType::RemoveConnect:
      return "REMOVE_CONNECT";
    case MessageType::CloseConnect:
      return "CLOSE_CONNECT";
    case MessageType::AttachConnect:
      return "ATTACH_CONNECT";
  }
  return "UNKNOWN";
}

std::string_view frameErrorName(FrameError error) {
  switch (error) {
    case FrameError::None:
      return "none";
    case FrameError::Oversized:
      return "oversized";
    case FrameError::Truncated:
      return "truncated_varint";
    case FrameError::Overflow:
      return "varint_overflow";
    case FrameError::UnknownType:
      return "unknown_type";
  }
  return "unknown";
}

}  // namespace edgecore::edgestream
