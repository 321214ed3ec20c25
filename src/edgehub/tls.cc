#include "tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace edgecore::edgehub {

namespace asio = boost::asio;

namespace {

std::string opensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

}  // namespace

core::Result<std::shared_ptr<asio::ssl::context>> makeClientTlsContext(
    const ClientTlsConfig& config) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  if (config.verify_peer) {
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    BIO* bio = BIO_new_mem_buf(config.ca_pem.data(), static_cast<int>(config.ca_pem.size()));
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, cert);
      X509_free(cert);
      ++added;
    }
    BIO_free(bio);
    ERR_clear_error();  // the loop ends on a "no start line" error
    if (added == 0) {
      return core::invalidArgument("CA file holds no PEM certificate");
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  if (!config.cert_pem.empty()) {
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(config.cert_pem), ec);
    if (!ec) {
      ctx->use_private_key(asio::buffer(config.key_pem), asio::ssl::context::pem, ec);
    }
    if (ec) {
      return core::invalidArgument("client certificate/key unusable: " + ec.message());
    }
  }
  return ctx;
}

core::Status setTlsPeer(SSL* ssl, const Endpoint& ep, bool verify_peer) {
  if (!ep.is_ip && SSL_set_tlsext_host_name(ssl, ep.host.c_str()) != 1) {
    return core::internalError("cannot set TLS server name: " + opensslError());
  }
  if (!verify_peer) {
    return {};
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  int ok = ep.is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), 0);
  if (ok != 1) {
    return core::internalError("cannot set the expected server identity: " + opensslError());
  }
  return {};
}

}  // namespace edgecore::edgehub
