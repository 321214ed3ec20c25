#pragma once

// MetaServer: the node-local, Kubernetes-compatible read API over the MetaStore cache
// (spec/local-apis.md section 4), plus what stock tools need to work offline: discovery,
// server-side Table printing, watch with resourceVersion semantics, selectors, paging, YAML,
// /healthz /livez /readyz and Prometheus /metrics.
//
// Threads: the server runs on the io_context it is given (any number of threads run it; every
// connection has its own strand). The MetaStore is read from I/O threads (its in-memory view never
// blocks) and its change listener feeds the watch hub from the writer thread.

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "edgecore/core/clock.h"
#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metaserver/cloud_forwarder.h"
#include "edgecore/metaserver/local_ops.h"
#include "edgecore/metaserver/metrics.h"
#include "edgecore/metaserver/request_auth.h"

namespace edgecore::metaserver {

// The serving certificate of the HTTPS listeners (requireAuthorization). PEM text; the chain
// starts with the leaf.
struct ServingCertificate {
  std::string cert_chain_pem;
  std::string key_pem;
  // CA(s) client certificates are verified against, read with the certificate (the node CA file
  // may only appear once edgehub has bootstrapped); empty: MetaServerTls::client_ca_pem.
  std::string client_ca_pem;
};
using ServingCertificateSharedPtr = std::shared_ptr<const ServingCertificate>;

// Where the HTTPS listeners take their certificate from at each handshake, so a renewed
// certificate is used by the next connection without a restart. current() is called from I/O
// threads: thread-safe, never blocks; null while none is available (handshakes then fail).
class ServingCertificateSource {
 public:
  virtual ~ServingCertificateSource() = default;
  virtual ServingCertificateSharedPtr current() const = 0;
};
using ServingCertificateSourceSharedPtr = std::shared_ptr<ServingCertificateSource>;

// requireAuthorization's transport (spec local-apis.md 4.1): HTTPS, TLS >= 1.2, client
// certificates verified against `client_ca_pem` when the client sends one
// (VerifyClientCertIfGiven); a verified certificate's CN/O reach the authorizer.
struct MetaServerTls {
  ServingCertificateSourceSharedPtr certificate;
  std::string client_ca_pem;  // fallback when the certificate carries none; both empty: not asked
  std::chrono::seconds handshake_timeout{10};
  // The second HTTPS listener (dummyServer, on the edge-dummy0 address); empty address: none.
  std::string dummy_address;
  uint16_t dummy_port = 0;  // 0 = pick a free port (tests), read back with dummyPort()
};

struct MetaServerOptions {
  std::string address = "127.0.0.1";        // host part of modules.metaManager.metaServer.server
  uint16_t port = 10550;                    // 0 = pick a free port (tests), read back with port()
  std::string node_name;                    // Application.Nodename when forwarding
  size_t max_body_bytes = 3 * 1024 * 1024;  // larger requests get 413
  size_t max_header_bytes = 64 * 1024;      // larger request heads get 431
  std::chrono::seconds read_timeout{60};    // per read of a request (head + body)
  std::chrono::seconds idle_timeout{90};    // keep-alive connection without a new request
  std::chrono::seconds write_timeout{60};
  size_t max_connections = 512;  // beyond it new connections are closed at once
  // Watch.
  size_t watch_window = 1000;        // committed changes kept for resourceVersion replay
  size_t watch_queue_limit = 10000;  // events buffered per slow watcher before it is cut
  std::chrono::seconds min_watch_timeout{1800};  // default timeout: random in [min, 2*min)
  std::chrono::milliseconds bookmark_interval{60000};
  // Reported by /version when no cached pass-through row exists (KubeEdge v1.20 is built against
  // Kubernetes v1.30.7; kubectl's dispatcher picks its client minor from this).
  std::string kube_git_version = "v1.30.7-kubeedge-edgecore-cpp";
  // Pod logs/exec/restart, confirm-upgrade and device edit (spec 4.7-4.10); null: not served.
  LocalOpsSharedPtr local_ops;
  // requireAuthorization: every request passes through it first; null = gate off (no auth).
  RequestAuthorizerSharedPtr authorizer;
  // Set: every listener serves HTTPS (requireAuthorization); unset: plain HTTP on `address`.
  std::shared_ptr<const MetaServerTls> tls;
  // Called once per listener whose socket fails for good (transient accept errors such as
  // EMFILE are waited out); the module reports it as its failure. Any thread.
  std::function<void(core::Status)> on_listener_failure;
};

class MetaServer {
 public:
  virtual ~MetaServer() = default;

  // Binds and starts accepting. InvalidArgument for a bad address, Unavailable if the port is
  // taken. Never blocks. Call once.
  virtual core::Status start() = 0;
  // Closes the acceptor, every connection and every watch; idempotent. Any thread.
  virtual void stop() = 0;
  // The bound port (after start()).
  virtual uint16_t port() const = 0;
  // The dummyServer listener's bound port (TLS with a dummy address only; 0 otherwise).
  virtual uint16_t dummyPort() const = 0;
  // /readyz answers 503 until the daemon says the store is open (and again after false). Any
  // thread.
  virtual void setReady(bool ready) = 0;
  // The registry /metrics renders; the daemon adds its own series to it.
  virtual MetricsRegistry& metrics() = 0;
  // Open connections and active watches (tests, metrics).
  virtual size_t connectionCount() const = 0;
  virtual size_t watcherCount() const = 0;
};
using MetaServerPtr = std::unique_ptr<MetaServer>;

// `store`, `forwarder`, `clock` and the io_context behind `executor` must outlive the server.
// `metrics` may be null (the server then makes its own).
MetaServerPtr createMetaServer(boost::asio::any_io_executor executor, MetaServerOptions options,
                               metamanager::MetaStore& store, CloudForwarder& forwarder,
                               core::Clock& clock, std::shared_ptr<spdlog::logger> log,
                               MetricsRegistrySharedPtr metrics = nullptr);

}  // namespace edgecore::metaserver
