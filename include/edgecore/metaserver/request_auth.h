#pragma once

// The seam between MetaServer's transport and its authentication/authorization chain
// (spec/local-apis.md 4.1, feature gate requireAuthorization). The transport fills an
// AuthRequest for every request before routing it; a null authorizer (gate off) lets every
// request through, as v1.20 does.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgecore::metaserver {

// A client certificate the TLS handshake verified against the configured CA.
struct PeerCertificate {
  std::string common_name;                 // subject CN
  std::vector<std::string> organizations;  // subject O values
};

struct AuthRequest {
  std::string_view method;
  std::string_view target;                            // path and query, as received
  std::string_view authorization;                     // the Authorization header ("" if absent)
  const PeerCertificate* peer_certificate = nullptr;  // null: no verified client certificate
};

struct AuthDecision {
  bool allowed = true;
  int code = 200;       // 401 (not authenticated) or 403 (forbidden) when !allowed
  std::string reason;   // Kubernetes Status reason: "Unauthorized" / "Forbidden"
  std::string message;  // Status message
  std::string user;     // authenticated user name, for logs
};

class RequestAuthorizer {
 public:
  virtual ~RequestAuthorizer() = default;
  // Called on the connection's strand for every request; must not block (read the store's
  // in-memory view only).
  virtual AuthDecision check(const AuthRequest& request) = 0;
};
using RequestAuthorizerSharedPtr = std::shared_ptr<RequestAuthorizer>;

}  // namespace edgecore::metaserver
