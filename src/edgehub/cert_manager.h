#pragma once

// The node's client certificate (spec 3): load it, bootstrap it with the token when it is
// missing, rotate it before it expires. Mirrors edge/pkg/edgehub/certificate/certmanager.go
// @ v1.20.0 (facts, not code). Used from edgehub's strand only; the coroutines need `this` alive
// until they finish (edgehub owns it through its shared state).

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "crypto.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/config.h"
#include "edgecore/core/status.h"

namespace edgecore::edgehub {

class CertManager {
 public:
  CertManager(const core::EdgeHubConfig& config, std::string node_name, std::string config_path,
              std::shared_ptr<spdlog::logger> log, core::Clock& clock);

  // The configured pair when both files load and match.
  core::Result<CertInfo> loadCurrent() const;

  // Ok when a usable pair exists, bootstrapping it with the token if needed. Errors:
  // FailedPrecondition (no certificate and no token), InvalidArgument (malformed token),
  // Unauthenticated (token expired or rejected with 401), PermissionDenied (CA hash mismatch,
  // CSR refused), Unavailable/DeadlineExceeded (network, disk).
  boost::asio::awaitable<core::Status> ensure(boost::asio::any_io_executor ex);

  // Gets a new certificate presenting the current one (spec 3.3) and swaps the files.
  boost::asio::awaitable<core::Status> rotate(boost::asio::any_io_executor ex);

 private:
  // New key + CSR, GET /edge.crt, files written. `bearer` empty: authenticate with the current
  // certificate instead (rotation).
  boost::asio::awaitable<core::Status> requestCertificate(boost::asio::any_io_executor ex,
                                                          std::string ca_pem, std::string bearer,
                                                          bool present_current);

  core::EdgeHubConfig config_;
  std::string node_;
  std::string config_path_;
  std::shared_ptr<spdlog::logger> log_;
  core::Clock& clock_;
};

}  // namespace edgecore::edgehub
