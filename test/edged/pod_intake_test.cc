// Pod intake decisions (src/edged/pod_intake.h): pure, no runtime.

#include "pod_intake.h"

#include <gtest/gtest.h>

namespace edgecore::edged {
namespace {

json pod(const std::string& uid, const std::string& node) {
  return {{"metadata", {{"uid", uid}, {"name", "p-" + uid}, {"namespace", "ns"}}},
          {"spec", {{"nodeName", node}, {"containers", json::array()}}}};
}

core::Message msg(std::string_view op, json content, std::string_view resource = "ns/pod/p") {
  return core::Message::create("metamanager", "meta", op, resource, std::move(content));
}

TEST(PodIntakeTest, ClassifiesPodMessages) {
  EXPECT_EQ(classifyPodMessage(msg("insert", pod("a", "n"))).kind, PodMessage::Kind::Upsert);
  // A pod sent as a JSON string is a pod too.
  PodMessage s = classifyPodMessage(msg("update", pod("a", "n").dump()));
  EXPECT_EQ(s.kind, PodMessage::Kind::Upsert);
  EXPECT_EQ(s.pod["metadata"]["uid"], "a");
  EXPECT_EQ(classifyPodMessage(msg("insert", 42)).kind, PodMessage::Kind::Malformed);
  EXPECT_EQ(classifyPodMessage(msg("delete", pod("a", "n"))).kind, PodMessage::Kind::Delete);
  EXPECT_EQ(classifyPodMessage(msg("delete", json{{"metadata", {{"uid", "a"}}}})).kind,
            PodMessage::Kind::Requery);
  EXPECT_EQ(classifyPodMessage(msg("response", json::array())).kind, PodMessage::Kind::FullSet);
  EXPECT_EQ(classifyPodMessage(msg("insert", pod("a", "n"), "ns/configmap/c")).kind,
            PodMessage::Kind::Ignore);
}

TEST(PodIntakeTest, FullSetKeepsThisNodesPods) {
  json list = json::array({pod("a", "n1"), pod("b", "n2").dump(), "garbage", pod("c", "n1")});
  auto mine = podsOfNode(list, "n1");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0]["metadata"]["uid"], "a");
  EXPECT_EQ(mine[1]["metadata"]["uid"], "c");
}

TEST(PodIntakeTest, GracePeriodPrefersTheDeletionOne) {
  json p = pod("a", "n");
  EXPECT_EQ(gracePeriodOf(p), 30);
  p["spec"]["terminationGracePeriodSeconds"] = 5;
  EXPECT_EQ(gracePeriodOf(p), 5);
  p["metadata"]["deletionGracePeriodSeconds"] = -3;
  EXPECT_EQ(gracePeriodOf(p), 0);
}

TEST(PodIntakeTest, SpecChangeDropsThePlanButStatusDoesNot) {
  json p = pod("a", "n");
  p["metadata"].erase("namespace");
  PodKey k = podKey(p);
  EXPECT_EQ(k.ns, "default");
  PodEntry e = newPodEntry(k, p, false, std::chrono::system_clock::now());
  e.plan = std::make_shared<PodPlan>();
  e.terminal = true;
  json same = p;
  same["status"] = {{"phase", "Running"}};
  EXPECT_FALSE(updatePodEntry(e, same));
  EXPECT_NE(e.plan, nullptr);
  json changed = p;
  changed["metadata"]["labels"] = {{"x", "y"}};
  EXPECT_TRUE(updatePodEntry(e, changed));
  EXPECT_EQ(e.plan, nullptr);
  EXPECT_FALSE(e.terminal);
}

TEST(PodIntakeTest, ApiDeletionStartsOnceAndStaticPodsConfirmNothing) {
  json p = pod("a", "n");
  PodEntry e = newPodEntry(podKey(p), p, false, std::chrono::system_clock::now());
  EXPECT_FALSE(startApiDeletion(e));
  p["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  p["metadata"]["deletionGracePeriodSeconds"] = 7;
  updatePodEntry(e, p);
  EXPECT_TRUE(startApiDeletion(e));
  EXPECT_TRUE(e.api_delete);
  EXPECT_EQ(e.grace_seconds, 7);
  EXPECT_FALSE(startApiDeletion(e));
  PodEntry s = newPodEntry(podKey(p), p, true, std::chrono::system_clock::now());
  EXPECT_TRUE(startApiDeletion(s));
  EXPECT_FALSE(s.api_delete);
}

}  // namespace
}  // namespace edgecore::edged
