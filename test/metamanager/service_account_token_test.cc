// The ServiceAccount token cache key, pinned byte for byte against what KubeEdge v1.20's
// client.KeyFunc (Go fmt "%q/%q/%#v/%#v/%#v") prints, so a database the original wrote is read
// by us and the other way round (spec local-apis 2.3).

#include "metamanager/service_account_token.h"

#include <gtest/gtest.h>

namespace edgecore::metamanager {
namespace {

using nlohmann::json;

std::string keyOf(std::string_view name, std::string_view ns, const json& tr) {
  auto key = serviceAccountTokenKey(name, ns, tr);
  EXPECT_TRUE(key.ok()) << key.status().toString();
  return key.ok() ? *key : std::string();
}

json podRef(std::string name, std::string uid) {
  return {
      {"kind", "Pod"}, {"apiVersion", "v1"}, {"name", std::move(name)}, {"uid", std::move(uid)}};
}

TEST(ServiceAccountTokenKey, TheSpecExample) {
  json tr = {{"spec",
              {{"audiences", {"https://kubernetes.default.svc.cluster.local"}},
               {"expirationSeconds", 3607},
               {"boundObjectRef", podRef("p", "1234")}}}};
  EXPECT_EQ(keyOf("default", "kube-system", tr),
            R"("default"/"kube-system"/[]string{"https://kubernetes.default.svc.cluster.local"})"
            R"(/3607/v1.BoundObjectReference{Kind:"Pod", APIVersion:"v1", Name:"p", UID:"1234"})");
}

TEST(ServiceAccountTokenKey, NilAudiencesNoExpirationNoRef) {
  // What the kubelet sends for a source without audience: a nil slice, printed as such.
  EXPECT_EQ(keyOf("default", "default", json{{"spec", json::object()}}),
            R"("default"/"default"/[]string(nil)/0/)"
            R"(v1.BoundObjectReference{Kind:"", APIVersion:"", Name:"", UID:""})");
  // No spec at all, and an explicit null, are the same nil slice.
  EXPECT_EQ(keyOf("sa", "ns", json::object()),
            R"("sa"/"ns"/[]string(nil)/0/)"
            R"(v1.BoundObjectReference{Kind:"", APIVersion:"", Name:"", UID:""})");
  EXPECT_EQ(keyOf("sa", "ns", json{{"spec", {{"audiences", nullptr}}}}),
            keyOf("sa", "ns", json::object()));
}

TEST(ServiceAccountTokenKey, EmptyAndSeveralAudiences) {
  json empty = {{"spec", {{"audiences", json::array()}, {"expirationSeconds", 600}}}};
  EXPECT_EQ(keyOf("a", "b", empty),
            R"("a"/"b"/[]string{}/600/)"
            R"(v1.BoundObjectReference{Kind:"", APIVersion:"", Name:"", UID:""})");
  json two = {{"spec",
               {{"audiences", {"api", "vault"}},
                {"expirationSeconds", 3600},
                {"boundObjectRef", podRef("web-0", "6a0b1f3e-6c1e-4f57-9a55-0d3c2f6f0b01")}}}};
  EXPECT_EQ(
      keyOf("builder", "ci", two),
      R"("builder"/"ci"/[]string{"api", "vault"}/3600/v1.BoundObjectReference{)"
      R"(Kind:"Pod", APIVersion:"v1", Name:"web-0", UID:"6a0b1f3e-6c1e-4f57-9a55-0d3c2f6f0b01"})");
}

TEST(ServiceAccountTokenKey, FromTheQueryResource) {
  json tr = {{"spec", {{"expirationSeconds", 3607}, {"boundObjectRef", podRef("p", "u")}}}};
  auto key = serviceAccountTokenKeyOf("kube-system/serviceaccounttoken/default", tr);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, R"("default"/"kube-system"/[]string(nil)/3607/)"
                  R"(v1.BoundObjectReference{Kind:"Pod", APIVersion:"v1", Name:"p", UID:"u"})");
  EXPECT_FALSE(serviceAccountTokenKeyOf("serviceaccounttoken/default", tr).ok());
  EXPECT_FALSE(serviceAccountTokenKeyOf("a/serviceaccounttoken/b/c", tr).ok());
}

TEST(ServiceAccountTokenKey, WrongTypesAreRefused) {
  EXPECT_FALSE(serviceAccountTokenKey("a", "b", json("x")).ok());
  EXPECT_FALSE(serviceAccountTokenKey("a", "b", json{{"spec", 1}}).ok());
  EXPECT_FALSE(serviceAccountTokenKey("a", "b", json{{"spec", {{"audiences", "x"}}}}).ok());
  EXPECT_FALSE(serviceAccountTokenKey("a", "b", json{{"spec", {{"audiences", {1}}}}}).ok());
  EXPECT_FALSE(
      serviceAccountTokenKey("a", "b", json{{"spec", {{"expirationSeconds", "3600"}}}}).ok());
  EXPECT_FALSE(serviceAccountTokenKey("a", "b", json{{"spec", {{"boundObjectRef", 5}}}}).ok());
}

TEST(GoQuote, EscapesAsStrconvQuote) {
  EXPECT_EQ(goQuote(""), R"("")");
  EXPECT_EQ(goQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(goQuote("\a\b\f\n\r\t\v"), R"("\a\b\f\n\r\t\v")");
  EXPECT_EQ(goQuote(std::string("\x01\x1f\x7f", 3)), R"("\x01\x1f\x7f")");
  EXPECT_EQ(goQuote(std::string("\0", 1)), R"("\x00")");
  // Bytes that are not UTF-8 (a lone continuation byte, 0xff, a truncated sequence).
  EXPECT_EQ(goQuote("\x80z\xff"), R"("\x80z\xff")");
  EXPECT_EQ(goQuote("\xc3"), R"("\xc3")");
  // Printable non-ASCII stays as is; non-printable code points get \u.
  EXPECT_EQ(goQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(goQuote("\xc2\xa0"), R"("\u00a0")");
  EXPECT_EQ(goQuote("\xe2\x80\xa8"), R"("\u2028")");
  EXPECT_EQ(goQuote("\xef\xbb\xbf"), R"("\ufeff")");
  // A surrogate encoded in UTF-8 is invalid: three \x escapes.
  EXPECT_EQ(goQuote("\xed\xa0\x80"), R"("\xed\xa0\x80")");
}

TEST(TokenExpiry, ReadsTheStatus) {
  json tr = {{"status", {{"token", "t"}, {"expirationTimestamp", "2026-12-07T14:00:00Z"}}}};
  auto exp = tokenExpiry(tr);
  ASSERT_TRUE(exp.ok());
  EXPECT_EQ(core::formatRfc3339(*exp), "2026-12-07T14:00:00Z");
  EXPECT_FALSE(
      tokenExpiry(json{{"status", {{"expirationTimestamp", "2026-12-07T14:00:00Z"}}}}).ok());
  EXPECT_FALSE(tokenExpiry(json{{"status", {{"token", "t"}}}}).ok());
  EXPECT_FALSE(tokenExpiry(json{{"status", {{"token", "t"}, {"expirationTimestamp", "x"}}}}).ok());
  EXPECT_FALSE(tokenExpiry(json::array()).ok());
}

}  // namespace
}  // namespace edgecore::metamanager
