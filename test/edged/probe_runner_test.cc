// Probe results applied to a container's state (src/edged/probe_runner.h).

#include "probe_runner.h"

#include <gtest/gtest.h>

namespace edgecore::edged {
namespace {

TEST(ProbeRunnerTest, LivenessFailureRestartsOncePerInstance) {
  ProbeState ps;
  EXPECT_FALSE(applyProbeResult(ps, ProbeType::Liveness, ProbeResult::Success));
  EXPECT_TRUE(applyProbeResult(ps, ProbeType::Liveness, ProbeResult::Failure));
  EXPECT_TRUE(ps.liveness_failed);
  EXPECT_FALSE(applyProbeResult(ps, ProbeType::Liveness, ProbeResult::Failure));
}

TEST(ProbeRunnerTest, StartupSuccessStartsAndFailureRestarts) {
  ProbeState ps;
  EXPECT_FALSE(applyProbeResult(ps, ProbeType::Startup, ProbeResult::Success));
  EXPECT_TRUE(ps.started);
  ProbeState failed;
  EXPECT_TRUE(applyProbeResult(failed, ProbeType::Startup, ProbeResult::Failure));
}

TEST(ProbeRunnerTest, ReadinessOnlyDrivesReady) {
  ProbeState ps;
  EXPECT_FALSE(applyProbeResult(ps, ProbeType::Readiness, ProbeResult::Success));
  EXPECT_TRUE(ps.ready);
  EXPECT_FALSE(applyProbeResult(ps, ProbeType::Readiness, ProbeResult::Failure));
  EXPECT_FALSE(ps.ready);
  EXPECT_FALSE(ps.liveness_failed);
}

}  // namespace
}  // namespace edgecore::edged
