// Tests of the v1.23 kubelet keys edged acts on (src/edged/cgroup_policy.h): failCgroupV1 and
// singleProcessOOMKill against the host's cgroup version, crashLoopBackOff's maximum on the
// container restart back-off. Loading and validation of the keys: test/core/config_v123_test.cc.

#include "cgroup_policy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "edgecore/core/daemon.h"
#include "edgecore/edged/module.h"
#include "pod_model.h"
#include "pod_runtime.h"
#include "pod_worker.h"

namespace edgecore::edged {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

core::EdgedConfig edgedConfig() {
  return core::defaultConfig(core::HostInfo{"n1", "127.0.0.1"}).modules.edged;
}

TEST(CgroupPolicyTest, DetectsVersionFromCgroupControllers) {
  fs::path dir = fs::path(::testing::TempDir()) / "cgroup-detect";
  fs::remove_all(dir);
  fs::create_directories(dir / "memory");
  EXPECT_EQ(detectCgroupVersion(dir), CgroupVersion::V1);
  std::ofstream(dir / "cgroup.controllers") << "cpu memory pids\n";
  EXPECT_EQ(detectCgroupVersion(dir), CgroupVersion::V2);
  EXPECT_EQ(detectCgroupVersion(dir / "absent"), CgroupVersion::V1);
}

TEST(CgroupPolicyTest, FailCgroupV1RefusesOnlyOnV1) {
  core::EdgedConfig c = edgedConfig();
  EXPECT_TRUE(checkCgroupPolicy(c, CgroupVersion::V1).ok());  // default false: v1 allowed
  c.fail_cgroup_v1 = true;
  core::Status st = checkCgroupPolicy(c, CgroupVersion::V1);
  EXPECT_EQ(st.code(), core::StatusCode::FailedPrecondition);
  EXPECT_NE(st.message().find("modules.edged.tailoredKubeletConfig.failCgroupV1 is true"),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(checkCgroupPolicy(c, CgroupVersion::V2).ok());
}

TEST(CgroupPolicyTest, SingleProcessOomKillFalseOnlyOnV2) {
  core::EdgedConfig c = edgedConfig();
  c.single_process_oom_kill = true;
  EXPECT_TRUE(checkCgroupPolicy(c, CgroupVersion::V1).ok());
  c.single_process_oom_kill = false;
  core::Status st = checkCgroupPolicy(c, CgroupVersion::V1);
  EXPECT_EQ(st.code(), core::StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("modules.edged.tailoredKubeletConfig.singleProcessOOMKill"),
            std::string::npos);
  EXPECT_TRUE(checkCgroupPolicy(c, CgroupVersion::V2).ok());
}

// The kubelet's choice: group OOM kill on cgroup v2 unless singleProcessOOMKill is true; never on
// v1, which has no memory.oom.group.
TEST(CgroupPolicyTest, OomGroupKillOnlyOnV2WithoutSingleProcessOomKill) {
  core::EdgedConfig c = edgedConfig();
  EXPECT_TRUE(oomGroupKill(c, CgroupVersion::V2));
  EXPECT_FALSE(oomGroupKill(c, CgroupVersion::V1));
  c.single_process_oom_kill = false;
  EXPECT_TRUE(oomGroupKill(c, CgroupVersion::V2));
  c.single_process_oom_kill = true;
  EXPECT_FALSE(oomGroupKill(c, CgroupVersion::V2));
  EXPECT_FALSE(oomGroupKill(c, CgroupVersion::V1));
}

// The flag reaches CRI as the kubelet passes it: LinuxContainerResources.unified.
TEST(CgroupPolicyTest, OomGroupKillSetsMemoryOomGroupInContainerConfig) {
  cri::CriClientOptions o;
  o.runtime_endpoint = "unix://" + ::testing::TempDir() + "/no-runtime.sock";  // never dialled
  auto cri = cri::CriClient::create(o);
  ASSERT_TRUE(cri.ok()) << cri.status().toString();
  RestartBackoff backoff(10s, 300s);
  auto log = std::make_shared<spdlog::logger>("test");
  ContainerPlan p;
  p.name = "c";
  SyncSettings s;
  s.oom_group_kill = true;
  PodRuntimeManager group(**cri, s, backoff, log);
  EXPECT_EQ(group.containerConfig(p).linux().resources().unified().at("memory.oom.group"), "1");
  s.oom_group_kill = false;
  PodRuntimeManager single(**cri, s, backoff, log);
  EXPECT_TRUE(single.containerConfig(p).linux().resources().unified().empty());
  // On this host: the real settings follow the host's cgroup version.
  core::EdgedConfig c = edgedConfig();
  EXPECT_EQ(syncSettingsOf(c, "127.0.0.1", HostFacts{}, nullptr).oom_group_kill,
            detectCgroupVersion() == CgroupVersion::V2);
}

// edged's factory runs the check against the real /sys/fs/cgroup: on a cgroup v1 (or hybrid)
// host, failCgroupV1: true stops edgecore's start-up with the key in the error.
TEST(CgroupPolicyTest, EdgedDoesNotStartOnCgroupV1WhenFailCgroupV1) {
  if (detectCgroupVersion() != CgroupVersion::V1) {
    GTEST_SKIP() << "host uses cgroup v2; the v1 refusal is covered by FailCgroupV1RefusesOnlyOnV1";
  }
  core::EdgeCoreConfig config = core::defaultConfig(core::HostInfo{"n1", "127.0.0.1"});
  config.modules.edged.fail_cgroup_v1 = true;
  core::LoggerFactory loggers{spdlog::level::off};
  core::DaemonOptions d;
  d.handle_signals = false;
  core::Daemon daemon(config, loggers, d);
  std::vector<core::ModuleSpec> specs(1);
  specs[0].name = "edged";
  specs[0].config_path = "modules.edged";
  specs[0].enabled = true;
  specs[0].factory = [](core::ModuleContext ctx) { return create(ctx, EdgedOptions{}); };
  core::Status st = daemon.run(std::move(specs));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("failCgroupV1 is true and this host uses cgroup v1"),
            std::string::npos)
      << st.toString();
}

TEST(CgroupPolicyTest, CrashLoopBackOffMaxCapsRestartBackoff) {
  core::EdgedConfig c = edgedConfig();
  RestartBackoffLimits l = restartBackoffLimits(10s, c);
  EXPECT_EQ(l.base, 10s);  // kubelet defaults: 10 s doubling to 300 s
  EXPECT_EQ(l.max, 300s);
  c.max_container_restart_period = 30s;
  l = restartBackoffLimits(10s, c);
  EXPECT_EQ(l.base, 10s);
  EXPECT_EQ(l.max, 30s);
  RestartBackoff b(l);
  auto t = std::chrono::system_clock::time_point{} + 1000h;
  EXPECT_EQ(b.next("k", t), 10s);
  EXPECT_EQ(b.next("k", t + 1s), 20s);
  EXPECT_EQ(b.next("k", t + 2s), 30s);  // 40 s capped
  EXPECT_EQ(b.next("k", t + 3s), 30s);
  // A maximum below the 10 s base also lowers the first delay, as the kubelet does.
  c.max_container_restart_period = 2s;
  l = restartBackoffLimits(10s, c);
  EXPECT_EQ(l.base, 2s);
  EXPECT_EQ(l.max, 2s);
}

}  // namespace
}  // namespace edgecore::edged
