#pragma once

// The HTTPS client edgehub uses against CloudHub's certificate server (spec 3.1): one request
// per connection, a deadline over the whole exchange, bodies bounded at 1 MiB.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgecore/core/status.h"
#include "endpoint.h"

namespace edgecore::edgehub {

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

struct HttpsRequest {
  Endpoint server;
  std::shared_ptr<boost::asio::ssl::context> tls;
  bool verify_peer = true;
  std::string method = "GET";
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
};

// Resolves, connects, handshakes, sends, reads. Unavailable on network/TLS errors (the message
// says which step), DeadlineExceeded on timeout. Any HTTP status is a success here.
boost::asio::awaitable<core::Result<HttpReply>> httpsExchange(boost::asio::any_io_executor ex,
                                                              HttpsRequest request);

}  // namespace edgecore::edgehub
