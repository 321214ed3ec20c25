// Node configuration and the cloud's answers (src/edged/node_reporter.h).

#include "node_reporter.h"

#include <gtest/gtest.h>

namespace edgecore::edged {
namespace {

core::Result<core::Message> answer(std::string_view op, nlohmann::json content) {
  return core::Message::create("metamanager", "meta", op, "default/node/n", std::move(content));
}

TEST(NodeReporterTest, CloudAcceptsOrAlreadyHasIt) {
  EXPECT_TRUE(cloudAccepted(answer("response", {{"Object", {{"kind", "Node"}}}})));
  EXPECT_TRUE(
      cloudAccepted(answer("response", {{"Err", {{"ErrStatus", {{"reason", "AlreadyExists"}}}}}})));
  std::string err;
  EXPECT_FALSE(cloudAccepted(
      answer("response", {{"Err", {{"ErrStatus", {{"reason", "Forbidden"}}}}}}), &err));
  EXPECT_NE(err.find("Forbidden"), std::string::npos);
  EXPECT_FALSE(cloudAccepted(answer("error", "not connected"), &err));
  EXPECT_EQ(err, "not connected");
  EXPECT_FALSE(cloudAccepted(core::unavailable("bus timeout"), &err));
  EXPECT_EQ(err, "bus timeout");
}

TEST(NodeReporterTest, NodeConfigDefaults) {
  core::EdgedConfig cfg;
  cfg.hostname_override = "edge-1";
  cfg.register_node_namespace = "";
  cfg.read_only_port = 0;
  cfg.max_pods = 0;
  NodeConfig n = nodeConfigOf(cfg, "10.0.0.5", "containerd://1.7");
  EXPECT_EQ(n.node_name, "edge-1");
  EXPECT_EQ(n.register_namespace, "default");
  EXPECT_EQ(n.read_only_port, 10350);
  EXPECT_EQ(n.max_pods, 110);
  EXPECT_EQ(n.node_ip, "10.0.0.5");
  EXPECT_EQ(n.container_runtime_version, "containerd://1.7");
}

}  // namespace
}  // namespace edgecore::edged
