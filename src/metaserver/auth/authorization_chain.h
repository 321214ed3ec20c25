#pragma once

// MetaServer's requireAuthorization chain (spec/local-apis.md 4.1), the RequestAuthorizer the
// transport calls before routing:
//   1. authentication: a verified client certificate (client_certificate.h), else a bearer
//      ServiceAccount token (service_account_token.h). A token that fails, or a request without
//      credentials that is not one of the public health/version reads, gets 401 Unauthorized;
//   2. authorization: RBAC over the store's policy plus the built-in bindings (rbac.h); a denial
//      gets 403 Forbidden with Kubernetes' message, e.g.
//      pods is forbidden: User "system:serviceaccount:default:app" cannot list resource "pods"
//      in API group "" in the namespace "default".

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "auth/rbac.h"
#include "auth/service_account_token.h"
#include "edgecore/metaserver/request_auth.h"

namespace edgecore::metaserver::auth {

struct AuthorizationChainOptions {
  ServiceAccountTokenOptions tokens;
  std::string node_name;  // the node identity for the built-in node-local bindings
};

class AuthorizationChain final : public RequestAuthorizer {
 public:
  // `store` and `clock` must outlive the chain. `log` may be null.
  AuthorizationChain(AuthorizationChainOptions options, const metamanager::MetaStore& store,
                     const core::Clock& clock, std::shared_ptr<spdlog::logger> log);

  // RequestAuthorizer: thread-safe, never blocks.
  AuthDecision check(const AuthRequest& request) override;

 private:
  ServiceAccountTokenAuthenticator tokens_;
  StorePolicySource policy_;
  std::shared_ptr<spdlog::logger> log_;
};

// Kubernetes' Forbidden message for a denied request (responsewriters.Forbidden +
// apierrors.NewForbidden); `reason` is appended after ": " when not empty.
std::string forbiddenMessage(const std::string& user, const RequestAttributes& a,
                             const std::string& reason);

}  // namespace edgecore::metaserver::auth
