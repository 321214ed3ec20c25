// Projected serviceAccountToken sources: what the kubelet asks for, and the token file
// prepareVolumes writes from it (or the FailedMount that keeps the pod from starting).

#include "podplan/sa_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "podplan/pod_plan.h"
#include "util/process.h"

namespace edgecore::edged {
namespace {

using nlohmann::json;
using testing::TempDir;

class StaticObjects : public ObjectSource {
 public:
  Result<json> getConfigMap(std::string_view, std::string_view name) override {
    if (name == "kube-root-ca.crt") {
      return json{{"data", {{"ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n"}}}};
    }
    return notFound("configmap not found");
  }
  Result<json> getSecret(std::string_view, std::string_view) override {
    return notFound("secret not found");
  }
};

// The pod a real cluster creates: the kube-api-access-* projected volume of the ServiceAccount
// admission plugin.
json apiAccessPod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "demo", "uid": "1111-2222"},
    "spec": {"nodeName": "edge-1", "serviceAccountName": "builder",
      "containers": [{"name": "main", "image": "busybox:local", "volumeMounts": [
        {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
         "readOnly": true}]}],
      "volumes": [{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]}
  })");
}

TEST(SaToken, SourcesOfTheDefaultVolume) {
  json pod = apiAccessPod();
  auto refs = projectedTokenSources(pod);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].service_account, "builder");
  EXPECT_EQ(refs[0].audience, "");
  EXPECT_EQ(refs[0].expiration_seconds, 3607);
  // A second volume with the same token is one request; another audience is another; a
  // lifetime under the minimum is raised to 600 s; no expirationSeconds means 3600.
  json more = json::parse(R"({"projected": {"sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "t"}},
    {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 60, "path": "v"}},
    {"serviceAccountToken": {"path": "d"}}]}})");
  pod["spec"]["volumes"].push_back(more);
  refs = projectedTokenSources(pod);
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[1].audience, "vault");
  EXPECT_EQ(refs[1].expiration_seconds, 600);
  EXPECT_EQ(refs[2].expiration_seconds, 3600);
  // No service account name: "default".
  pod["spec"].erase("serviceAccountName");
  EXPECT_EQ(podServiceAccount(pod), "default");
}

TEST(SaToken, TokenRequestIsBoundToThePod) {
  json tr = tokenRequestFor(apiAccessPod(), TokenSourceRef{"builder", "", 3607});
  EXPECT_TRUE(tr["spec"]["audiences"].is_null());  // Go's nil slice: the cache key says (nil)
  EXPECT_EQ(tr["spec"]["expirationSeconds"], 3607);
  EXPECT_EQ(tr["spec"]["boundObjectRef"],
            json({{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "web"}, {"uid", "1111-2222"}}));
  EXPECT_EQ(tr["status"]["token"], "");
  json with_aud = tokenRequestFor(apiAccessPod(), TokenSourceRef{"builder", "vault", 600});
  EXPECT_EQ(with_aud["spec"]["audiences"], json::array({"vault"}));
}

class SaTokenVolumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in.objects = &objects;
    in.node_name = "edge-1";
    in.host_ip = "192.168.1.20";
    in.root_directory = dir.path() + "/kubelet";
    in.pod_logs_dir = dir.path() + "/logs";
    in.resolv_conf = "";
    in.pod_ips = {"10.88.0.9"};
  }
  std::string volume() const {
    return in.root_directory +
           "/pods/1111-2222/volumes/kubernetes.io~projected/kube-api-access-x7k2p";
  }
  void useTokens(Result<std::string> token) {
    std::map<std::string, Result<std::string>> m;
    m.emplace(TokenSourceRef{"builder", "", 3607}.key(), std::move(token));
    tokens = makeFetchedTokenSource(std::move(m));
    in.tokens = tokens.get();
  }

  TempDir dir;
  StaticObjects objects;
  std::unique_ptr<ServiceAccountTokenSource> tokens;
  PlanInputs in;
};

TEST_F(SaTokenVolumeTest, DefaultVolumeGetsTokenCaAndNamespace) {
  json pod = apiAccessPod();
  auto plan = buildPodPlan(pod, in);
  ASSERT_TRUE(plan.ok()) << plan.status().toString();
  useTokens(std::string("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
  ASSERT_TRUE(prepareVolumes(pod, *plan, in).ok());
  EXPECT_EQ(testing::readFile(volume() + "/token"), "eyJhbGciOiJSUzI1NiJ9.e30.sig");
  EXPECT_EQ(testing::readFile(volume() + "/ca.crt"), "-----BEGIN CERTIFICATE-----\nMIIB\n");
  EXPECT_EQ(testing::readFile(volume() + "/namespace"), "demo");
  struct stat st {};
  ASSERT_EQ(::stat((volume() + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // defaultMode 420

  // A refresh replaces the file in place (tmp + rename), nothing else left behind.
  useTokens(std::string("second.token.sig"));
  ASSERT_TRUE(prepareVolumes(pod, *plan, in).ok());
  EXPECT_EQ(testing::readFile(volume() + "/token"), "second.token.sig");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(volume())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 3u);
}

TEST_F(SaTokenVolumeTest, NoTokenIsAFailedMountThatKeepsTheCurrentFile) {
  json pod = apiAccessPod();
  auto plan = buildPodPlan(pod, in);
  ASSERT_TRUE(plan.ok());
  // First sync without a token: the pod cannot start (FailedMount says why).
  useTokens(
      core::unavailable("service account token for demo/serviceaccounttoken/builder expired "
                        "at 2026-12-07T10:00:00Z and the cloud is unreachable"));
  Status st = prepareVolumes(pod, *plan, in);
  ASSERT_FALSE(st.ok());
  PlanError err = planErrorFromStatus(st);
  EXPECT_EQ(err.reason, "FailedMount");
  EXPECT_NE(err.message.find("MountVolume.SetUp failed for volume \"kube-api-access-x7k2p\""),
            std::string::npos)
      << err.message;
  EXPECT_NE(err.message.find("failed to fetch token: service account token for "
                             "demo/serviceaccounttoken/builder expired at 2026-12-07T10:00:00Z"),
            std::string::npos)
      << err.message;
  EXPECT_FALSE(std::filesystem::exists(volume() + "/token"));

  // A token, then a failed refresh: the written file stays as it was.
  useTokens(std::string("valid.token.sig"));
  ASSERT_TRUE(prepareVolumes(pod, *plan, in).ok());
  useTokens(core::unavailable("cloud unreachable"));
  EXPECT_FALSE(prepareVolumes(pod, *plan, in).ok());
  EXPECT_EQ(testing::readFile(volume() + "/token"), "valid.token.sig");

  // No token source at all is an error too, never a pod without its token.
  in.tokens = nullptr;
  EXPECT_FALSE(prepareVolumes(pod, *plan, in).ok());
}

}  // namespace
}  // namespace edgecore::edged
