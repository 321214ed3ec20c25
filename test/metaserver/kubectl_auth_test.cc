// requireAuthorization against real kubectl: a real MetaServer with the authorization chain on
// its own HTTPS listener (MetaServerOptions::tls, a serving certificate for 127.0.0.1 made here;
// kubectl sends bearer tokens only over TLS), the real SQLite store holding the ServiceAccount,
// the pod its token is bound to and the RBAC objects, and tokens signed with a real RSA key whose
// public half MetaServer reads from a key file (serviceAccountKeyFiles).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <thread>

#include "auth/authorization_chain.h"
#include "edgecore/metaserver/meta_server.h"
#include "metaserver/auth_fixtures.h"
#include "pki.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver {
namespace {

using edgecore::testing::boundPod;
using edgecore::testing::kIssuer;
using edgecore::testing::kPods;
using edgecore::testing::kRoleBindings;
using edgecore::testing::kRoles;
using edgecore::testing::kServiceAccounts;
using edgecore::testing::makePod;
using edgecore::testing::makeRole;
using edgecore::testing::makeRoleBinding;
using edgecore::testing::makeRsaKey;
using edgecore::testing::makeServiceAccount;
using edgecore::testing::runCommand;
using edgecore::testing::saClaims;
using edgecore::testing::saSubject;
using edgecore::testing::signJwtRs256;
using edgecore::testing::SqliteTestStore;
using nlohmann::json;
using ::testing::HasSubstr;

// The serving certificate made by the test, for every handshake.
class FixedCertificate final : public ServingCertificateSource {
 public:
  explicit FixedCertificate(ServingCertificateSharedPtr cert) : cert_(std::move(cert)) {}
  ServingCertificateSharedPtr current() const override { return cert_; }

 private:
  ServingCertificateSharedPtr cert_;
};

class KubectlAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new edgecore::testing::RsaKeyPair(makeRsaKey());
    forger_ = new edgecore::testing::RsaKeyPair(makeRsaKey());
  }
  static void TearDownTestSuite() {
    delete key_;
    delete forger_;
  }
  void SetUp() override {
    setenv("HOME", home_.path().c_str(), 1);  // kubectl's discovery cache, per test
    unsetenv("KUBECONFIG");
    store_.put(kPods, makePod(boundPod()));
    store_.put(kServiceAccounts, makeServiceAccount("default", "app"));
    std::string key_file = home_.file("sa.pub");
    std::ofstream(key_file) << key_->public_pem;

    auth::AuthorizationChainOptions auth_options;
    auth_options.node_name = "edge-1";
    auth_options.tokens.issuers = {kIssuer};
    auto keys = auth::loadPublicKeysFile(key_file);
    ASSERT_TRUE(keys.ok()) << keys.status().toString();
    auth_options.tokens.keys = *keys;
    // requireAuthorization's transport: HTTPS with a serving certificate for 127.0.0.1 from a
    // CA of the test's own, which kubectl is given with --certificate-authority. kubectl sends no
    // client certificate, so the bearer token is its only credential.
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    ca_pem_ = pki->ca_cert_pem;
    ca_file_ = home_.file("ca.crt");
    std::ofstream(ca_file_) << ca_pem_;
    auto tls = std::make_shared<MetaServerTls>();
    tls->certificate = std::make_shared<FixedCertificate>(std::make_shared<ServingCertificate>(
        ServingCertificate{pki->server_cert_pem, pki->server_key_pem, ""}));
    tls->client_ca_pem = ca_pem_;

    MetaServerOptions options;
    options.port = 0;
    options.authorizer =
        std::make_shared<auth::AuthorizationChain>(auth_options, *store_, clock_, nullptr);
    options.tls = tls;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, offline_, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    server_->setReady(true);
    thread_ = std::thread([this] { ioc_.run(); });
    server_url_ = "https://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  edgecore::testing::ProcessResult kubectl(const std::string& token,
                                           std::vector<std::string> extra) {
    std::vector<std::string> a = {
        KUBECTL,  "--server",          server_url_, "--certificate-authority",
        ca_file_, "--request-timeout", "10s"};
    if (!token.empty()) {
      a.push_back("--token");
      a.push_back(token);
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return runCommand(a, std::chrono::seconds(30));
  }
  std::string goodToken() { return signJwtRs256(saClaims(), key_->private_pem); }
  void grantPodReading() {
    store_.put(kRoles, makeRole("default", "pod-reader",
                                json::array({{{"apiGroups", {""}},
                                              {"resources", {"pods"}},
                                              {"verbs", {"get", "list", "watch"}}}})));
    store_.put(kRoleBindings, makeRoleBinding("default", "app-reads-pods", "Role", "pod-reader",
                                              json::array({saSubject("app")})));
  }

  // The same request without kubectl, over HTTPS to the same listener.
  std::pair<int, std::string> raw(const std::string& target, const std::string& token) {
    return edgecore::testing::httpsGet(server_->port(), ca_pem_, target, token);
  }

  static edgecore::testing::RsaKeyPair* key_;
  static edgecore::testing::RsaKeyPair* forger_;
  edgecore::testing::TempDir home_;
  SqliteTestStore store_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::thread thread_;
  MetaServerPtr server_;
  std::string ca_pem_;
  std::string ca_file_;
  std::string server_url_;
};
edgecore::testing::RsaKeyPair* KubectlAuthTest::key_ = nullptr;
edgecore::testing::RsaKeyPair* KubectlAuthTest::forger_ = nullptr;

TEST_F(KubectlAuthTest, RoleBindingAllowsServiceAccountToken) {
  grantPodReading();
  auto r = kubectl(goodToken(), {"get", "pods", "-n", "default"});
  EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err;
  EXPECT_THAT(r.out, HasSubstr("web-0"));
  // The listener kubectl used is MetaServer's HTTPS one: plain HTTP gets no answer there.
  EXPECT_EQ(
      edgecore::testing::httpGet(server_->port(), "/api/v1/namespaces/default/pods", goodToken())
          .first,
      0);
  // Only what the Role says: secrets stay forbidden.
  auto secrets = kubectl(goodToken(), {"get", "secrets", "-n", "default"});
  EXPECT_NE(secrets.exit_code, 0);
  EXPECT_THAT(secrets.err, HasSubstr("Error from server (Forbidden): secrets is forbidden: User "
                                     "\"system:serviceaccount:default:app\" cannot list resource "
                                     "\"secrets\" in API group \"\" in the namespace \"default\""));
}

TEST_F(KubectlAuthTest, WithoutRoleBindingForbidden) {
  auto r = kubectl(goodToken(), {"get", "pods", "-n", "default"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.err, HasSubstr("Error from server (Forbidden): pods is forbidden: User "
                               "\"system:serviceaccount:default:app\" cannot list resource "
                               "\"pods\" in API group \"\" in the namespace \"default\""));
  auto [code, body] = raw("/api/v1/namespaces/default/pods", goodToken());
  EXPECT_EQ(code, 403);
  json status = json::parse(body, nullptr, false);
  EXPECT_EQ(status.value("kind", ""), "Status") << body;
  EXPECT_EQ(status.value("reason", ""), "Forbidden");
  EXPECT_EQ(status.value("code", 0), 403);
}

TEST_F(KubectlAuthTest, ForgedExpiredOrMissingTokenUnauthorized) {
  grantPodReading();
  json expired = saClaims();
  expired["iat"] = edgecore::testing::unixNow(std::chrono::hours(-3));
  expired["nbf"] = expired["iat"];
  expired["exp"] = edgecore::testing::unixNow(std::chrono::hours(-2));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"forged", signJwtRs256(saClaims(), forger_->private_pem)},
      {"expired", signJwtRs256(expired, key_->private_pem)},
      {"missing", ""}};
  for (const auto& [what, token] : bad) {
    // kubectl without any credentials answers a 401 by prompting for a password on stdin, so
    // the missing-token case is checked on the wire only.
    if (!token.empty()) {
      auto r = kubectl(token, {"get", "pods", "-n", "default"});
      EXPECT_NE(r.exit_code, 0) << what << ": " << r.out;
      EXPECT_THAT(r.err, HasSubstr("error: You must be logged in to the server")) << what;
    }
    auto [code, body] = raw("/api/v1/namespaces/default/pods", token);
    EXPECT_EQ(code, 401) << what;
    json status = json::parse(body, nullptr, false);
    EXPECT_EQ(status.value("reason", ""), "Unauthorized") << what << ": " << body;
  }
  // The same pod list with the valid token still works, so the refusals above are the token's.
  EXPECT_EQ(kubectl(goodToken(), {"get", "pods", "-n", "default"}).exit_code, 0);
}

}  // namespace
}  // namespace edgecore::metaserver
