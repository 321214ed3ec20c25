#pragma once

// The contract every edgecore module implements (STYLE.md section 2). A module is created by its
// factory `Result<core::ModulePtr> create(core::ModuleContext)` in
// include/edgecore/<module>/module.h; main.cc lists modules in start order and stops them in
// reverse.

#include <spdlog/logger.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string_view>

#include "edgecore/core/bus.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/metrics.h"
#include "edgecore/core/status.h"

namespace edgecore::core {

struct EdgeCoreConfig;

// Everything a module may touch; there are no globals.
struct ModuleContext {
  Strand strand;  // all of the module's handlers run here
  Bus& bus;
  const EdgeCoreConfig& config;         // the whole validated config (modules read their section)
  std::shared_ptr<spdlog::logger> log;  // named after the module
  Clock& clock;
  asio::thread_pool& blocking;  // SQLite, synchronous gRPC stubs, file I/O
  // The agent's metrics registry (owned by the daemon, outlives every module; thread-safe).
  // Modules add their series with MetricsRegistry::addScopedCollector and keep the handle.
  // Null when a test builds a context without one.
  MetricsRegistrySharedPtr metrics = nullptr;
  // How a module says that its run ended with an error it cannot recover from by itself after
  // start() succeeded (a listener it serves died, a loop it needs ended). Any thread, never
  // blocks; one report per run is enough, later ones are ignored; never call it from stop() or
  // for an ending that stop() caused. The daemon then stops the agent with this error, or, with
  // featureGates.moduleRestart and a module with the OnFailure policy, stops and destroys this
  // module object and creates and starts a new one (daemon.h). The default does nothing (tests
  // that build a context by hand).
  std::function<void(Status)> report_failure = [](const Status&) {};
};

class Module {
 public:
  virtual ~Module() = default;
  // KubeEdge module name: the bus address (e.g. "websocket", "metamanager").
  virtual std::string_view name() const = 0;
  // KubeEdge group name for broadcasts (e.g. "hub", "meta").
  virtual std::string_view group() const = 0;
  // Opens resources, subscribes, spawns coroutines. Must not block. A failure stops the daemon
  // (or, with featureGates.moduleRestart, counts as a failed run: see daemon.h).
  virtual Status start() = 0;
  // Idempotent. Closes sockets and timers so coroutines finish; must not block for long. With
  // featureGates.moduleRestart it also follows a start() that failed half-way (so the next run
  // finds the bus name and ports free): it must cope with a partial start.
  virtual void stop() = 0;
};

using ModulePtr = std::unique_ptr<Module>;

}  // namespace edgecore::core
