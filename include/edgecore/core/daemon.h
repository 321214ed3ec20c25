#pragma once

// The daemon lifecycle: start the enabled modules in order, wait for SIGTERM/SIGINT (or
// requestStop), stop them in reverse within a deadline.
//
// A module run fails when its factory or start() returns an error or it calls
// ModuleContext::report_failure. Without featureGates.moduleRestart (the default), any failure
// stops the daemon and run() returns the error. With the gate, a module whose spec has
// restart_on_failure (KubeEdge v1.22+'s OnFailure policy, beehive core/module.go) is stopped,
// destroyed and, after a delay, created again by its factory and started; the delay starts at
// 1 s, doubles after each restart and stays at 30 s once there, never going back after a good
// run. Each restart is logged with the module and the error and counted in
// edgecore_module_restarts_total{module="..."}. Restarts are unlimited (Retries 0 upstream).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/logging.h"
#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::core {

struct EdgeCoreConfig;

using ModuleFactory = std::function<Result<ModulePtr>(ModuleContext)>;

// One row of main.cc's module list.
struct ModuleSpec {
  std::string name;          // KubeEdge module name, e.g. "websocket"
  std::string config_path;   // the config section, e.g. "modules.edgeHub"
  bool enabled = false;      // the section's `enable`
  ModuleFactory factory;     // empty: this build does not include the module
  std::string missing_note;  // said in the log when enabled but not built, e.g. "see issue #4"
  // Restarted after a failed run when featureGates.moduleRestart is on (see the top of this
  // file). The factory is called again for each restart: it must be safe to call repeatedly.
  bool restart_on_failure = false;
};

// Whether KubeEdge v1.22+ gives module `name` (our module names: "twin", "websocket", ...) the
// OnFailure restart policy: devicetwin, edged, edgehub, edgestream, eventbus, metamanager,
// servicebus and taskmanager do; MetaServer does not.
bool hasOnFailureRestartPolicy(std::string_view name);

// The edgecore.yaml feature gate that turns module restarts on.
inline constexpr std::string_view kModuleRestartGate = "moduleRestart";

// Puts every thread's allocations in glibc's main arena, the one malloc_trim shrinks fully; the
// daemon's allocator trimmer (DaemonOptions::allocator_trim_interval) then returns what a burst
// freed. With one arena per thread, freed response buffers stayed at the top of the threads'
// arenas, which malloc_trim leaves alone: +3 to 5 MB of RSS after 8 concurrent LISTs of 1000
// pods, for good (docs/performance.md). Call first thing in main(), before any thread starts.
void useOneAllocatorArena();

struct DaemonOptions {
  int io_threads = 2;
  int blocking_threads = 2;
  std::chrono::milliseconds stop_deadline{10000};
  bool handle_signals = true;  // false in tests that call requestStop()
  // Called once when stopping overruns stop_deadline. The default logs, flushes and ends the
  // process with exit code 1 right away: a module stuck in stop() must not keep the node agent
  // from restarting. Tests replace it to observe the overrun.
  std::function<void()> on_stop_overrun;
  // featureGates.moduleRestart's first delay and its cap (beehive's 1 s and 30 s); tests shorten
  // them. The delay doubles after each restart of a module.
  std::chrono::milliseconds restart_interval{1000};
  std::chrono::milliseconds restart_interval_limit{30000};
  // How often the allocator is asked to return free heap pages once more than
  // allocator_trim_slack bytes are free (src/core/memory_trim.h); 0 turns it off.
  std::chrono::milliseconds allocator_trim_interval{5000};
  size_t allocator_trim_slack = size_t{1} << 20;
};

class Daemon {
 public:
  Daemon(const EdgeCoreConfig& config, const LoggerFactory& loggers, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Blocks the calling thread: starts the modules, waits for a stop signal, stops them.
  // Returns Ok after a clean stop; the failing module's Status if one failed to start or its
  // run failed and it is not restarted (the modules already started are stopped first);
  // DeadlineExceeded if stopping overran the deadline and on_stop_overrun returned.
  Status run(std::vector<ModuleSpec> specs);

  // Asks run() to stop, as SIGTERM would. Any thread, any time (also before run()).
  void requestStop();

  // The bus, valid for the daemon's lifetime (tests use it to talk to modules).
  Bus& bus();
  // The registry every module's ModuleContext::metrics points to (process and bus series are
  // in it from the start). Valid for the daemon's lifetime; thread-safe.
  MetricsRegistry& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgecore::core
