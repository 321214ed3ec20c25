// libFuzzer target for the EdgeStream tunnel frame decoder (src/edgestream/frame.h) and the
// connect-message parser it feeds (connect_request.h): any bytes a cloud could send in one
// websocket frame. Checks: no crash, no sanitizer report, decoded frames re-encode to the same
// bytes, and requests built from connect messages never carry CR/LF outside the line ends.
//
// Build and run: see docs/edgestream.md ("Fuzzing").

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connect_request.h"
#include "frame.h"

using edgecore::edgestream::buildRequestHead;
using edgecore::edgestream::decodeFrame;
using edgecore::edgestream::encodeFrame;
using edgecore::edgestream::MessageType;
using edgecore::edgestream::parseConnectRequest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = decodeFrame(input);
  if (!r.ok()) {
    return 0;
  }
  // Canonical encodings round-trip exactly; Go accepts non-minimal uvarints, so the re-encoding
  // may be shorter, never longer, and must decode to the same frame.
  std::string again = encodeFrame(r.frame.connect_id, r.frame.type, r.frame.data);
  auto r2 = decodeFrame(again);
  if (!r2.ok() || r2.frame.connect_id != r.frame.connect_id || r2.frame.type != r.frame.type ||
      r2.frame.data != r.frame.data || again.size() > input.size()) {
    std::abort();
  }
  switch (r.frame.type) {
    case MessageType::LogsConnect:
    case MessageType::ExecConnect:
    case MessageType::MetricConnect:
    case MessageType::AttachConnect: {
      auto req = parseConnectRequest(r.frame.data);
      if (req.ok()) {
        std::string head = buildRequestHead(*req, "127.0.0.1:10350", true);
        // Every CR must start a CRLF line end, and every LF end one: no header injection.
        for (size_t i = 0; i < head.size(); ++i) {
          if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) std::abort();
          if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) std::abort();
        }
      }
      break;
    }
    default:
      break;
  }
  return 0;
}
