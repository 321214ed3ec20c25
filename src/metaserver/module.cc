#include "edgecore/metaserver/module.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>

#include "auth/authorization_chain.h"
#include "auth/known_tokens.h"
#include "edgecore/core/config.h"
#include "edgecore/core/host_port.h"
#include "edgecore/core/version.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/metaserver/meta_server.h"
#include "tls/dummy_interface.h"
#include "tls/serving_cert_manager.h"

namespace edgecore::metaserver {

namespace {

// requireAuthorization's transport parts (spec local-apis.md 4.1): the dummy interface and the
// CSR-issued serving certificate. Null when the gate is off.
struct SecureTransport {
  std::string dummy_ip;
  std::string dummy_port;
  std::shared_ptr<tls::ServingCertManager> certificates;
  std::unique_ptr<tls::DummyInterface> dummy;  // set by start()
};

class MetaServerModule final : public core::Module {
 public:
  MetaServerModule(core::ModuleContext ctx, metamanager::MetaStore& store,
                   CloudForwarder& forwarder, MetaServerOptions options,
                   std::shared_ptr<auth::KnownTokens> known_tokens,
                   std::unique_ptr<SecureTransport> secure)
      : ctx_(ctx),
        store_(store),
        known_tokens_(std::move(known_tokens)),
        secure_(std::move(secure)) {
    // kubectl and pods on the node can no longer reach us: the module's run has failed (with
    // the gate off, or as MetaServer has no restart policy, edgecore stops and systemd restarts
    // it).
    options.on_listener_failure = ctx.report_failure;
    // The daemon's registry when there is one: MetaServer's /metrics shows every module's series.
    server_ = createMetaServer(ctx.strand.get_inner_executor(), std::move(options), store,
                               forwarder, ctx.clock, ctx.log, ctx.metrics);
    registerAgentMetrics();
  }

  // core::Module
  std::string_view name() const override { return "metaserver"; }
  std::string_view group() const override { return core::names::kMetaGroup; }
  core::Status start() override {
    if (secure_) EC_RETURN_IF_ERROR(startSecureTransport());
    if (core::Status st = server_->start(); !st.ok()) {
      if (secure_) stopSecureTransport();
      return st;
    }
    if (known_tokens_) {
      // No serviceAccountKeyFiles: tokens are checked against the ones the node obtained.
      boost::asio::post(ctx_.blocking, [known = known_tokens_] { known->refreshNow(); });
    }
    // The store was opened (and checked) before any module started, so we are ready at once.
    server_->setReady(true);
    return {};
  }
  void stop() override {
    server_->setReady(false);
    server_->stop();
    if (secure_) stopSecureTransport();
  }

 private:
  // The dummy interface and its environment (v1.20 server_linux.go setupDummyInterface), then
  // the serving certificate: a stored valid one at once, else the CSR flow in the background
  // (handshakes fail until it is issued; v1.20 blocks its start up to 8 min instead).
  core::Status startSecureTransport() {
    auto dummy = tls::DummyInterface::create(secure_->dummy_ip, ctx_.log);
    if (!dummy.ok()) {
      return dummy.status().withContext("metaserver (featureGates.requireAuthorization)");
    }
    secure_->dummy = std::move(*dummy);
    core::Status st = secure_->certificates->loadStored();
    if (!st.ok()) {
      secure_->dummy->remove();
      return st.withContext("metaserver serving certificate directory");
    }
    secure_->certificates->start();
    return {};
  }

  void stopSecureTransport() {
    secure_->certificates->stop();
    if (secure_->dummy) secure_->dummy->remove();
  }

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
  std::shared_ptr<auth::KnownTokens> known_tokens_;  // null unless tokens are matched, not verified
  std::unique_ptr<SecureTransport> secure_;
  MetaServerPtr server_;
  MetricsRegistry::Registration store_metrics_;  // after server_: removed before it goes
};

// What the keadm ctl endpoints need (spec 4.7-4.10), from the config. A bad runtime endpoint does
// not stop MetaServer: those endpoints report it.
LocalOpsSharedPtr makeLocalOps(const core::ModuleContext& ctx, metamanager::MetaStore& store,
                               const std::string& config_path) {
  auto ops = std::make_shared<LocalOps>();
  const auto& edged = ctx.config.modules.edged;
  cri::CriClientOptions cri_options;
  if (!edged.container_runtime_endpoint.empty()) {
    cri_options.runtime_endpoint = edged.container_runtime_endpoint;
  }
  ops->lazy_cri = std::make_shared<const LazyCriClient>(
      [cri_options] { return cri::CriClient::create(cri_options); });
  ops->blocking = &ctx.blocking;
  ops->edged_enabled = edged.enable;
  if (!edged.address.empty()) ops->edged_address = edged.address;
  if (edged.read_only_port > 0 && edged.read_only_port <= 65535) {
    ops->edged_port = static_cast<uint16_t>(edged.read_only_port);
  }
  ops->bus = &ctx.bus;
  ops->upgrade_records = &store;
  ops->store = &store;
  if (!config_path.empty()) ops->config_path = config_path;
  ops->edgecore_version = std::string("v") + core::kVersion;
  return ops;
}

// requireAuthorization (spec 4.1): the JWT + x509 + RBAC chain of src/metaserver/auth over the
// store. Key files are read here, once (a bad one stops the module, as v1.20's buildAuth fails).
core::Result<RequestAuthorizerSharedPtr> makeAuthorizer(
    const core::ModuleContext& ctx, metamanager::MetaStore& store, const std::string& node_name,
    std::shared_ptr<auth::KnownTokens>& known_tokens) {
  const auto& cfg = ctx.config.modules.meta_manager.meta_server;
  auth::AuthorizationChainOptions options;
  options.node_name = node_name;
  options.tokens.issuers = cfg.service_account_issuers;
  options.tokens.audiences = cfg.api_audiences;
  for (const auto& file : cfg.service_account_key_files) {
    auto keys = auth::loadPublicKeysFile(file);
    if (!keys.ok()) {
      return keys.status().withContext("modules.metaManager.metaServer.serviceAccountKeyFiles");
    }
    options.tokens.keys.insert(options.tokens.keys.end(), keys->begin(), keys->end());
  }
  if (options.tokens.keys.empty()) {
    known_tokens = std::make_shared<auth::KnownTokens>(store, ctx.blocking);
    options.tokens.known_token = [known = known_tokens](std::string_view token) {
      return known->contains(token);
    };
  }
  ctx.log->info("metaserver authorization enabled issuers={} key_files={} node={}",
                cfg.service_account_issuers.size(), cfg.service_account_key_files.size(),
                node_name);
  return RequestAuthorizerSharedPtr(
      std::make_shared<auth::AuthorizationChain>(std::move(options), store, ctx.clock, ctx.log));
}

bool requireAuthorization(const core::EdgeCoreConfig& config) {
  auto gate = config.feature_gates.find("requireAuthorization");
  return gate != config.feature_gates.end() && gate->second;
}

bool isLoopback(const std::string& host) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

// Where the serving certificate lives: v1.20's fixed /etc/kubeedge/pki/metaserver, or
// $EDGECORE_METASERVER_PKI_DIR (our extension, for tests and unprivileged trials; keadm ctl
// reads the same variable).
std::string certificatesDir() {
  const char* dir = std::getenv("EDGECORE_METASERVER_PKI_DIR");
  return dir && *dir ? std::string(dir) : std::string(tls::kDefaultCertificatesDir);
}

// requireAuthorization on: HTTPS options for `options` and the parts the module starts. The
// serving certificate names the server and dummyServer IPs (v1.20 server.go getCertIPs).
core::Result<std::unique_ptr<SecureTransport>> prepareSecureTransport(
    const core::ModuleContext& ctx, MetaServerOptions& options) {
  const auto& cfg = ctx.config.modules.meta_manager.meta_server;
  auto dummy = core::parseHostPort(cfg.dummy_server);
  if (!dummy.ok()) return dummy.status().withContext("modules.metaManager.metaServer.dummyServer");
  auto secure = std::make_unique<SecureTransport>();
  secure->dummy_ip = dummy->host;
  secure->dummy_port = std::to_string(dummy->port);
  // Where pods find MetaServer (v1.20 server_linux.go; edged's container env reads them). Set
  // here, while modules are created and no other thread reads the environment yet.
  ::setenv("METASERVER_DUMMY_IP", secure->dummy_ip.c_str(), 1);
  ::setenv("METASERVER_DUMMY_PORT", secure->dummy_port.c_str(), 1);

  tls::ServingCertOptions cert_options;
  cert_options.dir = certificatesDir();
  cert_options.node_name = ctx.config.modules.edged.hostname_override;
  cert_options.ips = {options.address, dummy->host};
  cert_options.client_ca_file = cfg.tls_ca_file;
  core::Bus* bus = &ctx.bus;
  tls::CloudCall call = [bus](core::Message msg) {
    return bus->request(core::names::kMetaManagerModule, std::move(msg), std::chrono::minutes(1));
  };
  secure->certificates = std::make_shared<tls::ServingCertManager>(
      ctx.strand, std::move(call), std::move(cert_options), ctx.log);

  auto tls_options = std::make_shared<MetaServerTls>();
  tls_options->certificate = secure->certificates;
  tls_options->dummy_address = dummy->host;
  tls_options->dummy_port = dummy->port;
  // Client certificates (keadm ctl's node certificate) are verified against tlsCaFile, read by
  // the certificate manager with each serving certificate: on a first start edgehub writes it
  // only after bootstrapping, and no serving certificate exists before that either.
  options.tls = std::move(tls_options);
  return secure;
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
  std::shared_ptr<auth::KnownTokens> known_tokens;
  std::unique_ptr<SecureTransport> secure;
  if (requireAuthorization(ctx.config)) {
    EC_ASSIGN_OR_RETURN(options.authorizer,
                        makeAuthorizer(ctx, store, options.node_name, known_tokens));
    auto prepared = prepareSecureTransport(ctx, options);
    if (!prepared.ok()) return prepared.status();
    secure = std::move(*prepared);
  } else if (!isLoopback(options.address)) {
    // Without authentication MetaServer serves every Secret it caches: never to the network.
    return core::failedPrecondition(
        "modules.metaManager.metaServer.server " + cfg.server +
        " is not a loopback address: without authentication MetaServer only listens on "
        "loopback. Set featureGates.requireAuthorization: true (HTTPS with a CSR-issued "
        "certificate; client certificates verified against "
        "modules.metaManager.metaServer.tlsCaFile) or use 127.0.0.1");
  }
  auto module = std::make_unique<MetaServerModule>(ctx, store, forwarder, std::move(options),
                                                   std::move(known_tokens), std::move(secure));
  return core::ModulePtr(std::move(module));
}

}  // namespace edgecore::metaserver
