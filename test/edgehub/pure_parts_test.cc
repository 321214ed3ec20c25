// Token bucket, backoff, endpoint parsing, bootstrap token, config edit: no I/O.

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "backoff.h"
#include "config_edit.h"
#include "crypto.h"
#include "endpoint.h"
#include "token_bucket.h"

namespace edgecore::edgehub {
namespace {

using namespace std::chrono_literals;

TEST(EdgeHubTokenBucket, BurstThenRate) {
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  TokenBucket b(30, 60, t0);
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(b.tryTake(t0).count(), 0) << i;
  }
  auto wait = b.tryTake(t0);
  EXPECT_GT(wait, 30ms);
  EXPECT_LE(wait, 34ms);
  EXPECT_EQ(b.tryTake(t0 + 34ms).count(), 0);
  EXPECT_GT(b.tryTake(t0 + 34ms).count(), 0);
  // Refill caps at the burst.
  EXPECT_NEAR(b.tokensForTest(t0 + 1h), 60.0, 1e-9);
}

TEST(EdgeHubTokenBucket, NonPositiveQpsDisablesLimit) {
  TokenBucket b(0, 1, {});
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(b.tryTake({}).count(), 0);
  }
}

TEST(EdgeHubBackoff, FirstRetryWithinOneSecondAndCapped) {
  Backoff b(500ms, 30s, 42);
  auto first = b.next();
  EXPECT_GE(first, 250ms);
  EXPECT_LE(first, 500ms);
  // First minute of an outage: never more than 1.5 s between attempts.
  std::chrono::milliseconds waited = first;
  while (waited < 60s) {
    auto d = b.next();
    EXPECT_LE(d, 1500ms);
    waited += d;
  }
  // Then growth up to the cap.
  std::chrono::milliseconds last{};
  for (int i = 0; i < 40; ++i) {
    last = b.next();
    EXPECT_LE(last, 30s);
  }
  EXPECT_GE(last, 15s);
  b.reset();
  EXPECT_LE(b.next(), 500ms);
}

TEST(EdgeHubEndpoint, ParsesIpv4Ipv6AndNames) {
  auto a = parseEndpoint("192.168.1.10:10000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "192.168.1.10");
  EXPECT_EQ(a->port, "10000");
  EXPECT_TRUE(a->is_ip);
  auto b = parseEndpoint("[::1]:10000");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_TRUE(b->is_ip);
  EXPECT_EQ(b->authority, "[::1]:10000");
  auto c = parseEndpoint("https://cloud.example:10002/");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "cloud.example");
  EXPECT_FALSE(c->is_ip);
  EXPECT_EQ(c->authority, "cloud.example:10002");
  EXPECT_FALSE(parseEndpoint("::1:10000").ok());
  EXPECT_FALSE(parseEndpoint("host").ok());
  EXPECT_FALSE(parseEndpoint("host:0").ok());
  EXPECT_FALSE(parseEndpoint("host:99999").ok());
  EXPECT_FALSE(parseEndpoint(":10000").ok());
}

std::string b64url(std::string_view s) {
  std::string pem = pemEncode(s, "X");
  std::string out;
  for (char c : pem.substr(pem.find('\n') + 1)) {
    if (c == '-') break;
    if (c == '\n' || c == '=') continue;
    out.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  return out;
}

TEST(EdgeHubToken, ParsesHashJwtAndExpiry) {
  std::string hash(64, 'a');
  std::string jwt =
      b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(R"({"exp":1700000000})") + ".sig";
  auto t = parseBootstrapToken(hash + "." + jwt);
  ASSERT_TRUE(t.ok()) << t.status().toString();
  EXPECT_EQ(t->ca_hash, hash);
  EXPECT_EQ(t->jwt, jwt);
  EXPECT_EQ(t->expires_unix, 1700000000);

  EXPECT_FALSE(parseBootstrapToken("abc.def").ok());
  EXPECT_FALSE(parseBootstrapToken(std::string(63, 'a') + ".a.b.c").ok());
  EXPECT_FALSE(parseBootstrapToken(std::string(64, 'z') + ".a.b.c").ok());
  auto no_exp = parseBootstrapToken(hash + ".a.b.c");
  ASSERT_TRUE(no_exp.ok());
  EXPECT_FALSE(no_exp->expires_unix.has_value());
}

TEST(EdgeHubCrypto, CsrHasTheOriginalSubject) {
  auto kc = makeNodeKeyAndCsr("edge-1");
  ASSERT_TRUE(kc.ok()) << kc.status().toString();
  EXPECT_NE(kc->key_pem.find("-----BEGIN EC PRIVATE KEY-----"), std::string::npos);
  const auto* p = reinterpret_cast<const unsigned char*>(kc->csr_der.data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(kc->csr_der.size()));
  ASSERT_NE(req, nullptr);
  char* line = X509_NAME_oneline(X509_REQ_get_subject_name(req), nullptr, 0);
  EXPECT_STREQ(line, "/C=CN/O=system:nodes/L=Hangzhou/ST=Zhejiang/CN=system:node:edge-1");
  OPENSSL_free(line);
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  EXPECT_EQ(X509_REQ_verify(req, pub), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
  X509_REQ_free(req);
}

TEST(EdgeHubCrypto, RotationFallsBetween70And90Percent) {
  CertInfo c;
  c.not_before = std::chrono::system_clock::time_point{} + 1000h;
  c.not_after = c.not_before + 1000h;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    auto d = rotationDeadline(c, rng);
    EXPECT_GE(d, c.not_before + 700h);
    EXPECT_LE(d, c.not_before + 900h);
  }
}

TEST(EdgeHubConfigEdit, BlanksOnlyTheTokenLine) {
  const std::string in =
      "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
      "# keep me\n"
      "modules:\n"
      "  edged:\n"
      "    token: not-this-one\n"
      "  edgeHub:\n"
      "    enable: true\n"
      "    # the token below\n"
      "    token: abc.def.ghi.jkl   # comment\n"
      "    websocket:\n"
      "      token: nor-this\n"
      "  eventBus:\n"
      "    enable: false\n";
  auto out = blankTokenInYaml(in);
  ASSERT_TRUE(out.has_value());
  std::string want = in;
  want.replace(want.find("    token: abc"),
               std::string("    token: abc.def.ghi.jkl   # comment").size(), "    token: \"\"");
  EXPECT_EQ(*out, want);
  EXPECT_FALSE(blankTokenInYaml("modules:\n  edgeHub: {token: x}\n").has_value());
  EXPECT_FALSE(blankTokenInYaml("a: b\n").has_value());
  auto crlf = blankTokenInYaml("modules:\r\n  edgeHub:\r\n    token: x\r\n");
  ASSERT_TRUE(crlf.has_value());
  EXPECT_EQ(*crlf, "modules:\r\n  edgeHub:\r\n    token: \"\"\r\n");
}

}  // namespace
}  // namespace edgecore::edgehub
