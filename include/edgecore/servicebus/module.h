#pragma once
// servicebus: calls HTTP services on this node for the cloud's rule endpoints (docs/servicebus.md,
// docs/node-tasks.md section 7). Bus name "servicebus", group "bus", as in KubeEdge.
//
// What it does: a rule request from the cloud router (source router_servicebus, op = an HTTP
// method, resource "<port>:<path>", content HTTPRequest) becomes a call to
// http://127.0.0.1:<port><path>; the answer (or a 400/404/500 error reply) goes back to the cloud
// through group "hub" as the HTTPResponse message KubeEdge sends.
// Not yet: the local HTTP server on modules.serviceBus.server:port (local app -> cloud) and its
// allowed-URL table; "start"/"stop" messages are logged and ignored.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::servicebus {

// Bound of a request body from the cloud and of a local service's response body (KubeEdge's
// maxBodySize, 5e6 bytes). Larger ones get an error reply.
inline constexpr size_t kMaxBodyBytes = 5'000'000;
// Calls to local services running at once; more get a 500 error reply at once.
inline constexpr size_t kMaxCallsInFlight = 64;

struct ServiceBusOptions {
  // The whole local call (KubeEdge's fixed http.Client timeout).
  std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};
};

struct ServiceBusStats {
  uint64_t requests = 0;       // rule requests received
  uint64_t answered = 0;       // local service answers sent to the cloud
  uint64_t errors = 0;         // error replies sent to the cloud
  uint64_t ignored = 0;        // messages from other sources, start/stop
  uint64_t send_failures = 0;  // replies the bus did not take
};

class ServiceBusModule : public core::Module {
 public:
  // A snapshot. Any thread.
  virtual ServiceBusStats stats() const = 0;
};

core::Result<core::ModulePtr> create(core::ModuleContext ctx, ServiceBusOptions options = {});
core::Result<std::unique_ptr<ServiceBusModule>> createServiceBus(core::ModuleContext ctx,
                                                                 ServiceBusOptions options = {});

}  // namespace edgecore::servicebus
