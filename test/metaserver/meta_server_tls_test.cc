// MetaServer's HTTPS transport (requireAuthorization, spec local-apis.md 4.1) with real TLS:
// OpenSSL clients against the real server. TLS 1.1 is refused, 1.2 and 1.3 are served; a client
// certificate from the configured CA reaches the authorizer as CN/O; one from another CA fails
// the handshake; no certificate is still served (the authorizer decides); a renewed serving
// certificate is used by the next connection. Also the dummy interface (netlink) and the
// private-file writer of the serving-certificate flow.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <mutex>
#include <random>
#include <thread>

#include "cloudsim/pki.h"
#include "edgecore/metaserver/meta_server.h"
#include "metaserver/test_objects.h"
#include "tls/dummy_interface.h"
#include "tls/private_files.h"
#include "tls/x509_util.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using edgecore::testing::kPods;
using edgecore::testing::makePod;
using edgecore::testing::SqliteTestStore;

// Records what the transport hands to the authorization chain; allows everything.
class RecordingAuthorizer final : public RequestAuthorizer {
 public:
  AuthDecision check(const AuthRequest& request) override {
    std::lock_guard lock(mu);
    seen.push_back(request.peer_certificate
                       ? std::optional<PeerCertificate>(*request.peer_certificate)
                       : std::nullopt);
    return {};
  }
  std::mutex mu;
  std::vector<std::optional<PeerCertificate>> seen;
};

class SwappableCertificate final : public ServingCertificateSource {
 public:
  ServingCertificateSharedPtr current() const override {
    std::lock_guard lock(mu);
    return cert;
  }
  void set(ServingCertificateSharedPtr c) {
    std::lock_guard lock(mu);
    cert = std::move(c);
  }
  mutable std::mutex mu;
  ServingCertificateSharedPtr cert;
};

struct ClientCert {
  std::string cert_pem;
  std::string key_pem;
};

ClientCert issueClientCert(const cloudsim::Pki& pki, const cloudsim::Subject& subject) {
  auto csr = cloudsim::makeCsrForTest(subject);
  EXPECT_TRUE(csr.ok());
  auto der = cloudsim::signCsr(pki, csr->csr_der, {2}, std::chrono::hours(1));  // clientAuth
  EXPECT_TRUE(der.ok()) << der.status().toString();
  return {cloudsim::certDerToPem(*der), csr->key_pem};
}

// One HTTPS GET over a blocking socket with plain OpenSSL. `version` pins the protocol
// (TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION). Returns the response text, or
// "HANDSHAKE FAILED: ..." when the handshake did not complete.
std::string httpsGet(uint16_t port, int version, const std::string& ca_pem,
                     const ClientCert* client = nullptr, const std::string& path = "/api/v1/pods",
                     std::string* server_cert_pem = nullptr) {
  // A server that closes mid-handshake must not kill the test with SIGPIPE (SSL_write on a plain
  // fd); asio's own sockets send with MSG_NOSIGNAL.
  ::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  if (version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx, 0);  // let the client offer 1.1
  BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  BIO_free(bio);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (client) {
    BIO* cb = BIO_new_mem_buf(client->cert_pem.data(), static_cast<int>(client->cert_pem.size()));
    X509* c = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO* kb = BIO_new_mem_buf(client->key_pem.data(), static_cast<int>(client->key_pem.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, c);
    SSL_CTX_use_PrivateKey(ctx, k);
    X509_free(c);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    out = "CONNECT FAILED";
  } else {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "127.0.0.1");
    if (SSL_connect(ssl) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof err);
      out = std::string("HANDSHAKE FAILED: ") + err;
    } else {
      if (server_cert_pem) {
        X509* peer = SSL_get1_peer_certificate(ssl);
        BIO* pb = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(pb, peer);
        char* data = nullptr;
        long len = BIO_get_mem_data(pb, &data);
        server_cert_pem->assign(data, static_cast<size_t>(len));
        BIO_free(pb);
        X509_free(peer);
      }
      std::string req = "GET " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                        "Connection: close\r\n\r\n";
      SSL_write(ssl, req.data(), static_cast<int>(req.size()));
      char buf[16384];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
      // A server that answers and closes: the client may also see a failure on the second
      // leg of a TLS 1.3 ticket exchange; the response text is what counts.
      if (out.empty()) {
        // TLS 1.3 reports a client-certificate rejection only on the first read.
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        out = std::string("HANDSHAKE FAILED: ") + err;
      }
    }
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

class MetaServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    pki_ = *pki;
    auto other = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(other.ok());
    other_pki_ = *other;
    source_ = std::make_shared<SwappableCertificate>();
    source_->set(std::make_shared<ServingCertificate>(
        ServingCertificate{pki_.server_cert_pem, pki_.server_key_pem, ""}));
    authorizer_ = std::make_shared<RecordingAuthorizer>();
    store_.put(kPods, makePod(edgecore::testing::podNamed("pod-a", 10)));
  }
  void startServer() {
    MetaServerOptions options;
    options.port = 0;
    options.authorizer = authorizer_;
    auto tls = std::make_shared<MetaServerTls>();
    tls->certificate = source_;
    tls->client_ca_pem = pki_.ca_cert_pem;
    tls->handshake_timeout = std::chrono::seconds(2);
    tls->dummy_address = "127.0.0.1";  // the second listener, on loopback in this unit test
    options.tls = tls;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, offline_, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    for (auto& t : threads_) t.join();
    server_.reset();
  }

  cloudsim::Pki pki_;
  cloudsim::Pki other_pki_;
  std::shared_ptr<SwappableCertificate> source_;
  std::shared_ptr<RecordingAuthorizer> authorizer_;
  SqliteTestStore store_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  MetaServerPtr server_;
};

TEST_F(MetaServerTlsTest, Tls11RefusedTls12And13Served) {
  startServer();
  std::string old = httpsGet(server_->port(), TLS1_1_VERSION, pki_.ca_cert_pem);
  EXPECT_EQ(old.rfind("HANDSHAKE FAILED", 0), 0u) << old;
  // The server refused it (its alert), not our own client.
  EXPECT_NE(old.find("alert protocol version"), std::string::npos) << old;
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    std::string r = httpsGet(server_->port(), v, pki_.ca_cert_pem);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << v << ": " << r;
    EXPECT_NE(r.find("pod-a"), std::string::npos) << r;
  }
  // The dummyServer listener serves the same, over TLS too.
  ASSERT_NE(server_->dummyPort(), 0);
  std::string d = httpsGet(server_->dummyPort(), TLS1_2_VERSION, pki_.ca_cert_pem);
  EXPECT_EQ(d.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << d;
  // Plain HTTP on the TLS port gets no answer (the handshake fails on it).
  std::string plain =
      edgecore::testing::runCommand(
          {"/usr/bin/curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
           "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/pods"})
          .out;
  EXPECT_EQ(plain, "000");
}

TEST_F(MetaServerTlsTest, VerifiedClientCertificateReachesTheAuthorizer) {
  startServer();
  ClientCert node = issueClientCert(pki_, {"system:node:edge-1", {"system:nodes"}});
  std::string r = httpsGet(server_->port(), TLS1_3_VERSION, pki_.ca_cert_pem, &node);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  // Without a certificate: still served, the authorizer sees no peer.
  std::string anon = httpsGet(server_->port(), TLS1_2_VERSION, pki_.ca_cert_pem);
  EXPECT_EQ(anon.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << anon;
  // A certificate from another CA: refused at the handshake, never reaches the authorizer.
  ClientCert stranger = issueClientCert(other_pki_, {"system:node:edge-1", {"system:nodes"}});
  std::string bad = httpsGet(server_->port(), TLS1_2_VERSION, pki_.ca_cert_pem, &stranger);
  EXPECT_EQ(bad.find("HTTP/1.1 200"), std::string::npos) << bad;

  std::lock_guard lock(authorizer_->mu);
  ASSERT_EQ(authorizer_->seen.size(), 2u);
  ASSERT_TRUE(authorizer_->seen[0].has_value());
  EXPECT_EQ(authorizer_->seen[0]->common_name, "system:node:edge-1");
  EXPECT_EQ(authorizer_->seen[0]->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_FALSE(authorizer_->seen[1].has_value());
}

TEST_F(MetaServerTlsTest, RenewedCertificateServesTheNextConnection) {
  startServer();
  std::string first;
  ASSERT_EQ(
      httpsGet(server_->port(), TLS1_2_VERSION, pki_.ca_cert_pem, nullptr, "/api/v1/pods", &first)
          .rfind("HTTP/1.1 200", 0),
      0u);
  auto again = cloudsim::generatePki("127.0.0.1");  // a new key and certificate, another CA
  ASSERT_TRUE(again.ok());
  source_->set(std::make_shared<ServingCertificate>(
      ServingCertificate{again->server_cert_pem, again->server_key_pem, ""}));
  std::string second;
  std::string r = httpsGet(server_->port(), TLS1_2_VERSION, again->ca_cert_pem, nullptr,
                           "/api/v1/pods", &second);
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(first, second);
  EXPECT_EQ(second, again->server_cert_pem);
}

TEST_F(MetaServerTlsTest, NoCertificateYetMeansNoHandshake) {
  source_->set(nullptr);
  startServer();
  std::string r = httpsGet(server_->port(), TLS1_2_VERSION, pki_.ca_cert_pem);
  EXPECT_EQ(r.find("HTTP/1.1"), std::string::npos) << r;
}

// --------------------------------------------------------------- serving-certificate helpers

TEST(ServingCertificateFiles, PrivateWritesAreAtomic0600InA0700Dir) {
  edgecore::testing::TempDir tmp;
  const std::string dir = tmp.path() + "/pki/metaserver";
  ASSERT_TRUE(tls::ensurePrivateDir(dir).ok());
  ASSERT_TRUE(tls::writePrivateFile(dir, "ca.crt", "first").ok());
  ASSERT_TRUE(tls::writePrivateFile(dir, "ca.crt", "second").ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((dir + "/ca.crt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(edgecore::testing::readFile(dir + "/ca.crt"), "second");
  // A symlink planted where a file is read is not followed.
  ASSERT_EQ(::symlink("/etc/hostname", (dir + "/planted").c_str()), 0);
  EXPECT_FALSE(tls::readPrivateFile(dir + "/planted").ok());
  // No temporary file is left behind.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir))
    entries += e.path().filename() != "planted";
  EXPECT_EQ(entries, 1);
}

TEST(ServingCertificateFiles, CsrCarriesTheOriginalSubjectAndIpSans) {
  auto key = tls::generateEcKeyPem();
  ASSERT_TRUE(key.ok());
  EXPECT_NE(key->find("BEGIN EC PRIVATE KEY"), std::string::npos);
  auto csr =
      tls::makeCsrPem(*key, "system:node:edge-1", {"system:nodes"}, {"127.0.0.1", "169.254.30.10"});
  ASSERT_TRUE(csr.ok()) << csr.status().toString();
  // Signed by cloudsim's CA (which copies subject and SANs), the certificate names both IPs.
  auto pki = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(pki.ok());
  auto der = cloudsim::csrPemToDer(*csr);
  ASSERT_TRUE(der.ok());
  auto subject = cloudsim::csrSubject(*der);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(subject->common_name, "system:node:edge-1");
  EXPECT_EQ(subject->organizations, std::vector<std::string>{"system:nodes"});
  auto cert = cloudsim::signCsr(*pki, *der, {1}, std::chrono::hours(1));
  ASSERT_TRUE(cert.ok());
  std::string pem = cloudsim::certDerToPem(*cert);
  auto facts = tls::certificateFacts(pem);
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ(facts->ip_sans, (std::vector<std::string>{"127.0.0.1", "169.254.30.10"}));
  EXPECT_TRUE(tls::keyMatchesCertificate(pem, *key));
  EXPECT_TRUE(tls::verifiesAgainst(pem, pki->ca_cert_pem));
}

// --------------------------------------------------------------- dummy interface (netlink)

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

TEST(DummyInterface, AddressReachableWhileUpAndGoneAfterRemove) {
  // A link-local address of our own so parallel runs do not collide.
  std::mt19937 rng(std::random_device{}());
  const std::string ip =
      "169.254." + std::to_string(100 + rng() % 100) + "." + std::to_string(1 + rng() % 250);
  ASSERT_FALSE(hasAddress(ip));
  auto dummy =
      tls::DummyInterface::create(ip, nullptr, "ecdummy" + std::to_string(rng() % 100000000));
  ASSERT_TRUE(dummy.ok()) << dummy.status().toString();
  EXPECT_TRUE(hasAddress(ip));

  // A TCP listener on the address accepts a connection to it.
  int srv = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  ASSERT_EQ(::listen(srv, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len);
  int cli = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(::connect(cli, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  ::close(cli);
  ::close(srv);

  (*dummy)->remove();
  EXPECT_FALSE(hasAddress(ip));
}

}  // namespace
}  // namespace edgecore::metaserver
