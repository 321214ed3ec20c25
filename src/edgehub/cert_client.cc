#include "cert_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "tls.h"

namespace edgecore::edgehub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxBodyBytes = 1u << 20;

core::Status stepFailed(const char* step, const Endpoint& ep, const boost::system::error_code& ec) {
  std::string what = std::string(step) + " " + ep.authority + ": " + ec.message();
  if (ec == beast::error::timeout) {
    return core::deadlineExceeded(what);
  }
  return core::unavailable(what);
}

}  // namespace

asio::awaitable<core::Result<HttpReply>> httpsExchange(asio::any_io_executor ex,
                                                       HttpsRequest request) {
  const Endpoint& ep = request.server;
  constexpr auto token = asio::as_tuple(asio::use_awaitable);
  beast::ssl_stream<beast::tcp_stream> stream(ex, *request.tls);
  core::Status peer = setTlsPeer(stream.native_handle(), ep, request.verify_peer);
  if (!peer.ok()) {
    co_return peer;
  }
  {
    auto dial_op = net::dialTls(stream, ep, request.timeout);
    core::Status dialled = co_await std::move(dial_op);
    if (!dialled.ok()) {
      co_return dialled;
    }
  }
  http::request<http::string_body> req(
      request.method == "POST" ? http::verb::post : http::verb::get, request.target, 11);
  req.set(http::field::host, ep.authority);
  req.set(http::field::user_agent, "edgecore-cpp");
  for (const auto& [name, value] : request.headers) {
    req.set(name, value);
  }
  req.body() = std::move(request.body);
  req.prepare_payload();
  auto [werr, written] = co_await http::async_write(stream, req, token);
  (void)written;
  if (werr) {
    co_return stepFailed("send request to", ep, werr);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  auto [rderr, read] = co_await http::async_read(stream, buffer, parser, token);
  (void)read;
  if (rderr) {
    co_return stepFailed("read response from", ep, rderr);
  }
  beast::get_lowest_layer(stream).close();  // no TLS close_notify wait: one request per dial
  auto& res = parser.get();
  co_return HttpReply{res.result_int(), std::move(res.body())};
}

}  // namespace edgecore::edgehub
