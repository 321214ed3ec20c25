#pragma once

// The only HTTP client of keadm: plain HTTP/1.1 or HTTPS with a client certificate to MetaServer,
// one connection per call, every wait bounded by the timeout (1 min, as the original's
// http.Client). Beast lives only in http_client.cc.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::keadm {

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 10550;
  bool tls = false;  // requireAuthorization: https with the files below
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Only for fetching CloudCore's CA before any trust exists: the caller checks what it got
  // against the token's CA hash instead (as edgehub's bootstrap does).
  bool insecure_skip_verify = false;
  std::string peer_name = "MetaServer";  // for error messages

  std::string url() const;  // "http://127.0.0.1:10550"
};

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Callbacks of an interactive exec session; all run on the calling thread.
struct ExecIo {
  bool tty = false;
  bool stdin_open = false;  // forward our stdin (fd 0) to the container
  // Current terminal size (columns, rows); called at start and on SIGWINCH when tty.
  std::function<bool(uint16_t* cols, uint16_t* rows)> terminal_size;
};

class HttpClient {
 public:
  explicit HttpClient(Endpoint endpoint,
                      std::chrono::milliseconds timeout = std::chrono::minutes(1));

  // One request; the whole body is read. Unavailable when MetaServer cannot be reached
  // ("cannot reach MetaServer at ...: is edgecore running?"), DeadlineExceeded after the timeout.
  core::Result<HttpReply> request(std::string_view method, std::string_view target,
                                  std::string_view body = {}, std::string_view content_type = {});
  // Streams the body of a 200 answer to `sink` as it arrives (no deadline between chunks: a
  // followed log may be quiet for long). Other statuses: the body is collected in the reply.
  core::Result<HttpReply> stream(std::string_view method, std::string_view target,
                                 const std::function<void(std::string_view)>& sink);
  // Interactive exec over the Kubernetes websocket protocol (v5/v4.channel.k8s.io): stdin to
  // channel 0, channels 1/2 to our stdout/stderr, resize on channel 4. Returns the command's
  // exit code (from the channel-3 Status).
  core::Result<int> execWebsocket(std::string_view target, const ExecIo& io);

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  core::Result<HttpReply> stream(std::string_view method, std::string_view target,
                                 const std::function<void(std::string_view)>* sink,
                                 std::string_view body, std::string_view content_type);

  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
};

// Percent-encodes a query value.
std::string urlEncode(std::string_view value);

}  // namespace edgecore::keadm
