#pragma once

// EdgedServer: the kubelet read-only/debug HTTP server edged exposes on
// tailoredKubeletConfig.address:readOnlyPort (default 127.0.0.1:10350, plain HTTP, no auth;
// spec/local-apis.md 6.7). On any other address it serves only HTTPS to clients with a
// certificate signed by the node's CA (server_tls.h). Endpoints:
//   GET /healthz                                  "ok"
//   GET /pods                                     PodList JSON from Callbacks::pods
//   GET /metrics                                  Prometheus text from Callbacks::metrics (the
//                                                 agent's registry; what the cloud scrapes
//                                                 through the stream tunnel); 404 without it
//   GET /containerLogs/{ns}/{pod}/{container}     CRI log file, query follow, previous, tailLines,
//                                                 sinceSeconds, sinceTime, timestamps, limitBytes
//   /exec/{ns}/{pod}/{container}?command=..&stdin=..&stdout=..&stderr=..&tty=..
//   /attach/{ns}/{pod}/{container}?...            upgrade (SPDY/websocket) proxied byte for byte
//                                                 to the runtime's streaming URL
// A leading "//" in the path is tolerated. Errors as the kubelet answers them: 404 text for an
// unknown pod/container, 400 for bad query values.
// Threading: the server runs on the given io_context (one strand per connection). Callbacks are
// invoked on a connection strand, possibly concurrently from several connections: they must be
// thread-safe and must not block (logLocation/pods read in-memory state; streamUrl is async).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::edged {

using core::Result;
using core::Status;

// Where a container's log is: the CRI log file of the requested instance (current, or the
// previous one with previous=true), e.g. /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log.
struct LogLocation {
  std::string path;
  // For follow: false once this container instance stopped (the stream then ends at EOF).
  std::function<bool()> running;
};

struct StreamRequest {
  enum class Kind { Exec, Attach };
  Kind kind = Kind::Exec;
  std::string ns, pod, container;
  std::vector<std::string> command;  // exec only
  bool stdin_ = false, stdout_ = true, stderr_ = true, tty = false;
};

struct EdgedServerCallbacks {
  // PodList JSON ({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[...]}).
  std::function<std::string()> pods;
  // NotFound (-> 404 with the message, e.g. `pod "x" not found`) or the location.
  std::function<Result<LogLocation>(const std::string& ns, const std::string& pod,
                                    const std::string& container, bool previous)>
      log_location;
  // Asks the runtime for a streaming URL (CRI Exec/Attach) and calls `done` once, from any
  // thread. NotFound -> 404, other errors -> 500.
  std::function<void(const StreamRequest&, std::function<void(Result<std::string> url)> done)>
      stream_url;
  // The agent's metrics in Prometheus text format (version 0.0.4). Must be quick.
  std::function<std::string()> metrics;
};

struct EdgedServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 10350;  // 0 = any (tests)
  size_t max_connections = 256;
  size_t max_log_bytes = 16 * 1024 * 1024;  // read at most this much of a log file per request
  std::chrono::milliseconds follow_poll = std::chrono::milliseconds(100);
  std::chrono::seconds request_timeout = std::chrono::seconds(30);  // reading the request head
  // TLS with client certificates (server_tls.h): required when `address` is not a loopback
  // address (start() fails naming the keys otherwise), used on loopback too when set.
  std::string tls_cert_file;         // tailoredKubeletConfig.tlsCertFile
  std::string tls_private_key_file;  // tailoredKubeletConfig.tlsPrivateKeyFile
  std::string client_ca_file;        // tailoredKubeletConfig.authentication.x509.clientCAFile
};

class EdgedServer {
 public:
  virtual ~EdgedServer() = default;
  // Binds and starts accepting. Unavailable if the address cannot be bound; InvalidArgument for
  // a non-loopback address without the TLS files, or unusable TLS files.
  virtual Status start() = 0;
  // Closes the listener and every connection (follow streams, exec proxies). Idempotent.
  virtual void stop() = 0;
  // The bound port (after start()).
  virtual uint16_t port() const = 0;
  virtual size_t activeConnectionsForTest() const = 0;
};

std::unique_ptr<EdgedServer> makeEdgedServer(boost::asio::io_context& ioc,
                                             EdgedServerOptions options,
                                             EdgedServerCallbacks callbacks);

}  // namespace edgecore::edged
