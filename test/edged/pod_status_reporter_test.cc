// Mirror pod objects and status answers (src/edged/pod_status_reporter.h).

#include "pod_status_reporter.h"

#include <gtest/gtest.h>

namespace edgecore::edged {
namespace {

TEST(PodStatusReporterTest, MirrorPodOfAStaticPod) {
  json pod = {{"metadata",
               {{"name", "s"}, {"annotations", {{kConfigHashAnnotation, "abc"}}}, {"uid", "u"}}},
              {"spec", json::object()},
              {"status", {{"phase", "Running"}}}};
  EXPECT_FALSE(isMirrorPod(pod));
  json m = mirrorPodOf(pod, "node1", "");
  EXPECT_TRUE(isMirrorPod(m));
  EXPECT_EQ(m["metadata"]["annotations"][kMirrorAnnotation], "abc");
  EXPECT_FALSE(m.contains("status"));
  EXPECT_FALSE(m["metadata"].contains("ownerReferences"));
  json owned = mirrorPodOf(pod, "node1", "nuid");
  ASSERT_EQ(owned["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(owned["metadata"]["ownerReferences"][0]["kind"], "Node");
  EXPECT_EQ(owned["metadata"]["ownerReferences"][0]["uid"], "nuid");
  EXPECT_EQ(owned["metadata"]["ownerReferences"][0]["controller"], true);
}

TEST(PodStatusReporterTest, StatusAcceptedOnlyWithoutAnError) {
  auto answer = [](std::string_view op, json content) {
    return core::Result<core::Message>(
        core::Message::create("metamanager", "meta", op, "ns/podpatch/p", std::move(content)));
  };
  EXPECT_TRUE(statusAccepted(answer("response", json::object())));
  EXPECT_TRUE(statusAccepted(answer("response", json{{"Err", nullptr}})));
  EXPECT_FALSE(statusAccepted(answer("response", json{{"Err", "conflict"}})));
  EXPECT_FALSE(statusAccepted(answer("error", "connection lost")));
  EXPECT_FALSE(statusAccepted(core::Result<core::Message>(core::unavailable("timeout"))));
}

}  // namespace
}  // namespace edgecore::edged
