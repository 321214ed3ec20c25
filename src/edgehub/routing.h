#pragma once

// Pure routing decisions of edgehub: where a downstream message goes (spec 2.8), and how an
// upstream message is treated (limiter lane, outbox). No I/O, no state: unit tested as tables.

#include <optional>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"

namespace edgecore::edgehub {

enum class DownstreamAction {
  BroadcastGroup,   // bus.broadcast(target, msg)
  SendModule,       // bus.send(target, msg)
  DeliverResponse,  // bus.deliverResponse(msg): the answer to a waiting bus.request
  ControlAck,       // viaduct control message (spec 2.6): answer "ack", dispatch nothing
  Drop,             // no handler; `target` holds the reason
};

struct DownstreamRoute {
  DownstreamAction action = DownstreamAction::Drop;
  std::string target;  // group or module name, or the drop reason
  friend bool operator==(const DownstreamRoute&, const DownstreamRoute&) = default;
};

// Spec 2.8 (edge/pkg/edgehub/process.go defaultHandler.Process @ v1.20.0), first match wins:
// viaduct control ops; twin -> group twin; resource/func/user with parent id -> response;
// user from router_eventbus -> eventbus, router_servicebus -> servicebus; resource/func -> group
// meta; other user -> group bus; taskmanager -> module taskmanager (v1.23 placement: this edge
// has no in-hub task executor); anything else dropped.
DownstreamRoute routeDownstream(const core::Message& msg);

// What the session reader does with one complete websocket message from the cloud.
enum class InboundVerdict {
  Dispatch,   // a message: hand `msg` to `route`
  Binary,     // a binary frame: dropped (CloudHub only sends text)
  Malformed,  // not a beehive message: dropped, `error` says why
  Oversized,  // over kMaxFrameBytes: dropped (the reader normally discards these while reading)
};
struct Inbound {
  InboundVerdict verdict = InboundVerdict::Malformed;
  core::Message msg;      // Dispatch only
  DownstreamRoute route;  // Dispatch only
  std::string error;      // Malformed only
};
// The pure part of the downstream path: size check, frame type, decodeMessage, routeDownstream.
// Never throws; safe on any bytes (fuzzed: test/fuzz/edgehub_frame_fuzzer.cc).
Inbound acceptInbound(std::string_view payload, bool binary);

// Upstream lanes. Priority messages skip the token bucket (docs/edgehub.md, "limiter"):
// keepalives (as upstream does) and the edge's `response`/`error` answers, which the cloud's
// downstream rate already bounds and whose delay makes the cloud resend.
bool bypassesLimiter(const core::Message& msg);

// How an upstream message survives a lost link.
struct Durability {
  bool durable = false;  // kept in the SQLite outbox while offline / after a failed write
  // Set when only the newest message with this key matters (a status snapshot of one object).
  std::optional<std::string> coalesce_key;
};
// Durable: pod/node status (podpatch, nodepatch, podstatus, nodestatus), events, and device
// twin reports (device/.../twin/edge_updated, device/.../state/update). Coalesced per object:
// the four status kinds (per <type>/<ns>/<name>) and device state (per device). Events and
// twin deltas are kept one by one, and so are taskmanager's UpdateNodeActionStatus reports.
// Responses, errors, queries and keepalives are never durable.
Durability classifyUpstream(const core::Message& msg);

}  // namespace edgecore::edgehub
