#include "util/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace edgecore::testing {

namespace {
[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "test harness: %s: %s\n", what.c_str(), std::strerror(errno));
  std::abort();
}
}  // namespace

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/edgecore-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    die("mkdtemp");
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  std::ofstream out(file(name), std::ios::binary);
  out << content;
}

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  char tmpl[] = "/tmp/edgecore-child-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    die("mkdtemp");
  }
  dir_ = tmpl;
  std::string out_path = dir_ + "/stdout";
  std::string err_path = dir_ + "/stderr";
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) {
    die("fork");
  }
  if (pid_ == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) {
      _exit(127);
    }
    dup2(out, 1);
    dup2(err, 2);
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ChildProcess::signal(int signo) {
  if (!reaped_) {
    kill(pid_, signo);
  }
}

std::string ChildProcess::stderrSoFar() const { return readFile(dir_ + "/stderr"); }
std::string ChildProcess::stdoutSoFar() const { return readFile(dir_ + "/stdout"); }

std::optional<ProcessResult> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      break;
    }
    if (r < 0) {
      die("waitpid");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped_ = true;
  ProcessResult result;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  result.out = readFile(dir_ + "/stdout");
  result.err = readFile(dir_ + "/stderr");
  return result;
}

ProcessResult runCommand(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  ChildProcess child(std::move(argv));
  auto result = child.wait(timeout);
  if (!result) {
    child.signal(SIGKILL);
    result = child.wait(std::chrono::seconds(5));
    if (result) {
      result->err += "\n[test harness: killed after timeout]";
    }
  }
  return result.value_or(ProcessResult{});
}

}  // namespace edgecore::testing

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace edgecore::testing {
int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    die("socket");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    die("bind/getsockname");
  }
  close(fd);
  return ntohs(addr.sin_port);
}
}  // namespace edgecore::testing
