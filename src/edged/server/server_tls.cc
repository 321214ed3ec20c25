#include "server/server_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace edgecore::edged {

namespace ssl = boost::asio::ssl;

namespace {

std::string missingKeysMessage(const EdgedServerOptions& o, bool loopback) {
  std::string missing;
  auto add = [&](const std::string& value, const char* key) {
    if (value.empty()) missing += std::string(missing.empty() ? "" : ", ") + key;
  };
  add(o.tls_cert_file, kTlsCertFileKey);
  add(o.tls_private_key_file, kTlsPrivateKeyFileKey);
  add(o.client_ca_file, kClientCaFileKey);
  const std::string where = "edged server on " + o.address + ":" + std::to_string(o.port);
  if (loopback) {
    return where + ": TLS is configured only in part; set " + missing;
  }
  return where +
         " is not a loopback address, so it requires TLS with client certificates "
         "verified against the node's CA: set " +
         missing + " (or keep modules.edged.tailoredKubeletConfig.address at 127.0.0.1)";
}

}  // namespace

core::Result<std::shared_ptr<ssl::context>> makeServerTls(const EdgedServerOptions& o,
                                                          bool loopback) {
  if (o.tls_cert_file.empty() || o.tls_private_key_file.empty() || o.client_ca_file.empty()) {
    return core::invalidArgument(missingKeysMessage(o, loopback));
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  auto fail = [&](const char* key, const std::string& file) {
    return core::invalidArgument(std::string(key) + " " + file + ": " + ec.message());
  };
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) return fail(kTlsCertFileKey, o.tls_cert_file);
  ctx->use_private_key_file(o.tls_private_key_file, ssl::context::pem, ec);
  if (ec) return fail(kTlsPrivateKeyFileKey, o.tls_private_key_file);
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return core::invalidArgument(std::string(kTlsPrivateKeyFileKey) + " " + o.tls_private_key_file +
                                 ": does not match " + kTlsCertFileKey);
  }
  ctx->load_verify_file(o.client_ca_file, ec);
  if (ec) return fail(kClientCaFileKey, o.client_ca_file);
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  // The CA list sent in the CertificateRequest, so clients pick the right certificate.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  ERR_clear_error();
  return ctx;
}

}  // namespace edgecore::edged
