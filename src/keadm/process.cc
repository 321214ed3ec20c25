#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace edgecore::keadm {
namespace {

// Both ends close on exec, so a successful exec closes the error pipe with nothing written.
struct Pipe {
  int fds[2] = {-1, -1};
  bool open() { return ::pipe2(fds, O_CLOEXEC) == 0; }
  void close(int i) {
    if (fds[i] >= 0) {
      ::close(fds[i]);
      fds[i] = -1;
    }
  }
  ~Pipe() {
    close(0);
    close(1);
  }
};

// In the child after fork: only async-signal-safe calls until exec.
[[noreturn]] void execChild(char* const* args, int out_fd, int err_report_fd) {
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGHUP, SIG_DFL);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
  }
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  ::execvp(args[0], args);
  int err = errno;
  ssize_t ignored = ::write(err_report_fd, &err, sizeof(err));
  (void)ignored;
  _exit(127);
}

// The errno the child reported from a failed exec, 0 when exec succeeded.
int readExecError(int fd) {
  int err = 0;
  ssize_t n;
  while ((n = ::read(fd, &err, sizeof(err))) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof(err)) ? err : 0;
}

void appendBounded(ProcessOutcome& outcome, const char* data, std::size_t n) {
  if (outcome.truncated) {
    return;
  }
  std::size_t room = kMaxProcessOutput - outcome.output.size();
  outcome.output.append(data, std::min(n, room));
  if (n > room) {
    outcome.truncated = true;
    outcome.output += kOutputTruncatedMarker;
  }
}

// Reads the child's output until EOF or the deadline; false when the deadline passed.
bool drainUntil(int fd, std::optional<std::chrono::steady_clock::time_point> deadline,
                ProcessOutcome& outcome) {
  char buf[4096];
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      // Rounded up: truncating would give up to 1 ms before the deadline.
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline -
                                                               std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno != EINTR) {
      return true;  // cannot wait any more; reaping below still tells how it ended
    }
    if (ready <= 0) {
      continue;  // EINTR or deadline: checked at the top
    }
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return true;
    }
    appendBounded(outcome, buf, static_cast<std::size_t>(got));
  }
}

// Waits for the child to end until the deadline (it may close its output and keep running);
// false when the deadline passed first.
bool reapUntil(pid_t pid, std::optional<std::chrono::steady_clock::time_point> deadline,
               int& status) {
  for (;;) {
    pid_t r = ::waitpid(pid, &status, deadline ? WNOHANG : 0);
    if (r == pid) {
      return true;
    }
    if (r < 0 && errno != EINTR) {
      return true;  // not our child any more: nothing left to wait for
    }
    if (deadline && std::chrono::steady_clock::now() >= *deadline) {
      return false;
    }
    if (r == 0) {
      ::usleep(10 * 1000);
    }
  }
}

}  // namespace

std::string ProcessOutcome::describe() const {
  if (timed_out) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
    return "timed out after " +
           (s > 0 ? std::to_string(s) + " s" : std::to_string(timeout.count()) + " ms") +
           " and was killed";
  }
  if (term_signal != 0) {
    return "killed by signal " + std::to_string(term_signal);
  }
  return "exit " + std::to_string(exit_code);
}

core::Result<ProcessOutcome> runProcess(const std::vector<std::string>& argv,
                                        std::optional<std::chrono::milliseconds> timeout) {
  if (argv.empty() || argv[0].empty()) {
    return core::invalidArgument("no program to run");
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);

  Pipe out, exec_err;
  if (!out.open() || !exec_err.open()) {
    return core::unavailable("cannot run " + argv[0] + ": pipe: " + std::strerror(errno));
  }
  const auto started = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    return core::unavailable("cannot run " + argv[0] + ": fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    execChild(args.data(), out.fds[1], exec_err.fds[1]);
  }
  out.close(1);
  exec_err.close(1);

  ProcessOutcome outcome;
  outcome.timeout = timeout.value_or(std::chrono::milliseconds(0));
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout) {
    deadline = started + *timeout;
  }
  int exec_errno = readExecError(exec_err.fds[0]);
  int status = 0;
  bool in_time = exec_errno != 0 || drainUntil(out.fds[0], deadline, outcome);
  in_time = in_time && reapUntil(pid, exec_errno != 0 ? std::nullopt : deadline, status);
  if (!in_time) {
    ::kill(pid, SIGKILL);
    outcome.timed_out = true;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (exec_errno != 0) {
    std::string why = "cannot run " + argv[0] + ": " + std::strerror(exec_errno);
    return exec_errno == ENOENT ? core::notFound(why) : core::unavailable(why);
  }
  if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.term_signal = WTERMSIG(status);
  }
  return outcome;
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace edgecore::keadm
