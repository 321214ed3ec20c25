#pragma once

// The EdgeStream tunnel frame (spec/cloud-protocol.md 6.2): one websocket text frame carries
// `uvarint ConnectID | uvarint MessageType | data`. Uvarints are Go's binary.PutUvarint (LEB128,
// at most 10 bytes, the 10th byte at most 1). Pure functions, no I/O: the session, the fuzzer and
// the unit tests share them.

#include <cstdint>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::edgestream {

// pkg/stream/constants.go @ v1.20.0 (iota order).
enum class MessageType : uint64_t {
  LogsConnect = 0,
  ExecConnect = 1,
  MetricConnect = 2,
  Data = 3,
  RemoveConnect = 4,
  CloseConnect = 5,
  AttachConnect = 6,
};

// Largest data part we accept, as the original's reader (constants.MaxRespBodyLength = 1 MiB).
// The original silently truncates longer frames; we reject them whole.
inline constexpr size_t kMaxFrameData = 1u << 20;
// Two uvarints of at most 10 bytes each precede the data.
inline constexpr size_t kMaxFrameBytes = kMaxFrameData + 20;

enum class FrameError {
  None,
  Oversized,    // more than kMaxFrameBytes, or data over kMaxFrameData
  Truncated,    // a uvarint runs off the end of the frame
  Overflow,     // a uvarint longer than 10 bytes or above 2^64-1
  UnknownType,  // a type outside 0..6
};

struct Frame {
  uint64_t connect_id = 0;
  MessageType type = MessageType::Data;
  std::string_view data;  // points into the decoded buffer
};

struct DecodeResult {
  FrameError error = FrameError::None;
  Frame frame;  // valid when error == None
  bool ok() const { return error == FrameError::None; }
};

// Never throws, never allocates; any input is safe.
DecodeResult decodeFrame(std::string_view payload);

std::string encodeFrame(uint64_t connect_id, MessageType type, std::string_view data);

// "LOGS_CONNECT", "DATA", ... ("UNKNOWN" otherwise), as the original's String().
std::string_view messageTypeName(MessageType type);
std::string_view frameErrorName(FrameError error);

// LEB128 helpers, exposed for tests. appendUvarint writes 1-10 bytes. readUvarint advances `pos`
// on success only.
void appendUvarint(std::string& out, uint64_t v);
FrameError readUvarint(std::string_view in, size_t& pos, uint64_t& value);

}  // namespace edgecore::edgestream
