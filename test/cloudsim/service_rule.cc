#include "service_rule.h"

#include "edgecore/core/base64.h"

namespace edgecore::cloudsim {

core::Message serviceRuleRequest(const ServiceRuleCall& call, const std::string& node) {
  std::string path = call.path;
  if (!call.param.empty()) {  // TrimSuffix(path, "/") + "/" + TrimPrefix(param, "/")
    if (!path.empty() && path.back() == '/') {
      path.pop_back();
    }
    path += "/" + (call.param.front() == '/' ? call.param.substr(1) : call.param);
  }
  nlohmann::ordered_json content;
  content["header"] =
      call.header.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(call.header);
  content["body"] = core::base64Encode(call.body);
  content["method"] = call.method;
  content["url"] = "";
  core::Message m =
      core::Message::create("router_servicebus", "user", call.method,
                            "node/" + node + "/" + call.service_port + ":" + path,
                            core::rawJsonContent(core::encodeOrderedJsonValue(content)));
  if (!call.message_id.empty()) {
    m.header.id = call.message_id;
  }
  return m;
}

core::Result<core::Message> callServiceRule(CloudSim& sim, ServiceRuleCall call,
                                            std::chrono::milliseconds timeout) {
  const std::string node = call.node.empty() ? sim.options().node_name : call.node;
  const uint64_t after = sim.lastSeq();
  auto id = sim.send(serviceRuleRequest(call, node), Reliability::Unreliable, node);
  if (!id.ok()) {
    return id.status();
  }
  auto reply = sim.waitForMessage([&](const core::Message& m) { return m.header.parent_id == *id; },
                                  timeout, after);
  if (!reply) {
    return core::deadlineExceeded("no servicebus reply to " + *id);
  }
  return *reply;
}

core::Message serviceRuleUrl(const std::string& node, const std::string& target_url, bool start) {
  return core::Message::create("router_servicebus", "user", start ? "start" : "stop",
                               "node/" + node + "/" + target_url, nullptr);
}

}  // namespace edgecore::cloudsim
