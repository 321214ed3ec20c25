#pragma once

// A real HTTP service on 127.0.0.1:0 for servicebus tests, on its own thread.
// Paths: /hang reads the request and never answers; /big answers `big_bytes` of 'x'; anything
// else answers 200 "echo:<body>" with X-Echo-Method: <method> and Content-Type: text/plain.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace edgecore::servicebus::testing {

struct SeenRequest {
  std::string method;
  std::string target;
  std::multimap<std::string, std::string> headers;
  std::string body;
};

class LocalHttpServer {
 public:
  explicit LocalHttpServer(size_t big_bytes = 0);
  ~LocalHttpServer();
  uint16_t port() const;
  size_t requestCount() const;
  SeenRequest lastRequest() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgecore::servicebus::testing
