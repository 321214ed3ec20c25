#include "auth/rbac.h"

#include <algorithm>

#include "auth/store_objects.h"

namespace edgecore::metaserver::auth {

namespace {

using nlohmann::json;

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool hasStar(const std::vector<std::string>& list) { return contains(list, "*"); }

std::vector<std::string> stringList(const json& obj, const char* key) {
  std::vector<std::string> out;
  if (!obj.is_object()) return out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string stringAt(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool resourceMatches(const PolicyRule& rule, const RequestAttributes& a) {
  const std::string combined =
      a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  for (const auto& r : rule.resources) {
    if (r == "*" || r == combined) return true;
    // "*/log" grants the subresource on every resource.
    if (!a.subresource.empty() && r.size() == a.subresource.size() + 2 && r.rfind("*/", 0) == 0 &&
        r.compare(2, std::string::npos, a.subresource) == 0) {
      return true;
    }
  }
  return false;
}

bool nonResourceUrlMatches(const PolicyRule& rule, const std::string& path) {
  for (const auto& u : rule.non_resource_urls) {
    if (u == "*" || u == path) return true;
    if (!u.empty() && u.back() == '*' && path.rfind(u.substr(0, u.size() - 1), 0) == 0) {
      return true;
    }
  }
  return false;
}

// Does one of the rules of the binding's role allow the request? Appends "not found" errors.
bool bindingAllows(const Policy& policy, const Binding& b, const RequestAttributes& a,
                   std::vector<std::string>& errors) {
  const std::vector<PolicyRule>* rules = nullptr;
  if (b.inline_rules) {
    rules = &*b.inline_rules;
  } else if (b.role_ref.kind == "ClusterRole") {
    auto it = policy.cluster_roles.find(b.role_ref.name);
    if (it != policy.cluster_roles.end()) rules = &it->second;
    if (!rules) {
      errors.push_back("clusterrole.rbac.authorization.k8s.io \"" + b.role_ref.name +
                       "\" not found");
    }
  } else if (b.role_ref.kind == "Role" && !b.ns.empty()) {
    auto it = policy.roles.find({b.ns, b.role_ref.name});
    if (it != policy.roles.end()) rules = &it->second;
    if (!rules)
      errors.push_back("role.rbac.authorization.k8s.io \"" + b.role_ref.name + "\" not found");
  }
  if (!rules) return false;
  return std::any_of(rules->begin(), rules->end(),
                     [&](const PolicyRule& r) { return ruleAllows(r, a); });
}

bool appliesTo(const Binding& b, const UserInfo& user) {
  return std::any_of(b.subjects.begin(), b.subjects.end(),
                     [&](const Subject& s) { return subjectMatches(s, b.ns, user); });
}

}  // namespace

bool ruleAllows(const PolicyRule& rule, const RequestAttributes& a) {
  if (!hasStar(rule.verbs) && !contains(rule.verbs, a.verb)) return false;
  if (!a.is_resource) return nonResourceUrlMatches(rule, a.path);
  if (!hasStar(rule.api_groups) && !contains(rule.api_groups, a.api_group)) return false;
  if (!resourceMatches(rule, a)) return false;
  return rule.resource_names.empty() || contains(rule.resource_names, a.name);
}

bool subjectMatches(const Subject& s, const std::string& binding_ns, const UserInfo& user) {
  if (s.kind == "User") return !s.name.empty() && s.name == user.name;
  if (s.kind == "Group") return !s.name.empty() && user.inGroup(s.name);
  if (s.kind == "ServiceAccount") {
    const std::string& ns = s.ns.empty() ? binding_ns : s.ns;
    if (ns.empty() || s.name.empty()) return false;
    return user.name == "system:serviceaccount:" + ns + ":" + s.name;
  }
  return false;
}

RbacDecision evaluateRbac(const Policy& policy, const UserInfo& user, const RequestAttributes& a) {
  RbacDecision d;
  std::vector<std::string> errors;
  for (const auto& b : policy.cluster_role_bindings) {
    if (appliesTo(b, user) && bindingAllows(policy, b, a, errors)) {
      d.allowed = true;
      return d;
    }
  }
  // RoleBindings grant only inside their namespace, and never non-resource paths.
  if (a.is_resource && !a.ns.empty()) {
    auto it = policy.role_bindings.find(a.ns);
    if (it != policy.role_bindings.end()) {
      for (const auto& b : it->second) {
        if (appliesTo(b, user) && bindingAllows(policy, b, a, errors)) {
          d.allowed = true;
          return d;
        }
      }
    }
  }
  if (!errors.empty()) {
    d.reason = "RBAC: ";
    for (size_t i = 0; i < errors.size(); ++i) d.reason += (i ? ", " : "") + errors[i];
  }
  return d;
}

std::vector<PolicyRule> parseRules(const json& rules) {
  std::vector<PolicyRule> out;
  if (!rules.is_array()) return out;
  for (const auto& r : rules) {
    if (!r.is_object()) continue;
    PolicyRule rule;
    rule.verbs = stringList(r, "verbs");
    rule.api_groups = stringList(r, "apiGroups");
    rule.resources = stringList(r, "resources");
    rule.resource_names = stringList(r, "resourceNames");
    rule.non_resource_urls = stringList(r, "nonResourceURLs");
    out.push_back(std::move(rule));
  }
  return out;
}

Binding parseBinding(const json& doc) {
  Binding b;
  if (!doc.is_object()) return b;
  const json meta = doc.value("metadata", json::object());
  b.name = stringAt(meta, "name");
  b.ns = stringAt(meta, "namespace");
  const json ref = doc.value("roleRef", json::object());
  b.role_ref.kind = stringAt(ref, "kind");
  b.role_ref.name = stringAt(ref, "name");
  auto subjects = doc.find("subjects");
  if (subjects != doc.end() && subjects->is_array()) {
    for (const auto& s : *subjects) {
      Subject subject;
      subject.kind = stringAt(s, "kind");
      subject.name = stringAt(s, "name");
      subject.ns = stringAt(s, "namespace");
      b.subjects.push_back(std::move(subject));
    }
  }
  return b;
}

void addBuiltinPolicy(Policy& policy, const std::string& node_name) {
  auto clusterBinding = [&](std::string name, Subject subject, std::vector<PolicyRule> rules) {
    Binding b;
    b.name = std::move(name);
    b.subjects.push_back(std::move(subject));
    b.role_ref = {"ClusterRole", b.name};
    b.inline_rules = std::move(rules);
    policy.cluster_role_bindings.push_back(std::move(b));
  };
  PolicyRule discovery;
  discovery.verbs = {"get"};
  discovery.non_resource_urls = {"/api",     "/api/*",     "/apis",    "/apis/*",
                                 "/openapi", "/openapi/*", "/version", "/version/",
                                 "/healthz", "/livez",     "/readyz"};
  clusterBinding("system:discovery", {"Group", kGroupAuthenticated, ""}, {discovery});
  PolicyRule public_info;
  public_info.verbs = {"get"};
  public_info.non_resource_urls = {"/healthz", "/livez", "/readyz", "/version", "/version/"};
  clusterBinding("system:public-info-viewer", {"Group", kGroupUnauthenticated, ""}, {public_info});
  if (node_name.empty()) return;
  auto rule = [](std::vector<std::string> verbs, std::vector<std::string> groups,
                 std::vector<std::string> resources, std::vector<std::string> names = {}) {
    PolicyRule r;
    r.verbs = std::move(verbs);
    r.api_groups = std::move(groups);
    r.resources = std::move(resources);
    r.resource_names = std::move(names);
    return r;
  };
  std::vector<PolicyRule> node_rules = {
      rule({"get", "list", "watch"}, {""}, {"pods", "events"}),
      rule({"get"}, {""}, {"pods/log"}),
      rule({"create"}, {""}, {"pods/exec"}),
      rule({"create"}, {""}, {"pods"}, {"restart"}),
      rule({"create"}, {""}, {"pods", "nodes"}, {"unhold-upgrade"}),
      rule({"create"}, {""}, {"taskupgrade"}, {"confirm-upgrade"}),
      rule({"get", "list", "watch"}, {"devices.kubeedge.io"}, {"devices", "devicemodels"}),
      rule({"update"}, {"devices.kubeedge.io"}, {"devices"}),
  };
  clusterBinding("edgecore:node-local-operations", {"User", "system:node:" + node_name, ""},
                 std::move(node_rules));
}

StorePolicySource::StorePolicySource(const metamanager::MetaStore& store, std::string node_name)
    : store_(store), node_name_(std::move(node_name)) {}

PolicySharedPtr StorePolicySource::current() {
  std::vector<metamanager::StoredObjectPtr> rows;
  for (const auto* gvr : {&kServiceAccountAccessGvr, &kRolesGvr, &kRoleBindingsGvr,
                          &kClusterRolesGvr, &kClusterRoleBindingsGvr}) {
    auto objects = store_.listObjects(*gvr, "");
    rows.insert(rows.end(), objects.begin(), objects.end());
  }
  std::lock_guard lock(mu_);
  // Stored objects are immutable and replaced on every write: the same pointers mean the same
  // policy.
  if (!policy_ || rows != rows_) {
    policy_ = build(rows);
    rows_ = std::move(rows);
  }
  return policy_;
}

PolicySharedPtr StorePolicySource::build(
    const std::vector<metamanager::StoredObjectPtr>& rows) const {
  auto policy = std::make_shared<Policy>();
  for (const auto& row : rows) {
    json doc = json::parse(row->json, nullptr, false);
    if (!doc.is_object()) continue;
    const auto& gvr = row->key.gvr;
    if (gvr == kRolesGvr) {
      policy->roles[{row->key.ns, row->key.name}] = parseRules(doc.value("rules", json()));
    } else if (gvr == kClusterRolesGvr) {
      policy->cluster_roles[row->key.name] = parseRules(doc.value("rules", json()));
    } else if (gvr == kRoleBindingsGvr) {
      Binding b = parseBinding(doc);
      b.ns = row->key.ns;
      policy->role_bindings[b.ns].push_back(std::move(b));
    } else if (gvr == kClusterRoleBindingsGvr) {
      Binding b = parseBinding(doc);
      b.ns.clear();
      policy->cluster_role_bindings.push_back(std::move(b));
    } else if (gvr == kServiceAccountAccessGvr) {
      const json spec = doc.value("spec", json::object());
      if (!spec.is_object()) continue;
      for (const auto& entry : spec.value("accessRoleBinding", json::array())) {
        if (!entry.is_object()) continue;
        Binding b = parseBinding(entry.value("roleBinding", json::object()));
        if (b.ns.empty()) b.ns = row->key.ns;
        b.inline_rules = parseRules(entry.value("rules", json()));
        policy->role_bindings[b.ns].push_back(std::move(b));
      }
      for (const auto& entry : spec.value("accessClusterRoleBinding", json::array())) {
        if (!entry.is_object()) continue;
        Binding b = parseBinding(entry.value("clusterRoleBinding", json::object()));
        b.ns.clear();
        b.inline_rules = parseRules(entry.value("rules", json()));
        policy->cluster_role_bindings.push_back(std::move(b));
      }
    }
  }
  addBuiltinPolicy(*policy, node_name_);
  return policy;
}

}  // namespace edgecore::metaserver::auth
