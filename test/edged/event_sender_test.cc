// Which events a back-off or a failed probe makes (src/edged/event_sender.h).

#include "event_sender.h"

#include <gtest/gtest.h>

namespace edgecore::edged {
namespace {

TEST(EventSenderTest, BackOffOncePerEntryIntoCrashLoop) {
  EventPod pod{"ns", "web", "u1", "7"};
  PodPlan plan;
  plan.init_containers.resize(1);
  plan.init_containers[0].name = "init";
  plan.containers.resize(1);
  plan.containers[0].name = "app";
  std::map<std::string, WaitingReason> before = {{"app", {"CrashLoopBackOff", "x"}}};
  std::map<std::string, WaitingReason> now = {{"app", {"CrashLoopBackOff", "y"}},
                                              {"init", {"CrashLoopBackOff", "z"}},
                                              {"other", {"ErrImagePull", "w"}}};
  auto events = backOffEvents(pod, plan, before, now);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target.field_path, "spec.initContainers{init}");
  EXPECT_EQ(events[0].reason, event_reason::kBackOff);
  EXPECT_TRUE(events[0].warning);
  EXPECT_EQ(events[0].message, "Back-off restarting failed container init in pod web_ns(u1)");
}

TEST(EventSenderTest, UnhealthyCarriesTheProbeOutput) {
  PodEvent ev = unhealthyEvent({"ns", "web", "u1", ""}, "app", ProbeType::Liveness, "HTTP 500");
  EXPECT_EQ(ev.reason, event_reason::kUnhealthy);
  EXPECT_EQ(ev.message, "Liveness probe failed: HTTP 500");
  EXPECT_EQ(ev.target.field_path, "spec.containers{app}");
  EXPECT_EQ(ev.target.uid, "u1");
}

}  // namespace
}  // namespace edgecore::edged
