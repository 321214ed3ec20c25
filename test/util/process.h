#pragma once

// Runs the real edgecore binary from tests: capture its output, signal it, wait with a deadline.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace edgecore::testing {

struct ProcessResult {
  int exit_code = -1;   // valid when exited normally
  int term_signal = 0;  // non-zero when killed by a signal
  std::string out;      // stdout
  std::string err;      // stderr
};

// A child process with stdout and stderr redirected to files in a temp dir.
class ChildProcess {
 public:
  // Starts argv[0] with the given arguments. Aborts the test binary on fork/exec setup failure.
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();  // SIGKILLs and reaps the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signo);
  // Waits up to `timeout` for the child to end; nullopt if it is still running.
  std::optional<ProcessResult> wait(std::chrono::milliseconds timeout);
  // What the child wrote to stderr / stdout so far.
  std::string stderrSoFar() const;
  std::string stdoutSoFar() const;

 private:
  pid_t pid_ = -1;
  std::string dir_;
  bool reaped_ = false;
};

// Runs a command to completion (at most `timeout`, then SIGKILL) and returns what it printed.
ProcessResult runCommand(std::vector<std::string> argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string readFile(const std::string& path);

}  // namespace edgecore::testing

namespace edgecore::testing {
// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read back, close). For configs
// that need a fixed port; the tiny race with other processes is acceptable in tests.
int freeLoopbackPort();
}  // namespace edgecore::testing
