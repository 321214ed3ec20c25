// The only translation unit of edged with Beast in it (compile time): HTTP parsing, routing,
// log streaming and the exec/attach upgrade proxy.

#include "server/edged_server.h"

#include <sys/stat.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "edgecore/core/async/accept_errors.h"
#include "edgecore/core/async/spawn.h"
#include "server/conn_stream.h"
#include "server/cri_log.h"
#include "server/server_tls.h"

namespace edgecore::edged {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr size_t kProxyBuffer = 32 * 1024;
constexpr size_t kFollowChunk = 64 * 1024;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Conn {
  Conn(tcp::socket s, asio::ssl::context* tls)
      : stream(std::move(s), tls), upstream(stream.get_executor()) {}
  ConnStream stream;     // TLS when the server has it
  tcp::socket upstream;  // exec/attach: the runtime's streaming server
  bool closed = false;
  void close() {
    closed = true;
    error_code ec;
    stream.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.tcp().socket().close(ec);
    upstream.close(ec);
  }
};

struct State {
  State(asio::io_context& io, EdgedServerOptions o, EdgedServerCallbacks c)
      : ioc(io),
        strand(asio::make_strand(io)),
        acceptor(strand),
        opts(std::move(o)),
        cb(std::move(c)) {}
  asio::io_context& ioc;
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  EdgedServerOptions opts;
  EdgedServerCallbacks cb;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP (loopback only)
  std::mutex mu;
  std::map<uint64_t, std::weak_ptr<Conn>> conns;
  uint64_t next_id = 0;
  std::atomic<bool> stopped{false};
};

// Removes a connection from the registry when its session ends.
struct ConnGuard {
  ConnGuard(std::shared_ptr<State> s, uint64_t i) : st(std::move(s)), id(i) {}
  ConnGuard(const ConnGuard&) = delete;
  ConnGuard& operator=(const ConnGuard&) = delete;
  std::shared_ptr<State> st;
  uint64_t id;
  ~ConnGuard() {
    std::lock_guard lock(st->mu);
    st->conns.erase(id);
  }
};

std::string decode(boost::core::string_view s) {
  auto r = boost::urls::make_pct_string_view(s);
  return r ? std::string(r->decode()) : std::string(s);
}

awaitable<void> writeSimple(ConnStream& stream, unsigned version, bool keep_alive,
                            http::status status, std::string body, const char* type) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  stream.tcp().expires_after(std::chrono::seconds(30));
  error_code ec;
  co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
}

awaitable<bool> writeRaw(ConnStream& stream, const std::string& data) {
  stream.tcp().expires_after(std::chrono::seconds(30));
  error_code ec;
  co_await asio::async_write(stream, asio::buffer(data), asio::redirect_error(use_awaitable, ec));
  co_return !ec;
}

std::string chunk(std::string_view data) {
  char len[20];
  std::snprintf(len, sizeof len, "%zx\r\n", data.size());
  std::string s = len;
  s.append(data);
  s += "\r\n";
  return s;
}

// Reads from the client while a follow stream runs, only to notice it going away.
awaitable<void> watchClientGone(std::shared_ptr<Conn> c, std::shared_ptr<bool> gone,
                                std::shared_ptr<asio::steady_timer> wake) {
  char b[512];
  error_code ec;
  while (!ec) {
    co_await c->stream.async_read_some(asio::buffer(b), asio::redirect_error(use_awaitable, ec));
  }
  *gone = true;
  wake->cancel();
}

awaitable<void> serveLogs(std::shared_ptr<State> st, std::shared_ptr<Conn> c,
                          const http::request<http::string_body>& req,
                          std::multimap<std::string, std::string> query, std::string ns,
                          std::string pod, std::string container, bool* keep_open) {
  auto& stream = c->stream;
  const unsigned v = req.version();
  auto opts = parseLogQuery(query, nowNs());
  if (!opts.ok()) {
    auto op = writeSimple(stream, v, req.keep_alive(), http::status::bad_request,
                          opts.status().message(), "text/plain; charset=utf-8");
    co_await std::move(op);
    co_return;
  }
  auto loc = st->cb.log_location ? st->cb.log_location(ns, pod, container, opts->previous)
                                 : Result<LogLocation>(core::notFound("no log source"));
  if (!loc.ok()) {
    const bool nf = loc.status().code() == core::StatusCode::NotFound;
    auto op = writeSimple(stream, v, req.keep_alive(),
                          nf ? http::status::not_found : http::status::internal_server_error,
                          loc.status().message(), "text/plain; charset=utf-8");
    co_await std::move(op);
    co_return;
  }
  struct stat sb {};
  const ino_t inode_at_open = ::stat(loc->path.c_str(), &sb) == 0 ? sb.st_ino : 0;
  int64_t offset = 0;  // where the follower continues: right after what was read now
  auto content = readLogFile(loc->path, st->opts.max_log_bytes, &offset);
  if (!content.ok() && !opts->follow) {
    auto op = writeSimple(stream, v, req.keep_alive(), http::status::not_found,
                          content.status().message(), "text/plain; charset=utf-8");
    co_await std::move(op);
    co_return;
  }
  std::string existing = content.ok() ? std::move(*content) : std::string();
  if (!opts->follow) {
    auto op = writeSimple(stream, v, req.keep_alive(), http::status::ok,
                          renderLogs(existing, *opts), "text/plain");
    co_await std::move(op);
    co_return;
  }
  // follow: chunked stream of what is there, then of what gets written.
  *keep_open = false;
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
      "Cache-Control: no-cache\r\n\r\n";
  std::string first = renderLogs(existing, *opts);
  int64_t remaining = opts->limit_bytes.value_or(INT64_MAX);
  if (static_cast<int64_t>(first.size()) > remaining) first.resize(static_cast<size_t>(remaining));
  remaining -= static_cast<int64_t>(first.size());
  if (!first.empty()) head += chunk(first);
  if (!co_await writeRaw(stream, head)) co_return;

  // Continue after the last complete line of what was read (the client may already be writing
  // more: never stat the size again here).
  ino_t inode = inode_at_open;
  {
    const size_t last_nl = existing.rfind('\n');
    const size_t unfinished =
        last_nl == std::string::npos ? existing.size() : existing.size() - last_nl - 1;
    offset -= static_cast<int64_t>(unfinished);
    if (offset < 0) offset = 0;
  }
  LogOptions follow_opts = *opts;
  LogAssembler assembler(follow_opts);
  auto gone = std::make_shared<bool>(false);
  auto wake = std::make_shared<asio::steady_timer>(stream.get_executor());
  // No logger here: what a coroutine throws goes to stderr (the journal) through logCompletion.
  asio::co_spawn(stream.get_executor(), watchClientGone(c, gone, wake),
                 core::logCompletion(nullptr, "edged server log client watch"));
  std::string partial;
  bool stopped_seen = false;
  while (!*gone && !c->closed && remaining > 0) {
    std::string out;
    bool any = false;
    if (::stat(loc->path.c_str(), &sb) == 0) {
      if (sb.st_ino != inode || static_cast<int64_t>(sb.st_size) < offset) {
        inode = sb.st_ino;  // rotated or truncated: start over in the new file
        offset = 0;
        partial.clear();
      }
      if (static_cast<int64_t>(sb.st_size) > offset) {
        std::ifstream f(loc->path, std::ios::binary);
        f.seekg(offset);
        std::string data(std::min<size_t>(kFollowChunk, static_cast<size_t>(sb.st_size - offset)),
                         '\0');
        f.read(data.data(), static_cast<std::streamsize>(data.size()));
        data.resize(static_cast<size_t>(f.gcount()));
        offset += static_cast<int64_t>(data.size());
        any = !data.empty();
        partial += data;
        size_t pos = 0;
        std::string line;
        for (size_t nl; (nl = partial.find('\n', pos)) != std::string::npos; pos = nl + 1) {
          if (assembler.feed(std::string_view(partial).substr(pos, nl - pos), &line)) out += line;
        }
        partial.erase(0, pos);
        if (partial.size() > (1u << 20)) partial.clear();  // a line without end: drop it
      }
    }
    if (!out.empty()) {
      if (static_cast<int64_t>(out.size()) > remaining) out.resize(static_cast<size_t>(remaining));
      remaining -= static_cast<int64_t>(out.size());
      auto data = chunk(out);
      if (!co_await writeRaw(stream, data)) co_return;
    }
    if (any) continue;  // drain before sleeping
    if (loc->running && !loc->running()) {
      if (stopped_seen) break;  // one more pass after the stop to catch the last lines
      stopped_seen = true;
      continue;
    }
    wake->expires_after(st->opts.follow_poll);
    error_code ec;
    co_await wake->async_wait(asio::redirect_error(use_awaitable, ec));
  }
  if (!*gone && !c->closed) {
    co_await writeRaw(stream, "0\r\n\r\n");
  }
  c->close();
}

void shutdownSend(tcp::socket& s) {
  error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
}
void shutdownSend(ConnStream& s) { shutdownSend(s.tcp().socket()); }

template <class From, class To>
awaitable<void> pump(From& from, To& to, std::shared_ptr<Conn> c) {
  std::vector<char> buf(kProxyBuffer);
  error_code ec;
  for (;;) {
    size_t n =
        co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(to, asio::buffer(buf.data(), n),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) {
      c->close();  // the other direction cannot go on either
      co_return;
    }
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    shutdownSend(to);  // half-close: let the other side finish
  } else {
    c->close();
  }
}

awaitable<void> serveStream(std::shared_ptr<State> st, std::shared_ptr<Conn> c,
                            const http::request<http::string_body>& req, beast::flat_buffer& buf,
                            StreamRequest sreq, bool* keep_open) {
  auto& stream = c->stream;
  const unsigned v = req.version();
  *keep_open = false;
  if (!st->cb.stream_url) {
    auto op = writeSimple(stream, v, false, http::status::not_found, "streaming not available",
                          "text/plain; charset=utf-8");
    co_await std::move(op);
    co_return;
  }
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<Result<std::string>> result;
  };
  auto pending = std::make_shared<Pending>(stream.get_executor());
  pending->timer.expires_after(std::chrono::seconds(30));
  auto ex = stream.get_executor();
  st->cb.stream_url(sreq, [pending, ex](Result<std::string> url) {
    asio::post(ex, [pending, url = std::move(url)]() mutable {
      pending->result = std::move(url);
      pending->timer.cancel();
    });
  });
  error_code ec;
  co_await pending->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  if (!pending->result) {
    auto op = writeSimple(stream, v, false, http::status::gateway_timeout,
                          "timed out waiting for the runtime's streaming URL", "text/plain");
    co_await std::move(op);
    co_return;
  }
  if (!pending->result->ok()) {
    const auto& s = pending->result->status();
    auto op =
        writeSimple(stream, v, false,
                    s.code() == core::StatusCode::NotFound ? http::status::not_found
                                                           : http::status::internal_server_error,
                    s.message(), "text/plain; charset=utf-8");
    co_await std::move(op);
    co_return;
  }
  auto url = boost::urls::parse_uri(**pending->result);
  if (!url || (url->scheme() != "http" && url->scheme() != "ws")) {
    auto op = writeSimple(stream, v, false, http::status::internal_server_error,
                          "unsupported streaming URL from the runtime", "text/plain");
    co_await std::move(op);
    co_return;
  }
  const std::string host(url->host());
  const std::string port = url->has_port() ? std::string(url->port()) : "80";
  std::string target(url->encoded_path());
  if (target.empty()) target = "/";
  if (url->has_query()) target += "?" + std::string(url->encoded_query());

  tcp::resolver resolver(ex);
  auto results =
      co_await resolver.async_resolve(host, port, asio::redirect_error(use_awaitable, ec));
  if (!ec) {
    co_await asio::async_connect(c->upstream, results, asio::redirect_error(use_awaitable, ec));
  }
  if (!ec) {
    error_code nodelay_ec;  // an interactive stream: no Nagle wait behind a delayed ACK
    c->upstream.set_option(tcp::no_delay(true), nodelay_ec);
  }
  if (ec) {
    auto op =
        writeSimple(stream, v, false, http::status::bad_gateway,
                    "cannot reach the runtime streaming server: " + ec.message(), "text/plain");
    co_await std::move(op);
    co_return;
  }
  // Replay the client's request head to the runtime (new target and Host), then any bytes the
  // client already sent after it, then relay both ways untouched.
  std::string head = std::string(req.method_string()) + " " + target + " HTTP/1.1\r\n";
  for (const auto& f : req) {
    if (f.name() == http::field::host) continue;
    head += std::string(f.name_string()) + ": " + std::string(f.value()) + "\r\n";
  }
  head += "Host: " + host + ":" + port + "\r\n\r\n";
  co_await asio::async_write(c->upstream, asio::buffer(head),
                             asio::redirect_error(use_awaitable, ec));
  if (!ec && buf.size() > 0) {
    co_await asio::async_write(c->upstream, buf.data(), asio::redirect_error(use_awaitable, ec));
    buf.consume(buf.size());
  }
  if (ec) {
    c->close();
    co_return;
  }
  stream.tcp().expires_never();
  co_await (pump(stream, c->upstream, c) && pump(c->upstream, stream, c));
  c->close();
}

bool truthy(const std::string& v) { return v == "1" || v == "true" || v == "True"; }

// Over 80 lines: one connection's request loop, route by route; each route is a call.
awaitable<void> session(std::shared_ptr<State> st, std::shared_ptr<Conn> c, uint64_t id) {
  ConnGuard guard{st, id};  // built here: a guard passed by value would be destroyed twice
  beast::flat_buffer buf;
  if (auto* tls = c->stream.tls()) {
    // The client certificate is verified here (verify_peer | fail_if_no_peer_cert): a client
    // without one, or with one the CA did not sign, never gets to send a request.
    c->stream.tcp().expires_after(st->opts.request_timeout);
    error_code ec;
    co_await tls->async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, ec));
    if (ec) {
      c->close();
      co_return;
    }
  }
  bool keep_open = true;
  while (keep_open && !c->closed) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(64 * 1024);
    c->stream.tcp().expires_after(st->opts.request_timeout);
    error_code ec;
    co_await http::async_read(c->stream, buf, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == http::error::header_limit || ec == http::error::body_limit ||
          ec.category() == make_error_code(http::error::bad_method).category()) {
        auto op = writeSimple(c->stream, 11, false, http::status::bad_request, "bad request",
                              "text/plain");
        co_await std::move(op);
      }
      break;
    }
    const auto& req = parser.get();
    keep_open = req.keep_alive();
    std::string target(req.target());
    // Tolerate "//containerLogs/..." (MetaServer builds such paths).
    size_t lead = target.find_first_not_of('/');
    target = "/" + (lead == std::string::npos ? std::string() : target.substr(lead));
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) {
      auto op = writeSimple(c->stream, req.version(), keep_open, http::status::bad_request,
                            "invalid request target", "text/plain");
      co_await std::move(op);
      continue;
    }
    std::vector<std::string> segs;
    for (auto s : parsed->encoded_segments()) segs.push_back(decode(s));
    while (!segs.empty() && segs.back().empty()) segs.pop_back();
    std::multimap<std::string, std::string> query;
    for (auto p : parsed->params()) query.emplace(std::string(p.key), std::string(p.value));

    if (segs.size() == 1 && segs[0] == "healthz") {
      auto op = writeSimple(c->stream, req.version(), keep_open, http::status::ok, "ok",
                            "text/plain; charset=utf-8");
      co_await std::move(op);
    } else if (segs.size() == 1 && segs[0] == "pods") {
      std::string body = st->cb.pods
                             ? st->cb.pods()
                             : R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]})";
      auto op = writeSimple(c->stream, req.version(), keep_open, http::status::ok, std::move(body),
                            "application/json");
      co_await std::move(op);
    } else if (segs.size() == 1 && segs[0] == "metrics" && st->cb.metrics) {
      auto op = writeSimple(c->stream, req.version(), keep_open, http::status::ok, st->cb.metrics(),
                            "text/plain; version=0.0.4; charset=utf-8");
      co_await std::move(op);
    } else if (segs.size() == 4 && segs[0] == "containerLogs") {
      auto op = serveLogs(st, c, req, std::move(query), segs[1], segs[2], segs[3], &keep_open);
      co_await std::move(op);
    } else if ((segs.size() == 4 || segs.size() == 5) &&
               (segs[0] == "exec" || segs[0] == "attach")) {
      StreamRequest sr;
      sr.kind = segs[0] == "exec" ? StreamRequest::Kind::Exec : StreamRequest::Kind::Attach;
      sr.ns = segs[1];
      sr.pod = segs[2];
      sr.container = segs.back();  // /exec/{ns}/{pod}/{uid}/{container} too
      auto [b, e] = query.equal_range("command");
      for (auto it = b; it != e; ++it) sr.command.push_back(it->second);
      auto flag = [&](const char* k, bool def) {
        auto it = query.find(k);
        return it == query.end() ? def : truthy(it->second);
      };
      sr.stdin_ = flag("input", false) || flag("stdin", false);
      sr.stdout_ = flag("output", false) || flag("stdout", false);
      sr.stderr_ = flag("error", false) || flag("stderr", false);
      sr.tty = flag("tty", false);
      if (sr.kind == StreamRequest::Kind::Exec && sr.command.empty()) {
        auto op = writeSimple(c->stream, req.version(), keep_open, http::status::bad_request,
                              "you must specify at least 1 command", "text/plain");
        co_await std::move(op);
        continue;
      }
      auto op = serveStream(st, c, req, buf, std::move(sr), &keep_open);
      co_await std::move(op);
    } else {
      auto op = writeSimple(c->stream, req.version(), keep_open, http::status::not_found,
                            "404 page not found\n", "text/plain; charset=utf-8");
      co_await std::move(op);
    }
  }
  c->close();
}

awaitable<void> acceptLoop(std::shared_ptr<State> st) {
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await st->acceptor.async_accept(asio::make_strand(st->ioc),
                                                          asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || st->stopped) co_return;
      if (co_await core::waitOutAcceptError(ec)) {
        continue;
      }
      // Reaches stderr through logCompletion: the listening socket is unusable.
      throw boost::system::system_error(ec, "edged server listener failed, no more connections");
    }
    error_code nodelay_ec;  // exec/attach/log streams: no Nagle wait behind a delayed ACK
    sock.set_option(tcp::no_delay(true), nodelay_ec);
    auto c = std::make_shared<Conn>(std::move(sock), st->tls.get());
    uint64_t id;
    {
      std::lock_guard lock(st->mu);
      if (st->conns.size() >= st->opts.max_connections) {
        c->close();
        continue;
      }
      id = st->next_id++;
      st->conns[id] = c;
    }
    auto ex = c->stream.get_executor();
    asio::co_spawn(ex, session(st, c, id), core::logCompletion(nullptr, "edged server session"));
  }
}

class ServerImpl : public EdgedServer {
 public:
  ServerImpl(asio::io_context& ioc, EdgedServerOptions o, EdgedServerCallbacks cb)
      : st_(std::make_shared<State>(ioc, std::move(o), std::move(cb))) {}
  ~ServerImpl() override { stop(); }

  Status start() override {
    error_code ec;
    auto addr = asio::ip::make_address(st_->opts.address, ec);
    if (ec)
      return core::invalidArgument("edged server address " + st_->opts.address + ": " +
                                   ec.message());
    // Without authentication the server may only be reachable from this node (issue #17).
    const bool want_tls = !st_->opts.tls_cert_file.empty() ||
                          !st_->opts.tls_private_key_file.empty() ||
                          !st_->opts.client_ca_file.empty();
    if (!addr.is_loopback() || want_tls) {
      auto tls = makeServerTls(st_->opts, addr.is_loopback());
      if (!tls.ok()) return tls.status();
      st_->tls = std::move(tls).value();
    }
    tcp::endpoint ep(addr, st_->opts.port);
    st_->acceptor.open(ep.protocol(), ec);
    if (!ec) st_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) st_->acceptor.bind(ep, ec);
    if (!ec) st_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return core::unavailable("edged server cannot listen on " + st_->opts.address + ":" +
                               std::to_string(st_->opts.port) + ": " + ec.message());
    }
    port_ = st_->acceptor.local_endpoint().port();
    asio::co_spawn(st_->strand, acceptLoop(st_),
                   core::logCompletion(nullptr, "edged server accept"));
    return Status();
  }

  void stop() override {
    if (st_->stopped.exchange(true)) return;
    asio::post(st_->strand, [st = st_] {
      error_code ec;
      st->acceptor.close(ec);
    });
    std::lock_guard lock(st_->mu);
    for (auto& [id, w] : st_->conns) {
      if (auto c = w.lock()) {
        asio::post(c->stream.get_executor(), [c] { c->close(); });
      }
    }
  }

  uint16_t port() const override { return port_; }
  size_t activeConnectionsForTest() const override {
    std::lock_guard lock(st_->mu);
    return st_->conns.size();
  }

 private:
  std::shared_ptr<State> st_;
  uint16_t port_ = 0;
};

}  // namespace

std::unique_ptr<EdgedServer> makeEdgedServer(asio::io_context& ioc, EdgedServerOptions options,
                                             EdgedServerCallbacks callbacks) {
  return std::make_unique<ServerImpl>(ioc, std::move(options), std::move(callbacks));
}

}  // namespace edgecore::edged
