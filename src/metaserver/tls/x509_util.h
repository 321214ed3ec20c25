#pragma once

// OpenSSL helpers of the serving-certificate flow (no I/O): a P-256 key, a CSR with MetaServer's
// subject and IP SANs, and the facts of an issued certificate. Thread-safe, never throw.

#include <chrono>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::tls {

// A new ECDSA P-256 private key, PEM ("EC PRIVATE KEY", what client-go's certificate manager
// generates and keeps).
core::Result<std::string> generateEcKeyPem();

// A PEM CSR signed with `key_pem`: subject CN=`common_name`, one O per `organizations`, an IP SAN
// per `ips` (v1.20 certificate/manager.go getTemplate: CN system:node:<node>, O system:nodes,
// IPs of server and dummyServer). InvalidArgument for a bad key or IP.
core::Result<std::string> makeCsrPem(const std::string& key_pem, const std::string& common_name,
                                     const std::vector<std::string>& organizations,
                                     const std::vector<std::string>& ips);

struct CertificateFacts {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::vector<std::string> ip_sans;  // text form
  std::string common_name;
};

// Facts of the first certificate of a PEM chain. InvalidArgument if none parses.
core::Result<CertificateFacts> certificateFacts(const std::string& cert_pem);
// True when `key_pem` is the private key of the first certificate of `cert_pem`.
bool keyMatchesCertificate(const std::string& cert_pem, const std::string& key_pem);
// True when the leaf of `cert_pem` chains to one of the certificates in `ca_pem`.
bool verifiesAgainst(const std::string& cert_pem, const std::string& ca_pem);

}  // namespace edgecore::metaserver::tls
