#pragma once

// A stand-in for the edged (kubelet-style) HTTP server on 127.0.0.1:<port 0>, for edgestream
// tests while the real one (src/edged/server) is built elsewhere. Plain HTTP/1.1:
//   GET  /containerLogs/<ns>/<pod>/<c>          `lines` lines "<pod> line <i>\n", then EOF
//   GET  /containerLogs/...?follow=true          chunked: 3 lines, then "tick <n>\n" every 20 ms
//                                                until the client goes away
//   GET  /metrics                                text from the `metrics` callback (the agent's
//                                                own series) plus one stand-in series
//   POST /exec/... | /attach/... (Upgrade)       "HTTP/1.1 101 Switching Protocols" and then:
//        command=echo  -> "hello from exec\n", close
//        otherwise     -> interactive: every chunk read comes back as "> <chunk>"; "exit\n"
//                         answers "bye\n" and closes
// Everything else: 404 with a text body. Records the request targets and header maps it saw.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgecore::testing {

class LocalEdged {
 public:
  struct Seen {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lowercase name -> last value
  };

  explicit LocalEdged(std::function<std::string()> metrics = {}, int lines = 40)
      : metrics_(std::move(metrics)), lines_(lines), acceptor_(ioc_) {
    namespace asio = boost::asio;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, acceptLoop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~LocalEdged() {
    boost::asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int active() const {
    std::lock_guard lock(mu_);
    return active_;
  }

 private:
  using tcp = boost::asio::ip::tcp;
  static constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

  boost::asio::awaitable<void> acceptLoop() {
    while (true) {
      auto op = acceptor_.async_accept(kTuple);
      auto [ec, sock] = co_await std::move(op);
      if (ec) {
        co_return;
      }
      boost::asio::co_spawn(ioc_, serve(std::move(sock)), boost::asio::detached);
    }
  }

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }

  boost::asio::awaitable<void> writeAll(tcp::socket& sock, std::string data, bool& ok) {
    auto op = boost::asio::async_write(sock, boost::asio::buffer(data), kTuple);
    auto [ec, n] = co_await std::move(op);
    (void)n;
    ok = !ec;
  }

  boost::asio::awaitable<void> serve(tcp::socket sock) {
    namespace http = boost::beast::http;
    {
      std::lock_guard lock(mu_);
      ++active_;
    }
    boost::beast::flat_buffer buf;
    http::request_parser<http::empty_body> parser;
    auto rd = http::async_read_header(sock, buf, parser, kTuple);
    auto [ec, n] = co_await std::move(rd);
    (void)n;
    if (!ec) {
      auto& req = parser.get();
      Seen s;
      s.method = std::string(req.method_string());
      s.target = std::string(req.target());
      for (const auto& f : req) s.headers[lower(f.name_string())] = std::string(f.value());
      {
        std::lock_guard lock(mu_);
        seen_.push_back(s);
      }
      std::string target = s.target;
      std::string path = target.substr(0, target.find('?'));
      std::string query =
          target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
      bool ok = true;
      if (path.rfind("/containerLogs/", 0) == 0) {
        std::string pod = path.substr(std::string("/containerLogs/").size());
        pod = pod.substr(pod.find('/') + 1);
        pod = pod.substr(0, pod.find('/'));
        if (query.find("follow=true") != std::string::npos) {
          auto w = writeAll(sock,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n",
                            ok);
          co_await std::move(w);
          for (int i = 0; ok; ++i) {
            std::string line = i < 3 ? pod + " line " + std::to_string(i) + "\n"
                                     : "tick " + std::to_string(i) + "\n";
            char size[32];
            std::snprintf(size, sizeof size, "%zx\r\n", line.size());
            auto wl = writeAll(sock, std::string(size) + line + "\r\n", ok);
            co_await std::move(wl);
            boost::asio::steady_timer t(ioc_, std::chrono::milliseconds(20));
            auto tw = t.async_wait(kTuple);
            co_await std::move(tw);
          }
        } else {
          std::string body;
          for (int i = 0; i < lines_; ++i) body += pod + " line " + std::to_string(i) + "\n";
          auto w = writeAll(sock,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body,
                            ok);
          co_await std::move(w);
        }
      } else if (path == "/metrics") {
        std::string body = metrics_ ? metrics_() : std::string();
        body += "# HELP standin_up The stand-in edged server.\n# TYPE standin_up gauge\n";
        body += "standin_up 1\n";
        auto w = writeAll(sock,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                          "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body,
                          ok);
        co_await std::move(w);
      } else if (path.rfind("/exec/", 0) == 0 || path.rfind("/attach/", 0) == 0) {
        auto w = writeAll(sock,
                          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                          "Upgrade: SPDY/3.1\r\n\r\n",
                          ok);
        co_await std::move(w);
        if (query.find("command=echo") != std::string::npos) {
          auto we = writeAll(sock, "hello from exec\n", ok);
          co_await std::move(we);
        } else {
          // Bytes the parser read past the header belong to the stream.
          std::string pending = boost::beast::buffers_to_string(buf.data());
          std::string chunk(4096, '\0');
          while (ok) {
            if (pending.empty()) {
              auto r = sock.async_read_some(boost::asio::buffer(chunk), kTuple);
              auto [rec, rn] = co_await std::move(r);
              if (rec) break;
              pending.assign(chunk.data(), rn);
            }
            std::string got = std::move(pending);
            pending.clear();
            if (got.find("exit\n") != std::string::npos) {
              auto wb = writeAll(sock, "bye\n", ok);
              co_await std::move(wb);
              break;
            }
            auto wr = writeAll(sock, "> " + got, ok);
            co_await std::move(wr);
          }
        }
      } else {
        std::string body = "404 page not found";
        auto w =
            writeAll(sock,
                     "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n" + body,
                     ok);
        co_await std::move(w);
      }
    }
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
    std::lock_guard lock(mu_);
    --active_;
  }

  std::function<std::string()> metrics_;
  int lines_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  int active_ = 0;
};

}  // namespace edgecore::testing
