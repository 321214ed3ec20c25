// The simulated API server's ServiceAccount tokens: RS256 JWTs that verify with the published
// public key and carry kube-apiserver's claims; the TokenRequest answer as CloudCore sends it.

#include "sa_token_issuer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>

#include "cloud_logic.h"
#include "edgecore/core/base64.h"
#include "pki.h"
#include "util/jwt_signer.h"

namespace edgecore::cloudsim {
namespace {

using nlohmann::json;

// Verifies an RS256 JWS with a PKIX public key PEM; the claims when it holds.
std::optional<json> verifyRs256(const std::string& jwt, const std::string& public_pem) {
  size_t a = jwt.find('.');
  size_t b = jwt.rfind('.');
  if (a == std::string::npos || a == b) {
    return std::nullopt;
  }
  auto header = core::base64UrlDecode(jwt.substr(0, a));
  auto claims = core::base64UrlDecode(jwt.substr(a + 1, b - a - 1));
  auto sig = core::base64UrlDecode(jwt.substr(b + 1));
  if (!header || !claims || !sig || json::parse(*header)["alg"] != "RS256") {
    return std::nullopt;
  }
  BIO* bio = BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const std::string input = jwt.substr(0, b);
  bool ok =
      key != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) {
    return std::nullopt;
  }
  return json::parse(*claims);
}

json podTokenRequest() {
  return json::parse(R"({"metadata": {"creationTimestamp": null},
    "spec": {"audiences": null, "expirationSeconds": 3607,
             "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "u-1"}},
    "status": {"token": "", "expirationTimestamp": null}})");
}

class TokenIssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = generateRsaKeyPem();
    ASSERT_TRUE(key.ok()) << key.status().toString();
    opts.signing_key_pem = *key;
    auto pub = publicKeyPemOf(*key);
    ASSERT_TRUE(pub.ok());
    public_pem = *pub;
  }
  TokenIssuerOptions opts;
  std::string public_pem;
};

TEST_F(TokenIssuerTest, SignedJwtWithKubeApiserverClaims) {
  const int64_t now = 1'800'000'000;
  auto tr = issueServiceAccountToken("demo", "builder", "sa-uid-1", podTokenRequest(), opts, now);
  ASSERT_TRUE(tr.ok()) << tr.status().toString();
  EXPECT_EQ((*tr)["kind"], "TokenRequest");
  EXPECT_EQ((*tr)["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ((*tr)["spec"]["expirationSeconds"], 3607);
  EXPECT_EQ((*tr)["spec"]["audiences"],
            json::array({"https://kubernetes.default.svc.cluster.local"}));
  EXPECT_EQ((*tr)["status"]["expirationTimestamp"], "2027-01-15T09:00:07Z");
  auto claims = verifyRs256((*tr)["status"]["token"].get<std::string>(), public_pem);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ((*claims)["iss"], "https://kubernetes.default.svc.cluster.local");
  EXPECT_EQ((*claims)["aud"], json::array({"https://kubernetes.default.svc.cluster.local"}));
  EXPECT_EQ((*claims)["sub"], "system:serviceaccount:demo:builder");
  EXPECT_EQ((*claims)["iat"], now);
  EXPECT_EQ((*claims)["nbf"], now);
  EXPECT_EQ((*claims)["exp"], now + 3607);
  EXPECT_EQ((*claims)["kubernetes.io"]["namespace"], "demo");
  EXPECT_EQ((*claims)["kubernetes.io"]["pod"], json({{"name", "web"}, {"uid", "u-1"}}));
  EXPECT_EQ((*claims)["kubernetes.io"]["serviceaccount"],
            json({{"name", "builder"}, {"uid", "sa-uid-1"}}));
  // Another key does not verify it.
  auto other = publicKeyPemOf(*generateRsaKeyPem());
  EXPECT_FALSE(verifyRs256((*tr)["status"]["token"].get<std::string>(), *other).has_value());
}

TEST_F(TokenIssuerTest, LifetimeCapAudiencesAndRefusals) {
  opts.max_lifetime = std::chrono::seconds(10);
  json req = podTokenRequest();
  req["spec"]["audiences"] = {"vault"};
  auto tr = issueServiceAccountToken("demo", "builder", "", req, opts, 1'800'000'000);
  ASSERT_TRUE(tr.ok());
  EXPECT_EQ((*tr)["spec"]["expirationSeconds"], 10);  // as kube-apiserver writes a capped grant
  auto claims = verifyRs256((*tr)["status"]["token"].get<std::string>(), public_pem);
  ASSERT_TRUE(claims);
  EXPECT_EQ((*claims)["exp"], 1'800'000'010);
  EXPECT_EQ((*claims)["aud"], json::array({"vault"}));
  EXPECT_EQ((*claims)["kubernetes.io"]["serviceaccount"]["uid"].get<std::string>().size(), 36u);

  req["spec"]["expirationSeconds"] = 599;
  EXPECT_EQ(issueServiceAccountToken("demo", "b", "", req, opts, 0).status().code(),
            core::StatusCode::InvalidArgument);
  req = podTokenRequest();
  req["spec"]["boundObjectRef"].erase("uid");
  EXPECT_FALSE(issueServiceAccountToken("demo", "b", "", req, opts, 0).ok());
  EXPECT_FALSE(
      issueServiceAccountToken("demo", "b", "", podTokenRequest(), TokenIssuerOptions{}, 0).ok());
  EXPECT_EQ(testing::signJwtRs256(json::object(), "not a key"), "");
}

TEST_F(TokenIssuerTest, CloudAnswersTheQueryWithTheTokenRequest) {
  ObjectStore store;
  AnswerOptions answer_opts;
  answer_opts.tokens = opts;
  core::Message q = core::Message::create("edged", "meta", "query",
                                          "demo/serviceaccounttoken/builder", podTokenRequest());
  Answer a = answerUpstream(q, "edge-1", store, answer_opts);
  ASSERT_TRUE(a.handled);
  ASSERT_EQ(a.replies.size(), 1u);
  const core::Message& r = a.replies[0].msg;
  EXPECT_FALSE(a.replies[0].content_is_error);
  EXPECT_EQ(r.header.parent_id, q.header.id);
  EXPECT_EQ(r.route.operation, "response");
  auto claims = verifyRs256(r.content["status"]["token"].get<std::string>(), public_pem);
  ASSERT_TRUE(claims);
  EXPECT_EQ((*claims)["kubernetes.io"]["pod"]["uid"], "u-1");
  // NoAck (message_dispatcher.go noAckRequired).
  EXPECT_FALSE(ackRequired(r, false));
  // A refused request is the API server's error.
  json bad = podTokenRequest();
  bad["spec"]["expirationSeconds"] = 5;
  Answer refused = answerUpstream(
      core::Message::create("edged", "meta", "query", "demo/serviceaccounttoken/builder", bad),
      "edge-1", store, answer_opts);
  ASSERT_EQ(refused.replies.size(), 1u);
  EXPECT_TRUE(refused.replies[0].content_is_error);
  EXPECT_EQ(refused.replies[0].msg.content["ErrStatus"]["code"], 422);
}

}  // namespace
}  // namespace edgecore::cloudsim
