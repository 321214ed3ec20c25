// The pod worker's steps (src/edged/pod_worker.h) without a runtime.

#include "pod_worker.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "deviceplugin/device_manager.h"
#include "pod_intake.h"

namespace edgecore::edged {
namespace {

using std::chrono::seconds;

PodEntry entry() {
  PodEntry e;
  e.uid = "u";
  e.ns = "ns";
  e.name = "p";
  e.pod = {{"metadata", {{"uid", "u"}}}};
  return e;
}

std::shared_ptr<spdlog::logger> nullLog() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

TEST(PodWorkerTest, OneSyncAtATimeThenOnceMore) {
  PodEntry e = entry();
  auto now = std::chrono::steady_clock::now();
  auto first = beginSync(e, now, seconds(60));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->fetch_objects);  // no plan yet: build it with fresh objects
  EXPECT_TRUE(e.syncing);
  EXPECT_FALSE(beginSync(e, now, seconds(60)).has_value());
  EXPECT_TRUE(e.dirty);
}

TEST(PodWorkerTest, ASpecChangedDuringASyncDropsThePlanOfTheOldSpec) {
  // The cloud's update lands while the first sync of the pod runs: that sync's plan is for the
  // old spec and must not be kept, or the old containers run on (a hold-upgrade test caught it).
  PodEntry e = entry();
  e.fingerprint = "v1";
  auto now = std::chrono::steady_clock::now();
  ASSERT_TRUE(beginSync(e, now, seconds(60)).has_value());
  ASSERT_TRUE(updatePodEntry(e, {{"metadata", {{"uid", "u"}}}, {"spec", {{"x", 2}}}}));
  EXPECT_FALSE(beginSync(e, now, seconds(60)).has_value());  // marks it dirty
  SyncResult old;
  old.plan = std::make_shared<PodPlan>();
  old.plan_error = PlanError{"InvalidPodSpec", "of the old spec"};
  finishSync(e, old, *nullLog(), now);
  EXPECT_EQ(e.plan, nullptr) << "the old spec's plan was kept";
  EXPECT_FALSE(e.plan_error.has_value());
  EXPECT_TRUE(e.dirty);
  auto again = beginSync(e, now, seconds(60));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->request.plan, nullptr) << "the next sync plans the new spec";
  SyncResult fresh;
  fresh.plan = std::make_shared<PodPlan>();
  finishSync(e, fresh, *nullLog(), now);
  EXPECT_EQ(e.plan, fresh.plan) << "a sync of the current spec keeps its plan";
}

TEST(PodWorkerTest, RefusedAdmissionAndTerminatedPodsDoNotSync) {
  PodEntry e = entry();
  e.plan_error = PlanError{deviceplugin::kReasonUnexpectedAdmission, "no devices"};
  EXPECT_FALSE(beginSync(e, std::chrono::steady_clock::now(), seconds(60)).has_value());
  e.deleting = true;  // a refused pod can still be deleted
  EXPECT_TRUE(beginSync(e, std::chrono::steady_clock::now(), seconds(60)).has_value());
  PodEntry t = entry();
  t.terminated = true;
  EXPECT_FALSE(beginSync(t, std::chrono::steady_clock::now(), seconds(60)).has_value());
}

TEST(PodWorkerTest, VolumesRefreshAtTheSyncFrequency) {
  PodEntry e = entry();
  e.plan = std::make_shared<PodPlan>();
  auto now = std::chrono::steady_clock::now();
  auto s = beginSync(e, now, seconds(1));  // at least 10 s apart
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->request.refresh_volumes);
  EXPECT_EQ(e.next_volume_refresh, now + seconds(10));
  e.syncing = false;
  s = beginSync(e, now + seconds(5), seconds(1));
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->request.refresh_volumes);
  EXPECT_FALSE(s->fetch_objects);
}

// A ServiceAccount token due for a refresh: the relist syncs the pod and the sync rewrites
// the volumes with fresh objects, even before the periodic refresh.
TEST(PodWorkerTest, TokenDueSyncsAndRefreshesVolumes) {
  PodEntry e = entry();
  e.plan = std::make_shared<PodPlan>();
  RestartBackoff backoff(seconds(10), seconds(300));
  auto now = std::chrono::steady_clock::now();
  e.next_volume_refresh = now + seconds(60);
  e.token_refresh_at = now + seconds(5);
  auto wall = std::chrono::system_clock::now();
  // Not due yet: whatever the relist decides, the volumes are not rewritten.
  RelistVerdict early = afterRelist(e, PodRuntime{}, backoff, wall, now, 1);
  auto s = early.sync ? beginSync(e, now, seconds(60)) : std::nullopt;
  EXPECT_FALSE(s && s->request.refresh_volumes);
  e.syncing = false;
  RelistVerdict due = afterRelist(e, PodRuntime{}, backoff, wall, now + seconds(6), 1);
  EXPECT_TRUE(due.sync);
  s = beginSync(e, now + seconds(6), seconds(60));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->request.refresh_volumes);
  EXPECT_TRUE(s->fetch_objects);
}

TEST(PodWorkerTest, MissingConfigMapRetriesFromOneToTenSeconds) {
  PodEntry e = entry();
  e.syncing = true;
  auto now = std::chrono::steady_clock::now();
  auto log = nullLog();
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 6; ++i) {
    SyncResult r;
    r.plan_error = PlanError{std::string(kReasonFailedMount), "configmap \"c\" not found"};
    finishSync(e, r, *log, now);
    delays.push_back(e.retry_delay);
  }
  EXPECT_EQ(delays.front(), seconds(1));
  EXPECT_EQ(delays[1], seconds(2));
  EXPECT_EQ(delays.back(), seconds(10));
  EXPECT_EQ(e.next_retry, now + seconds(10));
  SyncResult ok;
  finishSync(e, ok, *log, now);
  EXPECT_EQ(e.retry_delay.count(), 0);
  EXPECT_FALSE(e.plan_error.has_value());
}

TEST(PodWorkerTest, TerminatedSyncEndsThePod) {
  PodEntry e = entry();
  e.syncing = true;
  SyncResult r;
  r.terminated = true;
  r.runtime_read = true;
  r.runtime.sandboxes.push_back(SandboxView{});
  r.events.push_back(PodEvent{});
  SyncOutcome out = finishSync(e, r, *nullLog(), std::chrono::steady_clock::now());
  EXPECT_TRUE(out.terminated);
  EXPECT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(e.terminated);
  EXPECT_TRUE(e.terminal);
  EXPECT_TRUE(e.runtime.sandboxes.empty());
  EXPECT_FALSE(e.syncing);
}

TEST(PodWorkerTest, RelistOfADeletingPodSyncsWithoutStatus) {
  PodEntry e = entry();
  e.deleting = true;
  RestartBackoff backoff(seconds(10), seconds(300));
  RelistVerdict v = afterRelist(e, PodRuntime{}, backoff, std::chrono::system_clock::now(),
                                std::chrono::steady_clock::now(), 1);
  EXPECT_TRUE(v.sync);
  EXPECT_FALSE(v.update_status);
  EXPECT_TRUE(e.runtime_known);
  e.terminated = true;
  EXPECT_FALSE(afterRelist(e, PodRuntime{}, backoff, std::chrono::system_clock::now(),
                           std::chrono::steady_clock::now(), 1)
                   .sync);
}

// The status is recomputed after a relist only when the pod's runtime view changed (first look,
// a container state, a new instance): 110 idle pods then cost no status work per second.
TEST(PodWorkerTest, RelistRecomputesStatusOnlyWhenTheRuntimeChanged) {
  PodEntry e = entry();
  e.plan_error = PlanError{};  // no plan to build: the verdict is about the status only
  RestartBackoff backoff(seconds(10), seconds(300));
  auto relist = [&](const PodRuntime& rt) {
    return afterRelist(e, rt, backoff, std::chrono::system_clock::now(),
                       std::chrono::steady_clock::now(), 1);
  };
  PodRuntime rt;
  rt.sandboxes.push_back(SandboxView{});
  rt.sandboxes[0].id = "sb";
  rt.sandboxes[0].ready = true;
  ContainerView c;
  c.id = "c1";
  c.name = "app";
  c.state = ContainerRunState::Running;
  rt.containers.push_back(c);
  EXPECT_TRUE(relist(rt).update_status);   // the first look
  EXPECT_FALSE(relist(rt).update_status);  // the same view again
  EXPECT_FALSE(relist(rt).update_status);
  rt.containers[0].state = ContainerRunState::Exited;
  EXPECT_TRUE(relist(rt).update_status);
  EXPECT_FALSE(relist(rt).update_status);
  rt.sandboxes[0].ready = false;
  EXPECT_TRUE(relist(rt).update_status);
}

TEST(PodWorkerTest, OrphansAreOnlyThisNodesUnknownSandboxes) {
  RuntimeSnapshot snap;
  SandboxView mine;
  mine.edged_node = "n1";
  SandboxView other;
  other.edged_node = "n2";
  snap["kept"].sandboxes = {mine};
  snap["orphan"].sandboxes = {mine};
  snap["busy"].sandboxes = {mine};
  snap["foreign"].sandboxes = {other};
  std::map<std::string, PodEntry> pods;
  pods["kept"] = entry();
  auto out = orphanPods(snap, pods, {"busy"}, "n1");
  EXPECT_EQ(out, std::vector<std::string>{"orphan"});
}

}  // namespace
}  // namespace edgecore::edged
