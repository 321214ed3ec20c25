#pragma once

// Who a request comes from, as Kubernetes' user.Info: a name and groups. Filled by the
// authenticators (ServiceAccount token, client certificate) and read by the RBAC authorizer.

#include <algorithm>
#include <string>
#include <vector>

namespace edgecore::metaserver::auth {

inline constexpr const char* kGroupAuthenticated = "system:authenticated";
inline constexpr const char* kGroupUnauthenticated = "system:unauthenticated";
inline constexpr const char* kUserAnonymous = "system:anonymous";

struct UserInfo {
  std::string name;
  std::vector<std::string> groups;

  bool inGroup(const std::string& group) const {
    return std::find(groups.begin(), groups.end(), group) != groups.end();
  }
};

}  // namespace edgecore::metaserver::auth
