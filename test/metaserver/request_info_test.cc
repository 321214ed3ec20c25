#include "request_info.h"

#include <gtest/gtest.h>

namespace edgecore::metaserver {
namespace {

RequestInfo parse(std::string_view method, std::string_view target) {
  auto r = parseRequestInfo(method, target);
  EXPECT_TRUE(r.ok()) << target << ": " << r.status().toString();
  return r.ok() ? *r : RequestInfo{};
}

TEST(RequestInfoTest, CoreNamespacedShapes) {
  auto list = parse("GET", "/api/v1/namespaces/default/pods");
  EXPECT_TRUE(list.is_resource);
  EXPECT_EQ(list.verb, "list");
  EXPECT_EQ(list.gvr, (metamanager::Gvr{"", "v1", "pods"}));
  EXPECT_EQ(list.ns, "default");
  EXPECT_EQ(list.name, "");

  auto get = parse("GET", "/api/v1/namespaces/default/pods/nginx");
  EXPECT_EQ(get.verb, "get");
  EXPECT_EQ(get.name, "nginx");

  auto sub = parse("GET", "/api/v1/namespaces/default/pods/nginx/log");
  EXPECT_EQ(sub.subresource, "log");
  EXPECT_EQ(sub.verb, "get");
}

TEST(RequestInfoTest, ClusterScopedAndAllNamespaces) {
  auto nodes = parse("GET", "/api/v1/nodes/edge-1");
  EXPECT_EQ(nodes.gvr.resource, "nodes");
  EXPECT_EQ(nodes.ns, "");
  EXPECT_EQ(nodes.name, "edge-1");
  auto all = parse("GET", "/api/v1/pods");
  EXPECT_EQ(all.verb, "list");
  EXPECT_EQ(all.ns, "");
  auto ns = parse("GET", "/api/v1/namespaces/kube-system");
  EXPECT_EQ(ns.gvr.resource, "namespaces");
  EXPECT_EQ(ns.name, "kube-system");
  EXPECT_EQ(ns.verb, "get");
}

TEST(RequestInfoTest, GroupedResources) {
  auto lease = parse("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1");
  EXPECT_EQ(lease.gvr, (metamanager::Gvr{"coordination.k8s.io", "v1", "leases"}));
  EXPECT_EQ(lease.ns, "kube-node-lease");
  EXPECT_EQ(lease.name, "n1");
  EXPECT_EQ(lease.api_prefix, "apis");
}

TEST(RequestInfoTest, WatchByQueryAndByPrefix) {
  auto q = parse("GET",
                 "/api/v1/namespaces/default/pods?watch=true&resourceVersion=42"
                 "&allowWatchBookmarks=true&timeoutSeconds=30");
  EXPECT_EQ(q.verb, "watch");
  EXPECT_EQ(q.query.resource_version, 42u);
  EXPECT_TRUE(q.query.allow_bookmarks);
  EXPECT_EQ(q.query.timeout_seconds, 30);
  auto p = parse("GET", "/api/v1/watch/namespaces/default/pods");
  EXPECT_EQ(p.verb, "watch");
  EXPECT_EQ(p.ns, "default");
  EXPECT_EQ(parse("GET", "/api/v1/pods?watch=1").verb, "watch");
  EXPECT_EQ(parse("GET", "/api/v1/pods?watch=0").verb, "list");
}

TEST(RequestInfoTest, VerbsFromMethods) {
  EXPECT_EQ(parse("POST", "/api/v1/namespaces/d/pods").verb, "create");
  EXPECT_EQ(parse("PUT", "/api/v1/namespaces/d/pods/x").verb, "update");
  EXPECT_EQ(parse("PATCH", "/api/v1/namespaces/d/pods/x").verb, "patch");
  EXPECT_EQ(parse("DELETE", "/api/v1/namespaces/d/pods/x").verb, "delete");
  EXPECT_EQ(parse("DELETE", "/api/v1/namespaces/d/pods").verb, "deletecollection");
}

TEST(RequestInfoTest, QueryDecodingAndSelectors) {
  auto r = parse("GET",
                 "/api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+(a%2Cb)"
                 "&fieldSelector=spec.nodeName%3Dedge-1&limit=10&continue=abc"
                 "&includeObject=Object");
  EXPECT_EQ(r.query.label_selector, "app=web,tier in (a,b)");
  EXPECT_EQ(r.query.field_selector, "spec.nodeName=edge-1");
  EXPECT_EQ(r.query.limit, 10);
  EXPECT_EQ(r.query.continue_token, "abc");
  EXPECT_EQ(r.query.include_object, "Object");
}

TEST(RequestInfoTest, NonResourceAndDiscovery) {
  auto v = parse("GET", "/version");
  EXPECT_FALSE(v.is_resource);
  EXPECT_EQ(v.path, "/version");
  EXPECT_FALSE(isDiscoveryPath(v));
  for (const char* path : {"/api", "/api/", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1"}) {
    auto d = parse("GET", path);
    EXPECT_FALSE(d.is_resource) << path;
    EXPECT_TRUE(isDiscoveryPath(d)) << path;
  }
}

TEST(RequestInfoTest, RejectsTraversalAndEncodedTricks) {
  for (const char* target :
       {"/api/v1/namespaces/default/pods/..", "/api/v1/namespaces/%2e%2e/pods",
        "/api/v1/namespaces/default/pods/a%2Fb", "/api/v1/namespaces/default/pods/%00x",
        "/api/v1/namespaces/default/pods/a%25b", "/api/v1/namespaces//pods", "pods",
        "/api/v1/namespaces/default/pods/x/y/z", "/api/v1/pods?limit=abc",
        "/api/v1/pods?resourceVersion=-1", "/api/v1/pods?watch=maybe",
        "/api/v1/pods?includeObject=All", "/api/v1/namespaces/default/pods/%zz", ""}) {
    auto r = parseRequestInfo("GET", target);
    EXPECT_FALSE(r.ok()) << target;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), core::StatusCode::InvalidArgument) << target;
    }
  }
}

}  // namespace
}  // namespace edgecore::metaserver
