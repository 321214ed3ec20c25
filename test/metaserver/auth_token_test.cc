// ServiceAccount token authentication (src/metaserver/auth/service_account_token.cc) with real
// OpenSSL keys and signatures and the real SQLite store holding the objects a token is bound to.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>

#include "auth/jws.h"
#include "auth/jws_verify.h"
#include "auth/known_tokens.h"
#include "auth/service_account_token.h"
#include "edgecore/core/base64.h"
#include "metaserver/auth_fixtures.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver::auth {
namespace {

using edgecore::testing::boundPod;
using edgecore::testing::kIssuer;
using edgecore::testing::kPods;
using edgecore::testing::kSaUid;
using edgecore::testing::kServiceAccountAccesses;
using edgecore::testing::kServiceAccounts;
using edgecore::testing::makePod;
using edgecore::testing::makeRsaKey;
using edgecore::testing::makeServiceAccount;
using edgecore::testing::RsaKeyPair;
using edgecore::testing::saClaims;
using edgecore::testing::signJwtRs256;
using edgecore::testing::SqliteTestStore;
using nlohmann::json;
using ::testing::HasSubstr;

// Signs with any algorithm OpenSSL can do, for the non-RS256 cases.
std::string signJws(const std::string& alg, const json& claims, EVP_PKEY* key) {
  std::string input = core::base64UrlEncode(json({{"alg", alg}, {"typ", "JWT"}}).dump()) + "." +
                      core::base64UrlEncode(claims.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key), 1);
  if (alg == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
  }
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg == "ES256") {  // DER -> JOSE r||s
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    unsigned char rs[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), rs + 32, 32);
    ECDSA_SIG_free(ecdsa);
    sig.assign(reinterpret_cast<char*>(rs), 64);
  }
  return input + "." + core::base64UrlEncode(sig);
}

EVP_PKEY* readPrivate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

class TokenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new RsaKeyPair(makeRsaKey());
    other_key_ = new RsaKeyPair(makeRsaKey());
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_key_;
  }
  void SetUp() override {
    store_.put(kPods, makePod(boundPod()));
    store_.put(kServiceAccounts, makeServiceAccount("default", "app"));
  }

  ServiceAccountTokenOptions options() {
    ServiceAccountTokenOptions o;
    o.issuers = {kIssuer};
    auto keys = parsePublicKeysPem(key_->public_pem);
    EXPECT_TRUE(keys.ok()) << keys.status().toString();
    o.keys = *keys;
    return o;
  }
  core::Result<UserInfo> authenticate(const std::string& token) {
    ServiceAccountTokenAuthenticator authn(options(), *store_, clock_);
    return authn.authenticate(token);
  }
  std::string sign(const json& claims) { return signJwtRs256(claims, key_->private_pem); }
  void expectRefused(const std::string& token, const std::string& why) {
    auto r = authenticate(token);
    ASSERT_FALSE(r.ok()) << "accepted a token that should fail: " << why;
    EXPECT_EQ(r.status().code(), core::StatusCode::Unauthenticated);
    EXPECT_THAT(r.status().message(), HasSubstr(why));
  }

  static RsaKeyPair* key_;
  static RsaKeyPair* other_key_;
  SqliteTestStore store_;
  core::SystemClock clock_;
};
RsaKeyPair* TokenTest::key_ = nullptr;
RsaKeyPair* TokenTest::other_key_ = nullptr;

TEST_F(TokenTest, ValidBoundTokenIsTheServiceAccountUser) {
  auto user = authenticate(sign(saClaims()));
  ASSERT_TRUE(user.ok()) << user.status().toString();
  EXPECT_EQ(user->name, "system:serviceaccount:default:app");
  EXPECT_EQ(user->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:default",
                                      "system:authenticated"}));
}

TEST_F(TokenTest, ForgedSignatureIsRefused) {
  expectRefused(signJwtRs256(saClaims(), other_key_->private_pem), "signature does not verify");
  // A real signature over other claims, with the claims swapped for an admin's.
  std::string good = sign(saClaims());
  json admin = saClaims("admin");
  std::string tampered = good.substr(0, good.find('.')) + "." +
                         core::base64UrlEncode(admin.dump()) + good.substr(good.rfind('.'));
  expectRefused(tampered, "signature does not verify");
}

TEST_F(TokenTest, WrongIssuerAndAudienceAreRefused) {
  json claims = saClaims();
  claims["iss"] = "https://evil.example.com";
  expectRefused(sign(claims), "issuer");
  claims = saClaims();
  claims["aud"] = json::array({"vault"});
  expectRefused(sign(claims), "audiences");
  claims["aud"] = "vault";
  expectRefused(sign(claims), "audiences");
  // No aud: the implicit audiences (apiAudiences) apply, as v1.20 does.
  claims.erase("aud");
  EXPECT_TRUE(authenticate(sign(claims)).ok());
}

TEST_F(TokenTest, ExpiredAndNotYetValidAreRefusedWithinLeeway) {
  json claims = saClaims();
  claims["exp"] = edgecore::testing::unixNow(std::chrono::seconds(-120));
  expectRefused(sign(claims), "expired");
  claims["exp"] = edgecore::testing::unixNow(std::chrono::seconds(-30));  // inside 60 s leeway
  EXPECT_TRUE(authenticate(sign(claims)).ok());
  claims = saClaims();
  claims["nbf"] = edgecore::testing::unixNow(std::chrono::seconds(600));
  expectRefused(sign(claims), "not valid yet");
  claims = saClaims();
  claims["exp"] = "tomorrow";
  expectRefused(sign(claims), "not a number");
}

TEST_F(TokenTest, AlgNoneAndUnknownAlgorithmsAreRefused) {
  std::string payload = core::base64UrlEncode(saClaims().dump());
  std::string none_header = core::base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  expectRefused(none_header + "." + payload + ".", "empty part");
  expectRefused(none_header + "." + payload + ".AAAA", "algorithm none");
  // HS256 keyed with the public key text (the classic algorithm-confusion forgery).
  std::string hs_header = core::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  expectRefused(hs_header + "." + payload + ".c2lnbmF0dXJl", "algorithm HS256");
}

TEST_F(TokenTest, GarbageAndOversizedInputAreRefused) {
  for (std::string bad : {"", "abc", "a.b", "a.b.c.d", "....", "!!!.@@@.###", "e30.e30.e30",
                          "W10.W10.AAAA", "bnVsbA.bnVsbA.AAAA"}) {
    auto r = authenticate(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  json claims = saClaims();
  claims["padding"] = std::string(20000, 'x');
  expectRefused(sign(claims), "too large");
  EXPECT_FALSE(parseJws(std::string(1 << 20, 'a')).ok());
}

TEST_F(TokenTest, TokenMustBeBoundToLiveObjects) {
  // Pod gone (deleted from the store): invalidated.
  json claims = saClaims();
  claims["kubernetes.io"]["pod"]["name"] = "other-pod";
  expectRefused(sign(claims), "invalidated");
  // Pod recreated under the same name (new uid).
  claims = saClaims();
  claims["kubernetes.io"]["pod"]["uid"] = "00000000-0000-4000-8000-000000000000";
  expectRefused(sign(claims), "pod uid does not match");
  // Service account recreated (new uid) or unknown.
  claims = saClaims();
  claims["kubernetes.io"]["serviceaccount"]["uid"] = "00000000-0000-4000-8000-000000000001";
  expectRefused(sign(claims), "service account uid");
  expectRefused(sign(saClaims("ghost")), "not found");
  // A token bound to a secret needs that secret.
  claims = saClaims();
  claims["kubernetes.io"]["secret"] = {{"name", "app-token"}, {"uid", "1"}};
  expectRefused(sign(claims), "invalidated");
  // No kubernetes.io claims at all.
  claims = saClaims();
  claims.erase("kubernetes.io");
  expectRefused(sign(claims), "no kubernetes.io");
}

TEST_F(TokenTest, DeletedPodNoLongerBacksItsToken) {
  auto pod = boundPod();
  pod.deleting = true;  // deletionTimestamp long past
  store_.put(kPods, makePod(pod));
  expectRefused(sign(saClaims()), "invalidated");
}

TEST_F(TokenTest, ServiceAccountFromServiceAccountAccess) {
  // The policycontroller's object names the account and its uid (v1.20's edge source).
  json access = {
      {"apiVersion", "policy.kubeedge.io/v1alpha1"},
      {"kind", "ServiceAccountAccess"},
      {"metadata", {{"name", "robot"}, {"namespace", "default"}, {"uid", "x"}}},
      {"spec",
       {{"serviceAccount", {{"metadata", {{"name", "robot"}, {"namespace", "default"}}}}},
        {"serviceAccountUid", kSaUid}}}};
  store_.put(kServiceAccountAccesses, access.dump());
  auto user = authenticate(sign(saClaims("robot")));
  ASSERT_TRUE(user.ok()) << user.status().toString();
  EXPECT_EQ(user->name, "system:serviceaccount:default:robot");
}

TEST_F(TokenTest, OtherAlgorithmsAndKeyFormats) {
  // ES256 with an EC P-256 key given as a certificate-less PUBLIC KEY block.
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, ec);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string ec_pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  auto o = options();
  auto ec_keys = parsePublicKeysPem(ec_pem + key_->private_pem);  // several blocks, one file
  ASSERT_TRUE(ec_keys.ok()) << ec_keys.status().toString();
  EXPECT_EQ(ec_keys->size(), 2u);
  o.keys = *ec_keys;
  ServiceAccountTokenAuthenticator authn(o, *store_, clock_);
  EXPECT_TRUE(authn.authenticate(signJws("ES256", saClaims(), ec)).ok());
  EXPECT_TRUE(authn.authenticate(sign(saClaims())).ok());  // RS256 with the private key's half
  EVP_PKEY* rsa = readPrivate(key_->private_pem);
  EXPECT_TRUE(authn.authenticate(signJws("PS256", saClaims(), rsa)).ok());
  // An RSA signature labelled ES256 never verifies with the EC key.
  std::string rs = sign(saClaims());
  std::string relabelled = core::base64UrlEncode(R"({"alg":"ES256"})") + rs.substr(rs.find('.'));
  EXPECT_FALSE(authn.authenticate(relabelled).ok());
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  EXPECT_FALSE(parsePublicKeysPem("not a pem").ok());
  EXPECT_FALSE(
      parsePublicKeysPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());
}

TEST_F(TokenTest, WithoutKeyFilesOnlyTokensTheNodeObtainedAreAccepted) {
  auto o = options();
  o.keys.clear();
  std::string token = sign(saClaims());
  std::string forged = signJwtRs256(saClaims(), other_key_->private_pem);
  o.known_token = [&](std::string_view t) { return t == token; };
  ServiceAccountTokenAuthenticator authn(o, *store_, clock_);
  EXPECT_TRUE(authn.authenticate(token).ok());
  auto r = authn.authenticate(forged);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not found"));
  o.known_token = nullptr;
  ServiceAccountTokenAuthenticator none(o, *store_, clock_);
  EXPECT_FALSE(none.authenticate(token).ok());
}

// Successes are cached 10 s (kube-apiserver's token cache), never past the token's exp: a pod
// deleted meanwhile stops its token once the entry lapses.
TEST_F(TokenTest, CachedSuccessLapsesAfterTtlAndAtExpiry) {
  core::ManualClock clock(std::chrono::system_clock::now());
  ServiceAccountTokenAuthenticator authn(options(), *store_, clock);
  std::string token = sign(saClaims());
  ASSERT_TRUE(authn.authenticate(token).ok());
  store_.remove({kPods, "default", boundPod().name});
  EXPECT_TRUE(authn.authenticate(token).ok());  // from the cache
  clock.advance(std::chrono::seconds(11));
  auto r = authn.authenticate(token);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("invalidated"));

  // A token expiring in 5 s (+60 s leeway) is not served from the cache after that.
  store_.put(kPods, makePod(boundPod()));
  json claims = saClaims();
  claims["exp"] = edgecore::testing::unixNow(std::chrono::seconds(-58));
  std::string short_lived = sign(claims);
  core::ManualClock clock2(std::chrono::system_clock::now());
  ServiceAccountTokenAuthenticator authn2(options(), *store_, clock2);
  ASSERT_TRUE(authn2.authenticate(short_lived).ok());
  clock2.advance(std::chrono::seconds(5));
  EXPECT_FALSE(authn2.authenticate(short_lived).ok());
}

// The no-key-files set: digests of the status.token of the stored serviceaccounttoken answers
// (the v1 `meta` rows metamanager caches), read back from the real SQLite file.
TEST_F(TokenTest, KnownTokensComeFromStoredTokenRequests) {
  std::string token = sign(saClaims());
  metamanager::WriteOp row;
  row.kind = metamanager::WriteOp::Kind::UpsertMeta;
  row.key = "default/serviceaccounttoken/app";
  row.type = "serviceaccounttoken";
  row.value =
      json({{"apiVersion", "authentication.k8s.io/v1"},
            {"kind", "TokenRequest"},
            {"status", {{"token", token}, {"expirationTimestamp", "2030-01-01T00:00:00Z"}}}})
          .dump();
  ASSERT_TRUE(store_.submitAndWait({row}).ok());
  boost::asio::thread_pool pool(1);
  auto known = std::make_shared<KnownTokens>(*store_, pool);
  EXPECT_FALSE(known->contains(token));  // not loaded yet
  known->refreshNow();
  EXPECT_TRUE(known->contains(token));
  EXPECT_FALSE(known->contains(token + "x"));
  pool.join();
}

}  // namespace
}  // namespace edgecore::metaserver::auth
