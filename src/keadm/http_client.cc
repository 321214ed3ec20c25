// The one translation unit of keadm that includes Beast. Each call runs its own io_context on the
// calling thread (keadm is a short-lived CLI), with coroutines so every wait has a deadline.

#include "http_client.h"

#include <openssl/ssl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <variant>

#include "edgecore/core/async/spawn.h"

namespace edgecore::keadm {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

core::Status unreachable(const Endpoint& ep, const std::string& why) {
  if (ep.peer_name != "MetaServer") {
    return core::unavailable("cannot reach " + ep.peer_name + " at " + ep.url() + " (" + why + ")");
  }
  return core::unavailable("cannot reach MetaServer at " + ep.url() + ": is edgecore running? (" +
                           why + ")");
}

core::Result<ssl::context> makeTlsContext(const Endpoint& ep) {
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1, ec);
  // The server is always verified: against ca_file (MetaServer's CA), else the system store.
  if (!ep.ca_file.empty()) {
    ctx.load_verify_file(ep.ca_file, ec);
    if (ec) return core::invalidArgument("cannot load CA " + ep.ca_file + ": " + ec.message());
  } else {
    ctx.set_default_verify_paths(ec);
  }
  if (ep.insecure_skip_verify) {
    ctx.set_verify_mode(ssl::verify_none);
    return ctx;
  }
  ctx.set_verify_mode(ssl::verify_peer);
  // The certificate must also name the address we dial (MetaServer's carries IP SANs).
  ctx.set_verify_callback(ssl::host_name_verification(ep.host), ec);
  if (!ep.cert_file.empty()) {
    ctx.use_certificate_chain_file(ep.cert_file, ec);
    if (ec) {
      return core::invalidArgument("cannot load certificate " + ep.cert_file + ": " + ec.message());
    }
    ctx.use_private_key_file(ep.key_file, ssl::context::pem, ec);
    if (ec) return core::invalidArgument("cannot load key " + ep.key_file + ": " + ec.message());
  }
  return ctx;
}

beast::tcp_stream& lowest(PlainStream& s) { return s; }
beast::tcp_stream& lowest(TlsStream& s) { return beast::get_lowest_layer(s); }

// Connects (and shakes hands for TLS) within the deadline.
template <class Stream>
awaitable<core::Status> open(Stream& stream, const Endpoint& ep,
                             std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  const std::string port = std::to_string(ep.port);
  auto [rec, results] = co_await resolver.async_resolve(ep.host, port, kTuple);
  if (rec) co_return unreachable(ep, rec.message());
  auto& tcp_layer = lowest(stream);
  tcp_layer.expires_after(timeout);
  auto [cec, endpoint] = co_await tcp_layer.async_connect(results, kTuple);
  if (cec) co_return unreachable(ep, cec.message());
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    if (!SSL_set_tlsext_host_name(stream.native_handle(), ep.host.c_str())) {
      co_return core::internalError("cannot set TLS server name");
    }
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return unreachable(ep, "TLS handshake: " + hec.message());
  }
  co_return core::Status{};
}

http::request<http::string_body> makeRequest(const Endpoint& ep, std::string_view method,
                                             std::string_view target, std::string_view body,
                                             std::string_view content_type) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, ep.host + ":" + std::to_string(ep.port));
  req.set(http::field::user_agent, "keadm-cpp");
  req.set(http::field::accept, "application/json, */*");
  req.keep_alive(false);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body() = std::string(body);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.prepare_payload();
  }
  return req;
}

template <class Stream>
awaitable<core::Result<HttpReply>> exchange(Stream& stream, const Endpoint& ep,
                                            http::request<http::string_body> req,
                                            std::chrono::milliseconds timeout,
                                            const std::function<void(std::string_view)>* sink) {
  auto st = co_await open(stream, ep, timeout);
  if (!st.ok()) co_return st;
  auto& tcp_layer = lowest(stream);
  tcp_layer.expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  if (wec) co_return unreachable(ep, wec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  tcp_layer.expires_after(timeout);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
  if (hec == beast::error::timeout) {
    co_return core::deadlineExceeded("MetaServer at " + ep.url() + " did not answer in time");
  }
  if (hec) co_return unreachable(ep, hec.message());
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  bool streaming = sink != nullptr && reply.status == 200;
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    if (streaming) {
      tcp_layer.expires_never();
    } else {
      tcp_layer.expires_after(timeout);
    }
    auto [rec, rn] = co_await http::async_read_some(stream, buffer, parser, kTuple);
    size_t got = sizeof(chunk) - parser.get().body().size;
    if (got > 0) {
      if (streaming) {
        (*sink)(std::string_view(chunk, got));
      } else {
        if (reply.body.size() + got > kMaxBodyBytes) {
          co_return core::resourceExhausted("answer from MetaServer is larger than 64 MiB");
        }
        reply.body.append(chunk, got);
      }
    }
    if (rec == http::error::need_buffer) continue;
    if (rec == beast::error::timeout) {
      co_return core::deadlineExceeded("MetaServer at " + ep.url() + " stopped answering");
    }
    if (rec == http::error::end_of_stream || rec == asio::error::eof) break;
    if (rec) co_return core::unavailable("reading the answer of MetaServer: " + rec.message());
  }
  beast::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return reply;
}

// Runs `coro` to completion on a private io_context.
template <class T>
T runSync(std::function<awaitable<T>()> coro) {
  asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr failure;
  asio::co_spawn(
      ioc, [&]() -> awaitable<void> { out = co_await coro(); },
      [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      return T(core::internalError(std::string("unexpected: ") + e.what()));
    }
  }
  if (!out) return T(core::internalError("request did not finish"));
  return std::move(*out);
}

// One interactive exec over a websocket stream.
template <class WsStream>
class ExecSession {
 public:
  ExecSession(WsStream& ws, const ExecIo& io)
      : ws_(ws), io_(io), wake_(ws.get_executor()), writer_exit_(ws.get_executor()) {}

  awaitable<core::Result<int>> run(bool v5) {
    v5_ = v5;
    auto ex = co_await asio::this_coro::executor;
    asio::signal_set winch(ex, SIGWINCH);
    if (io_.tty) {
      queueResize();
      watchResize(winch);
    }
    if (io_.stdin_open) startStdinThread();
    core::spawnLogged(ex, writer(), nullptr, "keadm exec stdin writer");
    beast::flat_buffer buffer;
    int exit_code = 0;
    std::string error_text;
    while (true) {
      buffer.clear();
      auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
      if (ec) break;  // closed by the runtime when the command ends
      std::string msg = beast::buffers_to_string(buffer.data());
      if (msg.empty()) continue;
      unsigned char channel = static_cast<unsigned char>(msg[0]);
      std::string_view data(msg.data() + 1, msg.size() - 1);
      if (channel == 1 || channel == 2) {
        writeAll(channel == 1 ? STDOUT_FILENO : STDERR_FILENO, data);
      } else if (channel == 3) {
        parseStatus(data, &exit_code, &error_text);
      }
    }
    done_ = true;
    winch.cancel();
    wake_.cancel();
    // The writer coroutine refers to this session: it must be gone before the session is.
    while (!writer_finished_) {
      writer_exit_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await writer_exit_.async_wait(kTuple);
    }
    if (!error_text.empty()) co_return core::internalError(error_text);
    co_return exit_code;
  }

 private:
  static void writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Channel 3 carries a metav1.Status: Success, or Failure with an ExitCode cause.
  static void parseStatus(std::string_view text, int* exit_code, std::string* error_text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return;
    if (j.value("status", "") == "Success") return;
    if (j.value("reason", "") == "NonZeroExitCode" && j.contains("details")) {
      for (const auto& cause : j["details"].value("causes", nlohmann::json::array())) {
        if (cause.value("reason", "") == "ExitCode") {
          *exit_code = std::atoi(cause.value("message", "1").c_str());
          return;
        }
      }
    }
    *error_text = j.value("message", std::string(text));
  }

  void queue(std::string frame) {
    out_.push_back(std::move(frame));
    wake_.cancel();
  }

  void queueResize() {
    uint16_t cols = 0;
    uint16_t rows = 0;
    if (!io_.terminal_size || !io_.terminal_size(&cols, &rows)) return;
    nlohmann::json j = {{"Width", cols}, {"Height", rows}};
    queue(std::string(1, '\x04') + j.dump());
  }

  void watchResize(asio::signal_set& set) {
    set.async_wait([this, &set](const boost::system::error_code& ec, int) {
      if (ec || done_) return;
      queueResize();
      watchResize(set);
    });
  }

  // stdin may be a file, which epoll refuses: a plain thread reads it and posts to the loop.
  void startStdinThread() {
    auto ex = ws_.get_executor();
    std::thread([this, ex] {
      char buf[4096];
      while (true) {
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
        if (n <= 0) break;
        std::string frame(1, '\0');
        frame.append(buf, static_cast<size_t>(n));
        asio::post(ex, [this, frame = std::move(frame)]() mutable {
          if (!done_) queue(std::move(frame));
        });
      }
      asio::post(ex, [this] {
        // v5: tell the runtime stdin is finished (close frame for channel 0).
        if (!done_ && v5_) queue(std::string("\xff\x00", 2));
      });
    }).detach();
  }

  awaitable<void> writer() {
    ws_.binary(true);
    while (!done_) {
      if (out_.empty()) {
        wake_.expires_at(std::chrono::steady_clock::time_point::max());
        co_await wake_.async_wait(kTuple);
        continue;
      }
      std::string frame = std::move(out_.front());
      out_.pop_front();
      auto [ec, n] = co_await ws_.async_write(asio::buffer(frame), kTuple);
      if (ec) break;
    }
    writer_finished_ = true;
    writer_exit_.cancel();
  }

  WsStream& ws_;
  const ExecIo& io_;
  asio::steady_timer wake_;
  asio::steady_timer writer_exit_;  // run() waits on it for the writer to finish
  std::deque<std::string> out_;
  bool done_ = false;
  bool writer_finished_ = false;
  bool v5_ = false;
};

template <class Stream>
awaitable<core::Result<int>> execOver(Stream& stream, const Endpoint& ep, std::string target,
                                      std::chrono::milliseconds timeout, const ExecIo& io) {
  auto st = co_await open(stream, ep, timeout);
  if (!st.ok()) co_return st;
  websocket::stream<Stream&> ws(stream);
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(http::field::sec_websocket_protocol, "v5.channel.k8s.io, v4.channel.k8s.io");
    req.set(http::field::user_agent, "keadm-cpp");
  }));
  websocket::response_type res;
  lowest(stream).expires_after(timeout);
  const std::string host = ep.host + ":" + std::to_string(ep.port);
  auto [hec] = co_await ws.async_handshake(res, host, target, kTuple);
  if (hec) {
    if (res.result_int() != 0 && res.result_int() != 101) {
      co_return core::unavailable("exec was refused with status " +
                                  std::to_string(res.result_int()) + ": " + res.body());
    }
    co_return core::unavailable("exec stream: " + hec.message());
  }
  lowest(stream).expires_never();
  bool v5 = res[http::field::sec_websocket_protocol] == "v5.channel.k8s.io";
  ExecSession<websocket::stream<Stream&>> session(ws, io);
  auto result = co_await session.run(v5);
  co_return result;
}

}  // namespace

std::string Endpoint::url() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (tls ? "https://" : "http://") + h + ":" + std::to_string(port);
}

std::string urlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HttpClient::HttpClient(Endpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

core::Result<HttpReply> HttpClient::request(std::string_view method, std::string_view target,
                                            std::string_view body, std::string_view content_type) {
  return stream(method, target, nullptr, body, content_type);
}

core::Result<HttpReply> HttpClient::stream(std::string_view method, std::string_view target,
                                           const std::function<void(std::string_view)>& sink) {
  return stream(method, target, &sink, {}, {});
}

core::Result<HttpReply> HttpClient::stream(std::string_view method, std::string_view target,
                                           const std::function<void(std::string_view)>* sink,
                                           std::string_view body, std::string_view content_type) {
  auto req = makeRequest(endpoint_, method, target, body, content_type);
  using R = core::Result<HttpReply>;
  if (!endpoint_.tls) {
    return runSync<R>([&]() -> awaitable<R> {
      auto ex = co_await asio::this_coro::executor;
      PlainStream s(ex);
      auto r = co_await exchange(s, endpoint_, std::move(req), timeout_, sink);
      co_return r;
    });
  }
  auto ctx = makeTlsContext(endpoint_);
  if (!ctx.ok()) return ctx.status();
  return runSync<R>([&]() -> awaitable<R> {
    auto ex = co_await asio::this_coro::executor;
    TlsStream s(ex, *ctx);
    auto r = co_await exchange(s, endpoint_, std::move(req), timeout_, sink);
    co_return r;
  });
}

core::Result<int> HttpClient::execWebsocket(std::string_view target, const ExecIo& io) {
  using R = core::Result<int>;
  std::string t(target);
  if (!endpoint_.tls) {
    return runSync<R>([&]() -> awaitable<R> {
      auto ex = co_await asio::this_coro::executor;
      PlainStream s(ex);
      auto r = co_await execOver(s, endpoint_, t, timeout_, io);
      co_return r;
    });
  }
  auto ctx = makeTlsContext(endpoint_);
  if (!ctx.ok()) return ctx.status();
  return runSync<R>([&]() -> awaitable<R> {
    auto ex = co_await asio::this_coro::executor;
    TlsStream s(ex, *ctx);
    auto r = co_await execOver(s, endpoint_, t, timeout_, io);
    co_return r;
  });
}

}  // namespace edgecore::keadm
