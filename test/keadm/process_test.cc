// keadm's process runner (src/keadm/process.h) on real programs: /bin/sh, sleep, head.

#include "process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace edgecore::keadm {
namespace {

using namespace std::chrono_literals;

TEST(KeadmProcess, ReportsExitCodeAndInterleavedOutput) {
  auto run = runProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->exit_code, 3);
  EXPECT_FALSE(run->succeeded());
  EXPECT_FALSE(run->timed_out);
  EXPECT_EQ(run->describe(), "exit 3");
  EXPECT_NE(run->output.find("out\n"), std::string::npos) << run->output;
  EXPECT_NE(run->output.find("err\n"), std::string::npos) << run->output;
}

TEST(KeadmProcess, FindsProgramsOnPathAndSucceeds) {
  auto run = runProcess({"sh", "-c", "printf hello"}, std::nullopt);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_TRUE(run->succeeded());
  EXPECT_EQ(run->output, "hello");
  EXPECT_FALSE(run->truncated);
}

TEST(KeadmProcess, ArgumentsAreNotSeenByAShell) {
  auto run = runProcess({"/bin/echo", "$HOME; echo injected"}, 10s);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->output, "$HOME; echo injected\n");
}

TEST(KeadmProcess, KeepsAtMost64KiBAndStillReadsTheRest) {
  // 1 MiB of output: the child must not block on a full pipe, and only the bound is kept.
  auto run = runProcess({"/bin/sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x; exit 0"}, 20s);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_TRUE(run->succeeded()) << run->describe();
  EXPECT_TRUE(run->truncated);
  EXPECT_EQ(run->output.size(), kMaxProcessOutput + std::string(kOutputTruncatedMarker).size());
  EXPECT_EQ(run->output.substr(kMaxProcessOutput), kOutputTruncatedMarker);
  EXPECT_EQ(run->output.find_first_not_of('x'), kMaxProcessOutput);
}

TEST(KeadmProcess, TimeoutKillsAndReapsTheChild) {
  const auto started = std::chrono::steady_clock::now();
  auto run = runProcess({"sleep", "30"}, 300ms);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_TRUE(run->timed_out);
  EXPECT_EQ(run->term_signal, SIGKILL);
  EXPECT_FALSE(run->succeeded());
  EXPECT_EQ(run->describe(), "timed out after 300 ms and was killed");
  EXPECT_LT(took, 5s);
  EXPECT_GE(took, 300ms);
}

TEST(KeadmProcess, TimeoutAppliesAfterTheChildClosesItsOutput) {
  auto run = runProcess({"/bin/sh", "-c", "exec >&- 2>&-; sleep 30"}, 300ms);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_TRUE(run->timed_out);
}

TEST(KeadmProcess, ReportsDeathBySignal) {
  auto run = runProcess({"/bin/sh", "-c", "kill -TERM $$"}, 10s);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->term_signal, SIGTERM);
  EXPECT_FALSE(run->timed_out);
  EXPECT_EQ(run->describe(), "killed by signal 15");
}

TEST(KeadmProcess, MissingBinaryIsAClearNotFound) {
  auto run = runProcess({"/nonexistent/edgecore-no-such-binary", "--version"}, 10s);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), core::StatusCode::NotFound);
  EXPECT_EQ(run.status().message(),
            "cannot run /nonexistent/edgecore-no-such-binary: No such file or directory");

  auto on_path = runProcess({"edgecore-no-such-program-on-path"}, 10s);
  ASSERT_FALSE(on_path.ok());
  EXPECT_EQ(on_path.status().code(), core::StatusCode::NotFound);
}

TEST(KeadmProcess, EmptyArgvIsRejected) {
  auto run = runProcess({}, 10s);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), core::StatusCode::InvalidArgument);
}

TEST(KeadmProcess, ChildGetsDefaultSigpipeAndSighupEvenWhenKeadmIgnoresThem) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  struct sigaction old_hup {};
  sigaction(SIGPIPE, &ignore, &old_pipe);
  sigaction(SIGHUP, &ignore, &old_hup);
  // grep reads its own ignored-signal mask: what it inherited through exec.
  auto run = runProcess({"grep", "^SigIgn:", "/proc/self/status"}, 10s);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_TRUE(run->succeeded()) << run->describe();
  const auto mask = std::stoull(run->output.substr(run->output.find(':') + 1), nullptr, 16);
  EXPECT_EQ(mask & (1ULL << (SIGPIPE - 1)), 0U) << run->output;
  EXPECT_EQ(mask & (1ULL << (SIGHUP - 1)), 0U) << run->output;
}

TEST(KeadmProcess, EnvOrFallsBackWhenUnsetOrEmpty) {
  ::setenv("EDGECORE_PROCESS_TEST_VAR", "set", 1);
  EXPECT_EQ(envOr("EDGECORE_PROCESS_TEST_VAR", "fallback"), "set");
  ::setenv("EDGECORE_PROCESS_TEST_VAR", "", 1);
  EXPECT_EQ(envOr("EDGECORE_PROCESS_TEST_VAR", "fallback"), "fallback");
  ::unsetenv("EDGECORE_PROCESS_TEST_VAR");
  EXPECT_EQ(envOr("EDGECORE_PROCESS_TEST_VAR", "fallback"), "fallback");
}

}  // namespace
}  // namespace edgecore::keadm
