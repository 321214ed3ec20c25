#pragma once

// ServiceAccount token (JWT) authentication for MetaServer with requireAuthorization, following
// KubeEdge v1.20 edge/pkg/metamanager/metaserver/auth (auth.go JWTTokenAuthenticator, claims.go
// validator) and Kubernetes' serviceaccount claims:
//   1. the token is a compact JWS whose unverified "iss" is one of serviceAccountIssuers;
//   2. with serviceAccountKeyFiles: the signature verifies with one of their keys (RS256/384/512,
//      PS256, ES256/384); without key files (as v1.20's CheckTokenExist): the exact token must be
//      one the node obtained itself (a stored serviceaccounttoken answer, see KnownTokens);
//   3. "aud" (absent: the implicit audiences) intersects apiAudiences (default: the issuers);
//   4. exp / nbf / iat hold with 60 s leeway (go-jose's DefaultLeeway);
//   5. the "kubernetes.io" claims are bound to live objects of the store: the service account
//      (name + uid, from a ServiceAccountAccess the cloud's policycontroller sent or a stored
//      ServiceAccount), the pod or secret the token is bound to (name + uid), none deleted.
// The user is system:serviceaccount:<ns>:<name> in groups system:serviceaccounts,
// system:serviceaccounts:<ns> and system:authenticated.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jws_verify.h"
#include "auth/token_cache.h"
#include "auth/user_info.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver::auth {

struct ServiceAccountTokenOptions {
  std::vector<std::string> issuers;    // serviceAccountIssuers
  std::vector<std::string> audiences;  // apiAudiences; empty: the issuers
  std::vector<PublicKeySharedPtr> keys;
  std::chrono::seconds leeway{60};
  // Used when `keys` is empty: is this exact token one the node obtained (v1.20 looks it up in the
  // stored serviceaccounttoken rows)? Must not block. Null with no keys: every token is refused.
  std::function<bool(std::string_view token)> known_token;
};

class ServiceAccountTokenAuthenticator {
 public:
  // `store` and `clock` must outlive the authenticator.
  ServiceAccountTokenAuthenticator(ServiceAccountTokenOptions options,
                                   const metamanager::MetaStore& store, const core::Clock& clock);

  // Unauthenticated (with the reason, for logs only) unless every check above passes. Thread-safe,
  // never blocks (reads the store's in-memory view). Successes are cached (token_cache.h), so a
  // pod or service account deleted meanwhile stops a token within 10 s, as in kube-apiserver.
  core::Result<UserInfo> authenticate(std::string_view token) const;

 private:
  core::Status checkTimes(const nlohmann::json& claims) const;
  core::Status checkAudience(const nlohmann::json& claims) const;
  core::Status checkBoundObjects(const nlohmann::json& k8s) const;

  ServiceAccountTokenOptions options_;
  const metamanager::MetaStore& store_;
  const core::Clock& clock_;
  mutable TokenCache cache_;
};

}  // namespace edgecore::metaserver::auth
