// The pure parts of v1alpha1 node tasks (docs/node-tasks.md 1.2, 1.6, 2.4): the resource, the
// NodeTaskRequest with Go field names, the answer body, the pre-check result, image states.

#include "v1alpha1_task.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgecore::taskmanager::v1alpha1 {
namespace {

using nlohmann::json;

TEST(V1alpha1Task, ParsesTheResourceAndRefusesOtherShapes) {
  auto r = parseTaskResource("prepull/job-1/node/edge-1");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->type, "prepull");
  EXPECT_EQ(r->task, "job-1");
  EXPECT_EQ(r->node, "edge-1");
  EXPECT_TRUE(parseTaskResource("upgrade/u/node/n").ok());
  for (const char* bad : {"prepull/job-1/nodes/edge-1", "configupdate/j/node/n", "prepull//node/n",
                          "prepull/j/node/", "prepull/j/node/n/x", "", "task/j/node/n"}) {
    EXPECT_FALSE(parseTaskResource(bad).ok()) << bad;
  }
  EXPECT_EQ(reportResource("job-1", "edge-1"), "task/job-1/node/edge-1");
}

TEST(V1alpha1Task, RequestKeysAreGoFieldNamesMatchedLikeGo) {
  auto r = parseTaskRequest(
      R"({"TaskID":"j1","Type":"prepull","State":"Pulling","Item":{"Images":["a/b:1"],)"
      R"("NodeName":"edge-1","Secret":"default/regcred","RetryTimes":2,"CheckItems":["disk"]}})");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->task_id, "j1");
  EXPECT_EQ(r->type, "prepull");
  EXPECT_EQ(r->state, "Pulling");
  auto spec = parsePrePullRequest(r->item);
  ASSERT_TRUE(spec.ok()) << spec.status().toString();
  EXPECT_EQ(spec->images, std::vector<std::string>{"a/b:1"});
  EXPECT_EQ(spec->image_secrets, "default/regcred");
  EXPECT_EQ(spec->retry_times, 2);
  EXPECT_EQ(spec->check_items, std::vector<std::string>{"disk"});
  // Go's decoder matches a key case-insensitively when no exact one exists.
  auto lower = parseTaskRequest(R"({"taskid":"j2","type":"prepull","state":""})");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(lower->task_id, "j2");
  EXPECT_EQ(lower->item, "null");
  EXPECT_FALSE(parseTaskRequest(R"({"TaskID":7})").ok());
  EXPECT_FALSE(parseTaskRequest("[1]").ok());
  EXPECT_FALSE(parsePrePullRequest(R"({"Images":"a"})").ok());
  EXPECT_FALSE(parsePrePullRequest(R"({"RetryTimes":-1})").ok());
  EXPECT_FALSE(parsePrePullRequest("null").ok());
  auto items = parseCheckItems(R"({"CheckItem":["cpu","mem"]})");
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 2u);
  EXPECT_TRUE(parseCheckItems("null").ok());
  EXPECT_FALSE(parseCheckItems(R"({"CheckItem":[1]})").ok());
}

TEST(V1alpha1Task, UpgradeRequestFields) {
  auto r = parseUpgradeRequest(
      R"({"UpgradeID":"u1","HistoryID":"h1","Version":"v1.20.0","UpgradeTool":"keadm",)"
      R"("Image":"kubeedge/installation-package:v1.20.0"})");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->upgrade_id, "u1");
  EXPECT_EQ(r->history_id, "h1");
  EXPECT_EQ(r->version, "v1.20.0");
  EXPECT_EQ(r->image, "kubeedge/installation-package:v1.20.0");
  EXPECT_FALSE(r->require_confirmation);
  EXPECT_FALSE(parseUpgradeRequest(R"({"Version":1})").ok());
  EXPECT_FALSE(parseUpgradeRequest("null").ok());
  // v1.23's RequireConfirmation; Go's bool refuses a string.
  auto c = parseUpgradeRequest(R"({"UpgradeID":"u1","RequireConfirmation":true})");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->require_confirmation);
  EXPECT_FALSE(parseUpgradeRequest(R"({"RequireConfirmation":"yes"})").ok());
}

TEST(V1alpha1Task, UpgradeStateRowRoundTripsAndRefusesIncompleteRows) {
  UpgradeState s{"up-a", "edge-1", "upgrading", R"({"TaskID":"up-a"})"};
  auto back = decodeUpgradeState(encodeUpgradeState(s));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->task_id, "up-a");
  EXPECT_EQ(back->node, "edge-1");
  EXPECT_EQ(back->phase, "upgrading");
  EXPECT_EQ(back->request, s.request);
  EXPECT_FALSE(decodeUpgradeState(R"({"task":"up-a","node":"edge-1"})").has_value());
  EXPECT_FALSE(decodeUpgradeState(R"({"task":1,"node":"edge-1","phase":"x"})").has_value());
  EXPECT_FALSE(decodeUpgradeState("[").has_value());
}

TEST(V1alpha1Task, ResponseHasEveryGoFieldInOrder) {
  TaskResponse r{
      "edge-1", "", "Pull", "Failure", "pull image failed, err: x", "2026-12-08T03:00:00Z", "[]"};
  EXPECT_EQ(encodeResponse(r),
            R"({"NodeName":"edge-1","State":"","Event":"Pull","Action":"Failure",)"
            R"("Reason":"pull image failed, err: x","Time":"2026-12-08T03:00:00Z",)"
            R"("ExternalMessage":"[]"})");
  auto back = decodeResponse(encodeResponse(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->reason, r.reason);
  EXPECT_EQ(back->external_message, "[]");
}

TEST(V1alpha1Task, ImageStatesUseTheV1alpha1StateWords) {
  EXPECT_EQ(encodeImageStates({{"a:1", true, ""}, {"b:1", false, "not found"}}),
            R"([{"image":"a:1","state":"Successful"},)"
            R"({"image":"b:1","state":"Failed","reason":"not found"}])");
  EXPECT_EQ(encodeImageStates({}), "[]");
}

TEST(V1alpha1Task, PreCheckNotesUnknownItemsWithoutFailing) {
  // As KubeEdge's preCheck: an unknown item does not fail the check by itself.
  EXPECT_TRUE(runPreCheck({"gpu"}).ok());
  EXPECT_TRUE(runPreCheck({}).ok());
}

TEST(V1alpha1Task, EachStateAnswersWithItsEvent) {
  EXPECT_EQ(eventOfState("prepull", ""), "Init");
  EXPECT_EQ(eventOfState("prepull", "Init"), "Init");
  EXPECT_EQ(eventOfState("prepull", "Checking"), "Check");
  EXPECT_EQ(eventOfState("prepull", "Pulling"), "Pull");
  EXPECT_FALSE(eventOfState("prepull", "BackingUp").has_value());
  EXPECT_EQ(eventOfState("upgrade", "BackingUp"), "Backup");
  EXPECT_EQ(eventOfState("upgrade", "Upgrading"), "Upgrade");
  EXPECT_EQ(eventOfState("upgrade", "RollingBack"), "Rollback");
  EXPECT_FALSE(eventOfState("upgrade", "Pulling").has_value());
}

}  // namespace
}  // namespace edgecore::taskmanager::v1alpha1
