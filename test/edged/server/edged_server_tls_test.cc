// The edged server off loopback (issue #17 item 4): it must not start without TLS and client
// certificates, and with them only a client holding a certificate from the node's CA gets an
// answer. Real TLS (OpenSSL through Asio) with certificates made by the cloud simulator's PKI.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <thread>

#include "edgecore/core/config.h"
#include "pki.h"
#include "server/edged_server.h"
#include "util/process.h"

namespace edgecore::edged {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;

constexpr const char* kPodList = R"({"kind":"PodList","apiVersion":"v1","items":[]})";

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::trunc) << content;
}

struct Client {
  std::string cert_pem;  // empty: no certificate
  std::string key_pem;
};

// What a client got: the handshake error, or the raw HTTP answer to GET /pods.
struct Outcome {
  bool handshake_ok = false;
  std::string error;
  std::string response;
};

Outcome tlsGetPods(uint16_t port, const Client& c, const std::string& ca_pem) {
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.add_certificate_authority(asio::buffer(ca_pem));
  ctx.set_verify_mode(ssl::verify_peer);
  if (!c.cert_pem.empty()) {
    ctx.use_certificate_chain(asio::buffer(c.cert_pem));
    ctx.use_private_key(asio::buffer(c.key_pem), ssl::context::pem);
  }
  ssl::stream<tcp::socket> s(io, ctx);
  Outcome out;
  boost::system::error_code ec;
  s.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    out.error = "connect: " + ec.message();
    return out;
  }
  s.handshake(ssl::stream_base::client, ec);
  if (ec) {
    out.error = "handshake: " + ec.message();
    return out;
  }
  out.handshake_ok = true;
  // TLS 1.3: the server checks the client certificate after the client's handshake returned; a
  // refusal shows up as an alert on the first read.
  std::string req = "GET /pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req), ec);
  asio::read(s, asio::dynamic_buffer(out.response), ec);
  if (ec && ec != asio::error::eof) out.error = "read: " + ec.message();
  return out;
}

class EdgedServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    pki_ = *pki;
    writeFile(dir.file("ca.crt"), pki_.ca_cert_pem);
    writeFile(dir.file("server.crt"), pki_.server_cert_pem);
    writeFile(dir.file("server.key"), pki_.server_key_pem);
    // The node's certificate, as CloudCore issues it (clientAuth), signed by the same CA.
    auto csr = cloudsim::makeCsrForTest({"system:node:edge-1", {"system:nodes"}});
    ASSERT_TRUE(csr.ok());
    auto der = cloudsim::signCsr(pki_, csr->csr_der, {2}, std::chrono::hours(1));
    ASSERT_TRUE(der.ok()) << der.status().toString();
    node_ = Client{cloudsim::certDerToPem(*der), csr->key_pem};
    // A certificate from another CA.
    auto other = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(other.ok());
    stranger_ = Client{other->server_cert_pem, other->server_key_pem};
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  EdgedServerOptions tlsOptions(const std::string& address) {
    EdgedServerOptions o;
    o.address = address;
    o.port = 0;
    o.tls_cert_file = dir.file("server.crt");
    o.tls_private_key_file = dir.file("server.key");
    o.client_ca_file = dir.file("ca.crt");
    return o;
  }
  Status start(EdgedServerOptions o) {
    EdgedServerCallbacks cb;
    cb.pods = [] { return std::string(kPodList); };
    server_ = makeEdgedServer(ioc_, std::move(o), cb);
    return server_->start();
  }

  testing::TempDir dir;
  cloudsim::Pki pki_;
  Client node_;
  Client stranger_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<EdgedServer> server_;
};

TEST_F(EdgedServerTlsTest, NonLoopbackWithoutTlsRefusesToStart) {
  for (const char* address : {"0.0.0.0", "::"}) {
    EdgedServerOptions o;
    o.address = address;
    o.port = 0;
    Status st = start(o);
    ASSERT_FALSE(st.ok()) << address;
    EXPECT_EQ(st.code(), core::StatusCode::InvalidArgument);
    EXPECT_NE(st.message().find("is not a loopback address"), std::string::npos) << st.message();
    for (const char* key :
         {"modules.edged.tailoredKubeletConfig.tlsCertFile",
          "modules.edged.tailoredKubeletConfig.tlsPrivateKeyFile",
          "modules.edged.tailoredKubeletConfig.authentication.x509.clientCAFile"}) {
      EXPECT_NE(st.message().find(key), std::string::npos) << key << " in " << st.message();
    }
    server_.reset();
  }
  // Only the CA missing: the message names just that key.
  EdgedServerOptions partial = tlsOptions("0.0.0.0");
  partial.client_ca_file.clear();
  Status st = start(partial);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("authentication.x509.clientCAFile"), std::string::npos);
  EXPECT_EQ(st.message().find("tlsCertFile"), std::string::npos) << st.message();
  server_.reset();
  // A key that does not belong to the certificate.
  EdgedServerOptions wrong = tlsOptions("0.0.0.0");
  writeFile(dir.file("other.key"), stranger_.key_pem);
  wrong.tls_private_key_file = dir.file("other.key");
  st = start(wrong);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tlsPrivateKeyFile"), std::string::npos) << st.message();
  server_.reset();
  // Loopback without TLS: the default, still plain HTTP.
  EdgedServerOptions loopback;
  loopback.port = 0;
  EXPECT_TRUE(start(loopback).ok());
}

TEST_F(EdgedServerTlsTest, OnlyClientsWithACertificateFromTheNodeCaGetAnAnswer) {
  // Listening on every address: reachable from the network, so TLS is mandatory.
  ASSERT_TRUE(start(tlsOptions("0.0.0.0")).ok());
  const uint16_t port = server_->port();

  Outcome ok = tlsGetPods(port, node_, pki_.ca_cert_pem);
  ASSERT_TRUE(ok.handshake_ok) << ok.error;
  EXPECT_EQ(ok.response.rfind("HTTP/1.1 200", 0), 0u) << ok.response;
  EXPECT_NE(ok.response.find(kPodList), std::string::npos) << ok.response;

  for (const auto& [name, client] : std::vector<std::pair<std::string, Client>>{
           {"no certificate", Client{}}, {"another CA", stranger_}}) {
    Outcome refused = tlsGetPods(port, client, pki_.ca_cert_pem);
    EXPECT_FALSE(refused.error.empty()) << name;
    EXPECT_EQ(refused.response.find("HTTP/1.1"), std::string::npos)
        << name << ": " << refused.response;
  }

  // Plain HTTP gets no HTTP answer either.
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string req = "GET /pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  boost::system::error_code ec;
  asio::write(s, asio::buffer(req), ec);
  std::string raw;
  asio::read(s, asio::dynamic_buffer(raw), ec);
  EXPECT_EQ(raw.find(kPodList), std::string::npos) << raw;
  EXPECT_EQ(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
}

// edgecore.yaml: the same rule when the file is loaded, naming the keys to set.
TEST(EdgedServerTlsConfigTest, NonLoopbackAddressNeedsTheTlsKeys) {
  const core::HostInfo host{"edge-1", "192.168.1.10"};
  const std::string head =
      "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\nmodules:\n  edged:\n"
      "    tailoredKubeletConfig:\n";
  auto bad = core::parseConfig(head + "      address: 0.0.0.0\n", "edgecore.yaml", host);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("modules.edged.tailoredKubeletConfig.tlsCertFile"),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("authentication.x509.clientCAFile"), std::string::npos);
  auto good = core::parseConfig(head +
                                    "      address: 0.0.0.0\n"
                                    "      tlsCertFile: /etc/kubeedge/certs/edged.crt\n"
                                    "      tlsPrivateKeyFile: /etc/kubeedge/certs/edged.key\n"
                                    "      authentication:\n        x509:\n"
                                    "          clientCAFile: /etc/kubeedge/ca/rootCA.crt\n",
                                "edgecore.yaml", host);
  ASSERT_TRUE(good.ok()) << good.status().toString();
  EXPECT_EQ(good->modules.edged.tls_cert_file, "/etc/kubeedge/certs/edged.crt");
  EXPECT_EQ(good->modules.edged.tls_private_key_file, "/etc/kubeedge/certs/edged.key");
  EXPECT_EQ(good->modules.edged.client_ca_file, "/etc/kubeedge/ca/rootCA.crt");
  EXPECT_TRUE(core::parseConfig(head + "      address: 127.0.0.1\n", "edgecore.yaml", host).ok());
}

}  // namespace
}  // namespace edgecore::edged
