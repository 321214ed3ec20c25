// The requireAuthorization wiring of the MetaServer module (src/metaserver/module.cc): the
// feature gate and modules.metaManager.metaServer's serviceAccountIssuers / serviceAccountKeyFiles
// decide whether and how requests are authenticated. Real daemon, real SQLite store, real HTTP.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <random>
#include <thread>

#include "cloudsim/pki.h"
#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/core/message.h"
#include "edgecore/metamanager/module.h"
#include "edgecore/metaserver/cloud_forwarder.h"
#include "edgecore/metaserver/module.h"
#include "metaserver/auth_fixtures.h"
#include "tls/x509_util.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class AuthModuleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { key_ = new RsaKeyPair(makeRsaKey()); }
  static void TearDownTestSuite() { delete key_; }
  void SetUp() override {
    port_ = static_cast<uint16_t>(freeLoopbackPort());
    config_ = core::defaultConfig(core::HostInfo{"edge-1", "127.0.0.1"});
    config_.modules.meta_manager.meta_server.enable = true;
    config_.modules.meta_manager.meta_server.server = "127.0.0.1:" + std::to_string(port_);
    config_.modules.meta_manager.meta_server.service_account_issuers = {kIssuer};
    key_file_ = store_.dir().file("sa.pub");
    std::ofstream(key_file_) << key_->public_pem;
    store_.put(kPods, makePod(boundPod()));
    store_.put(kServiceAccounts, makeServiceAccount("default", "app"));
    store_.put(
        kRoles,
        makeRole(
            "default", "pod-reader",
            json::array({{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"list"}}}})));
    store_.put(kRoleBindings, makeRoleBinding("default", "rb", "Role", "pod-reader",
                                              json::array({saSubject("app")})));
  }
  void TearDown() override {
    stop();
    ::unsetenv("EDGECORE_METASERVER_PKI_DIR");
  }

  // With `with_metamanager`, the real metamanager module runs too (cloud messages on the bus are
  // stored as in production).
  core::Status start(bool with_metamanager = false) {
    if (config_.feature_gates["requireAuthorization"]) prepareTls();
    daemon_ = std::make_unique<core::Daemon>(config_, loggers_, daemonOptions());
    std::vector<core::ModuleSpec> specs;
    if (with_metamanager) {
      core::ModuleSpec mm;
      mm.name = "metamanager";
      mm.enabled = true;
      mm.factory = [this](core::ModuleContext ctx) { return metamanager::create(ctx, *store_); };
      specs.push_back(std::move(mm));
    }
    core::ModuleSpec ms;
    ms.name = "metaserver";
    ms.enabled = true;
    ms.factory = [this](core::ModuleContext ctx) {
      return metaserver::createModule(ctx, *store_, offline_);
    };
    specs.push_back(std::move(ms));
    runner_ = std::thread([this, specs = std::move(specs)]() mutable {
      run_status_ = daemon_->run(std::move(specs));
      finished_ = true;
    });
    // Up when /healthz answers (it is open without credentials), or failed when run() returned.
    bool up = waitFor([&] { return finished_ || get("/healthz").first == 200; }, 10s, 20ms);
    if (finished_) return run_status_;
    return up ? core::Status() : core::unavailable("metaserver did not come up");
  }
  void stop() {
    if (!daemon_) return;
    daemon_->requestStop();
    runner_.join();
    daemon_.reset();
  }
  // The gate also turns on MetaServer's HTTPS transport (docs/security/mstls.md): a serving
  // certificate already stored (as after an earlier CSR) for 127.0.0.1 and a dummy address of
  // our own, in a directory of this test's, so no cloud is needed.
  void prepareTls() {
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok());
    std::mt19937 rng(std::random_device{}());
    const std::string dummy_ip =
        "169.254." + std::to_string(100 + rng() % 100) + "." + std::to_string(1 + rng() % 250);
    config_.modules.meta_manager.meta_server.dummy_server =
        dummy_ip + ":" + std::to_string(freeLoopbackPort());
    auto key = metaserver::tls::generateEcKeyPem();
    ASSERT_TRUE(key.ok());
    auto csr = metaserver::tls::makeCsrPem(*key, "system:node:edge-1", {"system:nodes"},
                                           {"127.0.0.1", dummy_ip});
    ASSERT_TRUE(csr.ok());
    auto der = cloudsim::csrPemToDer(*csr);
    ASSERT_TRUE(der.ok());
    auto cert = cloudsim::signCsr(*pki, *der, {1}, std::chrono::hours(1));
    ASSERT_TRUE(cert.ok());
    const std::string dir = store_.dir().path() + "/pki";
    ::mkdir(dir.c_str(), 0700);
    std::ofstream(dir + "/ca.crt") << pki->ca_cert_pem;
    std::ofstream(dir + "/metaserver-current.pem") << cloudsim::certDerToPem(*cert) << *key;
    ::setenv("EDGECORE_METASERVER_PKI_DIR", dir.c_str(), 1);
    ca_pem_ = pki->ca_cert_pem;
  }
  // GET over plain HTTP, or HTTPS verified against the metaserver CA once prepareTls ran.
  std::pair<int, std::string> get(const std::string& target, const std::string& token = "") {
    if (ca_pem_.empty()) return httpGet(port_, target, token);
    return httpsGet(port_, ca_pem_, target, token);
  }
  static core::DaemonOptions daemonOptions() {
    core::DaemonOptions o;
    o.handle_signals = false;
    return o;
  }
  std::string token() { return signJwtRs256(saClaims(), key_->private_pem); }
  int getPods(const std::string& token) {
    return get("/api/v1/namespaces/default/pods", token).first;
  }

  static RsaKeyPair* key_;
  SqliteTestStore store_;
  uint16_t port_ = 0;
  core::EdgeCoreConfig config_;
  std::string key_file_;
  core::LoggerFactory loggers_{spdlog::level::warn};
  metaserver::NullCloudForwarder offline_;
  std::unique_ptr<core::Daemon> daemon_;
  std::thread runner_;
  std::atomic<bool> finished_{false};
  core::Status run_status_;
  std::string ca_pem_;  // set by prepareTls: requests go over HTTPS
};
RsaKeyPair* AuthModuleTest::key_ = nullptr;

TEST_F(AuthModuleTest, GateOffServesEveryone) {
  ASSERT_TRUE(start().ok());
  EXPECT_EQ(getPods(""), 200);
}

TEST_F(AuthModuleTest, GateOnWithKeyFilesVerifiesTokens) {
  config_.feature_gates["requireAuthorization"] = true;
  config_.modules.meta_manager.meta_server.service_account_key_files = {key_file_};
  ASSERT_TRUE(start().ok());
  EXPECT_EQ(getPods(""), 401);
  EXPECT_EQ(getPods(signJwtRs256(saClaims(), makeRsaKey().private_pem)), 401);  // forged
  EXPECT_EQ(getPods(token()), 200);
  EXPECT_EQ(get("/api/v1/namespaces/default/secrets", token()).first, 403);
  EXPECT_EQ(get("/api/v1/taskupgrade/confirm-upgrade", "").first, 401);
}

TEST_F(AuthModuleTest, BadKeyFileStopsTheModuleWithTheKeyName) {
  config_.feature_gates["requireAuthorization"] = true;
  std::ofstream(key_file_) << "not a key";
  config_.modules.meta_manager.meta_server.service_account_key_files = {key_file_};
  core::Status st = start();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), ::testing::HasSubstr("serviceAccountKeyFiles"));
}

// Without key files a token is accepted only when it is one the node obtained (a stored
// serviceaccounttoken answer), as v1.20's CheckTokenExist does.
TEST_F(AuthModuleTest, GateOnWithoutKeyFilesAcceptsOnlyTokensTheNodeObtained) {
  config_.feature_gates["requireAuthorization"] = true;
  const std::string obtained = token();
  metamanager::WriteOp row;
  row.kind = metamanager::WriteOp::Kind::UpsertMeta;
  row.key = "default/serviceaccounttoken/app";
  row.type = "serviceaccounttoken";
  row.value = json({{"kind", "TokenRequest"}, {"status", {{"token", obtained}}}}).dump();
  ASSERT_TRUE(store_.submitAndWait({row}).ok());
  ASSERT_TRUE(start().ok());
  EXPECT_TRUE(waitFor([&] { return getPods(obtained) == 200; }, 5s, 50ms));
  // Correctly signed (the cloud's key) but never handed to this node: refused.
  json other = saClaims();
  other["jti"] = "another-token";
  EXPECT_EQ(getPods(signJwtRs256(other, key_->private_pem)), 401);
}

// The way v1.20's RBAC objects reach the edge: CloudCore's policycontroller sends a
// ServiceAccountAccess (resource <ns>/serviceaccountaccess/<name>, group resource); metamanager
// stores it and the chain grants what it carries. Here the Role/RoleBinding rows are absent.
TEST_F(AuthModuleTest, ServiceAccountAccessFromThePolicyControllerGrants) {
  config_.feature_gates["requireAuthorization"] = true;
  config_.modules.meta_manager.meta_server.service_account_key_files = {key_file_};
  store_.remove({kRoleBindings, "default", "rb"});
  ASSERT_TRUE(start(/*with_metamanager=*/true).ok());
  const std::string secret = "/api/v1/namespaces/default/secrets/app-config";
  EXPECT_EQ(get(secret, token()).first, 403);
  json access = {
      {"apiVersion", "policy.kubeedge.io/v1alpha1"},
      {"kind", "ServiceAccountAccess"},
      {"metadata", {{"name", "app"}, {"namespace", "default"}, {"resourceVersion", "77"}}},
      {"spec",
       {{"serviceAccount", {{"metadata", {{"name", "app"}, {"namespace", "default"}}}}},
        {"serviceAccountUid", kSaUid},
        {"accessRoleBinding",
         json::array({{{"roleBinding",
                        {{"metadata", {{"name", "rb2"}, {"namespace", "default"}}},
                         {"roleRef", {{"kind", "Role"}, {"name", "cfg-reader"}}},
                         {"subjects", json::array({saSubject("app")})}}},
                       {"rules", json::array({{{"apiGroups", {""}},
                                               {"resources", {"secrets"}},
                                               {"resourceNames", {"app-config"}},
                                               {"verbs", {"get"}}}})}}})}}}};
  core::Message insert = core::Message::create("policycontroller", "resource", core::op::kInsert,
                                               "default/serviceaccountaccess/app", access);
  ASSERT_TRUE(daemon_->bus().send("metamanager", std::move(insert)).ok());
  // 404 (the secret is not stored) means authorized: the request reached the handler.
  EXPECT_TRUE(waitFor([&] { return get(secret, token()).first == 404; }, 5s, 20ms));
  EXPECT_EQ(get("/api/v1/namespaces/default/secrets/other", token()).first, 403);
}

}  // namespace
}  // namespace edgecore::testing
