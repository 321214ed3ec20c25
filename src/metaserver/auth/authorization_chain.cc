#include "auth/authorization_chain.h"

#include <fmt/format.h>

#include "auth/client_certificate.h"

namespace edgecore::metaserver::auth {

namespace {

AuthDecision unauthorized() {
  AuthDecision d;
  d.allowed = false;
  d.code = 401;
  d.reason = "Unauthorized";
  d.message = "Unauthorized";  // what kube-apiserver says, whatever failed
  return d;
}

// The bearer token of an Authorization header, "" if there is none. The scheme is
// case-insensitive (as Kubernetes' bearertoken authenticator reads it).
std::string_view bearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

std::string forbiddenMessage(const std::string& user, const RequestAttributes& a,
                             const std::string& reason) {
  std::string message;
  if (!a.is_resource) {
    message = fmt::format("forbidden: User \"{}\" cannot {} path \"{}\"", user, a.verb, a.path);
  } else {
    std::string resource = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
    // apierrors.NewForbidden: "<resource>[.<group>][ "<name>"] is forbidden: ..."
    std::string qualified = a.api_group.empty() ? a.resource : a.resource + "." + a.api_group;
    std::string what = a.name.empty() ? qualified : fmt::format("{} \"{}\"", qualified, a.name);
    std::string scope = a.ns.empty() ? std::string("at the cluster scope")
                                     : fmt::format("in the namespace \"{}\"", a.ns);
    message = fmt::format(
        "{} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group "
        "\"{}\" {}",
        what, user, a.verb, resource, a.api_group, scope);
  }
  if (!reason.empty()) message += ": " + reason;
  return message;
}

AuthorizationChain::AuthorizationChain(AuthorizationChainOptions options,
                                       const metamanager::MetaStore& store,
                                       const core::Clock& clock,
                                       std::shared_ptr<spdlog::logger> log)
    : tokens_(std::move(options.tokens), store, clock),
      policy_(store, options.node_name),
      log_(std::move(log)) {}

AuthDecision AuthorizationChain::check(const AuthRequest& request) {
  // 1. Who is asking.
  std::optional<UserInfo> user;
  if (request.peer_certificate != nullptr) {
    user = userFromCertificate(*request.peer_certificate);
  }
  std::string_view token = bearerToken(request.authorization);
  if (!user && !token.empty()) {
    auto authenticated = tokens_.authenticate(token);
    if (!authenticated.ok()) {
      if (log_) log_->debug("token refused err={}", authenticated.status().message());
      return unauthorized();
    }
    user = std::move(*authenticated);
  } else if (!user && !request.authorization.empty()) {
    return unauthorized();  // credentials we do not understand (Basic, a bare token...)
  }
  const bool anonymous = !user;
  if (anonymous) user = UserInfo{kUserAnonymous, {kGroupUnauthenticated}};

  // 2. What it asks for.
  auto attributes = requestAttributes(request.method, request.target);
  if (!attributes.ok()) {
    if (anonymous) return unauthorized();
    AuthDecision bad;
    bad.allowed = false;
    bad.code = 400;
    bad.reason = "BadRequest";
    bad.message = attributes.status().message();
    bad.user = user->name;
    return bad;
  }

  // 3. May it.
  PolicySharedPtr policy = policy_.current();
  RbacDecision rbac = evaluateRbac(*policy, *user, *attributes);
  AuthDecision d;
  d.user = user->name;
  if (rbac.allowed) return d;
  // Without credentials everything but the public reads is "log in first" (v1.20 answers 401 to
  // every unauthenticated request; we keep the health/version reads open as Kubernetes does).
  if (anonymous) return unauthorized();
  d.allowed = false;
  d.code = 403;
  d.reason = "Forbidden";
  d.message = forbiddenMessage(user->name, *attributes, rbac.reason);
  if (log_)
    log_->debug("request forbidden user={} verb={} target={}", user->name, attributes->verb,
                request.target);
  return d;
}

}  // namespace edgecore::metaserver::auth
