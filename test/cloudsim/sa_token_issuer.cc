// The simulated TokenRequest endpoint (see sa_token_issuer.h).

#include "sa_token_issuer.h"

#include <algorithm>

#include "edgecore/core/message.h"
#include "edgecore/core/time.h"
#include "pki.h"
#include "util/jwt_signer.h"

namespace edgecore::cloudsim {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) {
  if (!j.is_object()) {
    return "";
  }
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// A stable uid for a service account the store does not hold.
std::string derivedUid(std::string_view ns, std::string_view sa) {
  std::string h = sha256Hex(std::string(ns) + "/" + std::string(sa));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

}  // namespace

core::Result<json> issueServiceAccountToken(std::string_view ns, std::string_view sa,
                                            std::string_view sa_uid, const json& request,
                                            const TokenIssuerOptions& options, int64_t now_unix) {
  if (options.signing_key_pem.empty()) {
    return core::unavailable("no ServiceAccount signing key");
  }
  json tr = request.is_object() ? request : json::object();
  json spec = tr.contains("spec") && tr["spec"].is_object() ? tr["spec"] : json::object();
  int64_t seconds = 3600;
  if (spec.contains("expirationSeconds") && spec["expirationSeconds"].is_number_integer()) {
    seconds = spec["expirationSeconds"].get<int64_t>();
  }
  if (seconds < 600) {
    return core::invalidArgument(
        "spec.expirationSeconds: may not specify a duration less than 10 minutes");
  }
  if (options.max_lifetime.count() > 0) {
    seconds = std::min<int64_t>(seconds, options.max_lifetime.count());
  }
  json audiences =
      spec.contains("audiences") && spec["audiences"].is_array() && !spec["audiences"].empty()
          ? spec["audiences"]
          : json(options.api_audiences);
  json k8s = {{"namespace", ns},
              {"serviceaccount",
               {{"name", sa}, {"uid", sa_uid.empty() ? derivedUid(ns, sa) : std::string(sa_uid)}}}};
  const json& ref = spec.contains("boundObjectRef") ? spec["boundObjectRef"] : json();
  if (ref.is_object()) {
    std::string kind = text(ref, "kind");
    if (kind == "Pod") {
      if (text(ref, "name").empty() || text(ref, "uid").empty()) {
        return core::invalidArgument("spec.boundObjectRef: a Pod needs name and uid");
      }
      k8s["pod"] = {{"name", text(ref, "name")}, {"uid", text(ref, "uid")}};
    } else if (kind == "Secret") {
      k8s["secret"] = {{"name", text(ref, "name")}, {"uid", text(ref, "uid")}};
    } else if (!kind.empty()) {
      return core::invalidArgument("spec.boundObjectRef.kind: unsupported kind " + kind);
    }
  }
  const int64_t exp = now_unix + seconds;
  json claims = {{"aud", audiences},
                 {"exp", exp},
                 {"iat", now_unix},
                 {"iss", options.issuer},
                 {"jti", core::newUuidV4()},
                 {"kubernetes.io", std::move(k8s)},
                 {"nbf", now_unix},
                 {"sub", "system:serviceaccount:" + std::string(ns) + ":" + std::string(sa)}};
  std::string jwt = testing::signJwtRs256(claims, options.signing_key_pem);
  if (jwt.empty()) {
    return core::internalError("signing the token failed");
  }
  spec["audiences"] = std::move(audiences);
  spec["expirationSeconds"] = seconds;
  tr["spec"] = std::move(spec);
  tr["apiVersion"] = "authentication.k8s.io/v1";
  tr["kind"] = "TokenRequest";
  if (!tr.contains("metadata") || !tr["metadata"].is_object()) {
    tr["metadata"] = json::object();
  }
  tr["metadata"]["name"] = sa;
  tr["metadata"]["namespace"] = ns;
  tr["status"] = {
      {"token", std::move(jwt)},
      {"expirationTimestamp",
       core::formatRfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(exp)))}};
  return tr;
}

}  // namespace edgecore::cloudsim
