#pragma once

// JWS compact serialisation with RS256 (RFC 7515/7518), as kube-apiserver signs ServiceAccount
// tokens: header {"alg":"RS256","kid":<key id>}, where the key id is kube-apiserver's
// (unpadded base64url of the SHA-256 of the public key's PKIX DER). Test-only (cloudsim and the
// MetaServer authenticator tests); plain OpenSSL 3, thread-safe.

#include <nlohmann/json.hpp>
#include <string>

namespace edgecore::testing {

// "<header>.<claims>.<signature>", each unpadded base64url. `private_key_pem` is an RSA private
// key (PKCS#1 or PKCS#8 PEM). Returns "" when the key does not load or is not RSA.
std::string signJwtRs256(const nlohmann::json& claims, const std::string& private_key_pem);

}  // namespace edgecore::testing
