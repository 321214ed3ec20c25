#include "edgecore/core/resource.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace edgecore::core {
namespace {

ResourceKey parseOrDie(std::string_view s) {
  Result<ResourceKey> r = parseResource(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().toString();
  return r.ok() ? std::move(r).value() : ResourceKey{};
}

struct Case {
  std::string input;
  ResourceShape shape;
  std::string ns = "", type = "", name = "", sub = "";
  std::string canonical = "";  // toString(); empty means "same as input"
  std::string node_id = "";
  std::string group_version = "";
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.input; }

class ResourceShapeTest : public ::testing::TestWithParam<Case> {};

TEST_P(ResourceShapeTest, ParsesAndRebuilds) {
  const Case& c = GetParam();
  const ResourceKey key = parseOrDie(c.input);
  EXPECT_EQ(key.shape, c.shape);
  EXPECT_EQ(key.ns, c.ns);
  EXPECT_EQ(key.type, c.type);
  EXPECT_EQ(key.name, c.name);
  EXPECT_EQ(key.sub, c.sub);
  EXPECT_EQ(key.node_id, c.node_id);
  EXPECT_EQ(key.group_version, c.group_version);
  EXPECT_EQ(key.raw, c.input);
  const std::string canonical = c.canonical.empty() ? c.input : c.canonical;
  EXPECT_EQ(key.toString(), canonical);
  // The rebuilt string parses to the same key (minus the stripped prefix).
  const ResourceKey again = parseOrDie(canonical);
  EXPECT_EQ(again.shape, key.shape);
  EXPECT_EQ(again.toString(), canonical);
}

using S = ResourceShape;

INSTANTIATE_TEST_SUITE_P(
    Spec15, ResourceShapeTest,
    ::testing::Values(
        // Namespaced, with real and placeholder namespaces.
        Case{"default/pod/nginx", S::Namespaced, "default", "pod", "nginx", ""},
        Case{"default/configmap/cfg1", S::Namespaced, "default", "configmap", "cfg1", ""},
        Case{"default/nodepatch/edge-1", S::Namespaced, "default", "nodepatch", "edge-1", ""},
        Case{"kube-node-lease/lease/edge-1", S::Namespaced, "kube-node-lease", "lease", "edge-1",
             ""},
        Case{"default/pod", S::Namespaced, "default", "pod", "", ""},
        Case{"namespace/node/edge-1", S::Namespaced, "namespace", "node", "edge-1", ""},
        Case{"null/node/edge-1", S::Namespaced, "null", "node", "edge-1", ""},
        Case{"default/device/dev-1", S::Namespaced, "default", "device", "dev-1", ""},
        Case{"ignore/Application/ignore", S::Namespaced, "ignore", "Application", "ignore", ""},
        // A namespace called "node" is not mistaken for the cloud-internal prefix...
        Case{"node/pod/x", S::Namespaced, "node", "pod", "x", ""},
        // ...nor one that merely starts with "node" (Go's TrimMessage tests the text prefix).
        Case{"node-system/pod/x", S::Namespaced, "node-system", "pod", "x", ""},
        // Cloud-internal strings: "node/<id>/" stripped as TrimMessage does.
        Case{"node/edge-1/default/pod/nginx", S::Namespaced, "default", "pod", "nginx", "",
             "default/pod/nginx", "edge-1"},
        Case{"node/edge-1/default/pod", S::Namespaced, "default", "pod", "", "", "default/pod",
             "edge-1"},
        Case{"node/edge-1/membership", S::Membership, "", "membership", "", "", "membership",
             "edge-1"},
        Case{"node/edge-1/twin", S::Twin, "", "twin", "", "", "twin", "edge-1"},
        Case{"node/edge-1/a/b/c/d/e/f/g", S::Other, "", "", "", "", "a/b/c/d/e/f/g", "edge-1"},
        // Fixed strings.
        Case{"node", S::Keepalive, "", "node", "", ""}, Case{"twin", S::Twin, "", "twin", "", ""},
        Case{"membership", S::Membership, "", "membership", "", ""},
        Case{"membership/detail", S::Membership, "", "membership", "", "detail"},
        Case{"k8s/ca.crt", S::CaCert, "", "k8s/ca.crt", "", ""},
        Case{"node/connection", S::NodeConnection, "", "node", "connection", ""},
        // Rules.
        Case{"rule/r1", S::Rule, "", "rule", "r1", ""},
        Case{"ruleendpoint/ep1", S::Rule, "", "ruleendpoint", "ep1", ""},
        // Device twin, v1.20 (namespaced) and v1.15 forms.
        Case{"device/default/dev-1/twin/edge_updated", S::DeviceTwin, "default", "device", "dev-1",
             "twin/edge_updated"},
        Case{"device/default/dev-1/state/update", S::DeviceTwin, "default", "device", "dev-1",
             "state/update"},
        Case{"device/default/twin/twin/edge_updated", S::DeviceTwin, "default", "device", "twin",
             "twin/edge_updated"},
        Case{"device/dev-e1/twin/edge_updated", S::DeviceTwin, "", "device", "dev-e1",
             "twin/edge_updated"},
        Case{"device/dev-e1/twin/cloud_updated", S::DeviceTwin, "", "device", "dev-e1",
             "twin/cloud_updated"},
        Case{"device/ns1/dev-1/updated", S::DeviceTwin, "ns1", "device", "dev-1", "updated"},
        // Tasks (v1alpha1) and node jobs (v1.23).
        Case{"upgrade/job1/node/edge-1", S::Task, "", "upgrade", "job1", "edge-1"},
        Case{"task/t-42/node/edge-1", S::Task, "", "task", "t-42", "edge-1"},
        Case{"operations.kubeedge.io/v1alpha2/nodeupgradejob/job1/node/edge-1", S::NodeJob, "",
             "nodeupgradejob", "job1", "edge-1", "", "", "operations.kubeedge.io/v1alpha2"},
        // Other.
        Case{"null", S::Other, "", "", "", ""}, Case{"a/b/c/d/e", S::Other, "", "", "", ""}));

TEST(ParseResourceTest, RejectsEmptyAndEmptySegments) {
  for (std::string_view bad :
       {"", "/", "//", "/default/pod/x", "default/pod/", "default//x", "node/edge-1//pod"}) {
    const Result<ResourceKey> r = parseResource(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument) << bad;
  }
}

TEST(ParseResourceTest, BoundsLength) {
  const std::string ok = "default/pod/" + std::string(kMaxResourceBytes - 12, 'a');
  ASSERT_EQ(ok.size(), kMaxResourceBytes);
  EXPECT_TRUE(parseResource(ok).ok());
  const Result<ResourceKey> r = parseResource(ok + "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  // Many segments under the limit: fine, classified Other.
  std::string slashes;
  for (int i = 0; i < 1000; ++i) {
    slashes += "a/";
  }
  slashes += "a";
  EXPECT_EQ(parseOrDie(slashes).shape, ResourceShape::Other);
}

TEST(ParseResourceTest, RandomInputNeverThrows) {
  std::mt19937 rng(7);
  const std::string alphabet("/anode/x\xff\0", 10);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, 'x');
    for (char& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    Result<ResourceKey> r = Status(StatusCode::Unknown, "unset");
    ASSERT_NO_THROW(r = parseResource(s));
    if (r.ok()) {
      // Whatever was accepted rebuilds to the raw string, or to its tail after "node/<id>/".
      const std::string rebuilt = r->toString();
      if (r->node_id.empty()) {
        ASSERT_EQ(rebuilt, s);
      } else {
        ASSERT_EQ("node/" + r->node_id + "/" + rebuilt, s);
      }
    } else {
      ASSERT_EQ(r.status().code(), StatusCode::InvalidArgument);
    }
  }
}

TEST(BuildResourceTest, JoinsAndOmitsEmptyName) {
  EXPECT_EQ(buildResource("default", "pod", "nginx"), "default/pod/nginx");
  EXPECT_EQ(buildResource("default", "pod", ""), "default/pod");
  EXPECT_EQ(buildResource("kube-node-lease", restype::kLease, "edge-1"),
            "kube-node-lease/lease/edge-1");
  EXPECT_EQ(parseOrDie(buildResource("default", restype::kNodePatch, "edge-1")).type,
            restype::kNodePatch);
}

}  // namespace
}  // namespace edgecore::core
