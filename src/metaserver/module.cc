#include "edgecore/metaserver/module.h"

#include <charconv>
#include <chrono>

#include "edgecore/core/config.h"
#include "edgecore/core/host_port.h"
#include "edgecore/core/version.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/metaserver/meta_server.h"

namespace edgecore::metaserver {

namespace {

class MetaServerModule final : public core::Module {
 public:
  MetaServerModule(core::ModuleContext ctx, metamanager::MetaStore& store,
                   CloudForwarder& forwarder, MetaServerOptions options)
      : ctx_(ctx), store_(store) {
    // The daemon's registry when there is one: MetaServer's /metrics shows every module's series.
    server_ = createMetaServer(ctx.strand.get_inner_executor(), std::move(options), store,
                               forwarder, ctx.clock, ctx.log, ctx.metrics);
    registerAgentMetrics();
  }

  // core::Module
  std::string_view name() const override { return "metaserver"; }
  std::string_view group() const override { return core::names::kMetaGroup; }
  core::Status start() override {
    EC_RETURN_IF_ERROR(server_->start());
    auto gate = ctx_.config.feature_gates.find("requireAuthorization");
    if (gate != ctx_.config.feature_gates.end() && gate->second) {
      // v1.20 would serve HTTPS with a CSR-issued certificate and JWT/RBAC here (spec 4.1); we
      // do not, and `keadm ctl` follows the gate to https: say so once instead of failing
      // silently on every TLS handshake.
      ctx_.log->warn(
          "requireAuthorization feature gate is set but not supported: serving plain http, "
          "without authentication (keadm ctl with this config will fail to connect)");
    }
    // The store was opened (and checked) before any module started, so we are ready at once.
    server_->setReady(true);
    return {};
  }
  void stop() override {
    server_->setReady(false);
    server_->stop();
  }

 private:
  // The store's series, read when /metrics is scraped (nothing pushed on hot paths). With the
  // daemon's registry, process and bus series are already there; a MetaServer built without one
  // (tests) adds the process series to its own.
  void registerAgentMetrics() {
    MetricsRegistry& m = server_->metrics();
    if (!ctx_.metrics) {
      core::addProcessMetrics(m);
    }
    metamanager::MetaStore* store = &store_;
    store_metrics_ = m.addScopedCollector([store](std::string& out) {
      const auto s = store->stats();
      auto add = [&out](std::string_view name, std::string_view help, MetricType type, double v) {
        core::appendMetricFamily(out, name, help, type, v);
      };
      add("edgecore_store_transactions_total", "SQLite write transactions run.",
          MetricType::Counter, static_cast<double>(s.transactions));
      add("edgecore_store_write_ops_total", "Write operations committed or attempted.",
          MetricType::Counter, static_cast<double>(s.ops));
      add("edgecore_store_failed_batches_total", "Write batches that failed.", MetricType::Counter,
          static_cast<double>(s.failed_batches));
      add("edgecore_store_max_batch_ops", "Most operations committed in one transaction.",
          MetricType::Gauge, static_cast<double>(s.max_batch_ops));
      add("edgecore_store_queue_rejections_total",
          "Writes refused because the write queue was full.", MetricType::Counter,
          static_cast<double>(s.queue_rejections));
      add("edgecore_store_objects", "Objects held in the meta_v2 cache.", MetricType::Gauge,
          static_cast<double>(s.objects));
      add("edgecore_store_revision", "Current store revision.", MetricType::Gauge,
          static_cast<double>(s.revision));
    });
  }

  core::ModuleContext ctx_;
  metamanager::MetaStore& store_;
  MetaServerPtr server_;
  MetricsRegistry::Registration store_metrics_;  // after server_: removed before it goes
};

// What the keadm ctl endpoints need (spec 4.7-4.10), from the config. A bad runtime endpoint does
// not stop MetaServer: those endpoints report it.
LocalOpsSharedPtr makeLocalOps(const core::ModuleContext& ctx,
                               metamanager::UpgradeRecords& upgrades,
                               const std::string& config_path) {
  auto ops = std::make_shared<LocalOps>();
  const auto& edged = ctx.config.modules.edged;
  cri::CriClientOptions cri_options;
  if (!edged.container_runtime_endpoint.empty()) {
    cri_options.runtime_endpoint = edged.container_runtime_endpoint;
  }
  auto cri = cri::CriClient::create(cri_options);
  if (cri.ok()) {
    ops->cri = std::move(*cri);
  } else {
    ops->cri_error = cri.status().message();
  }
  ops->blocking = &ctx.blocking;
  ops->edged_enabled = edged.enable;
  if (!edged.address.empty()) ops->edged_address = edged.address;
  if (edged.read_only_port > 0 && edged.read_only_port <= 65535) {
    ops->edged_port = static_cast<uint16_t>(edged.read_only_port);
  }
  ops->bus = &ctx.bus;
  ops->upgrade_records = &upgrades;
  if (!config_path.empty()) ops->config_path = config_path;
  ops->edgecore_version = std::string("v") + core::kVersion;
  return ops;
}

}  // namespace

core::Result<core::ModulePtr> createModule(core::ModuleContext ctx, metamanager::MetaStore& store,
                                           CloudForwarder& forwarder,
                                           const std::string& config_path) {
  const auto& cfg = ctx.config.modules.meta_manager.meta_server;
  auto host_port = core::parseHostPort(cfg.server);
  if (!host_port.ok()) {
    return host_port.status().withContext("modules.metaManager.metaServer.server");
  }
  MetaServerOptions options;
  options.address = host_port->host;
  options.port = host_port->port;
  options.node_name = ctx.config.modules.edged.hostname_override;
  options.local_ops = makeLocalOps(ctx, store, config_path);
  auto module = std::make_unique<MetaServerModule>(ctx, store, forwarder, std::move(options));
  return core::ModulePtr(std::move(module));
}

}  // namespace edgecore::metaserver
