// The published pod view the HTTP server reads (src/edged/pod_snapshot.h).

#include "pod_snapshot.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pod_entry.h"

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

// After every relist publishPods runs over all pods: a pod whose revision did not move keeps its
// encoding (no JSON copy and dump of 110 unchanged pods per second), a touched one is encoded
// again, and an entry never touched (revision 0) is always encoded.
TEST(PodSnapshotTest, PublishReencodesOnlyTouchedPods) {
  PodSnapshot snap;
  std::map<std::string, PodEntry> pods;
  for (const char* uid : {"a", "b"}) {
    PodEntry& e = pods[uid];
    e.uid = uid;
    e.ns = "ns";
    e.name = std::string("pod-") + uid;
    e.pod = {{"metadata", {{"name", e.name}, {"uid", uid}}}};
    e.status = {{"phase", "Pending"}};
    touch(e);
  }
  publishPods(snap, pods);
  auto phaseOf = [&](const std::string& uid) {
    for (const auto& s : snap.pods()) {
      if (s.uid == uid) {
        return nlohmann::json::parse(s.pod_json)["status"].value("phase", "");
      }
    }
    return std::string("missing");
  };
  ASSERT_EQ(phaseOf("a"), "Pending");

  // Changed without touch(): the published encoding is reused, which shows nothing re-encodes.
  pods["a"].status["phase"] = "Running";
  pods["b"].status["phase"] = "Running";
  touch(pods["b"]);
  publishPods(snap, pods);
  EXPECT_EQ(phaseOf("a"), "Pending");
  EXPECT_EQ(phaseOf("b"), "Running");
  EXPECT_EQ(snap.summaryAt("b", pods["b"].revision)->phase, "Running");

  touch(pods["a"]);
  publishPods(snap, pods);
  EXPECT_EQ(phaseOf("a"), "Running");

  // Revision 0 (an entry nobody touched) is never taken as unchanged; a removed pod leaves.
  pods["a"].revision = 0;
  pods["a"].status["phase"] = "Succeeded";
  pods.erase("b");
  publishPods(snap, pods);
  EXPECT_EQ(phaseOf("a"), "Succeeded");
  EXPECT_EQ(phaseOf("b"), "missing");
  EXPECT_FALSE(snap.summaryAt("b", 1).has_value());
}

}  // namespace
}  // namespace edgecore::edged
