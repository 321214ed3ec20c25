// The cloud side of node tasks: the message CloudCore's taskmanager sends, and picking the
// UpdateNodeActionStatus reports out of what the edge sent.

#include "node_tasks.h"

#include <gtest/gtest.h>

namespace edgecore::cloudsim {
namespace {

using nlohmann::json;

TEST(NodeTaskMessages, DownstreamMessageHasCloudCoresRoute) {
  auto m = nodeTaskMessage("imageprepulljob", "j1", "edge-1", "Check",
                           {{"imagePrePullTemplate", {{"images", {"a/b:1"}}}}});
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ(m->route.source, "taskmanager");
  EXPECT_EQ(m->route.group, "taskmanager");
  EXPECT_EQ(m->route.operation, "Check");
  EXPECT_EQ(m->route.resource, "operations.kubeedge.io/v1alpha2/imageprepulljob/j1/node/edge-1");
  EXPECT_EQ(m->content["imagePrePullTemplate"]["images"][0], "a/b:1");
  EXPECT_FALSE(nodeTaskMessage("imageprepulljob", "a/b", "edge-1", "Check", json::object()).ok());
  EXPECT_FALSE(nodeTaskMessage("imageprepulljob", "j1", "", "Check", json::object()).ok());
}

TEST(NodeTaskMessages, ReportsArePickedByOperationAndJob) {
  auto report = [](const std::string& resource, const std::string& op, const std::string& body) {
    return core::Message::create("edgehub", "hub", op, resource, core::rawJsonContent(body));
  };
  std::vector<core::Message> got = {
      report("operations.kubeedge.io/v1alpha2/nodeupgradejob/up1/node/edge-1",
             "UpdateNodeActionStatus", R"({"action":"Check","succ":true})"),
      report("default/podstatus/p", "update", R"({})"),
      report("operations.kubeedge.io/v1alpha2/imageprepulljob/pp1/node/edge-1",
             "UpdateNodeActionStatus", R"({"action":"Pull","succ":false})"),
      report("operations.kubeedge.io/v1alpha2/imageprepulljob/pp1/node/edge-1",
             "UpdateNodeActionStatus", "[1]"),
  };
  auto all = nodeTaskReports(got);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].type, "nodeupgradejob");
  EXPECT_EQ(all[0].job, "up1");
  EXPECT_EQ(all[0].node, "edge-1");
  EXPECT_EQ(all[0].body["action"], "Check");
  EXPECT_TRUE(all[2].body.is_null()) << "a body that is not an object is kept as null";
  auto pp1 = nodeTaskReports(got, "pp1");
  ASSERT_EQ(pp1.size(), 2u);
  EXPECT_EQ(pp1[0].body["succ"], false);
  EXPECT_EQ(pp1[0].toJson()["job"], "pp1");
}

TEST(NodeTaskMessages, V1alpha1RequestHasGoFieldNamesAndCheckItemsWhenChecking) {
  auto m = v1alpha1TaskMessage("prepull", "j1", "edge-1", "Pulling",
                               {{"Images", {"a/b:1"}}, {"RetryTimes", 1}});
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ(m->route.source, "taskmanager");
  EXPECT_EQ(m->route.group, "taskmanager");
  EXPECT_EQ(m->route.operation, "prepull");
  EXPECT_EQ(m->route.resource, "prepull/j1/node/edge-1");
  EXPECT_EQ(m->contentData(), R"({"TaskID":"j1","Type":"prepull","State":"Pulling",)"
                              R"("Item":{"Images":["a/b:1"],"RetryTimes":1}})");
  auto c = v1alpha1TaskMessage("prepull", "j1", "edge-1", "Checking", nullptr, {"disk"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(json::parse(c->contentData())["Item"], (json{{"CheckItem", {"disk"}}}));
  EXPECT_FALSE(v1alpha1TaskMessage("prepull", "a/b", "edge-1", "", nullptr).ok());
}

TEST(NodeTaskMessages, V1alpha1AnswersAndTheCloudsRuleTable) {
  std::vector<core::Message> got = {
      core::Message::create("edgehub", "hub", "prepull", "task/j1/node/edge-1",
                            core::rawJsonContent(R"({"Event":"Init","Action":"Success"})")),
      core::Message::create("edgehub", "hub", "UpdateNodeActionStatus", "task/j1/node/edge-1",
                            core::rawJsonContent("{}")),
      core::Message::create("edgehub", "hub", "upgrade", "task/u1/node/edge-1",
                            core::rawJsonContent("[]"))};
  auto all = v1alpha1Answers(got);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].task, "j1");
  EXPECT_EQ(all[0].body["Event"], "Init");
  EXPECT_TRUE(all[1].body.is_null());
  EXPECT_EQ(v1alpha1Answers(got, "u1").size(), 1u);
  EXPECT_EQ(v1alpha1NextState("prepull", "", "Init", "Success"), "Checking");
  EXPECT_EQ(v1alpha1NextState("prepull", "Checking", "Check", "Success"), "Pulling");
  EXPECT_EQ(v1alpha1NextState("prepull", "Pulling", "Pull", "Failure"), "Failed");
  EXPECT_FALSE(v1alpha1NextState("prepull", "Pulling", "Check", "Success").has_value());
  EXPECT_EQ(v1alpha1NextState("upgrade", "Init", "Upgrade", "Success"), "Successful");
  EXPECT_EQ(v1alpha1NextState("upgrade", "RollingBack", "Rollback", "Success"), "Failed");
  EXPECT_TRUE(v1alpha1Final("Failed"));
  EXPECT_FALSE(v1alpha1Final("Pulling"));
}

}  // namespace
}  // namespace edgecore::cloudsim
