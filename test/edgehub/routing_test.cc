#include "routing.h"

#include <gtest/gtest.h>

namespace edgecore::edgehub {
namespace {

using core::Message;

Message msg(std::string source, std::string group, std::string op, std::string resource,
            std::string parent = "") {
  Message m = Message::create(source, group, op, resource);
  m.header.parent_id = std::move(parent);
  return m;
}

struct Case {
  const char* what;
  Message in;
  DownstreamRoute want;
};

TEST(EdgeHubRouting, FollowsSpecTable) {
  const Case cases[] = {
      {"twin ignores parent id",
       msg("devicecontroller", "twin", "response", "twin", "p1"),
       {DownstreamAction::BroadcastGroup, "twin"}},
      {"membership update",
       msg("devicecontroller", "twin", "update", "membership"),
       {DownstreamAction::BroadcastGroup, "twin"}},
      {"resource reply",
       msg("edgecontroller", "resource", "response", "default/configmap/c", "p"),
       {DownstreamAction::DeliverResponse, ""}},
      {"func reply",
       msg("x", "func", "response", "a/b/c", "p"),
       {DownstreamAction::DeliverResponse, ""}},
      {"user reply",
       msg("router_eventbus", "user", "response", "r", "p"),
       {DownstreamAction::DeliverResponse, ""}},
      {"pod insert",
       msg("edgecontroller", "resource", "insert", "default/pod/nginx"),
       {DownstreamAction::BroadcastGroup, "meta"}},
      {"func", msg("x", "func", "update", "a/b/c"), {DownstreamAction::BroadcastGroup, "meta"}},
      {"eventbus",
       msg("router_eventbus", "user", "publish", "t"),
       {DownstreamAction::SendModule, "eventbus"}},
      {"servicebus",
       msg("router_servicebus", "user", "request", "t"),
       {DownstreamAction::SendModule, "servicebus"}},
      {"other user",
       msg("router", "user", "publish", "t"),
       {DownstreamAction::BroadcastGroup, "bus"}},
      {"task",
       msg("taskmanager", "taskmanager", "upgrade", "upgrade/j/node/n"),
       {DownstreamAction::SendModule, "taskmanager"}},
      {"viaduct ping", msg("cloudhub", "resource", "ping", ""), {DownstreamAction::ControlAck, ""}},
      {"unknown group",
       msg("x", "nonsense", "insert", "a/b/c"),
       {DownstreamAction::Drop, "no handler for group \"nonsense\""}},
      {"empty group",
       msg("x", "", "insert", "a/b/c"),
       {DownstreamAction::Drop, "no handler for group \"\""}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(routeDownstream(c.in), c.want) << c.what;
  }
}

TEST(EdgeHubRouting, LimiterBypassIsKeepaliveAndReplies) {
  EXPECT_TRUE(bypassesLimiter(msg("websocket", "resource", "keepalive", "node")));
  EXPECT_TRUE(bypassesLimiter(msg("edgecontroller", "resource", "response", "default/pod/a", "p")));
  EXPECT_TRUE(bypassesLimiter(msg("metamanager", "resource", "error", "default/pod/a", "p")));
  EXPECT_FALSE(bypassesLimiter(msg("edged", "meta", "patch", "default/podpatch/a")));
  EXPECT_FALSE(bypassesLimiter(msg("edged", "meta", "query", "default/configmap/a")));
}

TEST(EdgeHubRouting, DurableKindsAndCoalesceKeys) {
  auto d = classifyUpstream(msg("edged", "meta", "patch", "default/podpatch/nginx"));
  EXPECT_TRUE(d.durable);
  EXPECT_EQ(d.coalesce_key, "podpatch/default/nginx");
  d = classifyUpstream(msg("edged", "meta", "patch", "default/nodepatch/edge-1"));
  EXPECT_EQ(d.coalesce_key, "nodepatch/default/edge-1");
  d = classifyUpstream(msg("edged", "meta", "update", "default/podstatus"));
  EXPECT_TRUE(d.durable);
  EXPECT_FALSE(d.coalesce_key.has_value());
  d = classifyUpstream(msg("edged", "meta", "insert", "default/event/e1"));
  EXPECT_TRUE(d.durable);
  EXPECT_FALSE(d.coalesce_key.has_value());
  d = classifyUpstream(msg("twin", "resource", "update", "device/default/dev1/state/update"));
  EXPECT_TRUE(d.durable);
  EXPECT_EQ(d.coalesce_key, "devicestate/default/dev1");
  d = classifyUpstream(msg("twin", "resource", "update", "device/default/dev1/twin/edge_updated"));
  EXPECT_TRUE(d.durable);
  EXPECT_FALSE(d.coalesce_key.has_value());
  d = classifyUpstream(msg("edgehub", "hub", "UpdateNodeActionStatus",
                           "operations.kubeedge.io/v1alpha2/imageprepulljob/j1/node/edge-1"));
  EXPECT_TRUE(d.durable);
  EXPECT_FALSE(d.coalesce_key.has_value());
  d = classifyUpstream(msg("edgehub", "hub", "prepull", "task/j1/node/edge-1"));
  EXPECT_TRUE(d.durable);
  EXPECT_FALSE(d.coalesce_key.has_value());

  for (const Message& m : {msg("edged", "meta", "query", "default/configmap/a"),
                           msg("edged", "meta", "insert", "default/node/edge-1"),
                           msg("edged", "meta", "update", "kube-node-lease/lease/edge-1"),
                           msg("metamanager", "resource", "response", "default/pod/a", "p"),
                           msg("websocket", "resource", "keepalive", "node"),
                           msg("twin", "resource", "get", "membership/detail")}) {
    EXPECT_FALSE(classifyUpstream(m).durable) << m.route.resource << " " << m.route.operation;
  }
}

}  // namespace
}  // namespace edgecore::edgehub
