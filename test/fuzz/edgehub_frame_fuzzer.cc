// libFuzzer target for edgehub's downstream path (src/edgehub/routing.cc acceptInbound): the
// payload of one complete websocket message from CloudHub, as the session reader hands it over,
// then what the hub does next with it: the routing decision, the "ack" answer to viaduct control
// messages, the resource parse every consumer does at ingress, and the upstream classification
// used when the same message kind travels the other way. Checks: no crash, no sanitizer report,
// no exception; a binary frame is never dispatched; a dispatched message carries the route that
// routeDownstream gives it; responses are routed only with a parent id; the ack re-decodes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"
#include "edgecore/core/resource.h"
#include "routing.h"

namespace {

using edgecore::edgehub::acceptInbound;
using edgecore::edgehub::DownstreamAction;
using edgecore::edgehub::InboundVerdict;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "edgehub_frame invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  if (acceptInbound(payload, true).verdict != InboundVerdict::Binary) {
    fail("a binary frame was not dropped as binary");
  }
  auto in = acceptInbound(payload, false);
  if (in.verdict == InboundVerdict::Malformed) {
    if (in.error.empty()) {
      fail("malformed without a reason");
    }
    return 0;
  }
  if (in.verdict != InboundVerdict::Dispatch) {
    fail("a small text frame was neither dispatched nor malformed");
  }
  if (!(edgecore::edgehub::routeDownstream(in.msg) == in.route)) {
    fail("route differs from routeDownstream");
  }
  if (in.route.action == DownstreamAction::DeliverResponse && in.msg.header.parent_id.empty()) {
    fail("response routing without a parent id");
  }
  if (in.route.action == DownstreamAction::ControlAck) {
    auto ack = in.msg.makeResponse("ack");
    auto back = edgecore::core::decodeMessage(edgecore::core::encodeMessage(ack));
    if (!back.ok() || back->header.parent_id != in.msg.header.id) {
      fail("the control ack does not round-trip");
    }
  }
  (void)edgecore::core::parseResource(in.msg.route.resource);
  (void)edgecore::edgehub::classifyUpstream(in.msg);
  (void)edgecore::edgehub::bypassesLimiter(in.msg);
  return 0;
}
