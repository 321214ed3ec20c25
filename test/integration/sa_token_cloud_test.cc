// ServiceAccount tokens end to end (issue #17 item 1): the real edgecore binary with edged on the
// real containerd, connected to the cloud simulator over real TLS. A pod with the default
// kube-api-access-* projected volume gets a signed JWT that names it (read inside the container
// through CRI exec), refreshed before its (capped) lifetime ends; then edgecore stops, the cloud
// goes away and the node "reboots" (containers, sandboxes and the pod directory removed):
// edgecore starts offline and the pod runs with the token metamanager cached. With the cached
// token expired, the pod does not start and its FailedMount event says why.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/time.h"
#include "edgecore/cri/cri_client.h"
#include "util/cloudsim_start.h"
#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kSocket = "/run/containerd/containerd.sock";
constexpr const char* kTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";

// The claims of an RS256 JWT that verifies with `public_pem`; nullopt otherwise.
std::optional<json> verifiedClaims(const std::string& jwt, const std::string& public_pem) {
  size_t a = jwt.find('.');
  size_t b = jwt.rfind('.');
  if (a == std::string::npos || a == b) {
    return std::nullopt;
  }
  auto claims = core::base64UrlDecode(jwt.substr(a + 1, b - a - 1));
  auto sig = core::base64UrlDecode(jwt.substr(b + 1));
  if (!claims || !sig) {
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
  json j = json::parse(*claims, nullptr, false);
  return j.is_object() ? std::optional<json>(j) : std::nullopt;
}

class ServiceAccountTokenCloud : public ::testing::Test {
 protected:
  void SetUp() override {
    // Real containerd or nothing: this test must not pass without running its pod.
    ASSERT_EQ(::access(kSocket, F_OK), 0)
        << "containerd socket missing: scripts/test-services.sh start (root)";
    auto cri = cri::CriClient::create({});
    ASSERT_TRUE(cri.ok()) << cri.status().message();
    cri_ = std::move(cri).value();
    node_ = "edge-sa-" + std::to_string(::getpid());
    ns_ = "satoken-" + std::to_string(::getpid());
    uid_ = "u-" + ns_;
    cloudsim::Options o;
    o.node_name = node_;
    o.sa_token_max_lifetime = 12s;  // refreshed at 80 %: a new token within ~10 s
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    public_pem_ = sim_->serviceAccountPublicKeyPem();
    port_ = freeLoopbackPort();
    const std::string d = dir_.path();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
               "database:\n  dataSource: " +
                   d + "/edgecore.db\nmodules:\n" +
                   cloudEdgeHubYaml(d, sim_->httpsPort(), sim_->wsPort(), sim_->token()) +
                   "  edged:\n    enable: true\n    reportEvent: true\n    hostnameOverride: " +
                   node_ + "\n    rootDirectory: " + d +
                   "/kubelet\n    tailoredKubeletConfig:\n      readOnlyPort: 0\n"
                   "      podLogsDir: " +
                   d +
                   "/logs\n  metaManager:\n    metaServer:\n      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    startEdgecore();
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << daemon_->stderrSoFar();
  }

  void TearDown() override {
    stopEdgecore();
    sim_.reset();
    removePods();
  }

  void startEdgecore() {
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/env", "EDGECORE_EDGED_BACKOFF_BASE_MS=300",
                                 EDGECORE_BINARY, "--config", dir_.file("edgecore.yaml")});
  }
  void stopEdgecore() { stopAndReset(daemon_, 10s); }

  // What a reboot leaves of the pod: nothing in the runtime.
  void removePods() {
    if (!cri_) return;
    runtimeapi::PodSandboxFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto list = cri_->listPodSandbox(f);
    if (!list.ok()) return;
    for (const auto& sb : *list) {
      runtimeapi::ContainerFilter cf;
      cf.set_pod_sandbox_id(sb.id());
      if (auto cs = cri_->listContainers(cf); cs.ok()) {
        for (const auto& c : *cs) {
          (void)cri_->stopContainer(c.id(), 0);
          (void)cri_->removeContainer(c.id());
        }
      }
      (void)cri_->stopPodSandbox(sb.id());
      (void)cri_->removePodSandbox(sb.id());
    }
  }

  std::optional<std::string> runningContainer() {
    runtimeapi::ContainerFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto cs = cri_->listContainers(f);
    if (!cs.ok()) return std::nullopt;
    for (const auto& c : *cs) {
      if (c.state() == runtimeapi::CONTAINER_RUNNING) return c.id();
    }
    return std::nullopt;
  }
  size_t containerCount() {
    runtimeapi::ContainerFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto cs = cri_->listContainers(f);
    return cs.ok() ? static_cast<size_t>(cs->size()) : 0;
  }

  // `cat <path>` in the running container.
  std::optional<std::string> catInContainer(const std::string& path) {
    auto id = runningContainer();
    if (!id) return std::nullopt;
    auto r = cri_->execSync(*id, {"cat", path}, 10);
    if (!r.ok() || r->exit_code() != 0) return std::nullopt;
    return r->stdout();
  }

  // The pod as a real cluster creates it: the ServiceAccount admission's kube-api-access volume.
  json apiAccessPod() {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "sa-pod"}, {"namespace", ns_}, {"uid", uid_}}},
            {"spec",
             {{"nodeName", node_},
              {"hostNetwork", true},
              {"serviceAccountName", "default"},
              {"terminationGracePeriodSeconds", 1},
              {"containers",
               {{{"name", "main"},
                 {"image", "docker.io/library/busybox:local"},
                 {"command", {"sh", "-c", "sleep 3600"}},
                 {"volumeMounts",
                  {{{"name", "kube-api-access-abcde"},
                    {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                    {"readOnly", true}}}}}}},
              {"volumes",
               {{{"name", "kube-api-access-abcde"},
                 {"projected",
                  {{"defaultMode", 420},
                   {"sources",
                    {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
                     {{"configMap",
                       {{"name", "kube-root-ca.crt"},
                        {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}},
                     {{"downwardAPI",
                       {{"items",
                         {{{"path", "namespace"},
                           {"fieldRef",
                            {{"apiVersion", "v1"},
                             {"fieldPath", "metadata.namespace"}}}}}}}}}}}}}}}}}}};
  }

  // Rewrites the cached token's status.expirationTimestamp in metamanager's `meta` table (the
  // time that would pass during a long outage); returns how many rows changed.
  int expireCachedTokens() {
    sqlite3* db = nullptr;
    if (sqlite3_open((dir_.path() + "/edgecore.db").c_str(), &db) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(db, 5000);
    const std::string past = core::formatRfc3339(std::chrono::system_clock::now() - 1h);
    const std::string sql =
        "UPDATE meta SET value = json_set(value, '$.status.expirationTimestamp', '" + past +
        "') WHERE type = 'serviceaccounttoken'";
    int changed = -1;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) {
      changed = sqlite3_changes(db);
    }
    sqlite3_close(db);
    return changed;
  }

  ProcessResult kubectl(std::vector<std::string> args) {
    return runCommand(kubectlArgv("/usr/bin/kubectl", dir_.path(), port_, args));
  }

  TempDir dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  std::string node_, ns_, uid_, public_pem_;
  int port_ = 0;
};

TEST_F(ServiceAccountTokenCloud, TokenInPodIsRefreshedAndSurvivesAnOfflineReboot) {
  ASSERT_TRUE(sim_->putObject(json{{"apiVersion", "v1"},
                                   {"kind", "ConfigMap"},
                                   {"metadata", {{"name", "kube-root-ca.crt"}, {"namespace", ns_}}},
                                   {"data", {{"ca.crt", sim_->pki().ca_cert_pem}}}}
                                  .dump())
                  .ok());
  auto id = sim_->sendManifest(apiAccessPod().dump(), "insert", cloudsim::Reliability::Reliable);
  ASSERT_TRUE(id.ok()) << id.status().toString();

  // 1. The token file in the container is a JWT signed by the cloud that names this pod; the
  //    other two items of the volume are there too.
  std::optional<std::string> first;
  ASSERT_TRUE(waitFor(
      [&] {
        first = catInContainer(kTokenPath);
        return first.has_value();
      },
      60s, 500ms))
      << daemon_->stderrSoFar();
  auto claims = verifiedClaims(*first, public_pem_);
  ASSERT_TRUE(claims.has_value()) << "not a JWT signed by the cloud's key: " << *first;
  EXPECT_EQ((*claims)["kubernetes.io"]["pod"]["name"], "sa-pod");
  EXPECT_EQ((*claims)["kubernetes.io"]["pod"]["uid"], uid_);
  EXPECT_EQ((*claims)["kubernetes.io"]["namespace"], ns_);
  EXPECT_EQ((*claims)["sub"], "system:serviceaccount:" + ns_ + ":default");
  EXPECT_EQ((*claims)["exp"].get<int64_t>() - (*claims)["iat"].get<int64_t>(), 12);
  EXPECT_EQ(catInContainer("/var/run/secrets/kubernetes.io/serviceaccount/namespace"), ns_);
  EXPECT_EQ(catInContainer("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"),
            sim_->pki().ca_cert_pem);
  // The TokenRequest the edge sent (spec cloud-protocol 4.6).
  bool asked = false;
  for (const auto& m : sim_->received()) {
    if (m.route.operation == "query" && m.route.resource == ns_ + "/serviceaccounttoken/default") {
      asked = true;
      EXPECT_EQ(m.route.source, "edged");
      EXPECT_EQ(m.content["spec"]["expirationSeconds"], 3607);
      EXPECT_EQ(m.content["spec"]["boundObjectRef"]["uid"], uid_);
      EXPECT_TRUE(m.content["spec"]["audiences"].is_null());
    }
  }
  EXPECT_TRUE(asked);

  // 2. Refreshed at 80 % of its 12 s: a newer token, same container (no restart needed).
  std::optional<std::string> refreshed;
  ASSERT_TRUE(waitFor(
      [&] {
        refreshed = catInContainer(kTokenPath);
        return refreshed && *refreshed != *first;
      },
      30s, 500ms))
      << daemon_->stderrSoFar();
  auto claims2 = verifiedClaims(*refreshed, public_pem_);
  ASSERT_TRUE(claims2.has_value());
  EXPECT_GT((*claims2)["iat"].get<int64_t>(), (*claims)["iat"].get<int64_t>());
  EXPECT_LT((*claims2)["iat"].get<int64_t>(), (*claims)["exp"].get<int64_t>())
      << "refreshed before the old token expired";

  // 3. Lift the cap: the next refresh brings an hour-long token, which gets cached.
  sim_->setServiceAccountTokenMaxLifetime(0s);
  std::string long_lived;
  ASSERT_TRUE(waitFor(
      [&] {
        auto t = catInContainer(kTokenPath);
        auto c = t ? verifiedClaims(*t, public_pem_) : std::nullopt;
        if (c && (*c)["exp"].get<int64_t>() - (*c)["iat"].get<int64_t>() == 3607) {
          long_lived = *t;
          return true;
        }
        return false;
      },
      30s, 500ms))
      << daemon_->stderrSoFar();

  // 4. Reboot without a cloud: edgecore stops, the cloud is gone, every container, sandbox and
  //    the pod's directory (its volumes) are removed; edgecore starts again offline.
  stopEdgecore();
  sim_.reset();
  removePods();
  std::filesystem::remove_all(dir_.path() + "/kubelet/pods/" + uid_);
  ASSERT_FALSE(runningContainer().has_value());
  startEdgecore();
  std::optional<std::string> after;
  ASSERT_TRUE(waitFor(
      [&] {
        after = catInContainer(kTokenPath);
        return after.has_value();
      },
      60s, 500ms))
      << daemon_->stderrSoFar();
  EXPECT_EQ(*after, long_lived) << "the pod runs with the token cached before the reboot";
  auto claims3 = verifiedClaims(*after, public_pem_);
  ASSERT_TRUE(claims3.has_value());
  EXPECT_EQ((*claims3)["kubernetes.io"]["pod"]["uid"], uid_);
  EXPECT_EQ(catInContainer("/var/run/secrets/kubernetes.io/serviceaccount/namespace"), ns_);

  // 5. The same reboot with the cached token expired: no container starts, and the pod's
  //    event says why.
  stopEdgecore();
  removePods();
  std::filesystem::remove_all(dir_.path() + "/kubelet/pods/" + uid_);
  ASSERT_EQ(expireCachedTokens(), 1);
  startEdgecore();
  std::string message;
  ASSERT_TRUE(waitFor(
      [&] {
        auto got = kubectl({"get", "events", "-n", ns_, "-o", "json"});
        if (got.exit_code != 0) return false;
        json list = json::parse(got.out, nullptr, false);
        if (!list.is_object() || !list["items"].is_array()) return false;
        for (const auto& ev : list["items"]) {
          if (ev.value("reason", "") == "FailedMount" &&
              ev["message"].get<std::string>().find("expired at") != std::string::npos) {
            message = ev["message"].get<std::string>();
            return true;
          }
        }
        return false;
      },
      40s, 500ms))
      << daemon_->stderrSoFar();
  EXPECT_NE(message.find("kube-api-access-abcde"), std::string::npos) << message;
  EXPECT_NE(message.find("cloud is unreachable"), std::string::npos) << message;
  EXPECT_EQ(containerCount(), 0u) << "no container may start with an expired token";
}

}  // namespace
}  // namespace edgecore::testing
