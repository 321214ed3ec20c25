#pragma once

// servicebus's HTTP client for services on this node: one plain HTTP/1.1 call to
// 127.0.0.1:<port>, one connection per call (as Go's client with no keep-alive reuse would
// behave for one-off calls). The only translation unit with Beast in it.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "translate.h"

namespace edgecore::servicebus {

struct CallOutcome {
  bool ok = false;
  LocalAnswer answer;  // when ok
  CallError error;     // when not: 404 could not call, 500 could not read the answer
  std::string detail;  // when not: the network error, for the log only (upstream logs it too)
};

// Runs on the awaiting coroutine's executor. `timeout` bounds the whole call (connect, write,
// read), like Go's http.Client.Timeout. A response body over `max_body` bytes is an error
// (500), not a silent cut. Never throws for network errors.
boost::asio::awaitable<CallOutcome> callLocal(LocalCall call, std::chrono::milliseconds timeout,
                                              size_t max_body);

}  // namespace edgecore::servicebus
