#pragma once

// Kubernetes RBAC evaluation (rbac.authorization.k8s.io/v1 semantics of
// plugin/pkg/auth/authorizer/rbac): ClusterRoleBindings first, then the RoleBindings of the
// request's namespace; a binding applies when one subject names the user (User), one of its
// groups (Group) or its service account (ServiceAccount); its role's rules allow the request when
// verb, API group, resource (with "<res>/<sub>" and "*/<sub>"), resource name and, for paths,
// nonResourceURL ("*" and trailing "*" prefixes) match. Only allow rules exist; no aggregation.
//
// Policies come from the store's meta_v2 rows:
//   - ServiceAccountAccess (policy.kubeedge.io/v1alpha1): what v1.20's CloudCore policycontroller
//     pushes to the nodes running the account's pods; its role bindings carry their rules inline
//     (v1.20 edge/pkg/metamanager/client/serviceaccountaccess.go reads exactly these);
//   - Role / RoleBinding / ClusterRole / ClusterRoleBinding objects stored like any other object;
//   - built-in bindings (builtinPolicy) for the node identity and discovery.

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/request_attributes.h"
#include "auth/user_info.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver::auth {

struct PolicyRule {
  std::vector<std::string> verbs;
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> resource_names;
  std::vector<std::string> non_resource_urls;
};

struct Subject {
  std::string kind;  // User, Group, ServiceAccount
  std::string name;
  std::string ns;  // ServiceAccount only
};

struct RoleRef {
  std::string kind;  // Role or ClusterRole
  std::string name;
};

struct Binding {
  std::string name;
  std::string ns;  // "" for a ClusterRoleBinding
  std::vector<Subject> subjects;
  RoleRef role_ref;
  // Set for ServiceAccountAccess bindings, which carry the role's rules with them.
  std::optional<std::vector<PolicyRule>> inline_rules;
};

// Everything the evaluator reads, immutable once built.
struct Policy {
  std::map<std::pair<std::string, std::string>, std::vector<PolicyRule>> roles;  // (ns, name)
  std::map<std::string, std::vector<PolicyRule>> cluster_roles;
  std::vector<Binding> cluster_role_bindings;
  std::map<std::string, std::vector<Binding>> role_bindings;  // by namespace
};
using PolicySharedPtr = std::shared_ptr<const Policy>;

struct RbacDecision {
  bool allowed = false;
  std::string reason;  // for a denial: "RBAC: <role> not found", or empty
};

RbacDecision evaluateRbac(const Policy& policy, const UserInfo& user, const RequestAttributes& a);

// Single-rule and subject matching, exposed for the table tests.
bool ruleAllows(const PolicyRule& rule, const RequestAttributes& a);
bool subjectMatches(const Subject& subject, const std::string& binding_ns, const UserInfo& user);

// Parsers of the stored JSON (unknown fields ignored; malformed entries skipped).
std::vector<PolicyRule> parseRules(const nlohmann::json& rules);
Binding parseBinding(const nlohmann::json& binding);

// The bindings edgecore adds by itself, as Kubernetes' bootstrap policy would:
//   - system:authenticated may read the discovery and health paths (system:discovery,
//     system:public-info-viewer): /api, /api/*, /apis, /apis/*, /openapi, /openapi/*, /version,
//     /version/, /healthz, /livez, /readyz;
//   - system:unauthenticated may read /healthz, /livez, /readyz, /version, /version/;
//   - the node identity "system:node:<node_name>" (its cloud-issued client certificate) may do
//     what keadm ctl does on this node: get/list/watch pods, events and devices/devicemodels, get
//     pods/log, create pods/exec, create pods named "restart", update devices, create taskupgrade
//     "confirm-upgrade". No node binding when node_name is empty.
void addBuiltinPolicy(Policy& policy, const std::string& node_name);

// Reads the policy from the store, rebuilding it only when one of the RBAC rows changed. Any
// thread; never blocks on the store's writer.
class StorePolicySource {
 public:
  StorePolicySource(const metamanager::MetaStore& store, std::string node_name);
  PolicySharedPtr current();

 private:
  PolicySharedPtr build(const std::vector<metamanager::StoredObjectPtr>& rows) const;

  const metamanager::MetaStore& store_;
  const std::string node_name_;
  std::mutex mu_;
  std::vector<metamanager::StoredObjectPtr> rows_;  // what `policy_` was built from
  PolicySharedPtr policy_;
};

}  // namespace edgecore::metaserver::auth
