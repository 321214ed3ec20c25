// requireAuthorization's transport end to end (spec local-apis.md 4.1 and 5): the real edgecore
// binary with the feature gate on, connected to the cloud simulator, which answers the CSR the
// way CloudCore + kube-controller-manager do. Checked from outside: the serving certificate is
// issued and stored 0600 in a 0700 directory, real kubectl and the real keadm ctl talk HTTPS to
// MetaServer on `server` and on the dummy address, the dummy address exists while edgecore runs
// and is gone after it stops, a restart reuses the stored certificate, a short-lived certificate
// is renewed, and a non-loopback plain-HTTP MetaServer refuses to start.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "util/cloudsim_start.h"
#include "util/edgecore_process.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;

const std::string kEdgecore = EDGECORE_BINARY;
const std::string kKeadm = KEADM_BINARY;

bool hasAddress(const std::string& ip) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    found = found || ip == text;
  }
  ::freeifaddrs(list);
  return found;
}

bool tcpConnects(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

std::string readOr(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0 ? readFile(path) : std::string();
}

class MetaServerTls : public ::testing::Test {
 protected:
  void startCloud(std::chrono::seconds serving_validity = std::chrono::hours(24 * 365)) {
    cloudsim::Options o;
    o.node_name = "edge-1";
    o.serving_cert_validity = serving_validity;
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    std::mt19937 rng(std::random_device{}());
    dummy_ip_ =
        "169.254." + std::to_string(100 + rng() % 100) + "." + std::to_string(1 + rng() % 250);
    port_ = freeLoopbackPort();
    dummy_port_ = freeLoopbackPort();
    pki_dir_ = dir_.path() + "/pki/metaserver";
  }

  void writeConfig(bool gate, const std::string& server) {
    const std::string d = dir_.path();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
               "kind: EdgeCore\n"
               "featureGates:\n"
               "  requireAuthorization: " +
                   std::string(gate ? "true" : "false") +
                   "\n"
                   "database:\n"
                   "  dataSource: " +
                   d +
                   "/edgecore.db\n"
                   "modules:\n" +
                   cloudEdgeHubYaml(d, sim_->httpsPort(), sim_->wsPort(), sim_->token()) +
                   "  edged:\n"
                   "    enable: false\n"
                   "    hostnameOverride: edge-1\n"
                   "  metaManager:\n"
                   "    metaServer:\n"
                   "      enable: true\n"
                   "      server: " +
                   server + "\n      dummyServer: " + dummy_ip_ + ":" +
                   std::to_string(dummy_port_) + "\n      tlsCaFile: " + d +
                   "/ca/rootCA.crt\n      tlsCertFile: " + d +
                   "/certs/server.crt\n      tlsPrivateKeyFile: " + d + "/certs/server.key\n");
  }

  void startEdgecore() {
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/env", "EDGECORE_METASERVER_PKI_DIR=" + pki_dir_,
                                 kEdgecore, "--config", dir_.file("edgecore.yaml")});
  }

  void stopEdgecore() {
    if (!daemon_) return;
    auto r = terminate(*daemon_, 15s);
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ(r->exit_code, 0) << r->err;
    }
    daemon_.reset();
  }

  bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return pred();
  }

  ProcessResult kubectl(const std::string& host, int port, std::vector<std::string> args,
                        bool with_ca = true) {
    std::vector<std::string> argv = {"/usr/bin/env", "HOME=" + dir_.path(), "/usr/bin/kubectl",
                                     "--server", "https://" + host + ":" + std::to_string(port)};
    if (with_ca) argv.push_back("--certificate-authority=" + pki_dir_ + "/ca.crt");
    // The node's client certificate (kubectl prompts for a password on an https server without
    // any credentials); MetaServer verifies it against tlsCaFile.
    argv.push_back("--client-certificate=" + dir_.path() + "/certs/server.crt");
    argv.push_back("--client-key=" + dir_.path() + "/certs/server.key");
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, 30s);
  }

  void TearDown() override {
    stopAndReset(daemon_, 15s);
    sim_.reset();
  }

  TempDir dir_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  std::string dummy_ip_;
  std::string pki_dir_;
  int port_ = 0;
  int dummy_port_ = 0;
};

TEST_F(MetaServerTls, CsrIssuedCertificateServesKubectlAndKeadmOverHttps) {
  startCloud();
  writeConfig(true, "127.0.0.1:" + std::to_string(port_));
  startEdgecore();
  const std::string pair = pki_dir_ + "/metaserver-current.pem";
  ASSERT_TRUE(waitFor([&] { return !readOr(pair).empty(); }, 40s)) << daemon_->stderrSoFar();

  // Stored privately, issued by the cloud's CA for this node and both addresses.
  EXPECT_EQ(modeOf(pki_dir_), 0700u);
  EXPECT_EQ(modeOf(pair), 0600u);
  EXPECT_EQ(modeOf(pki_dir_ + "/ca.crt"), 0600u);
  EXPECT_EQ(readFile(pki_dir_ + "/ca.crt"), sim_->pki().ca_cert_pem);
  std::string text = readFile(pair);
  auto der = cloudsim::certPemToDer(text);
  ASSERT_TRUE(der.ok());
  auto subject = cloudsim::certSubject(*der);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(subject->common_name, "system:node:edge-1");
  EXPECT_EQ(subject->organizations, std::vector<std::string>{"system:nodes"});
  ProcessResult sans =
      runCommand({"/bin/sh", "-c", "openssl x509 -noout -ext subjectAltName < " + pair});
  EXPECT_NE(sans.out.find("IP Address:127.0.0.1"), std::string::npos) << sans.out;
  EXPECT_NE(sans.out.find("IP Address:" + dummy_ip_), std::string::npos) << sans.out;
  EXPECT_NE(text.find("BEGIN EC PRIVATE KEY"), std::string::npos);

  // A pod for this node, then real kubectl with the metaserver CA on both listeners.
  auto id = sim_->sendManifest(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"tls-pod","namespace":"default",)"
      R"("uid":"u-tls"},"spec":{"nodeName":"edge-1","containers":[{"name":"c","image":"busybox"}]}})",
      "insert", cloudsim::Reliability::Reliable);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(sim_->waitUntil([&] { return sim_->ackCount(*id) >= 1; }, 10s));
  ProcessResult on_server = kubectl("127.0.0.1", port_, {"get", "pods", "-A"});
  EXPECT_EQ(on_server.exit_code, 0) << on_server.err << daemon_->stderrSoFar();
  EXPECT_NE(on_server.out.find("tls-pod"), std::string::npos) << on_server.out;
  EXPECT_TRUE(hasAddress(dummy_ip_));
  EXPECT_TRUE(tcpConnects(dummy_ip_, dummy_port_));
  ProcessResult on_dummy = kubectl(dummy_ip_, dummy_port_, {"get", "pods", "-A"});
  EXPECT_EQ(on_dummy.exit_code, 0) << on_dummy.err;
  EXPECT_NE(on_dummy.out.find("tls-pod"), std::string::npos) << on_dummy.out;
  // The authorizer behind the transport: a forged bearer token and no client certificate is 401.
  ProcessResult forged = runCommand(
      {"/usr/bin/env", "HOME=" + dir_.path(), "/usr/bin/kubectl", "--server",
       "https://127.0.0.1:" + std::to_string(port_),
       "--certificate-authority=" + pki_dir_ + "/ca.crt", "--token=forged", "get", "pods", "-A"},
      30s);
  EXPECT_NE(forged.exit_code, 0);
  EXPECT_NE(forged.err.find("You must be logged in"), std::string::npos) << forged.err;
  // Without the CA kubectl does not trust it: TLS really is verified.
  ProcessResult untrusted = kubectl("127.0.0.1", port_, {"get", "pods", "-A"}, false);
  EXPECT_NE(untrusted.exit_code, 0);
  EXPECT_NE(untrusted.err.find("certificate"), std::string::npos) << untrusted.err;
  // Plain HTTP gets nothing.
  ProcessResult plain =
      runCommand({"/usr/bin/curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                  "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/pods"});
  EXPECT_EQ(plain.out, "000");

  // keadm ctl follows the gate to https, presents the node certificate and verifies MetaServer
  // against the metaserver CA.
  ProcessResult keadm =
      runCommand({"/usr/bin/env", "HOME=" + dir_.path(), "EDGECORE_METASERVER_PKI_DIR=" + pki_dir_,
                  kKeadm, "ctl", "--config", dir_.file("edgecore.yaml"), "get", "pod", "-A"},
                 60s);
  EXPECT_EQ(keadm.exit_code, 0) << keadm.err;
  EXPECT_NE(keadm.out.find("tls-pod"), std::string::npos) << keadm.out << keadm.err;
  // With a CA that did not sign MetaServer's certificate keadm refuses to talk.
  auto other = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(other.ok());
  ::mkdir((dir_.path() + "/other").c_str(), 0700);
  dir_.write("other/ca.crt", other->ca_cert_pem);
  ProcessResult wrong_ca =
      runCommand({"/usr/bin/env", "HOME=" + dir_.path(),
                  "EDGECORE_METASERVER_PKI_DIR=" + dir_.path() + "/other", kKeadm, "ctl",
                  "--config", dir_.file("edgecore.yaml"), "get", "pod", "-A"},
                 60s);
  EXPECT_NE(wrong_ca.exit_code, 0) << wrong_ca.out;

  // Stop: the dummy address goes away. Start again: the stored certificate is reused.
  stopEdgecore();
  EXPECT_FALSE(hasAddress(dummy_ip_));
  startEdgecore();
  ASSERT_TRUE(waitFor(
      [&] {
        return kubectl("127.0.0.1", port_, {"get", "pods", "-A"}).exit_code == 0;
      },
      30s))
      << daemon_->stderrSoFar();
  EXPECT_EQ(readFile(pair), text);
  EXPECT_NE(daemon_->stderrSoFar().find("serving certificate loaded"), std::string::npos);
}

TEST_F(MetaServerTls, ShortLivedServingCertificateIsRenewed) {
  startCloud(30s);  // renewed at 70-90 %: after 21-27 s
  writeConfig(true, "127.0.0.1:" + std::to_string(port_));
  startEdgecore();
  const std::string pair = pki_dir_ + "/metaserver-current.pem";
  ASSERT_TRUE(waitFor([&] { return !readOr(pair).empty(); }, 40s)) << daemon_->stderrSoFar();
  std::string first = readFile(pair);
  ASSERT_TRUE(waitFor([&] { return readOr(pair) != first && !readOr(pair).empty(); }, 40s))
      << daemon_->stderrSoFar();
  EXPECT_EQ(modeOf(pair), 0600u);
  // The new certificate (and its new key) serves the next connection.
  std::string served = runCommand({"/bin/sh", "-c",
                                   "openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
                                       " -CAfile " + pki_dir_ +
                                       "/ca.crt </dev/null 2>/dev/null | "
                                       "openssl x509"})
                           .out;
  std::string renewed = readFile(pair);
  ASSERT_NE(served.find("BEGIN CERTIFICATE"), std::string::npos) << served;
  EXPECT_EQ(renewed.rfind(served, 0), 0u) << served;
  ProcessResult k = kubectl("127.0.0.1", port_, {"get", "pods", "-A"});
  EXPECT_EQ(k.exit_code, 0) << k.err;
}

TEST_F(MetaServerTls, WithoutCapNetAdminTheErrorSaysWhatToDo) {
  startCloud();
  writeConfig(true, "127.0.0.1:" + std::to_string(port_));
  // The same binary with CAP_NET_ADMIN dropped from its bounding set (as an unprivileged service
  // would run): the dummy interface cannot be made, and the error says why and what to do.
  daemon_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/sbin/capsh", "--drop=cap_net_admin", "--", "-c",
                               "exec /usr/bin/env EDGECORE_METASERVER_PKI_DIR=" + pki_dir_ + " " +
                                   kEdgecore + " --config " + dir_.file("edgecore.yaml")});
  auto r = daemon_->wait(20s);
  ASSERT_TRUE(r.has_value()) << "edgecore kept running without CAP_NET_ADMIN";
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("CAP_NET_ADMIN"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("requireAuthorization"), std::string::npos) << r->err;
  EXPECT_FALSE(hasAddress(dummy_ip_));
  daemon_.reset();
}

TEST_F(MetaServerTls, NonLoopbackPlainHttpRefusesToStart) {
  startCloud();
  writeConfig(false, "0.0.0.0:" + std::to_string(port_));
  startEdgecore();
  auto r = daemon_->wait(20s);
  ASSERT_TRUE(r.has_value()) << "edgecore kept running with a non-loopback plain-HTTP MetaServer";
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("featureGates.requireAuthorization"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("tlsCaFile"), std::string::npos) << r->err;
  daemon_.reset();
}

}  // namespace
}  // namespace edgecore::testing
