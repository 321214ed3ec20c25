#pragma once

// Projected `serviceAccountToken` volume sources (kubelet pkg/volume/projected @ v1.20.0): which
// tokens a pod needs, the TokenRequest the kubelet sends for each, and where prepareVolumes gets
// the token text from. Pure parsing; no I/O here.

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::edged {

// The API server's default for projected tokens, and the kubelet/API minimum.
inline constexpr int64_t kDefaultTokenExpirationSeconds = 3600;
inline constexpr int64_t kMinTokenExpirationSeconds = 600;

// One token a pod needs: the pod's service account, the source's audience ("" = none) and
// expirationSeconds (default 3600, at least 600).
struct TokenSourceRef {
  std::string service_account;
  std::string audience;
  int64_t expiration_seconds = kDefaultTokenExpirationSeconds;

  // Identifies the token within one pod (the pod uid completes it).
  std::string key() const;
  friend bool operator==(const TokenSourceRef&, const TokenSourceRef&) = default;
};

// spec.serviceAccountName (or the deprecated spec.serviceAccount, else "default").
std::string podServiceAccount(const nlohmann::json& pod);
// The ref of one projected `serviceAccountToken` source of `pod`.
TokenSourceRef tokenSourceRef(const nlohmann::json& pod, const nlohmann::json& source);
// Every distinct token the pod's projected volumes need, in spec order.
std::vector<TokenSourceRef> projectedTokenSources(const nlohmann::json& pod);

// The TokenRequest (authentication.k8s.io/v1) the kubelet sends for `ref`, bound to the pod:
// spec.audiences [audience] or null, spec.expirationSeconds, spec.boundObjectRef {Pod, v1,
// name, uid}; shaped as Go marshals the kubelet's struct (metadata.creationTimestamp null,
// empty status), so the metamanager cache key matches the original's.
nlohmann::json tokenRequestFor(const nlohmann::json& pod, const TokenSourceRef& ref);

// Where prepareVolumes gets token text from. May block.
class ServiceAccountTokenSource {
 public:
  virtual ~ServiceAccountTokenSource() = default;
  // The token for `ref` of the pod being prepared, or why there is none (the text ends up in
  // the FailedMount event).
  virtual core::Result<std::string> token(const TokenSourceRef& ref) = 0;
};

// Tokens fetched for one pod sync, by TokenSourceRef::key(); a ref not in the map is an error.
std::unique_ptr<ServiceAccountTokenSource> makeFetchedTokenSource(
    std::map<std::string, core::Result<std::string>> tokens);

}  // namespace edgecore::edged
