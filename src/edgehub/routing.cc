#include "routing.h"

#include "edgecore/core/resource.h"
#include "edgecore/edgehub/module.h"

namespace edgecore::edgehub {

namespace names = core::names;

namespace {

constexpr std::string_view kTaskManager = "taskmanager";
constexpr std::string_view kRouterEventBus = "router_eventbus";
constexpr std::string_view kRouterServiceBus = "router_servicebus";
// taskmanager's node task reports (docs/node-tasks.md 1.5).
constexpr std::string_view kUpdateNodeActionStatus = "UpdateNodeActionStatus";

bool isViaductControl(std::string_view operation) {
  return operation == "config" || operation == "ping" || operation == "pong";
}

bool endsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

DownstreamRoute routeDownstream(const core::Message& msg) {
  const std::string& group = msg.route.group;
  if (isViaductControl(msg.route.operation)) {
    return {DownstreamAction::ControlAck, ""};
  }
  if (group == names::kTwinGroup) {
    return {DownstreamAction::BroadcastGroup, std::string(names::kTwinGroup)};
  }
  const bool resource_like = group == names::kResourceGroup || group == names::kFuncGroup;
  const bool user = group == names::kUserGroup;
  if ((resource_like || user) && !msg.header.parent_id.empty()) {
    return {DownstreamAction::DeliverResponse, ""};
  }
  if (user && msg.route.source == kRouterEventBus) {
    return {DownstreamAction::SendModule, std::string(names::kEventBusModule)};
  }
  if (user && msg.route.source == kRouterServiceBus) {
    return {DownstreamAction::SendModule, std::string(names::kServiceBusModule)};
  }
  if (resource_like) {
    return {DownstreamAction::BroadcastGroup, std::string(names::kMetaGroup)};
  }
  if (user) {
    return {DownstreamAction::BroadcastGroup, std::string(names::kBusGroup)};
  }
  if (group == kTaskManager) {
    return {DownstreamAction::SendModule, std::string(kTaskManager)};
  }
  return {DownstreamAction::Drop, "no handler for group \"" + group + "\""};
}

Inbound acceptInbound(std::string_view payload, bool binary) {
  Inbound in;
  if (payload.size() > kMaxFrameBytes) {
    in.verdict = InboundVerdict::Oversized;
    return in;
  }
  if (binary) {
    in.verdict = InboundVerdict::Binary;
    return in;
  }
  auto msg = core::decodeMessage(payload);
  if (!msg.ok()) {
    in.verdict = InboundVerdict::Malformed;
    in.error = msg.status().message();
    return in;
  }
  in.verdict = InboundVerdict::Dispatch;
  in.msg = std::move(msg).value();
  in.route = routeDownstream(in.msg);
  return in;
}

bool bypassesLimiter(const core::Message& msg) {
  const std::string& op = msg.route.operation;
  return op == core::op::kKeepalive || op == core::op::kResponse || op == core::op::kError;
}

Durability classifyUpstream(const core::Message& msg) {
  const std::string& op = msg.route.operation;
  if (op == core::op::kResponse || op == core::op::kError || op == core::op::kKeepalive ||
      op == core::op::kQuery || op == core::op::kGet) {
    return {};
  }
  // v1alpha1 node task answers (task/<id>/node/<node>, op = the task type) count the same way.
  const bool v1alpha1_task_answer =
      (op == "prepull" || op == "upgrade") && msg.route.resource.rfind("task/", 0) == 0;
  if (op == kUpdateNodeActionStatus || v1alpha1_task_answer) {
    // Every action report counts (the cloud appends it to the node's actionFlow): kept one by
    // one, never coalesced. KubeEdge loses them while offline; we keep them.
    return {true, std::nullopt};
  }
  auto key = core::parseResource(msg.route.resource);
  if (!key.ok()) {
    return {};
  }
  if (key->shape == core::ResourceShape::Namespaced) {
    const std::string& type = key->type;
    if (type == core::restype::kPodPatch || type == core::restype::kNodePatch ||
        type == core::restype::kPodStatus || type == core::restype::kNodeStatus) {
      if (key->name.empty()) {  // "<ns>/podstatus" carries a list: nothing to coalesce with
        return {true, std::nullopt};
      }
      return {true, type + "/" + key->ns + "/" + key->name};
    }
    if (type == core::restype::kEvent) {
      return {true, std::nullopt};
    }
    return {};
  }
  if (key->shape == core::ResourceShape::DeviceTwin) {
    if (endsWith(key->sub, "state/update")) {
      return {true, "devicestate/" + key->ns + "/" + key->name};
    }
    if (endsWith(key->sub, "twin/edge_updated")) {
      return {true, std::nullopt};
    }
  }
  return {};
}

}  // namespace edgecore::edgehub
