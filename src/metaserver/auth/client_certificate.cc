#include "auth/client_certificate.h"

namespace edgecore::metaserver::auth {

std::optional<UserInfo> userFromCertificate(const PeerCertificate& cert) {
  if (cert.common_name.empty()) return std::nullopt;
  UserInfo user;
  user.name = cert.common_name;
  for (const auto& o : cert.organizations) {
    if (!o.empty() && !user.inGroup(o)) user.groups.push_back(o);
  }
  user.groups.push_back(kGroupAuthenticated);
  return user;
}

}  // namespace edgecore::metaserver::auth
