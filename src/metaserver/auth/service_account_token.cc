#include "auth/service_account_token.h"

#include <algorithm>
#include <cmath>

#include "auth/jws.h"
#include "auth/store_objects.h"
#include "edgecore/core/time.h"

namespace edgecore::metaserver::auth {

namespace {

using nlohmann::json;

core::Status unauthenticated(std::string message) {
  return core::Status(core::StatusCode::Unauthenticated, std::move(message));
}

std::string stringAt(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A NumericDate claim in seconds; nullopt when absent, an error when present but not a number.
core::Result<std::optional<double>> numericDate(const json& claims, const char* key) {
  auto it = claims.find(key);
  if (it == claims.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number() || !std::isfinite(it->get<double>())) {
    return unauthenticated(std::string("token claim ") + key + " is not a number");
  }
  return std::optional<double>(it->get<double>());
}

// RFC 3339 metadata.deletionTimestamp of a stored object, if set.
std::optional<std::chrono::system_clock::time_point> deletionTime(
    const metamanager::StoredObject& obj) {
  // Most objects are not being deleted: skip the parse unless the field is there.
  if (obj.json.find("\"deletionTimestamp\"") == std::string::npos) return std::nullopt;
  json doc = json::parse(obj.json, nullptr, false);
  std::string ts =
      stringAt(doc.is_object() ? doc.value("metadata", json()) : json(), "deletionTimestamp");
  auto t = core::parseRfc3339(ts);
  if (!t.ok()) return std::nullopt;
  return *t;
}

}  // namespace

ServiceAccountTokenAuthenticator::ServiceAccountTokenAuthenticator(
    ServiceAccountTokenOptions options, const metamanager::MetaStore& store,
    const core::Clock& clock)
    : options_(std::move(options)), store_(store), clock_(clock) {
  if (options_.audiences.empty()) options_.audiences = options_.issuers;
}

core::Result<UserInfo> ServiceAccountTokenAuthenticator::authenticate(
    std::string_view token) const {
  const auto now = clock_.wallNow();
  if (auto cached = cache_.find(token, now)) return std::move(*cached);
  auto jws = parseJws(token);
  if (!jws.ok()) return unauthenticated(jws.status().message());
  const json& claims = jws->claims;
  std::string issuer = stringAt(claims, "iss");
  if (std::find(options_.issuers.begin(), options_.issuers.end(), issuer) ==
      options_.issuers.end()) {
    return unauthenticated("token issuer is not one of serviceAccountIssuers");
  }
  if (!isSupportedJwsAlgorithm(jws->alg)) {
    return unauthenticated("token algorithm " + jws->alg + " is not accepted");
  }
  if (!options_.keys.empty()) {
    if (!verifyJwsSignature(jws->alg, jws->signing_input, jws->signature, options_.keys)) {
      return unauthenticated("token signature does not verify with serviceAccountKeyFiles");
    }
  } else if (!options_.known_token || !options_.known_token(token)) {
    return unauthenticated("token not found when authenticating (no serviceAccountKeyFiles)");
  }
  EC_RETURN_IF_ERROR(checkAudience(claims));
  EC_RETURN_IF_ERROR(checkTimes(claims));
  auto k8s = claims.find("kubernetes.io");
  if (k8s == claims.end() || !k8s->is_object()) {
    return unauthenticated("token has no kubernetes.io claims");
  }
  EC_RETURN_IF_ERROR(checkBoundObjects(*k8s));
  std::string ns = stringAt(*k8s, "namespace");
  std::string sa = stringAt(k8s->value("serviceaccount", json()), "name");
  UserInfo user;
  user.name = "system:serviceaccount:" + ns + ":" + sa;
  user.groups = {"system:serviceaccounts", "system:serviceaccounts:" + ns, kGroupAuthenticated};
  std::optional<std::chrono::system_clock::time_point> expiry;
  if (auto exp = numericDate(claims, "exp"); exp.ok() && *exp) {
    expiry = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::duration<double>(**exp) + options_.leeway));
  }
  cache_.add(token, user, now, expiry);
  return user;
}

core::Status ServiceAccountTokenAuthenticator::checkAudience(const json& claims) const {
  std::vector<std::string> token_audiences;
  auto aud = claims.find("aud");
  if (aud != claims.end() && aud->is_string()) {
    token_audiences.push_back(aud->get<std::string>());
  } else if (aud != claims.end() && aud->is_array()) {
    for (const auto& a : *aud) {
      if (!a.is_string()) return unauthenticated("token aud is not a string list");
      token_audiences.push_back(a.get<std::string>());
    }
  } else if (aud != claims.end() && !aud->is_null()) {
    return unauthenticated("token aud is not a string list");
  }
  if (token_audiences.empty()) token_audiences = options_.audiences;  // implicit audiences
  for (const auto& a : token_audiences) {
    if (std::find(options_.audiences.begin(), options_.audiences.end(), a) !=
        options_.audiences.end()) {
      return {};
    }
  }
  if (options_.audiences.empty()) return {};
  return unauthenticated("token audiences are not among apiAudiences");
}

core::Status ServiceAccountTokenAuthenticator::checkTimes(const json& claims) const {
  const double now = std::chrono::duration<double>(clock_.wallNow().time_since_epoch()).count();
  const double leeway = static_cast<double>(options_.leeway.count());
  EC_ASSIGN_OR_RETURN(auto exp, numericDate(claims, "exp"));
  EC_ASSIGN_OR_RETURN(auto nbf, numericDate(claims, "nbf"));
  EC_ASSIGN_OR_RETURN(auto iat, numericDate(claims, "iat"));
  if (exp && now - leeway > *exp) return unauthenticated("service account token has expired");
  if (nbf && now + leeway < *nbf) {
    return unauthenticated("service account token is not valid yet");
  }
  if (iat && now + leeway < *iat) return unauthenticated("service account token issued in future");
  return {};
}

core::Status ServiceAccountTokenAuthenticator::checkBoundObjects(const json& k8s) const {
  const std::string ns = stringAt(k8s, "namespace");
  const json sa_ref = k8s.value("serviceaccount", json());
  const std::string sa_name = stringAt(sa_ref, "name");
  const std::string sa_uid = stringAt(sa_ref, "uid");
  if (ns.empty() || sa_name.empty()) {
    return unauthenticated("token names no service account");
  }
  // Objects deleted before now - leeway no longer back a token (claims.go).
  const auto cutoff = clock_.wallNow() - options_.leeway;
  auto deleted = [&](const metamanager::StoredObject& obj) {
    auto t = deletionTime(obj);
    return t && *t < cutoff;
  };

  // The service account: a ServiceAccountAccess from the cloud's policycontroller (what v1.20's
  // metamanager client reads), else a stored ServiceAccount object.
  std::string live_sa_uid;
  bool sa_found = false;
  for (const auto& access : store_.listObjects(kServiceAccountAccessGvr, ns)) {
    json doc = json::parse(access->json, nullptr, false);
    if (!doc.is_object()) continue;
    const json spec = doc.value("spec", json::object());
    const json account = spec.is_object() ? spec.value("serviceAccount", json()) : json();
    if (stringAt(account.is_object() ? account.value("metadata", json()) : json(), "name") ==
        sa_name) {
      live_sa_uid = stringAt(spec, "serviceAccountUid");
      sa_found = !deleted(*access);
      break;
    }
  }
  if (!sa_found) {
    auto account = store_.getObject({kServiceAccountsGvr, ns, sa_name});
    if (account && !deleted(*account)) {
      sa_found = true;
      live_sa_uid = account->uid;
    }
  }
  if (!sa_found) return unauthenticated("service account " + ns + "/" + sa_name + " not found");
  if (live_sa_uid != sa_uid) {
    return unauthenticated("service account uid does not match the token");
  }

  auto checkRef = [&](const char* claim, const metamanager::Gvr& gvr) -> core::Status {
    auto it = k8s.find(claim);
    if (it == k8s.end() || it->is_null()) return {};
    std::string name = stringAt(*it, "name");
    std::string uid = stringAt(*it, "uid");
    auto obj = name.empty() ? nullptr : store_.getObject({gvr, ns, name});
    if (!obj || deleted(*obj)) {
      return unauthenticated("service account token has been invalidated");
    }
    if (obj->uid != uid) {
      return unauthenticated(std::string(claim) + " uid does not match the token");
    }
    return {};
  };
  EC_RETURN_IF_ERROR(checkRef("secret", kSecretsGvr));
  EC_RETURN_IF_ERROR(checkRef("pod", kPodsGvr));
  return {};
}

}  // namespace edgecore::metaserver::auth
