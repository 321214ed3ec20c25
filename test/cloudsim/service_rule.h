#pragma once

// The cloud router's side of a REST -> servicebus rule (cloud/pkg/router/provider/servicebus/
// servicebus.go GoToTarget @ v1.20.0, docs/node-tasks.md 7.3): the request message it sends to a
// node, and the wait for the node's HTTPResponse message. No Beast here.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "cloudsim.h"

namespace edgecore::cloudsim {

struct ServiceRuleCall {
  std::string node;          // default: the simulator's node
  std::string service_port;  // the rule endpoint's service_port property
  std::string path;          // the rule target's path
  std::string param;         // the part of the REST path after the rule source's path, if any
  std::string method = "GET";
  std::map<std::string, std::vector<std::string>> header;
  std::string body;        // bytes
  std::string message_id;  // default: a fresh UUIDv4
};

// The message as the router builds it: header id = the message id, source router_servicebus,
// group user, op = method, resource "node/<node>/<port>:<path>[/<param>]", content
// {"header":{...},"body":<base64>,"method":...,"url":""}.
core::Message serviceRuleRequest(const ServiceRuleCall& call, const std::string& node);

// Sends the request (unreliable, as the router does) and waits for the upstream message whose
// parent_msg_id is its id. Unavailable when the node has no session, DeadlineExceeded after
// `timeout`.
core::Result<core::Message> callServiceRule(CloudSim& sim, ServiceRuleCall call,
                                            std::chrono::milliseconds timeout);

// The router's rule-source message for a servicebus source (RegisterListener /
// UnregisterListener): op "start" or "stop", resource "node/<node>/<target_url>", no content.
core::Message serviceRuleUrl(const std::string& node, const std::string& target_url, bool start);

}  // namespace edgecore::cloudsim
