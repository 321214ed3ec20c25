#pragma once

// The Gvrs the authorization chain reads from meta_v2, in one place.

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver::auth {

inline const metamanager::Gvr kPodsGvr{"", "v1", "pods"};
inline const metamanager::Gvr kSecretsGvr{"", "v1", "secrets"};
inline const metamanager::Gvr kServiceAccountsGvr{"", "v1", "serviceaccounts"};
// What the cloud's policycontroller sends with requireAuthorization (KubeEdge
// staging/src/github.com/kubeedge/api/apis/policy/v1alpha1): a service account with the role
// bindings and rules that apply to it, for the nodes running its pods.
inline const metamanager::Gvr kServiceAccountAccessGvr{"policy.kubeedge.io", "v1alpha1",
                                                       "serviceaccountaccesses"};
inline const metamanager::Gvr kRolesGvr{"rbac.authorization.k8s.io", "v1", "roles"};
inline const metamanager::Gvr kRoleBindingsGvr{"rbac.authorization.k8s.io", "v1", "rolebindings"};
inline const metamanager::Gvr kClusterRolesGvr{"rbac.authorization.k8s.io", "v1", "clusterroles"};
inline const metamanager::Gvr kClusterRoleBindingsGvr{"rbac.authorization.k8s.io", "v1",
                                                      "clusterrolebindings"};

}  // namespace edgecore::metaserver::auth
