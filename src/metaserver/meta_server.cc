// The only translation unit that includes Beast's server side: accept loops, HTTP/1.1 keep-alive
// connections over plain TCP or TLS (requireAuthorization), chunked watch streams. REST semantics
// live in api_handler.cc. A connection is a template on its stream so the plain-HTTP path is the
// same code it was before TLS existed (no type erasure on the hot path).

#include "edgecore/metaserver/meta_server.h"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include "api_handler.h"
#include "edgecore/core/async/accept_errors.h"
#include "edgecore/core/async/spawn.h"
#include "pod_ops_handler.h"
#include "server_metrics.h"
#include "tls/server_tls_context.h"
#include "watch_hub.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What stop() needs of a connection, whatever its stream.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void closeAsync() = 0;  // any thread: closes on the connection's strand
};

// Everything connections share. Held by shared_ptr so coroutines still unwinding after the
// server object is gone never touch freed memory.
struct State {
  MetaServerOptions options;
  metamanager::MetaStore& store;
  CloudForwarder& forwarder;
  core::Clock& clock;
  std::shared_ptr<spdlog::logger> log;
  MetricsRegistrySharedPtr registry;
  ServerMetrics server_metrics;
  ApiHandler handler;
  std::unique_ptr<WatchHub> hub;
  std::atomic<bool> ready{false};
  std::atomic<bool> stopped{false};
  std::atomic<size_t> watchers{0};
  std::mutex mu;
  std::set<std::shared_ptr<ConnectionBase>> connections;
  asio::any_io_executor executor;
  tcp::acceptor acceptor;                         // `address`; on its own strand
  std::unique_ptr<tcp::acceptor> dummy_acceptor;  // TLS dummyServer listener, if any
  // The TLS context of the current serving certificate, rebuilt when the source hands out a new
  // one (renewal); connections keep the context they shook hands with alive.
  std::mutex tls_mu;
  ServingCertificateSharedPtr tls_cert;
  std::shared_ptr<ssl::context> tls_context;
  std::chrono::steady_clock::time_point tls_error_logged{};

  State(asio::any_io_executor ex, MetaServerOptions o, metamanager::MetaStore& s, CloudForwarder& f,
        core::Clock& c, std::shared_ptr<spdlog::logger> l, MetricsRegistrySharedPtr r)
      : options(std::move(o)),
        store(s),
        forwarder(f),
        clock(c),
        log(std::move(l)),
        registry(std::move(r)),
        handler(options, store, forwarder, clock),
        hub(std::make_unique<WatchHub>(store, options.watch_window)),
        executor(ex),
        acceptor(asio::make_strand(ex)) {}
};

template <class Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Connection(std::shared_ptr<State> state, tcp::socket socket) requires(!kTls)
      : state_(std::move(state)), stream_(std::move(socket)), wake_(stream_.get_executor()) {}
  Connection(std::shared_ptr<State> state, tcp::socket socket,
             std::shared_ptr<ssl::context> ctx) requires(kTls)
      : state_(std::move(state)),
        tls_context_(std::move(ctx)),
        stream_(std::move(socket), *tls_context_),
        wake_(stream_.get_executor()) {}

  auto executor() { return stream_.get_executor(); }

  void closeAsync() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }

  // Runs on the connection's strand.
  void close() {
    beast::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
    closed_ = true;
    wake_.cancel();
  }

  // Long on purpose: the per-request loop is the server's hot path. Split into nested coroutines
  // (read, serve, answer) it cost about 5 us per GET (bench/metaserver_bench, GET one pod median
  // 0.048 -> 0.053-0.056 ms on the 2-core box), so it stays one loop with commented steps.
  awaitable<void> run() {
    auto self = this->shared_from_this();
    struct Untrack {  // RAII: leave the server's set whatever way run() ends
      std::shared_ptr<State> state;
      ConnectionBase* conn;
      ~Untrack() {
        std::lock_guard lock(state->mu);
        for (auto it = state->connections.begin(); it != state->connections.end(); ++it) {
          if (it->get() == conn) {
            state->connections.erase(it);
            break;
          }
        }
      }
    } untrack{state_, this};
    const auto& opt = state_->options;
    beast::flat_buffer buffer;
    bool first = true;
    // GCC 12 mishandles non-trivial temporaries inside co_await expressions (double
    // destruction), so every argument of an awaited call below is a named lvalue.
    const std::string too_large =
        "the request body is larger than " + std::to_string(opt.max_body_bytes) + " bytes";
    const std::string header_too_large = "request header fields too large";
    const std::string malformed = "malformed HTTP request";
    if constexpr (kTls) {
      if (!co_await handshake()) co_return;
    }
    while (!closed_) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
      parser.body_limit(opt.max_body_bytes);
      tcp().expires_after(first ? opt.read_timeout : opt.idle_timeout);
      first = false;
      auto [ec, n] = co_await http::async_read_header(stream_, buffer, parser, kTuple);
      if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        break;
      }
      if (ec == http::error::body_limit) {  // Content-Length over the limit, seen in the head
        co_await writeSimple(413, "RequestEntityTooLarge", too_large, false);
        break;
      }
      if (ec == http::error::header_limit) {
        co_await writeSimple(431, "RequestHeaderFieldsTooLarge", header_too_large, false);
        break;
      }
      if (ec) {
        co_await writeSimple(400, "BadRequest", malformed, false);
        break;
      }
      auto start = std::chrono::steady_clock::now();
      auto& head = parser.get();
      if (head.has_content_length() || parser.chunked()) {
        auto len = parser.content_length();
        if (len && *len > opt.max_body_bytes) {
          co_await writeSimple(413, "RequestEntityTooLarge", too_large, false);
          break;
        }
        tcp().expires_after(opt.read_timeout);
        auto [bec, bn] = co_await http::async_read(stream_, buffer, parser, kTuple);
        if (bec == http::error::body_limit) {
          co_await writeSimple(413, "RequestEntityTooLarge", too_large, false);
          break;
        }
        if (bec) {
          break;
        }
      }
      http::request<http::string_body> req = parser.release();
      bool keep_alive = req.keep_alive();
      version_ = req.version();

      // requireAuthorization: authenticate and authorize before anything is served.
      if (state_->options.authorizer) {
        AuthRequest auth_req;
        auth_req.method = req.method_string();
        auth_req.target = req.target();
        auth_req.authorization = req[http::field::authorization];
        auth_req.peer_certificate = peer_certificate_ ? &*peer_certificate_ : nullptr;
        AuthDecision decision = state_->options.authorizer->check(auth_req);
        if (!decision.allowed) {
          HttpResponse denied = statusResponse(decision.code, decision.reason, decision.message);
          bool ok = co_await writeResponse(denied, keep_alive, false);
          record("denied", decision.code, start);
          if (!ok || !keep_alive) break;
          continue;
        }
      }

      // Node-local operations (spec 4.7-4.10) live in pod_ops_handler.cc; they end the connection.
      if (state_->options.local_ops) {
        LocalOpMatch local = matchLocalOp(req.method_string(), req.target());
        if (local.kind != LocalOpKind::None) {
          auto op = serveLocalOp<Stream>(*state_->options.local_ops, local, std::move(req), stream_,
                                         buffer, state_->log);
          int code = co_await std::move(op);
          record(local.kind == LocalOpKind::Logs ? "get" : "create", code, start);
          break;
        }
      }

      HttpRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.accept = std::string(req[http::field::accept]);
      r.content_type = std::string(req[http::field::content_type]);
      r.body = std::move(req.body());

      if (r.method == "GET" && r.target == "/metrics") {
        std::string text = state_->registry->render();
        HttpResponse metrics{200, "text/plain; version=0.0.4; charset=utf-8", std::move(text)};
        co_await writeResponse(metrics, keep_alive, false);
        record("metrics", 200, start);
        continue;
      }

      Routed routed = state_->handler.route(r, state_->ready.load());
      std::string verb = routed.kind == Routed::Kind::Watch ? "watch" : routed.info.verb;
      if (routed.kind == Routed::Kind::Respond) {
        auto parsed_verb = parseRequestInfo(r.method, r.target);
        verb = parsed_verb.ok() ? parsed_verb->verb : "invalid";
        int code = routed.response.code;
        bool ok = co_await writeResponse(routed.response, keep_alive, r.method == "HEAD");
        record(verb, code, start);
        if (!ok || !keep_alive) break;
        continue;
      }
      if (routed.kind == Routed::Kind::Forward) {
        ApplicationResult result = co_await forward(routed.application);
        HttpResponse resp = state_->handler.finishForward(routed, result);
        int code = resp.code;
        bool ok = co_await writeResponse(resp, keep_alive, false);
        record(verb, code, start);
        if (!ok || !keep_alive) break;
        continue;
      }
      record("watch", 200, start);
      co_await serveWatch(routed.watch);
      break;  // a watch ends the connection (the stream has no length)
    }
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    socket().close(ignored);
  }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  tcp::socket& socket() { return tcp().socket(); }

  // TLS: the handshake within its own deadline, then the verified client certificate's
  // identity for the authorizer. False: the connection is closed.
  awaitable<bool> handshake() {
    const auto& tls = *state_->options.tls;
    tcp().expires_after(tls.handshake_timeout);
    auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kTuple);
    if (ec) {
      if (state_->log) state_->log->debug("metaserver tls handshake failed err={}", ec.message());
      beast::error_code ignored;
      socket().close(ignored);
      co_return false;
    }
    peer_certificate_ = tls::verifiedPeerCertificate(stream_.native_handle());
    co_return true;
  }

  void record(const std::string& verb, int code, std::chrono::steady_clock::time_point start) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state_->server_metrics.record(verb, code, secs);
  }

  awaitable<bool> writeResponse(HttpResponse& resp, bool keep_alive, bool head_only) {
    http::response<http::string_body> res{static_cast<http::status>(resp.code), version_};
    res.set(http::field::content_type, resp.content_type);
    res.keep_alive(keep_alive);
    res.body() = std::move(resp.body);
    res.prepare_payload();
    if (head_only) {
      auto len = res.body().size();
      res.body().clear();
      res.content_length(len);
    }
    tcp().expires_after(state_->options.write_timeout);
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    co_return !ec;
  }

  awaitable<void> writeSimple(int code, std::string_view reason, const std::string& message,
                              bool keep_alive) {
    HttpResponse resp = statusResponse(code, reason, message);
    co_await writeResponse(resp, keep_alive, false);
    record("invalid", code, std::chrono::steady_clock::now());
  }

  awaitable<ApplicationResult> forward(const Application& app) {
    auto& forwarder = state_->forwarder;
    auto ex = stream_.get_executor();
    // Named, not a temporary inside the co_await expression: g++ 12 destroys such temporaries
    // twice, and this lambda holds an executor (a reference-counted strand).
    auto initiation = [&forwarder, ex](auto handler, Application a) {
      auto h = std::make_shared<decltype(handler)>(std::move(handler));
      forwarder.apply(std::move(a), [h, ex](ApplicationResult r) {
        asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
      });
    };
    auto op = asio::async_initiate<decltype(use_awaitable), void(ApplicationResult)>(
        initiation, use_awaitable, app);
    co_return co_await std::move(op);
  }

  // Called by the hub (any thread) when events are queued for this watch.
  void notifyFromHub() {
    asio::post(stream_.get_executor(), [w = this->weak_from_this()] {
      if (auto self = w.lock()) {
        self->pending_ = true;
        self->wake_.cancel();
      }
    });
  }

  awaitable<void> watchPeer() {
    // A watch client never sends after its request: any byte or EOF means it is gone.
    auto self = this->shared_from_this();
    char tmp[512];
    if constexpr (kTls) {
      // Through TLS (a raw read would eat records). No deadline on this read: it is meant to
      // wait as long as the watch lasts; started after expires_never, later expires_after calls
      // for chunk writes do not reach it.
      tcp().expires_never();
      co_await stream_.async_read_some(asio::buffer(tmp), kTuple);
    } else {
      co_await socket().async_read_some(asio::buffer(tmp), kTuple);
    }
    peer_gone_ = true;
    wake_.cancel();
  }

  awaitable<bool> writeChunk(const std::string& data) {
    if (data.empty()) co_return true;
    tcp().expires_after(state_->options.write_timeout);
    auto chunk = http::make_chunk(asio::buffer(data));
    auto [ec, n] = co_await asio::async_write(stream_, chunk, kTuple);
    co_return !ec;
  }

  awaitable<void> serveWatch(WatchPlan& plan) {
    auto& st = *state_;
    using clock = std::chrono::steady_clock;
    std::chrono::seconds timeout = plan.timeout;
    if (timeout.count() <= 0) {
      // Like the API server: min timeout plus random jitter up to the same again.
      std::mt19937_64 rng(std::random_device{}());
      auto min = st.options.min_watch_timeout.count();
      timeout = std::chrono::seconds(
          min + static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(min, 1))));
    }
    bool bookmarks = plan.info.query.allow_bookmarks;
    WatchSession session(std::move(plan), st.store, *st.hub, st.clock,
                         st.options.watch_queue_limit);
    st.watchers++;
    struct Dec {
      State& s;
      ~Dec() { s.watchers--; }
    } dec{st};

    http::response<http::empty_body> res{http::status::ok, version_};
    res.set(http::field::content_type, session.contentType());
    res.set(http::field::transfer_encoding, "chunked");
    res.keep_alive(false);
    http::response_serializer<http::empty_body> sr{res};
    tcp().expires_after(st.options.write_timeout);
    auto [hec, hn] = co_await http::async_write_header(stream_, sr, kTuple);
    if (hec) co_return;

    std::string first = session.start([this] { notifyFromHub(); });
    if (!co_await writeChunk(first)) co_return;
    asio::co_spawn(stream_.get_executor(), watchPeer(), core::logCompletion(st.log, "watch peer"));

    auto deadline = clock::now() + timeout;
    auto next_bookmark = clock::now() + st.options.bookmark_interval;
    while (!session.done() && !closed_ && !peer_gone_ && !st.stopped) {
      if (!pending_) {
        wake_.expires_at(bookmarks ? std::min(deadline, next_bookmark) : deadline);
        co_await wake_.async_wait(kTuple);
      }
      if (closed_ || peer_gone_) break;
      auto now = clock::now();
      std::string out;
      if (bookmarks && now >= next_bookmark) {
        out = session.bookmark();
        next_bookmark = now + st.options.bookmark_interval;
        pending_ = false;
      } else if (pending_) {
        pending_ = false;
        out = session.drain();
      }
      if (!co_await writeChunk(out)) break;
      if (now >= deadline) break;
    }
    if (!closed_ && !peer_gone_) {
      tcp().expires_after(st.options.write_timeout);
      auto last = http::make_chunk_last();
      co_await asio::async_write(stream_, last, kTuple);
    }
  }

  std::shared_ptr<State> state_;
  // Set by the TLS transport after a handshake that verified a client certificate.
  std::optional<PeerCertificate> peer_certificate_;
  std::shared_ptr<ssl::context> tls_context_;  // TLS: kept alive while the stream uses it
  Stream stream_;
  asio::steady_timer wake_;
  unsigned version_ = 11;
  bool closed_ = false;
  bool pending_ = false;
  bool peer_gone_ = false;
};

class MetaServerImpl final : public MetaServer {
 public:
  MetaServerImpl(asio::any_io_executor executor, MetaServerOptions options,
                 metamanager::MetaStore& store, CloudForwarder& forwarder, core::Clock& clock,
                 std::shared_ptr<spdlog::logger> log, MetricsRegistrySharedPtr metrics) {
    if (!metrics) metrics = std::make_shared<MetricsRegistry>();
    state_ = std::make_shared<State>(std::move(executor), std::move(options), store, forwarder,
                                     clock, std::move(log), std::move(metrics));
    std::weak_ptr<State> weak = state_;
    state_->registry->addCollector([weak](std::string& out) {
      if (auto s = weak.lock()) s->server_metrics.render(out);
    });
    state_->registry->addGauge("metaserver_watchers", "Watch streams currently open.", [weak] {
      auto s = weak.lock();
      return s ? static_cast<double>(s->watchers.load()) : 0.0;
    });
    state_->registry->addGauge("metaserver_connections", "HTTP connections currently open.",
                               [weak] {
                                 auto s = weak.lock();
                                 if (!s) return 0.0;
                                 std::lock_guard lock(s->mu);
                                 return static_cast<double>(s->connections.size());
                               });
    state_->registry->addGauge("metaserver_watch_window_oldest_revision",
                               "Oldest resourceVersion a watch can resume from.", [weak] {
                                 auto s = weak.lock();
                                 return s ? static_cast<double>(s->hub->oldestResumable()) : 0.0;
                               });
  }

  ~MetaServerImpl() override { stop(); }

  core::Status start() override {
    auto& opt = state_->options;
    EC_RETURN_IF_ERROR(listen(state_->acceptor, opt.address, opt.port, &port_));
    opt.port = port_;
    const bool tls = opt.tls != nullptr;
    if (tls && !opt.tls->dummy_address.empty()) {
      state_->dummy_acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(state_->executor));
      auto st = listen(*state_->dummy_acceptor, opt.tls->dummy_address, opt.tls->dummy_port,
                       &dummy_port_);
      if (!st.ok()) {
        beast::error_code ignored;
        state_->acceptor.close(ignored);
        return st;
      }
      asio::co_spawn(state_->dummy_acceptor->get_executor(),
                     acceptLoop(state_, *state_->dummy_acceptor, true),
                     core::logCompletion(state_->log, "metaserver accept"));
      if (state_->log) {
        state_->log->info("metaserver listening scheme=https addr={} port={}",
                          opt.tls->dummy_address, dummy_port_);
      }
    }
    asio::co_spawn(state_->acceptor.get_executor(), acceptLoop(state_, state_->acceptor, tls),
                   core::logCompletion(state_->log, "metaserver accept"));
    if (state_->log) {
      state_->log->info("metaserver listening scheme={} addr={} port={}", tls ? "https" : "http",
                        opt.address, port_);
    }
    return {};
  }

  void stop() override {
    if (state_->stopped.exchange(true)) return;
    asio::post(state_->acceptor.get_executor(), [s = state_] {
      beast::error_code ec;
      s->acceptor.close(ec);
    });
    if (state_->dummy_acceptor) {
      asio::post(state_->dummy_acceptor->get_executor(), [s = state_] {
        beast::error_code ec;
        s->dummy_acceptor->close(ec);
      });
    }
    std::vector<std::shared_ptr<ConnectionBase>> conns;
    {
      std::lock_guard lock(state_->mu);
      conns.assign(state_->connections.begin(), state_->connections.end());
    }
    for (auto& c : conns) c->closeAsync();
  }

  uint16_t port() const override { return port_; }
  uint16_t dummyPort() const override { return dummy_port_; }
  void setReady(bool ready) override { state_->ready = ready; }
  MetricsRegistry& metrics() override { return *state_->registry; }
  size_t connectionCount() const override {
    std::lock_guard lock(state_->mu);
    return state_->connections.size();
  }
  size_t watcherCount() const override { return state_->watchers.load(); }

 private:
  static core::Status listen(tcp::acceptor& acceptor, const std::string& address, uint16_t port,
                             uint16_t* bound) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec) return core::invalidArgument("bad metaServer address " + address);
    tcp::endpoint ep(addr, port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return core::unavailable("metaserver listen on " + address + ":" + std::to_string(port) +
                               " failed: " + ec.message());
    }
    *bound = acceptor.local_endpoint().port();
    return {};
  }

  // The TLS context for the source's current certificate; rebuilt only when the certificate
  // changed (renewal). Null (logged at most once a minute) while none is usable.
  static std::shared_ptr<ssl::context> currentTlsContext(State& state) {
    const auto& tls = *state.options.tls;
    ServingCertificateSharedPtr cert = tls.certificate ? tls.certificate->current() : nullptr;
    std::lock_guard lock(state.tls_mu);
    if (cert && cert == state.tls_cert && state.tls_context) return state.tls_context;
    std::string err = "no serving certificate yet";
    if (cert) {
      const std::string& client_ca =
          cert->client_ca_pem.empty() ? tls.client_ca_pem : cert->client_ca_pem;
      auto ctx = tls::makeServerTlsContext(*cert, client_ca);
      if (ctx.ok()) {
        state.tls_cert = cert;
        state.tls_context = std::move(*ctx);
        return state.tls_context;
      }
      err = ctx.status().message();
    }
    auto now = std::chrono::steady_clock::now();
    if (state.log && now - state.tls_error_logged > std::chrono::minutes(1)) {
      state.tls_error_logged = now;
      state.log->error("metaserver tls unavailable, refusing connections err={}", err);
    }
    return state.tls_context;  // the previous certificate, if any, until a new one loads
  }

  static awaitable<void> acceptLoop(std::shared_ptr<State> state, tcp::acceptor& acceptor,
                                    bool tls) {
    while (!state->stopped) {
      auto strand_for_next = asio::make_strand(state->executor);
      auto [ec, socket] = co_await acceptor.async_accept(strand_for_next, kTuple);
      if (ec == asio::error::operation_aborted || state->stopped) break;
      if (ec) {
        if (co_await core::waitOutAcceptError(ec)) {
          continue;
        }
        if (state->log) {
          state->log->error("metaserver listener failed, no more connections err=\"{}\"",
                            ec.message());
        }
        if (state->options.on_listener_failure) {
          state->options.on_listener_failure(
              core::unavailable("metaserver listener failed: " + ec.message()));
        }
        break;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (tls) {
        auto ctx = currentTlsContext(*state);
        if (!ctx) continue;  // the socket closes as it goes out of scope
        track(state, std::make_shared<Connection<TlsStream>>(state, std::move(socket), ctx));
      } else {
        track(state, std::make_shared<Connection<PlainStream>>(state, std::move(socket)));
      }
    }
  }

  template <class Conn>
  static void track(const std::shared_ptr<State>& state, std::shared_ptr<Conn> conn) {
    {
      std::lock_guard lock(state->mu);
      if (state->connections.size() >= state->options.max_connections) {
        return;  // conn (and its socket) closes as it goes out of scope
      }
      state->connections.insert(conn);
    }
    asio::co_spawn(conn->executor(), conn->run(),
                   core::logCompletion(state->log, "metaserver conn"));
  }

  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
  uint16_t dummy_port_ = 0;
};

}  // namespace

MetaServerPtr createMetaServer(boost::asio::any_io_executor executor, MetaServerOptions options,
                               metamanager::MetaStore& store, CloudForwarder& forwarder,
                               core::Clock& clock, std::shared_ptr<spdlog::logger> log,
                               MetricsRegistrySharedPtr metrics) {
  return std::make_unique<MetaServerImpl>(std::move(executor), std::move(options), store, forwarder,
                                          clock, std::move(log), std::move(metrics));
}

}  // namespace edgecore::metaserver
