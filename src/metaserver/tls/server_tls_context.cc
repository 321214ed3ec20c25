#include "tls/server_tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <boost/asio/buffer.hpp>

namespace edgecore::metaserver::tls {
namespace {

namespace ssl = boost::asio::ssl;

std::string nameEntry(X509_NAME_ENTRY* entry) {
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

core::Result<std::shared_ptr<ssl::context>> makeServerTlsContext(const ServingCertificate& cert,
                                                                 const std::string& client_ca_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  // Kubernetes' serving default and v1.20's MetaServer: nothing older than TLS 1.2.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return core::internalError("cannot set the minimum TLS version");
  }
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  ctx->use_certificate_chain(boost::asio::buffer(cert.cert_chain_pem), ec);
  if (ec) return core::invalidArgument("metaserver serving certificate: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(cert.key_pem), ssl::context::pem, ec);
  if (ec) return core::invalidArgument("metaserver serving key: " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return core::invalidArgument("metaserver serving key does not match its certificate");
  }
  if (!client_ca_pem.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(client_ca_pem), ec);
    if (ec) return core::invalidArgument("metaserver client CA (tlsCaFile): " + ec.message());
    // Asked for, verified when given, not required: the authorizer decides about anonymous
    // callers (bearer tokens).
    ctx->set_verify_mode(ssl::verify_peer, ec);
    // Resumed sessions of clients with certificates need a context id.
    static const unsigned char kSessionContext[] = "edgecore-metaserver";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  }
  return ctx;
}

std::optional<PeerCertificate> verifiedPeerCertificate(SSL* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (!peer) return std::nullopt;
  std::optional<PeerCertificate> out;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    PeerCertificate pc;
    X509_NAME* subject = X509_get_subject_name(peer);
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (idx >= 0) pc.common_name = nameEntry(X509_NAME_get_entry(subject, idx));
    for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) >= 0;) {
      pc.organizations.push_back(nameEntry(X509_NAME_get_entry(subject, i)));
    }
    out = std::move(pc);
  }
  X509_free(peer);
  return out;
}

}  // namespace edgecore::metaserver::tls
