#pragma once

// A verified client certificate as a user (KubeEdge v1.20 has no x509 path in MetaServer; we map
// it the way kube-apiserver's x509 authenticator does): user = subject CN, groups = subject O
// values + system:authenticated. The node's own certificate, which CloudCore's certificate
// server signs from edgehub's CSR (CN=system:node:<node>, O=system:nodes), thus becomes user
// "system:node:<node>"; the built-in policy (rbac.h addBuiltinPolicy) lets that user do keadm
// ctl's node-local operations.

#include <optional>

#include "auth/user_info.h"
#include "edgecore/metaserver/request_auth.h"

namespace edgecore::metaserver::auth {

// nullopt for a certificate without a CN (not an identity).
std::optional<UserInfo> userFromCertificate(const PeerCertificate& cert);

}  // namespace edgecore::metaserver::auth
