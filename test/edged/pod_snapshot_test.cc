// The published pod view the HTTP server reads (src/edged/pod_snapshot.h).

#include "pod_snapshot.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgecore::edged {
namespace {

std::shared_ptr<PodSnapshot> snapshotWithOnePod(bool running) {
  auto snap = std::make_shared<PodSnapshot>();
  PodSummary s;
  s.ns = "ns";
  s.name = "web";
  s.uid = "u1";
  s.pod_json = R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"app"}]}})";
  PodLogIndex li;
  li.log_dir = "/var/log/pods/ns_web_u1";
  li.containers["app"] = {{2, "c2", running}, {1, "c1", false}};
  snap->publish({{"u1", s}}, {{"ns/web", li}});
  return snap;
}

TEST(PodSnapshotTest, LogLocationsOfNewestAndPrevious) {
  auto snap = snapshotWithOnePod(true);
  auto cur = snap->logLocation("ns", "web", "app", false);
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ(cur->path, "/var/log/pods/ns_web_u1/app/2.log");
  EXPECT_TRUE(cur->running());
  auto prev = snap->logLocation("ns", "web", "app", true);
  ASSERT_TRUE(prev.ok());
  EXPECT_EQ(prev->path, "/var/log/pods/ns_web_u1/app/1.log");
  EXPECT_FALSE(prev->running());
  EXPECT_EQ(snap->logLocation("ns", "nope", "app", false).status().message(),
            "pod \"nope\" not found");
  EXPECT_EQ(snap->logLocation("ns", "web", "db", false).status().code(),
            core::StatusCode::NotFound);
  // A later snapshot without the pod: the follow stream sees the container gone.
  snap->publish({}, {});
  EXPECT_FALSE(cur->running());
}

TEST(PodSnapshotTest, RunningContainerAndLists) {
  EXPECT_EQ(snapshotWithOnePod(true)->runningContainerId("ns", "web", "app"), "c2");
  EXPECT_EQ(snapshotWithOnePod(false)->runningContainerId("ns", "web", "app"), "");
  auto snap = snapshotWithOnePod(true);
  auto list = nlohmann::json::parse(snap->podListJson());
  EXPECT_EQ(list["kind"], "PodList");
  ASSERT_EQ(list["items"].size(), 1u);
  auto refs = podResourceRefs(snap->pods());
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].containers, std::vector<std::string>{"app"});
}

}  // namespace
}  // namespace edgecore::edged
