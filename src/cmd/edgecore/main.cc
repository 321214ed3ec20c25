// edgecore: the KubeEdge edge agent. Wiring only: flags, config, the module list, the daemon.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/cloud_link.h"
#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/core/file.h"
#include "edgecore/core/logging.h"
#include "edgecore/core/version.h"
#include "edgecore/devicetwin/module.h"
#include "edgecore/edged/module.h"
#include "edgecore/edgehub/module.h"
#include "edgecore/edgestream/module.h"
#include "edgecore/eventbus/module.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metamanager/module.h"
#include "edgecore/metaserver/bus_cloud_forwarder.h"
#include "edgecore/metaserver/module.h"
#include "edgecore/servicebus/module.h"
#include "edgecore/taskmanager/module.h"

namespace core = edgecore::core;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // bad config, a module failed to start, unclean stop
constexpr int kExitUsage = 2;    // unknown flag or bad flag value

constexpr const char* kDescription =
    "edgecore is the KubeEdge edge agent: it keeps a tunnel to CloudCore (edgehub), caches what\n"
    "the cloud sends in SQLite (metamanager) and serves it on a local Kubernetes API\n"
    "(MetaServer), runs pods through CRI (edged), and syncs device twins over MQTT (devicetwin,\n"
    "eventbus). It reads the same edgecore.yaml as KubeEdge's own edgecore.";

// What the modules share, created before them and destroyed after them.
struct SharedParts {
  std::unique_ptr<edgecore::metamanager::MetaStore> store;  // null when metaManager is off
  core::CloudLinkStatus cloud_link;                         // kept by metamanager
  edgecore::metaserver::CloudForwarderPtr forwarder;        // MetaServer -> cloud, via edgehub
  // devicetwin writes device and mapper health; the daemon's metrics registry reads it, so both
  // MetaServer's and the edged server's /metrics show it.
  std::shared_ptr<edgecore::devicetwin::TwinMetrics> twin_metrics =
      std::make_shared<edgecore::devicetwin::TwinMetrics>();
};

// The store's integrity check runs after start when the last shutdown was clean; if it fails
// (also before the daemon exists) it stops the daemon and edgecore exits as if open had failed.
class StoreCheckFailure {
 public:
  void fail(core::Status st) {
    std::lock_guard lock(mu_);
    if (!status_) {
      status_ = std::move(st);
    }
    if (daemon_ != nullptr) {
      daemon_->requestStop();
    }
  }
  void attach(core::Daemon* daemon) {
    std::lock_guard lock(mu_);
    daemon_ = daemon;
    if (daemon_ != nullptr && status_) {
      daemon_->requestStop();
    }
  }
  std::optional<core::Status> status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  core::Daemon* daemon_ = nullptr;
  std::optional<core::Status> status_;
};

// devicetwin's liveness interval comes from modules.deviceTwin.offlineAfter (our own key);
// EDGECORE_TWIN_OFFLINE_AFTER_MS overrides it for tests that cannot wait a minute.
edgecore::devicetwin::DeviceTwinOptions twinOptions(SharedParts& parts,
                                                    const core::EdgeCoreConfig& config) {
  edgecore::devicetwin::DeviceTwinOptions o;
  o.offline_after = std::chrono::duration_cast<std::chrono::milliseconds>(
      config.modules.device_twin.offline_after);
  if (const char* v = std::getenv("EDGECORE_TWIN_OFFLINE_AFTER_MS"); v != nullptr && *v != 0) {
    o.offline_after = std::chrono::milliseconds(std::strtoll(v, nullptr, 10));
  }
  o.metrics = parts.twin_metrics;
  return o;
}

// edged's knobs outside edgecore.yaml. EDGECORE_EDGED_BACKOFF_BASE_MS shortens the
// CrashLoopBackOff / image pull back-off base (10 s), EDGECORE_EDGED_DEVICE_PLUGIN_GRACE_MS the
// time a gone device plugin's resource stays in capacity (5 min), for tests and demos.
edgecore::edged::EdgedOptions edgedOptions(SharedParts& parts, const core::HostInfo& host) {
  edgecore::edged::EdgedOptions o;
  if (auto* store = parts.store.get()) {
    o.read_stored_object = [store](std::string_view key) { return store->getMeta(key); };
  }
  o.cloud_link = &parts.cloud_link;
  o.host_ip = host.local_ip;
  if (const char* v = std::getenv("EDGECORE_EDGED_BACKOFF_BASE_MS")) {
    char* end = nullptr;
    long ms = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && ms > 0) {
      o.backoff_base = std::chrono::milliseconds(ms);
    }
  }
  if (const char* v = std::getenv("EDGECORE_EDGED_DEVICE_PLUGIN_GRACE_MS")) {
    char* end = nullptr;
    long ms = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && ms >= 0) {
      o.device_plugin_stop_grace = std::chrono::milliseconds(ms);
    }
  }
  return o;
}

// Start order: storage first so nothing from the cloud arrives before it can be kept; the
// cloud link after the modules it feeds. The daemon stops them in reverse.
std::vector<core::ModuleSpec> moduleList(const core::EdgeCoreConfig& c, SharedParts& parts,
                                         const std::string& config_path,
                                         const core::HostInfo& host) {
  const auto& m = c.modules;
  core::ModuleFactory metamanager;
  core::ModuleFactory metaserver;
  if (parts.store) {
    metamanager = [&parts](core::ModuleContext ctx) {
      return edgecore::metamanager::create(ctx, *parts.store, &parts.cloud_link);
    };
    metaserver = [&parts, &c, config_path](core::ModuleContext ctx) {
      parts.forwarder = edgecore::metaserver::createBusCloudForwarder(
          ctx.bus, ctx.strand, parts.cloud_link,
          {c.modules.edged.hostname_override, std::chrono::seconds(10)}, ctx.log);
      return edgecore::metaserver::createModule(ctx, *parts.store, *parts.forwarder, config_path);
    };
  }
  core::ModuleFactory edged = [&parts, host](core::ModuleContext ctx) {
    return edgecore::edged::create(ctx, edgedOptions(parts, host));
  };
  core::ModuleFactory twin;
  if (parts.store) {
    twin = [&parts](core::ModuleContext ctx) {
      return edgecore::devicetwin::create(ctx, *parts.store, twinOptions(parts, ctx.config));
    };
  }
  core::ModuleFactory eventbus = [&parts](core::ModuleContext ctx) {
    return edgecore::eventbus::create(ctx, parts.store.get());
  };
  core::ModuleFactory edgehub = [config_path](core::ModuleContext ctx) {
    return edgecore::edgehub::create(ctx, config_path);
  };
  core::ModuleFactory edgestream = [](core::ModuleContext ctx) {
    return edgecore::edgestream::create(ctx);
  };
  core::ModuleFactory taskmanager;
  if (parts.store) {
    taskmanager = [&parts, config_path](core::ModuleContext ctx) {
      edgecore::taskmanager::TaskManagerOptions o;
      o.records = parts.store.get();
      o.config_path = config_path;
      auto* store = parts.store.get();
      o.read_meta = [store](const std::string& key) { return store->getMeta(key); };
      return edgecore::taskmanager::create(ctx, std::move(o));
    };
  }
  return {
      {"metamanager", "modules.metaManager", m.meta_manager.enable, metamanager, ""},
      {"metaserver", "modules.metaManager.metaServer",
       m.meta_manager.enable && m.meta_manager.meta_server.enable, metaserver, ""},
      {"edged", "modules.edged", m.edged.enable, edged, ""},
      {"twin", "modules.deviceTwin", m.device_twin.enable && m.meta_manager.enable, twin, ""},
      {"eventbus", "modules.eventBus", m.event_bus.enable, eventbus, ""},
      {"servicebus", "modules.serviceBus", m.service_bus.enable,
       [](core::ModuleContext ctx) { return edgecore::servicebus::create(ctx); }, ""},
      // Before edgehub: the connection events and the cloud's node tasks need its mailbox.
      {"taskmanager", "modules.taskManager", m.task_manager.enable, taskmanager,
       "(needs modules.metaManager: node tasks are kept in its database)"},
      {"websocket", "modules.edgeHub", m.edge_hub.enable, edgehub, ""},
      {"edgestream", "modules.edgeStream", m.edge_stream.enable, edgestream, ""},
  };
}

// Opens database.dataSource, creating its directory like `keadm join` would; 0700, as the
// database holds Secrets.
core::Result<std::unique_ptr<edgecore::metamanager::MetaStore>> openStore(
    const core::EdgeCoreConfig& config, const std::shared_ptr<spdlog::logger>& log,
    StoreCheckFailure* check_failure) {
  edgecore::metamanager::SqliteStoreOptions options;
  // The check of a large file takes longer than the rest of the start (docs/performance.md).
  options.integrity_check =
      edgecore::metamanager::SqliteStoreOptions::IntegrityCheck::AfterOpenIfClean;
  options.on_background_check_failure = [check_failure](core::Status st) {
    check_failure->fail(std::move(st));
  };
  options.path = config.database.data_source;
  options.create_meta_tables = config.modules.meta_manager.enable;
  options.create_device_tables = config.modules.device_twin.enable;
  options.log = log;
  std::filesystem::path dir = std::filesystem::path(options.path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    auto created = core::createDirectories(dir.string(), 0700);
    if (!created.ok()) {
      return core::unavailable(created.status().message() + " (for " + options.path + ")");
    }
    log->info("created database directory dir={} mode=0700", dir.string());
  }
  auto t0 = std::chrono::steady_clock::now();
  auto store = edgecore::metamanager::openSqliteMetaStore(options);
  if (store.ok()) {
    auto stats = (*store)->stats();
    log->info(
        "database open path={} objects={} revision={} ms={}", options.path, stats.objects,
        stats.revision,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  return store;
}

}  // namespace

// Long on purpose: start-up as one sequence a reader follows top to bottom (flags, config,
// logging, store, shared parts, the module list, the daemon); each step is a call or a few lines.
int main(int argc, char** argv) {
  core::useOneAllocatorArena();  // before any thread: see its comment
  CLI::App app{kDescription, "edgecore"};
  std::string config_path = "/etc/kubeedge/config/edgecore.yaml";
  bool print_default = false;
  bool print_min = false;
  bool print_version = false;
  std::string log_level;
  int klog_v = -1;
  app.add_option("--config", config_path, "The path to the configuration file.")
      ->capture_default_str();
  app.add_flag("--defaultconfig", print_default,
               "Print the full default config (all fields, defaults set) and exit.");
  app.add_flag("--minconfig", print_min, "Print a minimal config for beginners and exit.");
  app.add_flag("--version", print_version, "Print version information and exit.");
  app.add_option("--log-level", log_level,
                 "Log level: trace, debug, info, warn, error, critical, off (default info).");
  app.add_option("-v,--v", klog_v, "klog-style verbosity (2+ debug, 5+ trace); --log-level wins.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; a usage error prints what is wrong and exits 2, as most CLIs do.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  if (print_version) {
    std::printf("edgecore-cpp %s (KubeEdge %s compatible)\n", core::kVersion,
                core::kKubeEdgeCompat);
    return kExitOk;
  }
  const core::HostInfo host = core::detectHostInfo();
  if (print_min) {
    std::fputs(core::minConfigYaml(host).c_str(), stdout);
    return kExitOk;
  }
  if (print_default) {
    std::fputs(core::defaultConfigYaml(host).c_str(), stdout);
    return kExitOk;
  }

  spdlog::level::level_enum level = spdlog::level::info;
  if (!log_level.empty()) {
    auto parsed = core::parseLogLevel(log_level);
    if (!parsed.ok()) {
      std::fprintf(stderr, "edgecore: --log-level: %s\n", parsed.status().message().c_str());
      return kExitFailure;
    }
    level = *parsed;
  } else if (klog_v >= 0) {
    level = core::levelFromKlogVerbosity(klog_v);
  }
  core::LoggerFactory loggers(level);
  auto log = loggers.make("edgecore");

  auto config = core::loadConfigFile(config_path, host);
  if (!config.ok()) {
    log->error("config invalid path={} err=\"{}\"", config_path, config.status().message());
    return kExitFailure;
  }
  log->info("edgecore starting version={} kubeedge_compat={} config={} node={}", core::kVersion,
            core::kKubeEdgeCompat, config_path, config->modules.edged.hostname_override);
  // v1.23 records the running version in the file (edgecoreVersion); upstream exits when it cannot
  // write it, we go on with a warning (a read-only config must not keep a node down).
  if (const std::string running = std::string("v") + core::kVersion;
      config->edgecore_version != running) {
    auto written = core::recordEdgecoreVersion(config_path, running);
    if (!written.ok()) {
      log->warn("config edgecoreVersion not recorded path={} err=\"{}\"", config_path,
                written.status().message());
    } else if (*written) {
      log->info("config edgecoreVersion recorded path={} from=\"{}\" to={}", config_path,
                config->edgecore_version, running);
    }
  }
  for (const std::string& warning : config->warnings) {
    log->warn("config warning path={} {}", config_path, warning);
  }
  for (const std::string& key : config->unknown_keys) {
    log->debug("config key not used by edgecore-cpp key={}", key);
  }

  StoreCheckFailure check_failure;  // outlives the store, whose checker thread calls it
  SharedParts parts;
  if (config->modules.meta_manager.enable) {
    auto store = openStore(*config, log, &check_failure);
    if (!store.ok()) {
      log->error("database unusable err=\"{}\"", store.status().message());
      return kExitFailure;
    }
    parts.store = std::move(store).value();
  }

  core::Daemon daemon(*config, loggers, core::DaemonOptions{});
  if (config->modules.device_twin.enable) {
    auto twin_metrics = parts.twin_metrics;
    daemon.metrics().addCollector(
        [twin_metrics](std::string& out) { twin_metrics->render(out, core::nowUnixMillis()); });
  }
  auto modules = moduleList(*config, parts, config_path, host);
  for (core::ModuleSpec& spec : modules) {  // used only with featureGates.moduleRestart
    spec.restart_on_failure = core::hasOnFailureRestartPolicy(spec.name);
  }
  check_failure.attach(&daemon);
  core::Status st = daemon.run(std::move(modules));
  check_failure.attach(nullptr);
  if (auto failed = check_failure.status()) {
    parts.forwarder.reset();
    log->error("database unusable err=\"{}\"", failed->message());
    return kExitFailure;
  }
  // The forwarder holds a strand of the daemon's io_context: it must go before the daemon does.
  parts.forwarder.reset();
  if (!st.ok()) {
    log->error("edgecore exiting err=\"{}\"", st.toString());
    return kExitFailure;
  }
  return kExitOk;
}
