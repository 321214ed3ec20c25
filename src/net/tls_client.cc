#include "edgecore/net/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <charconv>

#include "edgecore/core/host_port.h"

namespace edgecore::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

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

core::Result<Endpoint> parseEndpoint(std::string_view text) {
  std::string_view s = text;
  if (size_t scheme = s.find("://"); scheme != std::string_view::npos) {
    s.remove_prefix(scheme + 3);
  }
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    s = s.substr(0, slash);
  }
  auto hp = core::parseHostPort(s);
  if (!hp.ok()) {
    return core::invalidArgument("address \"" + std::string(text) + "\": " + hp.status().message());
  }
  Endpoint ep;
  ep.host = hp->host;
  ep.port = std::to_string(hp->port);
  ep.authority = hp->authority();
  unsigned char buf[16];
  ep.is_ip = inet_pton(AF_INET, ep.host.c_str(), buf) == 1 ||
             inet_pton(AF_INET6, ep.host.c_str(), buf) == 1;
  return ep;
}

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
    if (config.require_server_purpose) {
      X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(native), X509_PURPOSE_SSL_SERVER);
    }
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
    if (config.check_key_matches && SSL_CTX_check_private_key(native) != 1) {
      return core::invalidArgument("client certificate and key do not match: " + opensslError());
    }
  }
  return ctx;
}

core::Status setTlsPeer(SSL* ssl, const Endpoint& ep, bool verify_name) {
  if (!ep.is_ip && SSL_set_tlsext_host_name(ssl, ep.host.c_str()) != 1) {
    return core::internalError("cannot set TLS server name: " + opensslError());
  }
  if (!verify_name) {
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

namespace {

core::Status stepFailed(const char* step, const Endpoint& ep, const boost::system::error_code& ec,
                        bool abandoned) {
  std::string what =
      std::string(step) + " " + ep.authority + ": " + (ec ? ec.message() : std::string("stopped"));
  if (ec == beast::error::timeout && !abandoned) {
    return core::deadlineExceeded(what);
  }
  return core::unavailable(what);
}

}  // namespace

asio::awaitable<core::Status> dialTls(TlsStream& stream, const Endpoint& ep,
                                      std::chrono::steady_clock::duration timeout,
                                      std::function<bool()> abandoned) {
  constexpr auto token = asio::as_tuple(asio::use_awaitable);
  auto gone = [&abandoned] { return abandoned && abandoned(); };
  tcp::resolver resolver(stream.get_executor());
  auto [rerr, results] = co_await resolver.async_resolve(ep.host, ep.port, token);
  if (rerr || gone()) {
    co_return stepFailed("resolve", ep, rerr, gone());
  }
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(timeout);
  auto [cerr, connected] = co_await tcp_layer.async_connect(results, token);
  (void)connected;
  if (cerr || gone()) {
    co_return stepFailed("connect", ep, cerr, gone());
  }
  // Interactive traffic (exec keystrokes, SPDY frames, ACKs): no Nagle delay behind a peer's
  // delayed ACK.
  boost::system::error_code nodelay_ec;
  tcp_layer.socket().set_option(asio::ip::tcp::no_delay(true), nodelay_ec);
  auto [herr] = co_await stream.async_handshake(asio::ssl::stream_base::client, token);
  if (herr || gone()) {
    co_return stepFailed("TLS handshake with", ep, herr, gone());
  }
  co_return core::Status();
}

}  // namespace edgecore::net
