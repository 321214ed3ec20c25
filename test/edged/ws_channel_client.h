#pragma once

// A small blocking websocket client speaking Kubernetes' channel protocol (v4.channel.k8s.io:
// each binary message starts with a channel byte, 0 stdin, 1 stdout, 2 stderr, 3 the final
// Status JSON) to test /exec and /attach as kubectl's websocket executor uses them. Test code:
// plain sockets, a deadline on every read.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace edgecore::testing {

class WsChannelClient {
 public:
  ~WsChannelClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects and upgrades; returns the HTTP status line's code (101 on success), -1 on I/O error.
  int open(uint16_t port, const std::string& target) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
    std::string req =
        "GET " + target +
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
        "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n";
    if (!writeAll(req)) return -1;
    while (buf_.find("\r\n\r\n") == std::string::npos) {
      if (!readMore()) return -1;
    }
    size_t end = buf_.find("\r\n\r\n");
    head_ = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    if (head_.size() < 12) return -1;
    return std::atoi(head_.substr(9, 3).c_str());
  }

  // Sends `data` on channel `ch` (a masked binary frame, as a client must).
  bool send(uint8_t ch, const std::string& data) {
    std::string payload(1, static_cast<char>(ch));
    payload += data;
    std::string f;
    f += static_cast<char>(0x82);
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (payload.size() < 126) {
      f += static_cast<char>(0x80 | payload.size());
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>((payload.size() >> 8) & 0xff);
      f += static_cast<char>(payload.size() & 0xff);
    }
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < payload.size(); ++i) {
      f += static_cast<char>(payload[i] ^ mask[i % 4]);
    }
    return writeAll(f);
  }

  // Reads messages until the server closes (or `until` holds, or the deadline passes), appending
  // each channel's bytes to channels()[ch]. True when the stream ended or `until` held.
  template <typename Pred>
  bool readUntil(Pred until, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!until()) {
      std::optional<bool> r = nextFrame(deadline);
      if (!r) return false;  // deadline or I/O error
      if (!*r) return true;  // closed
    }
    return true;
  }

  std::map<int, std::string>& channels() { return channels_; }
  const std::string& head() const { return head_; }

 private:
  bool writeAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool readMore(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() +
                                                                 std::chrono::seconds(20)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  // One frame: true = data (or control) handled, false = closed, nullopt = timeout/error.
  std::optional<bool> nextFrame(std::chrono::steady_clock::time_point deadline) {
    while (true) {
      if (buf_.size() >= 2) {
        uint8_t b0 = static_cast<uint8_t>(buf_[0]);
        uint8_t b1 = static_cast<uint8_t>(buf_[1]);
        size_t hl = 2;
        uint64_t len = b1 & 0x7f;
        if (len == 126 && buf_.size() >= 4) {
          len = (static_cast<uint8_t>(buf_[2]) << 8) | static_cast<uint8_t>(buf_[3]);
          hl = 4;
        } else if (len == 127 && buf_.size() >= 10) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(buf_[2 + i]);
          hl = 10;
        } else if (len >= 126) {
          len = UINT64_MAX;  // header incomplete
        }
        if (len != UINT64_MAX && buf_.size() >= hl + len) {
          std::string payload = buf_.substr(hl, len);
          buf_.erase(0, hl + len);
          uint8_t op = b0 & 0x0f;
          if (op == 0x8) return false;
          if ((op == 0x1 || op == 0x2 || op == 0x0) && !payload.empty()) {
            channels_[static_cast<uint8_t>(payload[0])] += payload.substr(1);
          }
          return true;
        }
      }
      if (!readMore(deadline)) {
        return std::chrono::steady_clock::now() < deadline ? std::optional<bool>(false)
                                                           : std::nullopt;
      }
    }
  }

  int fd_ = -1;
  std::string buf_;
  std::string head_;
  std::map<int, std::string> channels_;
};

}  // namespace edgecore::testing
