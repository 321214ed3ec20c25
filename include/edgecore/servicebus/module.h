#pragma once
// servicebus: calls HTTP services on this node for the cloud's rule endpoints (docs/servicebus.md,
// docs/node-tasks.md section 7). Bus name "servicebus", group "bus", as in KubeEdge.
//
// What it does: a rule request from the cloud router (source router_servicebus, op = an HTTP
// method, resource "<port>:<path>", content HTTPRequest) becomes a call to
// http://127.0.0.1:<port><path>; the answer (or a 400/404/500 error reply) goes back to the cloud
// through group "hub" as the HTTPResponse message KubeEdge sends.
// The other way, the router's "start"/"stop" of a rule URL fills the allowed-URL table
// (`target_urls` in database.dataSource) and runs an HTTP server on modules.serviceBus.server:port
// while it is not empty: a local app POSTs {"method","targetURL","payload"}, the body goes to the
// cloud (op upload, resource = targetURL) and the cloud's answer comes back in
// {"code","msg","body"}, waiting at most modules.serviceBus.timeout seconds.
// With KubeEdge master's tlsCertFile/tlsPrivateKeyFile the server is HTTPS only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

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
  // Tests: the local server's port instead of modules.serviceBus.port (0 = any free port).
  std::optional<uint16_t> port_override;
};

struct ServiceBusStats {
  uint64_t requests = 0;       // rule requests received
  uint64_t answered = 0;       // local service answers sent to the cloud
  uint64_t errors = 0;         // error replies sent to the cloud
  uint64_t ignored = 0;        // messages from other sources, start/stop
  uint64_t send_failures = 0;  // replies the bus did not take
  size_t target_urls = 0;      // allowed URLs (rules) known now
  uint64_t table_writes = 0;   // target_urls rows written or deleted (tried)
};

class ServiceBusModule : public core::Module {
 public:
  // A snapshot. Any thread.
  virtual ServiceBusStats stats() const = 0;
  // The local server's port; 0 when it is not running. The module's strand only.
  virtual uint16_t serverPortForTest() const = 0;
};

core::Result<core::ModulePtr> create(core::ModuleContext ctx, ServiceBusOptions options = {});
core::Result<std::unique_ptr<ServiceBusModule>> createServiceBus(core::ModuleContext ctx,
                                                                 ServiceBusOptions options = {});

}  // namespace edgecore::servicebus
