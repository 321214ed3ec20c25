#pragma once

// Signs JWTs for tests (ServiceAccount tokens as kube-apiserver issues them): compact JWS with
// header {"alg":"RS256","typ":"JWT"} over the claims' JSON, with an RSA private key in PEM.
// Needs OpenSSL::Crypto. Aborts on a bad key (a test setup bug).

#include <nlohmann/json.hpp>
#include <string>

namespace edgecore::testing {

std::string signJwtRs256(const nlohmann::json& claims, const std::string& private_key_pem);

}  // namespace edgecore::testing
