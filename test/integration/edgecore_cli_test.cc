// The edgecore binary as an operator or systemd runs it: flags, config files, signals, exit codes.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;

const std::string kEdgecore = EDGECORE_BINARY;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(EdgecoreCli, VersionAndHelp) {
  ProcessResult v = runCommand({kEdgecore, "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(contains(v.out, "edgecore-cpp ")) << v.out;
  EXPECT_TRUE(contains(v.out, "KubeEdge v1.20")) << v.out;

  ProcessResult h = runCommand({kEdgecore, "--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* flag :
       {"--config", "--defaultconfig", "--minconfig", "--version", "--log-level"}) {
    EXPECT_TRUE(contains(h.out, flag)) << flag << " missing from --help:\n" << h.out;
  }
}

TEST(EdgecoreCli, UnknownFlagIsAUsageError) {
  ProcessResult r = runCommand({kEdgecore, "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--no-such-flag")) << r.err;
}

TEST(EdgecoreCli, DefaultConfigStartsAndSigtermStopsWithinOneSecond) {
  TempDir dir;
  ProcessResult gen = runCommand({kEdgecore, "--defaultconfig"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  ASSERT_TRUE(contains(gen.out, "apiVersion: edgecore.config.kubeedge.io/v1alpha2")) << gen.out;
  dir.write("a.yaml", gen.out);

  ChildProcess daemon({kEdgecore, "--config", dir.file("a.yaml")});
  ASSERT_TRUE(waitUntilRunning(daemon, 10s)) << daemon.stderrSoFar();
  auto t0 = std::chrono::steady_clock::now();
  auto result = terminate(daemon, 1s);
  ASSERT_TRUE(result.has_value()) << "still running 1 s after SIGTERM:\n" << daemon.stderrSoFar();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(result->exit_code, 0) << result->err;
  EXPECT_LT(took, 1s);
  EXPECT_TRUE(contains(result->err, "stopping reason=SIGTERM")) << result->err;
  EXPECT_TRUE(contains(result->err, "edgecore stopped")) << result->err;
  // Modules later issues implement say so, one line each, instead of pretending to work.
  EXPECT_TRUE(contains(result->err, "edgehub starting")) << result->err;
  EXPECT_TRUE(contains(result->err, "module disabled module=edgestream")) << result->err;
}

TEST(EdgecoreCli, SigintStopsToo) {
  TempDir dir;
  dir.write("a.yaml", runCommand({kEdgecore, "--minconfig"}).out);
  ChildProcess daemon({kEdgecore, "--config", dir.file("a.yaml")});
  ASSERT_TRUE(waitUntilRunning(daemon, 10s)) << daemon.stderrSoFar();
  daemon.signal(SIGINT);
  auto result = daemon.wait(1s);
  ASSERT_TRUE(result.has_value()) << "still running 1 s after SIGTERM:\n" << daemon.stderrSoFar();
  EXPECT_EQ(result->exit_code, 0) << result->err;
}

TEST(EdgecoreCli, MissingConfigFileSaysWhatToDo) {
  TempDir dir;
  ProcessResult r = runCommand({kEdgecore, "--config", dir.file("absent.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, dir.file("absent.yaml"))) << r.err;
  EXPECT_TRUE(contains(r.err, "--defaultconfig")) << r.err;
}

TEST(EdgecoreCli, WrongTypeNamesKeyAndLine) {
  TempDir dir;
  dir.write("bad.yaml",
            "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
            "kind: EdgeCore\n"
            "modules:\n"
            "  edgeHub:\n"
            "    heartbeat: often\n");
  ProcessResult r = runCommand({kEdgecore, "--config", dir.file("bad.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "modules.edgeHub.heartbeat")) << r.err;
  EXPECT_TRUE(contains(r.err, "line 5")) << r.err;
}

TEST(EdgecoreCli, KeadmJoinConfigLoads) {
  TempDir dir;
  std::string cfg = readFile(std::string(EDGECORE_TEST_DATA_DIR) + "/config/keadm-join-v1.20.yaml");
  ASSERT_FALSE(cfg.empty());
  dir.write("edgecore.yaml", cfg);
  ChildProcess daemon({kEdgecore, "--config", dir.file("edgecore.yaml"), "--log-level", "debug"});
  ASSERT_TRUE(waitUntilRunning(daemon, 10s)) << daemon.stderrSoFar();
  auto result = terminate(daemon, 2s);
  ASSERT_TRUE(result.has_value()) << "still running 2 s after SIGTERM:\n" << daemon.stderrSoFar();
  EXPECT_EQ(result->exit_code, 0) << result->err;
  // Kubelet fields we do not use are accepted and noted at debug level.
  EXPECT_TRUE(contains(result->err, "config key not used by edgecore-cpp")) << result->err;
}

// The v1.23 keys (issue 19 item 8) as the binary acts on them: edgecoreVersion recorded in the
// file at start, the taskmanager module started, failCgroupV1 refusing a cgroup v1 host.
TEST(EdgecoreCli, V123KeysAct) {
  TempDir dir;
  std::string cfg = runCommand({kEdgecore, "--defaultconfig"}).out;
  const std::string task_off = "  taskManager:\n    enable: false\n";
  ASSERT_TRUE(contains(cfg, task_off)) << cfg;
  ASSERT_TRUE(contains(cfg, "\nedgecoreVersion: \"\"\n")) << cfg;
  cfg.replace(cfg.find(task_off), task_off.size(), "  taskManager:\n    enable: true\n");
  dir.write("a.yaml", cfg);
  ChildProcess daemon({kEdgecore, "--config", dir.file("a.yaml")});
  ASSERT_TRUE(waitUntilRunning(daemon, 10s)) << daemon.stderrSoFar();
  auto result = terminate(daemon, 2s);
  ASSERT_TRUE(result.has_value()) << daemon.stderrSoFar();
  EXPECT_EQ(result->exit_code, 0) << result->err;
  EXPECT_TRUE(contains(result->err, "taskmanager started keadm=")) << result->err;
  EXPECT_FALSE(contains(result->err, "module not started module=taskmanager")) << result->err;
  EXPECT_TRUE(contains(result->err, "config edgecoreVersion recorded")) << result->err;
  std::string after = readFile(dir.file("a.yaml"));
  EXPECT_FALSE(contains(after, "edgecoreVersion: \"\"")) << after;
  EXPECT_TRUE(contains(after, "\nedgecoreVersion: v")) << after;

  if (::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
    GTEST_SKIP() << "cgroup v2 host: failCgroupV1 has nothing to refuse";
  }
  const std::string v1_ok = "      failCgroupV1: false\n";
  ASSERT_TRUE(contains(cfg, v1_ok));
  cfg.replace(cfg.find(v1_ok), v1_ok.size(), "      failCgroupV1: true\n");
  dir.write("b.yaml", cfg);
  ProcessResult r = runCommand({kEdgecore, "--config", dir.file("b.yaml")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "modules.edged.tailoredKubeletConfig.failCgroupV1 is true")) << r.err;
}

TEST(EdgecoreCli, BadLogLevelFails) {
  ProcessResult r = runCommand({kEdgecore, "--log-level", "loud", "--config", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "unknown log level")) << r.err;
}

}  // namespace
}  // namespace edgecore::testing
