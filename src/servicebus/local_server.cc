#include "local_server.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <map>
#include <mutex>
#include <optional>

#include "edgecore/core/async/accept_errors.h"
#include "edgecore/core/async/spawn.h"

namespace edgecore::servicebus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kMaxDrainBytes = 8u << 20;

struct TlsFiles {
  std::string cert;
  std::string key;
};

// Loads the pair into one handshake's SSL (OpenSSL's certificate callback): 1 on success, 0
// fails the handshake. Runs on the connection's strand; reads two small files.
int loadPairForHandshake(SSL* ssl, void* arg) {
  const auto* files = static_cast<const TlsFiles*>(arg);
  if (SSL_use_certificate_chain_file(ssl, files->cert.c_str()) != 1 ||
      SSL_use_PrivateKey_file(ssl, files->key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_check_private_key(ssl) != 1) {
    return 0;
  }
  return 1;
}

// Checks the pair once at start, so a bad pair stops the server instead of every handshake.
core::Status checkPair(const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty()) {
    return core::invalidArgument(
        "servicebus TLS needs both modules.serviceBus.tlsCertFile and tlsPrivateKeyFile");
  }
  ssl::context probe(ssl::context::tls_server);
  error_code ec;
  probe.use_certificate_chain_file(files.cert, ec);
  if (ec) {
    return core::invalidArgument("servicebus tlsCertFile " + files.cert + ": " + ec.message());
  }
  probe.use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(probe.native_handle()) != 1) {
    return core::invalidArgument("servicebus tlsPrivateKeyFile " + files.key +
                                 ": unreadable or not the key of tlsCertFile");
  }
  X509* cert = SSL_CTX_get0_certificate(probe.native_handle());
  if (cert == nullptr || (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(cert) & XKU_SSL_SERVER) == 0) {
    return core::invalidArgument("servicebus tlsCertFile " + files.cert +
                                 ": the certificate lacks the serverAuth extended key usage");
  }
  return core::Status();
}

// One accepted connection, plain or TLS.
struct Conn {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  void close() { tcp().close(); }
};
using ConnPtr = std::shared_ptr<Conn>;

class ServerImpl : public LocalServer, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context& ioc, LocalServerOptions o, BodyHandler h)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), opts_(std::move(o)), handler_(std::move(h)) {}

  core::Status listen() {
    error_code ec;
    auto addr = asio::ip::make_address(opts_.address, ec);
    if (ec) {
      return core::invalidArgument("servicebus server address " + opts_.address + ": " +
                                   ec.message());
    }
    if (!opts_.tls_cert_file.empty() || !opts_.tls_private_key_file.empty()) {
      EC_RETURN_IF_ERROR(makeTls());
    }
    tcp::endpoint ep(addr, opts_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(ep, ec);
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return core::unavailable("servicebus server cannot listen on " + opts_.address + ":" +
                               std::to_string(opts_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    core::spawnLogged(acceptor_.get_executor(), acceptLoop(shared_from_this()), nullptr,
                      "servicebus server accept");
    return core::Status();
  }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      error_code ec;
      self->acceptor_.close(ec);
    });
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : conns_) {
      if (auto c = weak.lock()) {
        asio::post(c->tcp().get_executor(), [c] { c->close(); });
      }
    }
  }
  uint16_t port() const override { return port_; }

 private:
  core::Status makeTls() {
    files_ = {opts_.tls_cert_file, opts_.tls_private_key_file};
    EC_RETURN_IF_ERROR(checkPair(files_));
    tls_.emplace(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::single_dh_use);
    tls_->set_verify_mode(ssl::verify_none);
    SSL_CTX_set_cert_cb(tls_->native_handle(), &loadPairForHandshake, &files_);
    return core::Status();
  }

  static asio::awaitable<void> acceptLoop(std::shared_ptr<ServerImpl> self) {
    for (;;) {
      error_code ec;
      tcp::socket sock = co_await self->acceptor_.async_accept(
          asio::make_strand(self->ioc_), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || self->stopped_) {
          co_return;
        }
        if (co_await core::waitOutAcceptError(ec)) {
          continue;
        }
        if (self->opts_.on_failure) {
          self->opts_.on_failure(
              core::unavailable("servicebus server listener failed: " + ec.message()));
        }
        co_return;
      }
      auto c = std::make_shared<Conn>();
      if (self->tls_) {
        c->tls.emplace(beast::tcp_stream(std::move(sock)), *self->tls_);
      } else {
        c->plain.emplace(std::move(sock));
      }
      uint64_t id = 0;
      {
        std::lock_guard lock(self->mu_);
        if (self->conns_.size() >= self->opts_.max_connections) {
          c->close();
          continue;
        }
        id = self->next_id_++;
        self->conns_[id] = c;
      }
      core::spawnLogged(c->tcp().get_executor(), session(self, c, id), nullptr,
                        "servicebus server session");
    }
  }

  static asio::awaitable<void> session(std::shared_ptr<ServerImpl> self, ConnPtr c, uint64_t id) {
    if (c->tls) {
      c->tcp().expires_after(self->opts_.read_timeout);
      error_code ec;
      co_await c->tls->async_handshake(ssl::stream_base::server,
                                       asio::redirect_error(use_awaitable, ec));
      if (!ec) {
        co_await exchange(self, *c->tls, c->tcp());
      }
    } else {
      co_await exchange(self, *c->plain, c->tcp());
    }
    c->close();
    std::lock_guard lock(self->mu_);
    self->conns_.erase(id);
  }

  // After answering a request whose body was refused, reads (and drops) what the client still
  // sends, bounded in bytes and time, so closing does not reset the connection and destroy the
  // answer before the client reads it.
  template <class Stream>
  static asio::awaitable<void> drain(Stream& stream, beast::tcp_stream& tcp) {
    error_code ec;
    tcp.expires_after(std::chrono::seconds(5));
    std::array<char, 16 * 1024> chunk;
    size_t total = 0;
    while (!ec && total < kMaxDrainBytes) {
      total += co_await stream.async_read_some(asio::buffer(chunk),
                                               asio::redirect_error(use_awaitable, ec));
    }
  }

  template <class Stream>
  static asio::awaitable<void> exchange(std::shared_ptr<ServerImpl> self, Stream& stream,
                                        beast::tcp_stream& tcp) {
    beast::flat_buffer buf;
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(self->opts_.max_body);
    tcp.expires_after(self->opts_.read_timeout);
    error_code ec;
    co_await http::async_read(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
    const bool got_header = parser.is_header_done() || ec == http::error::body_limit;
    if (ec && !got_header) {
      co_return;
    }
    const bool unread = ec.failed();
    core::Result<std::string> body =
        ec ? core::Result<std::string>(core::invalidArgument(ec.message()))
           : core::Result<std::string>(std::move(parser.get().body()));
    tcp.expires_never();  // the handler has its own deadline (the cloud's answer)
    std::string answer = co_await self->handler_(std::move(body));
    http::response<http::string_body> res{http::status::ok,
                                          parser.is_header_done() ? parser.get().version() : 11};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = std::move(answer);
    res.prepare_payload();
    tcp.expires_after(self->opts_.read_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (unread && !ec) {
      co_await drain(stream, tcp);
    }
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  LocalServerOptions opts_;
  BodyHandler handler_;
  TlsFiles files_;                   // read by every handshake's certificate callback
  std::optional<ssl::context> tls_;  // set: HTTPS only
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;  // conns_: touched by the accept loop, sessions and stop()
  std::map<uint64_t, std::weak_ptr<Conn>> conns_;
  uint64_t next_id_ = 0;
};

}  // namespace

core::Result<std::shared_ptr<LocalServer>> startLocalServer(asio::io_context& ioc,
                                                            LocalServerOptions options,
                                                            BodyHandler handler) {
  auto server = std::make_shared<ServerImpl>(ioc, std::move(options), std::move(handler));
  EC_RETURN_IF_ERROR(server->listen());
  return std::shared_ptr<LocalServer>(std::move(server));
}

}  // namespace edgecore::servicebus
