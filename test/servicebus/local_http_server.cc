#include "servicebus/local_http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>
#include <vector>

namespace edgecore::servicebus::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

struct LocalHttpServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::thread thread;
  size_t big_bytes = 0;
  mutable std::mutex mu;
  size_t count = 0;
  SeenRequest last;
  std::vector<std::shared_ptr<tcp::socket>> held;  // /hang connections, kept open

  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> sock) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    error_code ec;
    co_await http::async_read(*sock, buf, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return;
    }
    SeenRequest seen{std::string(req.method_string()), std::string(req.target()), {}, req.body()};
    for (const auto& f : req) {
      seen.headers.emplace(std::string(f.name_string()), std::string(f.value()));
    }
    {
      std::lock_guard lock(mu);
      ++count;
      last = seen;
    }
    if (req.target() == "/hang") {
      held.push_back(sock);
      co_return;
    }
    http::response<http::string_body> res{http::status::ok, 11};
    if (req.target() == "/big") {
      res.body() = std::string(big_bytes, 'x');
    } else {
      res.set("X-Echo-Method", seen.method);
      res.set(http::field::content_type, "text/plain");
      res.body() = "echo:" + seen.body;
    }
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(*sock, res, asio::redirect_error(asio::use_awaitable, ec));
    sock->shutdown(tcp::socket::shutdown_both, ec);
  }

  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(ioc);
      error_code ec;
      co_await acceptor.async_accept(*sock, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        co_return;
      }
      asio::co_spawn(ioc, serve(sock), asio::detached);
    }
  }
};

LocalHttpServer::LocalHttpServer(size_t big_bytes) : impl_(std::make_shared<Impl>()) {
  impl_->big_bytes = big_bytes;
  asio::co_spawn(impl_->ioc, impl_->acceptLoop(), asio::detached);
  impl_->thread = std::thread([impl = impl_] { impl->ioc.run(); });
}

LocalHttpServer::~LocalHttpServer() {
  impl_->ioc.stop();
  impl_->thread.join();
}

uint16_t LocalHttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

size_t LocalHttpServer::requestCount() const {
  std::lock_guard lock(impl_->mu);
  return impl_->count;
}

SeenRequest LocalHttpServer::lastRequest() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last;
}

}  // namespace edgecore::servicebus::testing
