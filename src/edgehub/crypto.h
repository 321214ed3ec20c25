#pragma once

// Certificate plumbing for edgehub on OpenSSL 3: the bootstrap token, hashes, PEM, the node's
// key and CSR (spec 3.2), certificate lifetimes and the rotation deadline (spec 3.3), and file
// writes with safe modes. No network here.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "edgecore/core/digest.h"
#include "edgecore/core/status.h"

namespace edgecore::edgehub {

// `<caHash>.<jwt header>.<jwt payload>.<jwt signature>` (spec 3.2).
struct BootstrapToken {
  std::string ca_hash;                  // lowercase hex SHA-256 of the CA certificate's DER
  std::string jwt;                      // the three JWT parts, sent as the Bearer value
  std::optional<int64_t> expires_unix;  // the JWT's `exp` claim when readable
};
// InvalidArgument when the text is not four dot-separated parts with a 64-hex-char first part.
// The JWT payload is decoded only to read `exp`; its signature is the cloud's business.
core::Result<BootstrapToken> parseBootstrapToken(std::string_view token);

using core::sha256Hex;  // edgecore/core/digest.h
// A PEM block of `label` around `der` (64-column base64).
std::string pemEncode(std::string_view der, std::string_view label);

// An ECDSA P-256 key pair and the DER CSR the original sends (certmanager.go getCSR @ v1.20.0):
// subject C=CN, O=system:nodes, L=Hangzhou, ST=Zhejiang, CN=system:node:<node>, SHA-256, no
// extensions.
struct NodeKeyAndCsr {
  std::string key_pem;  // "EC PRIVATE KEY" (SEC1), what the original writes
  std::string csr_der;
};
core::Result<NodeKeyAndCsr> makeNodeKeyAndCsr(std::string_view node_name);

struct CertInfo {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::string common_name;
};
// Parses the first certificate of a PEM text. InvalidArgument if there is none.
core::Result<CertInfo> parseCertificatePem(std::string_view pem);
// Checks that cert and key PEM texts parse and belong together; returns the cert's info.
core::Result<CertInfo> checkKeyPair(std::string_view cert_pem, std::string_view key_pem);

// When to rotate: not_before + a uniformly random 70-90 % of the lifetime (certmanager.go
// jitteryDuration: Jitter(total, 0.2) - 0.3 total).
std::chrono::system_clock::time_point rotationDeadline(const CertInfo& cert, std::mt19937_64& rng);

// Writes `data` to `path` with `mode` through core::writeFileAtomic (O_EXCL|O_NOFOLLOW temporary
// file with an unpredictable name, fsync, rename, fsync of the directory), creating missing
// parent directories with 0700.
core::Status writeFileAtomic(const std::string& path, std::string_view data, unsigned mode);

}  // namespace edgecore::edgehub
