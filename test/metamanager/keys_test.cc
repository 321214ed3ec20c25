#include <gtest/gtest.h>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {
namespace {

TEST(GvrTest, GoStringMatchesGroupVersionResourceString) {
  EXPECT_EQ((Gvr{"", "v1", "pods"}).toGoString(), "/v1, Resource=pods");
  EXPECT_EQ((Gvr{"apps", "v1", "deployments"}).toGoString(), "apps/v1, Resource=deployments");
}

TEST(ObjectKeyTest, StorageKeyUsesCoreAndNull) {
  EXPECT_EQ((ObjectKey{{"", "v1", "pods"}, "default", "nginx"}).storageKey(),
            "/core/v1/pods/default/nginx");
  EXPECT_EQ((ObjectKey{{"", "v1", "nodes"}, "", "edge-1"}).storageKey(),
            "/core/v1/nodes/null/edge-1");
  EXPECT_EQ(
      (ObjectKey{{"devices.kubeedge.io", "v1beta1", "devices"}, "default", "dev1"}).storageKey(),
      "/devices.kubeedge.io/v1beta1/devices/default/dev1");
}

TEST(ObjectKeyTest, ParseRoundTrips) {
  for (const ObjectKey& key : {ObjectKey{{"", "v1", "pods"}, "default", "nginx"},
                               ObjectKey{{"", "v1", "nodes"}, "", "edge-1"},
                               ObjectKey{{"apps", "v1", "deployments"}, "kube-system", "web"}}) {
    auto parsed = parseStorageKey(key.storageKey());
    ASSERT_TRUE(parsed.ok()) << parsed.status().toString();
    EXPECT_EQ(*parsed, key);
  }
}

TEST(ObjectKeyTest, ParseRejectsWhatIsNotAnObjectKey) {
  for (const char* key : {"", "/version", "/core/v1/pods/default", "/core/v1/pods/default/a/b",
                          "core/v1/pods/default/a", "/core//pods/default/a",
                          "/core/v1/pods/default/", "3f2a-upgrade-id"}) {
    auto parsed = parseStorageKey(key);
    EXPECT_FALSE(parsed.ok()) << key;
    EXPECT_EQ(parsed.status().code(), core::StatusCode::InvalidArgument);
  }
}

TEST(KindTest, KindToResourceFollowsUnsafeKindToResource) {
  EXPECT_EQ(kindToResource("Pod"), "pods");
  EXPECT_EQ(kindToResource("ConfigMap"), "configmaps");
  EXPECT_EQ(kindToResource("Endpoints"), "endpoints");
  EXPECT_EQ(kindToResource("PodStatus"), "podstatus");
  EXPECT_EQ(kindToResource("NodeStatus"), "nodestatus");
  EXPECT_EQ(kindToResource("CustomResourceDefinition"), "customresourcedefinitions");
  EXPECT_EQ(kindToResource("Policy"), "policies");
  EXPECT_EQ(kindToResource("NetworkPolicy"), "networkpolicies");
  EXPECT_EQ(kindToResource("Ingress"), "ingresses");
  EXPECT_EQ(kindToResource("Status"), "statuses");
  EXPECT_EQ(kindToResource(""), "");
}

TEST(KindTest, ResourceToKindFollowsUnsafeResourceToKind) {
  EXPECT_EQ(resourceToKind("pods"), "Pod");
  EXPECT_EQ(resourceToKind("nodes"), "Node");
  EXPECT_EQ(resourceToKind("services"), "Service");
  EXPECT_EQ(resourceToKind("endpoints"), "Endpoints");
  EXPECT_EQ(resourceToKind("endpointslices"), "EndpointSlice");
  EXPECT_EQ(resourceToKind("ingresses"), "Ingress");
  EXPECT_EQ(resourceToKind("policies"), "Policy");
  // Go's title casing lower-cases the rest of the word, so camel case is lost.
  EXPECT_EQ(resourceToKind("configmaps"), "Configmap");
  EXPECT_EQ(resourceToKind("devices"), "Device");
  EXPECT_EQ(resourceToKind(""), "");
}

}  // namespace
}  // namespace edgecore::metamanager
