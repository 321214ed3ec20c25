// RBAC evaluation (src/metaserver/auth/rbac.cc) as table tests, the request attributes of
// MetaServer's routes, and the whole authorization chain's decisions (401 / 403 / allowed) over
// the real SQLite store holding Roles, Bindings and ServiceAccountAccess objects.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/authorization_chain.h"
#include "auth/rbac.h"
#include "auth/request_attributes.h"
#include "metaserver/auth_fixtures.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver::auth {
namespace {

using edgecore::testing::boundPod;
using edgecore::testing::kClusterRoleBindings;
using edgecore::testing::kClusterRoles;
using edgecore::testing::kIssuer;
using edgecore::testing::kPods;
using edgecore::testing::kRoleBindings;
using edgecore::testing::kRoles;
using edgecore::testing::kSaUid;
using edgecore::testing::kServiceAccountAccesses;
using edgecore::testing::kServiceAccounts;
using edgecore::testing::makePod;
using edgecore::testing::makeRole;
using edgecore::testing::makeRoleBinding;
using edgecore::testing::makeRsaKey;
using edgecore::testing::makeServiceAccount;
using edgecore::testing::saClaims;
using edgecore::testing::saSubject;
using edgecore::testing::signJwtRs256;
using edgecore::testing::SqliteTestStore;
using nlohmann::json;

RequestAttributes attrs(const std::string& method, const std::string& target) {
  auto a = requestAttributes(method, target);
  EXPECT_TRUE(a.ok()) << target;
  return a.ok() ? *a : RequestAttributes{};
}

PolicyRule rule(std::vector<std::string> verbs, std::vector<std::string> groups,
                std::vector<std::string> resources, std::vector<std::string> names = {},
                std::vector<std::string> urls = {}) {
  return {std::move(verbs), std::move(groups), std::move(resources), std::move(names),
          std::move(urls)};
}

TEST(RbacRuleTest, MatchesLikeKubernetes) {
  struct Case {
    const char* what;
    PolicyRule rule;
    const char* method;
    const char* target;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"list pods", rule({"list"}, {""}, {"pods"}), "GET", "/api/v1/namespaces/d/pods", true},
      {"get is not list", rule({"get"}, {""}, {"pods"}), "GET", "/api/v1/namespaces/d/pods", false},
      {"watch via query", rule({"watch"}, {""}, {"pods"}), "GET",
       "/api/v1/namespaces/d/pods?watch=true", true},
      {"watch needs watch", rule({"list"}, {""}, {"pods"}), "GET",
       "/api/v1/namespaces/d/pods?watch=1", false},
      {"verb star", rule({"*"}, {""}, {"pods"}), "DELETE", "/api/v1/namespaces/d/pods/x", true},
      {"group mismatch", rule({"get"}, {"apps"}, {"pods"}), "GET", "/api/v1/namespaces/d/pods/x",
       false},
      {"group star", rule({"get"}, {"*"}, {"deployments"}), "GET",
       "/apis/apps/v1/namespaces/d/deployments/x", true},
      {"named group", rule({"get"}, {"apps"}, {"deployments"}), "GET",
       "/apis/apps/v1/namespaces/d/deployments/x", true},
      {"resource star", rule({"get"}, {""}, {"*"}), "GET", "/api/v1/namespaces/d/secrets/s", true},
      {"pods does not grant pods/log", rule({"get"}, {""}, {"pods"}), "GET",
       "/api/v1/namespaces/d/pods/p/log", false},
      {"pods/log", rule({"get"}, {""}, {"pods/log"}), "GET", "/api/v1/namespaces/d/pods/p/log",
       true},
      {"*/log", rule({"get"}, {""}, {"*/log"}), "GET", "/api/v1/namespaces/d/pods/p/log", true},
      {"*/log is not */status", rule({"update"}, {""}, {"*/log"}), "PUT",
       "/api/v1/namespaces/d/pods/p/status", false},
      {"resource star covers subresources", rule({"get"}, {""}, {"*"}), "GET",
       "/api/v1/namespaces/d/pods/p/log", true},
      {"exec is create", rule({"create"}, {""}, {"pods/exec"}), "POST",
       "/api/v1/namespaces/d/pods/p/exec?command=ls", true},
      {"websocket exec GET is create too", rule({"get"}, {""}, {"pods/exec"}), "GET",
       "/api/v1/namespaces/d/pods/p/exec?command=ls", false},
      {"resourceNames", rule({"get"}, {""}, {"secrets"}, {"a"}), "GET",
       "/api/v1/namespaces/d/secrets/a", true},
      {"resourceNames other", rule({"get"}, {""}, {"secrets"}, {"a"}), "GET",
       "/api/v1/namespaces/d/secrets/b", false},
      {"resourceNames never list", rule({"list"}, {""}, {"secrets"}, {"a"}), "GET",
       "/api/v1/namespaces/d/secrets", false},
      {"restart is create pods named restart", rule({"create"}, {""}, {"pods"}, {"restart"}),
       "POST", "/api/v1/namespaces/d/pods/restart", true},
      {"confirm-upgrade", rule({"create"}, {""}, {"taskupgrade"}, {"confirm-upgrade"}), "POST",
       "/api/v1/taskupgrade/confirm-upgrade", true},
      {"device edit", rule({"update"}, {"devices.kubeedge.io"}, {"devices"}), "PUT",
       "/apis/devices.kubeedge.io/v1beta1/namespaces/d/devices/dev", true},
      {"nonResourceURL exact", rule({"get"}, {}, {}, {}, {"/version"}), "GET", "/version", true},
      {"nonResourceURL prefix", rule({"get"}, {}, {}, {}, {"/apis/*"}), "GET", "/apis/apps/v1",
       true},
      {"nonResourceURL star", rule({"get"}, {}, {}, {}, {"*"}), "GET", "/metrics", true},
      {"nonResourceURL other", rule({"get"}, {}, {}, {}, {"/version"}), "GET", "/metrics", false},
      {"nonResourceURL verb", rule({"get"}, {}, {}, {}, {"/healthz"}), "POST", "/healthz", false},
      {"resource rule never grants a path", rule({"*"}, {"*"}, {"*"}), "GET", "/metrics", false},
      {"path rule never grants a resource", rule({"*"}, {}, {}, {}, {"*"}), "GET",
       "/api/v1/namespaces/d/pods", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ruleAllows(c.rule, attrs(c.method, c.target)), c.allowed) << c.what;
  }
}

TEST(RbacSubjectTest, MatchesUsersGroupsAndServiceAccounts) {
  UserInfo sa{"system:serviceaccount:d:app",
              {"system:serviceaccounts", "system:serviceaccounts:d", "system:authenticated"}};
  EXPECT_TRUE(subjectMatches({"ServiceAccount", "app", "d"}, "", sa));
  EXPECT_TRUE(subjectMatches({"ServiceAccount", "app", ""}, "d", sa));  // binding's namespace
  EXPECT_FALSE(subjectMatches({"ServiceAccount", "app", ""}, "", sa));  // cluster binding, no ns
  EXPECT_FALSE(subjectMatches({"ServiceAccount", "app", "e"}, "d", sa));
  EXPECT_TRUE(subjectMatches({"Group", "system:serviceaccounts:d", ""}, "d", sa));
  EXPECT_FALSE(subjectMatches({"Group", "system:masters", ""}, "d", sa));
  EXPECT_TRUE(subjectMatches({"User", "system:serviceaccount:d:app", ""}, "", sa));
  EXPECT_FALSE(subjectMatches({"User", "app", ""}, "", sa));
  EXPECT_FALSE(subjectMatches({"Bogus", "app", "d"}, "d", sa));
}

TEST(RbacForbiddenTest, MessagesLikeKubeApiserver) {
  EXPECT_EQ(forbiddenMessage("system:serviceaccount:d:app",
                             attrs("GET", "/api/v1/namespaces/d/pods"), ""),
            "pods is forbidden: User \"system:serviceaccount:d:app\" cannot list resource "
            "\"pods\" in API group \"\" in the namespace \"d\"");
  EXPECT_EQ(forbiddenMessage("u", attrs("GET", "/api/v1/namespaces/d/pods/p/log"), ""),
            "pods \"p\" is forbidden: User \"u\" cannot get resource \"pods/log\" in API group "
            "\"\" in the namespace \"d\"");
  EXPECT_EQ(forbiddenMessage("u",
                             attrs("PUT",
                                   "/apis/devices.kubeedge.io/v1beta1/namespaces/d/"
                                   "devices/x"),
                             ""),
            "devices.devices.kubeedge.io \"x\" is forbidden: User \"u\" cannot update resource "
            "\"devices\" in API group \"devices.kubeedge.io\" in the namespace \"d\"");
  EXPECT_EQ(forbiddenMessage("u", attrs("POST", "/api/v1/taskupgrade/confirm-upgrade"), ""),
            "taskupgrade \"confirm-upgrade\" is forbidden: User \"u\" cannot create resource "
            "\"taskupgrade\" in API group \"\" at the cluster scope");
  EXPECT_EQ(forbiddenMessage("u", attrs("GET", "/metrics"), "RBAC: x"),
            "forbidden: User \"u\" cannot get path \"/metrics\": RBAC: x");
}

// The chain over a real store: tokens, client certificates, RBAC objects.
class ChainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { key_ = new edgecore::testing::RsaKeyPair(makeRsaKey()); }
  static void TearDownTestSuite() { delete key_; }
  void SetUp() override {
    store_.put(kPods, makePod(boundPod()));
    store_.put(kServiceAccounts, makeServiceAccount("default", "app"));
    AuthorizationChainOptions o;
    o.node_name = "edge-1";
    o.tokens.issuers = {kIssuer};
    o.tokens.keys = *parsePublicKeysPem(key_->public_pem);
    chain_ = std::make_unique<AuthorizationChain>(o, *store_, clock_, nullptr);
  }
  AuthDecision check(const std::string& method, const std::string& target,
                     const std::string& authorization, const PeerCertificate* cert = nullptr) {
    AuthRequest r;
    r.method = method;
    r.target = target;
    r.authorization = authorization;
    r.peer_certificate = cert;
    return chain_->check(r);
  }
  std::string bearer(const json& claims = saClaims()) {
    return "Bearer " + signJwtRs256(claims, key_->private_pem);
  }

  static edgecore::testing::RsaKeyPair* key_;
  SqliteTestStore store_;
  core::SystemClock clock_;
  std::unique_ptr<AuthorizationChain> chain_;
};
edgecore::testing::RsaKeyPair* ChainTest::key_ = nullptr;

TEST_F(ChainTest, RoleBindingGrantsOnlyWhatItsRoleSays) {
  const std::string pods = "/api/v1/namespaces/default/pods";
  auto denied = check("GET", pods, bearer());
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.code, 403);
  EXPECT_EQ(denied.reason, "Forbidden");
  EXPECT_EQ(denied.message,
            "pods is forbidden: User \"system:serviceaccount:default:app\" cannot list resource "
            "\"pods\" in API group \"\" in the namespace \"default\"");

  store_.put(kRoles, makeRole("default", "pod-reader",
                              json::array({{{"apiGroups", {""}},
                                            {"resources", {"pods"}},
                                            {"verbs", {"get", "list", "watch"}}}})));
  // A binding to a role that is not there yet: still denied, with RBAC's reason.
  store_.put(kRoleBindings, makeRoleBinding("default", "read-pods", "Role", "missing",
                                            json::array({saSubject("app")})));
  auto missing = check("GET", pods, bearer());
  EXPECT_EQ(missing.code, 403);
  EXPECT_THAT(missing.message,
              ::testing::HasSubstr(": RBAC: role.rbac.authorization.k8s.io \"missing\" not found"));

  store_.put(kRoleBindings, makeRoleBinding("default", "read-pods", "Role", "pod-reader",
                                            json::array({saSubject("app")})));
  auto allowed = check("GET", pods, bearer());
  EXPECT_TRUE(allowed.allowed) << allowed.message;
  EXPECT_EQ(allowed.user, "system:serviceaccount:default:app");
  EXPECT_TRUE(check("GET", pods + "?watch=true", bearer()).allowed);
  // Not beyond the role: other namespaces, other resources, writes, subresources.
  EXPECT_EQ(check("GET", "/api/v1/namespaces/kube-system/pods", bearer()).code, 403);
  EXPECT_EQ(check("GET", "/api/v1/namespaces/default/secrets", bearer()).code, 403);
  EXPECT_EQ(check("DELETE", pods + "/web-0", bearer()).code, 403);
  EXPECT_EQ(check("GET", pods + "/web-0/log", bearer()).code, 403);
  EXPECT_EQ(check("POST", pods + "/web-0/exec?command=sh", bearer()).code, 403);
  // Another service account of the namespace is not the subject.
  store_.put(kServiceAccounts, makeServiceAccount("default", "other"));
  EXPECT_EQ(check("GET", pods, bearer(saClaims("other"))).code, 403);
}

TEST_F(ChainTest, ClusterRoleBindingsAndClusterRolesInRoleBindings) {
  json rules =
      json::array({{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"get"}}},
                   {{"nonResourceURLs", {"/metrics"}}, {"verbs", {"get"}}}});
  store_.put(kClusterRoles, json({{"apiVersion", "rbac.authorization.k8s.io/v1"},
                                  {"kind", "ClusterRole"},
                                  {"metadata", {{"name", "cm-reader"}}},
                                  {"rules", rules}})
                                .dump());
  const std::string cm = "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt";
  EXPECT_EQ(check("GET", cm, bearer()).code, 403);
  // A RoleBinding to the ClusterRole grants it in the binding's namespace only.
  store_.put(kRoleBindings, makeRoleBinding("kube-system", "cm", "ClusterRole", "cm-reader",
                                            json::array({saSubject("app", "default")})));
  EXPECT_TRUE(check("GET", cm, bearer()).allowed);
  EXPECT_EQ(check("GET", "/api/v1/namespaces/default/configmaps/x", bearer()).code, 403);
  EXPECT_EQ(check("GET", "/metrics", bearer()).code, 403);  // paths need a ClusterRoleBinding
  store_.put(
      kClusterRoleBindings,
      json({{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRoleBinding"},
            {"metadata", {{"name", "all-sa"}}},
            {"roleRef", {{"kind", "ClusterRole"}, {"name", "cm-reader"}}},
            {"subjects", json::array({{{"kind", "Group"}, {"name", "system:serviceaccounts"}}})}})
          .dump());
  EXPECT_TRUE(check("GET", "/api/v1/namespaces/default/configmaps/x", bearer()).allowed);
  EXPECT_TRUE(check("GET", "/metrics", bearer()).allowed);
}

TEST_F(ChainTest, ServiceAccountAccessFromThePolicyControllerGrants) {
  json access = {{"apiVersion", "policy.kubeedge.io/v1alpha1"},
                 {"kind", "ServiceAccountAccess"},
                 {"metadata", {{"name", "app"}, {"namespace", "default"}}},
                 {"spec",
                  {{"serviceAccount", {{"metadata", {{"name", "app"}, {"namespace", "default"}}}}},
                   {"serviceAccountUid", kSaUid},
                   {"accessRoleBinding",
                    json::array({{{"roleBinding",
                                   {{"metadata", {{"name", "rb"}, {"namespace", "default"}}},
                                    {"roleRef", {{"kind", "Role"}, {"name", "secret-reader"}}},
                                    {"subjects", json::array({saSubject("app")})}}},
                                  {"rules", json::array({{{"apiGroups", {""}},
                                                          {"resources", {"secrets"}},
                                                          {"resourceNames", {"app-config"}},
                                                          {"verbs", {"get"}}}})}}})}}}};
  store_.put(kServiceAccountAccesses, access.dump());
  EXPECT_TRUE(check("GET", "/api/v1/namespaces/default/secrets/app-config", bearer()).allowed);
  EXPECT_EQ(check("GET", "/api/v1/namespaces/default/secrets/other", bearer()).code, 403);
}

TEST_F(ChainTest, UnauthenticatedRequestsGet401ExceptPublicReads) {
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/namespaces/default/pods"},
           {"GET", "/api/v1/namespaces/default/secrets/s"},
           {"POST", "/api/v1/taskupgrade/confirm-upgrade"},
           {"POST", "/api/v1/namespaces/default/pods/restart"},
           {"POST", "/api/v1/pods/unhold-upgrade"},
           {"POST", "/api/v1/namespaces/default/pods/web-0/exec?command=sh"},
           {"GET", "/api/v1/namespaces/default/pods/web-0/log"},
           {"PUT", "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/d"},
           {"DELETE", "/api/v1/namespaces/default/pods/web-0"},
           {"GET", "/api"},
           {"GET", "/metrics"},
           {"GET", "/api/v1/namespaces/%2e%2e/pods"}}) {
    auto d = check(method, target, "");
    EXPECT_FALSE(d.allowed) << method << " " << target;
    EXPECT_EQ(d.code, 401) << method << " " << target;
    EXPECT_EQ(d.reason, "Unauthorized");
  }
  EXPECT_TRUE(check("GET", "/healthz", "").allowed);
  EXPECT_TRUE(check("GET", "/readyz", "").allowed);
  EXPECT_TRUE(check("GET", "/version", "").allowed);
  // Bad credentials are 401 even for public reads, as kube-apiserver does.
  EXPECT_EQ(check("GET", "/healthz", "Bearer garbage").code, 401);
  EXPECT_EQ(check("GET", "/healthz", "Basic dXNlcjpwYXNz").code, 401);
  // Forged and expired tokens.
  EXPECT_EQ(
      check("GET", "/api", "Bearer " + signJwtRs256(saClaims(), makeRsaKey().private_pem)).code,
      401);
  json expired = saClaims();
  expired["exp"] = edgecore::testing::unixNow(std::chrono::hours(-2));
  EXPECT_EQ(check("GET", "/api", bearer(expired)).code, 401);
  // Authenticated users get discovery.
  EXPECT_TRUE(check("GET", "/api", bearer()).allowed);
  EXPECT_TRUE(check("GET", "/apis/apps/v1", bearer()).allowed);
  EXPECT_EQ(check("GET", "/metrics", bearer()).code, 403);
}

TEST_F(ChainTest, NodeCertificateMayDoKeadmCtlOperationsOnly) {
  PeerCertificate node{"system:node:edge-1", {"system:nodes"}};
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/namespaces/default/pods"},
           {"GET", "/api/v1/pods?labelSelector=app%3Dweb"},
           {"GET", "/api/v1/namespaces/default/pods/web-0"},
           {"GET", "/api/v1/namespaces/default/events"},
           {"GET", "/api/v1/namespaces/default/pods/web-0/log?follow=true"},
           {"POST", "/api/v1/namespaces/default/pods/web-0/exec?command=ls"},
           {"GET", "/api/v1/namespaces/default/pods/web-0/exec?command=ls"},
           {"POST", "/api/v1/namespaces/default/pods/restart"},
           {"POST", "/api/v1/taskupgrade/confirm-upgrade"},
           {"POST", "/api/v1/pods/unhold-upgrade"},
           {"POST", "/api/v1/nodes/unhold-upgrade"},
           {"GET", "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices"},
           {"PUT", "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/d"},
           {"GET", "/api"}}) {
    auto d = check(method, target, "", &node);
    EXPECT_TRUE(d.allowed) << method << " " << target << ": " << d.message;
    EXPECT_EQ(d.user, "system:node:edge-1");
  }
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/namespaces/default/secrets/s"},
           {"DELETE", "/api/v1/namespaces/default/pods/web-0"},
           {"POST", "/api/v1/namespaces/default/pods"},
           {"POST", "/api/v1/configmaps/unhold-upgrade"},
           {"GET", "/api/v1/nodes"}}) {
    EXPECT_EQ(check(method, target, "", &node).code, 403) << method << " " << target;
  }
  // Another node's certificate, or any other verified certificate, gets no node rights.
  PeerCertificate other{"system:node:edge-2", {"system:nodes"}};
  EXPECT_EQ(check("POST", "/api/v1/taskupgrade/confirm-upgrade", "", &other).code, 403);
  PeerCertificate user{"alice", {"devs"}};
  auto d = check("GET", "/api/v1/namespaces/default/pods", "", &user);
  EXPECT_EQ(d.code, 403);
  EXPECT_THAT(d.message, ::testing::HasSubstr("User \"alice\" cannot list"));
  // ... unless RBAC binds its group.
  store_.put(
      kRoles,
      makeRole("default", "pod-reader",
               json::array({{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"list"}}}})));
  store_.put(kRoleBindings, makeRoleBinding("default", "devs", "Role", "pod-reader",
                                            json::array({{{"kind", "Group"}, {"name", "devs"}}})));
  EXPECT_TRUE(check("GET", "/api/v1/namespaces/default/pods", "", &user).allowed);
  // A certificate without CN is no identity: the token decides, or 401.
  PeerCertificate anonymous_cert{"", {"system:nodes"}};
  EXPECT_EQ(check("GET", "/api/v1/namespaces/default/pods", "", &anonymous_cert).code, 401);
}

}  // namespace
}  // namespace edgecore::metaserver::auth
