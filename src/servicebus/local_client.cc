#include "local_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace edgecore::servicebus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
using boost::system::error_code;

namespace {

constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

CallOutcome failed(int code, std::string text, const error_code& ec) {
  CallOutcome out;
  out.error = {code, std::move(text)};
  out.detail = ec.message();
  return out;
}

CallOutcome tooLarge(size_t max_body, const error_code& ec) {
  return failed(500,
                "error to receive response, err: response body too large (over " +
                    std::to_string(max_body) + " bytes)",
                ec);
}

}  // namespace

asio::awaitable<CallOutcome> callLocal(LocalCall call, std::chrono::milliseconds timeout,
                                       size_t max_body) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);
  error_code ec;
  const auto port = static_cast<uint16_t>(std::stoi(call.port));  // validPort checked it
  asio::ip::tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
  co_await stream.async_connect(ep, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed(404, "error to call service", ec);
  }
  http::request<http::string_body> req{http::string_to_verb(call.method), call.path, 11};
  if (req.method() == http::verb::unknown) {
    req.method_string(call.method);
  }
  req.set(http::field::host, "127.0.0.1:" + call.port);
  bool has_agent = false;
  for (const auto& [k, v] : call.headers) {
    has_agent = has_agent || k == "User-Agent";
    req.insert(k, v);
  }
  if (!has_agent) {
    req.set(http::field::user_agent, "Go-http-client/1.1");  // what the Go client sends
  }
  req.set(http::field::connection, "close");
  req.body() = std::move(call.body);
  if (!req.body().empty() || req.method() == http::verb::post || req.method() == http::verb::put ||
      req.method() == http::verb::patch) {
    req.prepare_payload();
  }
  co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    co_return failed(404, "error to call service", ec);
  }
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  parser.body_limit(max_body);
  if (req.method() == http::verb::head) {
    parser.skip(true);
  }
  co_await http::async_read_header(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
  if (ec == http::error::body_limit) {  // a Content-Length over the bound
    co_return tooLarge(max_body, ec);
  }
  if (ec) {  // no answer at all: Go's client.Do fails, hence "error to call service"
    co_return failed(404, "error to call service", ec);
  }
  co_await http::async_read(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
  if (ec == http::error::body_limit) {
    co_return tooLarge(max_body, ec);
  }
  if (ec) {
    co_return failed(500, "error to receive response, err: " + ec.message(), ec);
  }
  error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  auto& res = parser.get();
  CallOutcome out;
  out.ok = true;
  out.answer.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.answer.headers.emplace_back(canonicalHeaderKey(field.name_string()),
                                    std::string(field.value()));
  }
  out.answer.body = std::move(res.body());
  co_return out;
}

}  // namespace edgecore::servicebus
