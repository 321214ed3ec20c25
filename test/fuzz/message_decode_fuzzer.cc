// libFuzzer target for the beehive message codec (src/core/message.cc): any bytes a cloud frame
// or a bus peer could carry. Checks, beyond "no crash, no sanitizer report, no exception":
//  - a decoded message encodes, and that encoding decodes again;
//  - from then on the codec is a fixed point: encode(decode(e)) == e for e = encode(decode(x)),
//    and header/route fields survive the trip unchanged (content may be normalised once:
//    -0 -> 0, huge floats -> null, invalid UTF-8 -> U+FFFD);
//  - the content's Go-style byte form (contentData) never throws;
//  - a failure is InvalidArgument (or ResourceExhausted), with a message.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"

namespace {

using edgecore::core::decodeMessage;
using edgecore::core::encodeMessage;
using edgecore::core::StatusCode;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "message_decode invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto first = decodeMessage(input);
  if (!first.ok()) {
    const auto code = first.status().code();
    if (code != StatusCode::InvalidArgument && code != StatusCode::ResourceExhausted) {
      fail("unexpected error code");
    }
    if (first.status().message().empty()) {
      fail("error without a message");
    }
    return 0;
  }
  (void)first->contentData();
  const std::string e1 = encodeMessage(*first);
  auto second = decodeMessage(e1);
  if (!second.ok()) {
    fail("our own encoding does not decode");
  }
  if (second->header != first->header || second->route != first->route) {
    fail("header or route changed across encode/decode");
  }
  const std::string e2 = encodeMessage(*second);
  auto third = decodeMessage(e2);
  if (!third.ok() || encodeMessage(*third) != e2 || *third != *second) {
    fail("encode/decode is not a fixed point after one normalisation");
  }
  return 0;
}
