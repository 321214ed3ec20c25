#pragma once

// MetaServer's serving certificate with requireAuthorization (spec local-apis.md 4.1), obtained
// the way KubeEdge v1.20 does it (edge/pkg/metamanager/metaserver/certificate/manager.go over
// client-go's certificate manager, sent through metamanager/client/ceritificatesigningrequest.go):
//   1. the cluster CA: `query k8s/ca.crt` (answered by CloudHub), kept as <dir>/ca.crt;
//   2. a new P-256 key and a CSR (CN system:node:<node>, O system:nodes, IP SANs of `server` and
//      `dummyServer`), sent as `insert default/certificatesigningrequest/<name>` with a
//      certificates.k8s.io/v1 CertificateSigningRequest (signer kubernetes.io/kubelet-serving,
//      usages digital signature, key encipherment, server auth); the cloud creates it and answers
//      an ObjectResp;
//   3. `query default/certificatesigningrequest/<name>` until status.certificate is set (or a
//      Denied/Failed condition ends the attempt);
//   4. certificate + key kept in <dir>/metaserver-current.pem (0600, dir 0700, atomic replace);
//      reused at the next start while valid; renewed at a random point between 70 % and 90 %
//      of its lifetime (client-go's jittered deadline), failures retried with backoff.
// Runs on the strand it is given; current()/caPem() are thread-safe.

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"
#include "edgecore/metaserver/meta_server.h"

namespace edgecore::metaserver::tls {

inline constexpr const char* kDefaultCertificatesDir = "/etc/kubeedge/pki/metaserver";
inline constexpr const char* kCurrentPairFile = "metaserver-current.pem";
inline constexpr const char* kCaFile = "ca.crt";

struct ServingCertOptions {
  std::string dir = kDefaultCertificatesDir;
  std::string node_name;
  std::vector<std::string> ips;  // IP SANs: the server and dummyServer addresses
  // metaServer.tlsCaFile: the CA client certificates are verified against, re-read whenever a
  // certificate is installed (edgehub writes it at bootstrap, possibly after our start).
  std::string client_ca_file;
  std::chrono::milliseconds poll_interval{2000};           // between CSR status queries
  std::chrono::milliseconds wait_timeout{15 * 60 * 1000};  // per CSR (client-go: 15 min)
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};    // between failed attempts
};

// Sends one message towards the cloud (through metamanager) and returns its answer.
using CloudCall = std::function<boost::asio::awaitable<core::Result<core::Message>>(core::Message)>;

class ServingCertManager final : public ServingCertificateSource,
                                 public std::enable_shared_from_this<ServingCertManager> {
 public:
  ServingCertManager(boost::asio::any_io_executor strand, CloudCall call,
                     ServingCertOptions options, std::shared_ptr<spdlog::logger> log);

  // Prepares the directory (0700) and loads a stored CA and a still valid stored certificate.
  // Errors only for a directory that cannot be made private. Blocks briefly (small file reads).
  core::Status loadStored();
  // Starts the request/renew loop on the strand.
  void start();
  // Ends the loop; idempotent. Any thread.
  void stop();

  // ServingCertificateSource
  ServingCertificateSharedPtr current() const override;

  std::string caPem() const;
  // When the current certificate will be renewed (steady clock); max() when there is none.
  std::chrono::system_clock::time_point renewAt() const;

 private:
  boost::asio::awaitable<void> run(std::shared_ptr<ServingCertManager> self);
  boost::asio::awaitable<core::Status> fetchCa();
  boost::asio::awaitable<core::Status> requestCertificate();
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  // Installs a pair that passed the checks; computes the renewal deadline.
  void install(std::string cert_pem, std::string key_pem);
  core::Status checkPair(const std::string& cert_pem, const std::string& key_pem,
                         const std::string& ca_pem) const;

  boost::asio::any_io_executor strand_;
  CloudCall call_;
  ServingCertOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;

  mutable std::mutex mu_;  // guards the three below (read from I/O threads)
  ServingCertificateSharedPtr current_;
  std::string ca_pem_;
  std::chrono::system_clock::time_point renew_at_ = std::chrono::system_clock::time_point::max();
};

// The CertificateSigningRequest object sent to the cloud (exposed for tests and cloudsim).
nlohmann::json makeCsrObject(const std::string& name, const std::string& csr_pem);

}  // namespace edgecore::metaserver::tls
