#pragma once

// A TLS terminator for tests: accepts TLS on 127.0.0.1:0 with the given certificate and pipes
// each connection's bytes to a plain TCP port. kubectl sends bearer tokens only over TLS, and on
// this branch MetaServer's own HTTPS listener is not there yet; with it, tests can drop this.
// Runs its own io_context on one thread (every coroutine on that thread).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <thread>

namespace edgecore::testing {

class TlsFront {
 public:
  TlsFront(const std::string& cert_pem, const std::string& key_pem, uint16_t backend_port)
      : backend_port_(backend_port) {
    ssl_.use_certificate_chain(boost::asio::buffer(cert_pem));
    ssl_.use_private_key(boost::asio::buffer(key_pem), boost::asio::ssl::context::pem);
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    boost::asio::co_spawn(io_, accept(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsFront() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  using Tcp = boost::asio::ip::tcp;
  using TlsStream = boost::asio::ssl::stream<Tcp::socket>;

  boost::asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      boost::asio::co_spawn(io_, serve(std::move(socket)), boost::asio::detached);
    }
  }
  boost::asio::awaitable<void> serve(Tcp::socket socket) {
    auto tls = std::make_shared<TlsStream>(std::move(socket), ssl_);
    auto backend = std::make_shared<Tcp::socket>(io_);
    try {
      co_await tls->async_handshake(TlsStream::server, boost::asio::use_awaitable);
      co_await backend->async_connect({boost::asio::ip::make_address("127.0.0.1"), backend_port_},
                                      boost::asio::use_awaitable);
    } catch (...) {
      co_return;
    }
    boost::asio::co_spawn(io_, pipe(tls, backend), boost::asio::detached);
    co_await pipe(backend, tls);
  }
  template <typename From, typename To>
  boost::asio::awaitable<void> pipe(std::shared_ptr<From> from, std::shared_ptr<To> to) {
    char buf[16384];
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(
          boost::asio::buffer(buf), boost::asio::as_tuple(boost::asio::use_awaitable));
      if (n > 0) {
        auto [wec, wn] = co_await boost::asio::async_write(
            *to, boost::asio::buffer(buf, n), boost::asio::as_tuple(boost::asio::use_awaitable));
        if (wec) ec = wec;
      }
      if (ec) {
        boost::system::error_code ignored;
        lowest(*from).close(ignored);
        lowest(*to).close(ignored);
        co_return;
      }
    }
  }
  static Tcp::socket& lowest(Tcp::socket& s) { return s; }
  static Tcp::socket& lowest(TlsStream& s) { return s.next_layer(); }

  uint16_t backend_port_;
  boost::asio::io_context io_;
  boost::asio::ssl::context ssl_{boost::asio::ssl::context::tls_server};
  Tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

}  // namespace edgecore::testing
