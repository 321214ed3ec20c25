#pragma once

// The simulated kube-apiserver's TokenRequest endpoint (serviceaccounts/<sa>/token), behind
// CloudCore's answer to a `serviceaccounttoken` query (spec cloud-protocol 4.6): a JWT signed
// RS256 with the simulator's ServiceAccount key, carrying kube-apiserver's claims (iss, aud,
// exp, iat, nbf, sub, jti and the "kubernetes.io" claim with namespace, pod and
// serviceaccount), and the TokenRequest answered with spec.audiences/expirationSeconds as
// granted and status.{token,expirationTimestamp}. Facts from k8s.io/apiserver
// pkg/serviceaccount/claims.go and pkg/registry/core/serviceaccount/storage/token.go.
//
// Pure apart from the clock passed in; thread-safe.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::cloudsim {

struct TokenIssuerOptions {
  std::string signing_key_pem;  // RSA private key; empty: requests are refused
  std::string issuer = "https://kubernetes.default.svc.cluster.local";
  // The audiences a request without spec.audiences gets (--api-audiences, default the issuer).
  std::vector<std::string> api_audiences = {"https://kubernetes.default.svc.cluster.local"};
  // Caps the granted lifetime (kube-apiserver's --service-account-max-token-expiration, but
  // without its 1 h floor, so tests see a refresh); 0 = no cap.
  std::chrono::seconds max_lifetime{0};
};

// The answered TokenRequest for `request` (the edge's TokenRequest JSON) of service account `sa`
// in `ns`. `sa_uid` is the ServiceAccount's uid ("" when the store has none: one is derived
// from ns/sa). InvalidArgument for a request kube-apiserver would refuse (no boundObjectRef
// name/uid for a Pod, expirationSeconds under 600).
core::Result<nlohmann::json> issueServiceAccountToken(std::string_view ns, std::string_view sa,
                                                      std::string_view sa_uid,
                                                      const nlohmann::json& request,
                                                      const TokenIssuerOptions& options,
                                                      int64_t now_unix);

}  // namespace edgecore::cloudsim
