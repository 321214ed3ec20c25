#include "local_server.h"

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>

#include "edgecore/core/async/spawn.h"

namespace edgecore::servicebus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kMaxDrainBytes = 8u << 20;

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
      if (auto s = weak.lock()) {
        asio::post(s->get_executor(), [s] { s->close(); });
      }
    }
  }
  uint16_t port() const override { return port_; }

 private:
  static asio::awaitable<void> acceptLoop(std::shared_ptr<ServerImpl> self) {
    for (;;) {
      error_code ec;
      tcp::socket sock = co_await self->acceptor_.async_accept(
          asio::make_strand(self->ioc_), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || self->stopped_) {
          co_return;
        }
        continue;  // e.g. EMFILE: try the next one
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(sock));
      uint64_t id = 0;
      {
        std::lock_guard lock(self->mu_);
        if (self->conns_.size() >= self->opts_.max_connections) {
          stream->close();
          continue;
        }
        id = self->next_id_++;
        self->conns_[id] = stream;
      }
      core::spawnLogged(stream->get_executor(), serve(self, stream, id), nullptr,
                        "servicebus server session");
    }
  }

  // After answering a request whose body was refused, reads (and drops) what the client still
  // sends, bounded in bytes and time, so closing does not reset the connection and destroy the
  // answer before the client reads it.
  static asio::awaitable<void> drain(beast::tcp_stream& stream) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(5));
    std::array<char, 16 * 1024> chunk;
    size_t total = 0;
    while (!ec && total < kMaxDrainBytes) {
      total += co_await stream.async_read_some(asio::buffer(chunk),
                                               asio::redirect_error(use_awaitable, ec));
    }
  }

  static asio::awaitable<void> serve(std::shared_ptr<ServerImpl> self,
                                     std::shared_ptr<beast::tcp_stream> stream, uint64_t id) {
    beast::flat_buffer buf;
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(self->opts_.max_body);
    stream->expires_after(self->opts_.read_timeout);
    error_code ec;
    co_await http::async_read(*stream, buf, parser, asio::redirect_error(use_awaitable, ec));
    const bool got_header = parser.is_header_done() || ec == http::error::body_limit;
    if (!ec || got_header) {
      const bool unread = ec.failed();
      core::Result<std::string> body =
          ec ? core::Result<std::string>(core::invalidArgument(ec.message()))
             : core::Result<std::string>(std::move(parser.get().body()));
      stream->expires_never();  // the handler has its own deadline (the cloud's answer)
      std::string answer = co_await self->handler_(std::move(body));
      http::response<http::string_body> res{http::status::ok,
                                            parser.is_header_done() ? parser.get().version() : 11};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(false);
      res.body() = std::move(answer);
      res.prepare_payload();
      stream->expires_after(self->opts_.read_timeout);
      co_await http::async_write(*stream, res, asio::redirect_error(use_awaitable, ec));
      if (unread && !ec) {
        co_await drain(*stream);
      }
    }
    stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream->close();
    std::lock_guard lock(self->mu_);
    self->conns_.erase(id);
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  LocalServerOptions opts_;
  BodyHandler handler_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;  // conns_: touched by the accept loop, sessions and stop()
  std::map<uint64_t, std::weak_ptr<beast::tcp_stream>> conns_;
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
