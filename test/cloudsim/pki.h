#pragma once

// The simulator's PKI: a CloudCore-like CA, the server certificate, bootstrap tokens and CSR
// signing (spec/cloud-protocol.md section 3). Facts mirrored from KubeEdge v1.20:
// pkg/security/token/token.go (token = hex(sha256(CA DER)) + "." + HS256 JWT whose only claim is
// `exp`, keyed with the CA key's SEC1 DER), pkg/security/certs/x509_certs.go (issued certificate:
// CN and O copied from the CSR, digitalSignature|keyEncipherment, random serial).
//
// Plain OpenSSL 3; no Asio here. Every function is thread-safe and never throws.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/digest.h"
#include "edgecore/core/status.h"

namespace edgecore::cloudsim {

struct Pki {
  std::string ca_cert_pem;
  std::string ca_cert_der;  // exactly the body of GET /ca.crt
  std::string ca_key_pem;   // "EC PRIVATE KEY" (SEC1)
  std::string ca_key_der;   // SEC1 DER: the HMAC secret of the JWT
  std::string server_cert_pem;
  std::string server_key_pem;
};

// Distinguished-name fields the protocol cares about.
struct Subject {
  std::string common_name;
  std::vector<std::string> organizations;
};

// A new ECDSA P-256 CA plus a server certificate for `host` (IP SAN when `host` parses as an
// IPv4/IPv6 address, DNS SAN otherwise; "localhost" and 127.0.0.1 are always added too).
core::Result<Pki> generatePki(std::string_view host);
// generatePki, then writes DIR/{ca.crt,ca.key,server.crt,server.key,token,node} (creating DIR) with
// a token valid for `token_ttl`. Returns the PKI; the token is in DIR/token.
core::Result<Pki> initPki(const std::string& dir, std::string_view node_name, std::string_view host,
                          std::chrono::seconds token_ttl = std::chrono::hours(24));
// Reads what initPki wrote.
core::Result<Pki> loadPki(const std::string& dir);

// "<hex sha256 of CA DER>.<jwt>", the value for edgecore.yaml edgeHub.token. The JWT's exp is
// now + ttl (CloudCore: 2 x tokenRefreshDuration, 24 h by default). A negative ttl gives an
// already expired token (tests).
std::string makeToken(const Pki& pki, std::chrono::seconds ttl);
// The bare 3-part JWT with the given exp (unix seconds), HS256 with `key`.
std::string makeJwt(std::string_view key, int64_t exp_unix);
// Verifies a 3-part HS256 JWT the way golang-jwt v3 does for CloudHub: alg must be HS256 (an HMAC
// method), signature must match, and `exp`, when present, must be in the future. Unauthenticated
// with the reason otherwise.
core::Status verifyJwt(std::string_view jwt, std::string_view key, int64_t now_unix);

// Signs a DER CSR with the CA: CN/O and SANs copied from the CSR, `ext_key_usages` as Go's
// x509.ExtKeyUsage integers (1 serverAuth, 2 clientAuth, ...), NotAfter = now + validity.
// InvalidArgument when the CSR does not parse or its self-signature is wrong. Returns DER.
core::Result<std::string> signCsr(const Pki& pki, std::string_view csr_der,
                                  const std::vector<int>& ext_key_usages,
                                  std::chrono::seconds validity);
core::Result<Subject> csrSubject(std::string_view csr_der);
core::Result<Subject> certSubject(std::string_view cert_der);
// PEM -> DER for one CERTIFICATE block, and back.
core::Result<std::string> certPemToDer(std::string_view pem);
std::string certDerToPem(std::string_view der);
// PEM -> DER for one CERTIFICATE REQUEST block (the body of a certificates.k8s.io CSR).
core::Result<std::string> csrPemToDer(std::string_view pem);

// A fresh RSA key (PKCS#8 PEM), e.g. the ServiceAccount token signing key (kube-apiserver's
// --service-account-signing-key-file), and the PKIX PEM of its public half
// (--service-account-key-file).
core::Result<std::string> generateRsaKeyPem(int bits = 2048);
core::Result<std::string> publicKeyPemOf(std::string_view private_key_pem);

using core::sha256Hex;  // edgecore/core/digest.h
std::string base64UrlEncode(std::string_view bytes);
core::Result<std::string> base64UrlDecode(std::string_view text);

// Client-side helper for tests and tools: a fresh P-256 key (PEM, SEC1) and a DER CSR with the
// given subject.
struct KeyAndCsr {
  std::string key_pem;
  std::string csr_der;
};
core::Result<KeyAndCsr> makeCsrForTest(const Subject& subject);

}  // namespace edgecore::cloudsim
