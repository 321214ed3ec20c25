#pragma once

// Descriptor-level tools for server tests. DescriptorExhaustion fills this process's descriptor
// table (under a lowered soft RLIMIT_NOFILE, so it takes a few dozen descriptors, not a million) to
// test what a server does when accept() fails with EMFILE. Everything is undone in the destructor.
// Other threads of the test process must not need new descriptors meanwhile. Under UBSan, run one
// timer wait on the server's io_context first: the sanitizer checks an object's dynamic type the
// first time through a pipe, which fails when the table is full and is then reported as an invalid
// vptr of Asio's timer queue.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace edgecore::testing {

class DescriptorExhaustion {
 public:
  // Leaves `spare` descriptors free (a test connects its client socket with them).
  explicit DescriptorExhaustion(int spare) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = 0;
    for (int fd = 0; fd < 65536; ++fd) {
      if (fcntl(fd, F_GETFD) != -1) {
        highest = fd;
      }
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 64);
    ok_ = setrlimit(RLIMIT_NOFILE, &lowered) == 0;
    for (;;) {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        break;
      }
      held_.push_back(fd);
    }
    for (int i = 0; i < spare && !held_.empty(); ++i) {
      close(held_.back());
      held_.pop_back();
    }
  }
  ~DescriptorExhaustion() { release(); }
  DescriptorExhaustion(const DescriptorExhaustion&) = delete;
  DescriptorExhaustion& operator=(const DescriptorExhaustion&) = delete;

  bool ok() const { return ok_ && !held_.empty(); }

  void release() {
    for (int fd : held_) {
      close(fd);
    }
    held_.clear();
    setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  rlimit saved_{};
  bool ok_ = false;
  std::vector<int> held_;
};

// The listening IPv4 socket of this process bound to `port` (-1 if none): a test shuts it down
// under a server (accept() then fails with EINVAL, an error no server can wait out).
inline int listeningDescriptor(uint16_t port) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    int listening = 0;
    socklen_t optlen = sizeof(listening);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        addr.sin_family == AF_INET && ntohs(addr.sin_port) == port &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == 0 && listening) {
      return fd;
    }
  }
  return -1;
}

}  // namespace edgecore::testing
