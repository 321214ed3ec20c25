#pragma once

// servicebus's HTTP server for applications on this node (docs/node-tasks.md 7.4): any method,
// any path on modules.serviceBus.server:port; each request's body is read (bounded) and handed to
// `handler`, whose text is the 200 answer (JSON). One request per connection.
// The second and last translation unit of servicebus with Beast in it.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::servicebus {

// Gets the body, or why it could not be read (too large, malformed request); returns the JSON
// text to answer. Runs on the connection's strand; must not throw.
using BodyHandler = std::function<boost::asio::awaitable<std::string>(core::Result<std::string>)>;

struct LocalServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 9060;  // 0: any free port (tests)
  size_t max_body = 0;
  size_t max_connections = 128;
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  // KubeEdge master's TLS: when either is set the server speaks only HTTPS (TLS >= 1.2, no
  // client certificates), the pair is read again for every handshake (a renewed certificate
  // needs no restart), and the certificate must carry the serverAuth extended key usage.
  std::string tls_cert_file;
  std::string tls_private_key_file;
  // Called once, from the accept loop, when the listening socket fails for good (not for
  // EMFILE and other transient errors, which are waited out). The module reports it as its
  // failure (moduleRestart).
  std::function<void(core::Status)> on_failure;
};

class LocalServer {
 public:
  virtual ~LocalServer() = default;
  // Closes the listener and every open connection. Idempotent; any thread.
  virtual void stop() = 0;
  virtual uint16_t port() const = 0;
};

// Binds and starts accepting. InvalidArgument for a bad address or an incomplete or unusable TLS
// pair (no fallback to plain HTTP), Unavailable when it cannot listen. Reads the TLS files.
core::Result<std::shared_ptr<LocalServer>> startLocalServer(boost::asio::io_context& ioc,
                                                            LocalServerOptions options,
                                                            BodyHandler handler);

}  // namespace edgecore::servicebus
