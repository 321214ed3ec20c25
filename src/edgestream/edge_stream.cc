// edgestream: the tunnel session to CloudStream and the local connections to the edged server.
// The only Beast TU of the module; the frame codec (frame.cc) and the connect-message parser
// (connect_request.cc) are plain C++.
//
// Everything runs on the module strand: the tunnel's reader, writer and pinger, and every local
// connection's coroutines. State is therefore unsynchronised apart from the stats snapshot.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include "connect_request.h"
#include "edgecore/core/async/spawn.h"
#include "edgecore/core/config.h"
#include "edgecore/core/log_limiter.h"
#include "edgecore/edgestream/module.h"
#include "edgecore/net/tls_client.h"
#include "frame.h"
#include "ws_frame.h"

namespace edgecore::edgestream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using core::Status;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kConnectPath = "/v1/kubeedge/connect";
constexpr std::string_view kPingPayload = "ping you";  // the original's payload
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kLocalReadChunk = 32 * 1024;  // DATA payload per frame from a local connection
constexpr std::chrono::seconds kLogInterval{10};
constexpr std::chrono::seconds kStableSession{10};  // a session this long resets the backoff
constexpr size_t kLoggedTextMax = 200;

using net::TlsStream;

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kLoggedTextMax)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '.');
  }
  return out;
}

core::Result<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::notFound("cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using HostPort = net::Endpoint;

// ---------------------------------------------------------------------------------------------

struct Tunnel;
using TunnelPtr = std::shared_ptr<Tunnel>;

// One ConnectID's local connection to the edged server.
struct LocalConn {
  LocalConn(asio::any_io_executor ex, uint64_t conn_id, MessageType conn_kind, ConnectRequest r)
      : id(conn_id), kind(conn_kind), req(std::move(r)), stream(ex), inbound_wake(ex), space(ex) {}
  uint64_t id;
  MessageType kind;
  ConnectRequest req;
  beast::tcp_stream stream;
  std::deque<std::string> inbound;  // DATA from the cloud, for exec/attach
  size_t inbound_bytes = 0;
  asio::steady_timer inbound_wake;  // the local writer sleeps on it
  asio::steady_timer space;         // the tunnel reader waits on it when inbound is full
  bool closed = false;
  bool removed_by_cloud = false;

  bool streaming() const {
    return kind == MessageType::ExecConnect || kind == MessageType::AttachConnect;
  }
  void close() {
    if (closed) {
      return;
    }
    closed = true;
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.close();
    inbound_wake.cancel();
    space.cancel();
  }
};
using LocalConnPtr = std::shared_ptr<LocalConn>;

// One websocket session with CloudStream.
struct Tunnel {
  Tunnel(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> tls_ctx)
      : tls(std::move(tls_ctx)), stream(ex, *tls), wake(ex), space(ex), pinger(ex) {}
  std::shared_ptr<asio::ssl::context> tls;  // outlives the stream that refers to it
  TlsStream stream;
  beast::flat_buffer rbuf;       // bytes read, not yet parsed (may start with upgrade leftovers)
  std::deque<std::string> outq;  // encoded websocket frames
  size_t out_bytes = 0;
  asio::steady_timer wake;   // the writer sleeps on it
  asio::steady_timer space;  // producers wait on it while outq is over the limit
  asio::steady_timer pinger;
  std::chrono::steady_clock::time_point last_rx = std::chrono::steady_clock::now();
  bool served = false;  // the cloud has sent something: its session reads (and pongs) now
  std::map<uint64_t, LocalConnPtr> conns;
  bool closed = false;
  std::string end_reason;
};

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(core::ModuleContext ctx, EdgeStreamOptions options, HostPort server, HostPort local,
         std::string node_ip)
      : strand_(ctx.strand),
        blocking_(ctx.blocking.get_executor()),
        log_(ctx.log),
        cfg_(ctx.config.modules.edge_stream),
        node_(ctx.config.modules.edged.hostname_override),
        node_ip_(std::move(node_ip)),
        server_(std::move(server)),
        local_(std::move(local)),
        options_(std::move(options)),
        retry_timer_(strand_),
        rng_(std::random_device{}()) {}

  Status start() {
    log_->info("edgestream starting server={} node={} node_ip={} local={}", server_.authority,
               node_, node_ip_.empty() ? "(detected on each dial)" : node_ip_, local_.authority);
    asio::co_spawn(strand_, shared_from_this()->runLoop(),
                   core::logCompletion(log_, "edgestream connect loop"));
    return {};
  }

  // On the strand.
  void stop() {
    if (stopping_) {
      return;
    }
    stopping_ = true;
    retry_timer_.cancel();
    if (tunnel_) {
      closeTunnel(tunnel_, "edgestream stopping");
    }
  }

  EdgeStreamStats stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
  }

 private:
  template <typename F>
  void bump(F f) {
    std::lock_guard lock(stats_mu_);
    f(stats_);
  }

  void warnLimited(const std::string& key, const std::string& line) {
    uint64_t suppressed = 0;
    if (limiter_.allow(key, std::chrono::steady_clock::now(), &suppressed)) {
      if (suppressed > 0) {
        log_->warn("{} suppressed={}", line, suppressed);
      } else {
        log_->warn("{}", line);
      }
    }
  }

  // ---- tunnel lifecycle ----

  asio::awaitable<void> runLoop() {
    auto self = shared_from_this();
    // Jittered in [base/2, base] (STYLE 3); during the first minute of an outage the base stays
    // at most 1.5 s, as edgehub's, so the tunnel is back within about 2 s of a CloudCore restart
    // (the original redials every 2 s forever); then it grows x1.5 to max_backoff.
    net::Backoff backoff(options_.initial_backoff, options_.max_backoff, rng_(),
                         {1.5, std::chrono::minutes(1), std::chrono::milliseconds(1500)});
    if (options_.first_dial_delay.count() > 0) {
      retry_timer_.expires_after(options_.first_dial_delay);
      auto [ec] = co_await retry_timer_.async_wait(kAsTuple);
      (void)ec;
    }
    while (!stopping_) {
      auto connect_op = connect();
      auto tunnel = co_await std::move(connect_op);
      if (stopping_) {
        break;
      }
      if (tunnel.ok()) {
        auto began = std::chrono::steady_clock::now();
        auto run_op = runTunnel(*tunnel);
        co_await std::move(run_op);
        if (std::chrono::steady_clock::now() - began >= kStableSession) {
          backoff.reset();
        }
      } else {
        bump([&](EdgeStreamStats& s) {
          ++s.connect_failures;
          s.last_error = tunnel.status().toString();
        });
      }
      if (stopping_) {
        break;
      }
      auto delay = backoff.next();
      if (!tunnel.ok()) {
        warnLimited("connect",
                    fmt::format("tunnel connect failed attempt={} backoff_ms={} err=\"{}\"",
                                backoff.attempts(), delay.count(), tunnel.status().toString()));
      }
      retry_timer_.expires_after(delay);
      auto [ec] = co_await retry_timer_.async_wait(kAsTuple);
      (void)ec;
    }
  }

  // The TLS context of one dial: the client certificate is read from disk now, so a certificate
  // rotated by edgehub is used by the next session.
  core::Result<std::shared_ptr<asio::ssl::context>> makeTlsContext() {
    auto ca = readWholeFile(cfg_.tls_tunnel_ca_file);
    if (!ca.ok()) {
      return ca.status().withContext("modules.edgeStream.tlsTunnelCAFile");
    }
    auto cert = readWholeFile(cfg_.tls_tunnel_cert_file);
    if (!cert.ok()) {
      return cert.status().withContext("modules.edgeStream.tlsTunnelCertFile");
    }
    auto key = readWholeFile(cfg_.tls_tunnel_private_key_file);
    if (!key.ok()) {
      return key.status().withContext("modules.edgeStream.tlsTunnelPrivateKeyFile");
    }
    net::ClientTlsConfig tls;
    tls.ca_pem = std::move(ca).value();
    tls.cert_pem = std::move(cert).value();
    tls.key_pem = std::move(key).value();
    // The chain must lead to the CA and the leaf must be fit for a TLS server: an edge node's
    // clientAuth-only certificate (same CA) cannot stand in for CloudCore. No SAN check (see
    // docs/edgestream.md).
    tls.require_server_purpose = true;
    tls.check_key_matches = true;
    auto ctx = net::makeClientTlsContext(tls);
    if (!ctx.ok()) {
      return ctx.status().withContext("edgeStream tunnel TLS");
    }
    return ctx;
  }

  // SessionInternalIP of this dial: the configured address, else the host's address detected
  // now (the original resolves the hostname on every dial too), so an address change is picked
  // up by the next session. Detection may resolve the hostname, so it runs on the blocking pool.
  asio::awaitable<std::string> sessionIp() {
    if (!node_ip_.empty()) {
      co_return node_ip_;
    }
    auto detect = options_.detect_node_ip;
    if (!detect) {
      detect = [] { return core::detectHostInfo().local_ip; };
    }
    auto op = asio::co_spawn(
        blocking_, [detect]() -> asio::awaitable<std::string> { co_return detect(); },
        asio::use_awaitable);
    std::string ip = co_await std::move(op);
    if (ip != last_detected_ip_) {
      if (!last_detected_ip_.empty()) {
        log_->info("node address changed old={} new={}", last_detected_ip_, ip);
      }
      last_detected_ip_ = ip;
    }
    co_return ip;
  }

  asio::awaitable<core::Result<TunnelPtr>> connect() {
    auto ip_op = sessionIp();
    const std::string session_ip = co_await std::move(ip_op);
    if (stopping_) {
      co_return core::unavailable("edgestream stopping");
    }
    auto tls = makeTlsContext();
    if (!tls.ok()) {
      co_return tls.status();
    }
    auto t = std::make_shared<Tunnel>(strand_, *tls);
    Status peer = net::setTlsPeer(t->stream.native_handle(), server_, false);
    if (!peer.ok()) {
      co_return peer;
    }
    tunnel_ = t;  // so stop() reaches a dial in progress
    auto& tcp_layer = beast::get_lowest_layer(t->stream);
    // One deadline covers TCP, TLS and the upgrade (handshakeTimeout).
    const auto handshake_timeout = std::max(cfg_.handshake_timeout, std::chrono::seconds(1));
    {
      auto dial_op = net::dialTls(t->stream, server_, handshake_timeout, [t] { return t->closed; });
      Status dialled = co_await std::move(dial_op);
      if (!dialled.ok()) {
        tunnel_.reset();
        co_return dialled;
      }
    }
    // The upgrade, as gorilla's Dialer sends it plus the two session headers (spec 6.1).
    std::string key = newWsKey();
    http::request<http::empty_body> req{http::verb::get, kConnectPath, 11};
    req.set(http::field::host, server_.authority);
    req.set(http::field::user_agent, "edgecore-cpp");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::sec_websocket_key, key);
    req.set(http::field::sec_websocket_version, "13");
    req.set("SessionHostNameOverride", node_);
    req.set("SessionInternalIP", session_ip);
    auto [werr, wn] = co_await http::async_write(t->stream, req, kAsTuple);
    (void)wn;
    http::response_parser<http::empty_body> res;
    res.skip(true);  // a 101 has no body; anything after the head is websocket data
    boost::system::error_code rderr = werr;
    if (!rderr) {
      auto [e, n] = co_await http::async_read_header(t->stream, t->rbuf, res, kAsTuple);
      (void)n;
      rderr = e;
    }
    if (rderr || t->closed) {
      tunnel_.reset();
      co_return core::unavailable("websocket upgrade at " + server_.authority +
                                  std::string(kConnectPath) + ": " +
                                  (rderr ? rderr.message() : std::string("stopped")));
    }
    const auto& head = res.get();
    if (head.result() != http::status::switching_protocols ||
        head[http::field::sec_websocket_accept] != wsAcceptFor(key)) {
      tunnel_.reset();
      co_return core::unavailable("websocket upgrade at " + server_.authority +
                                  std::string(kConnectPath) + " refused (HTTP " +
                                  std::to_string(head.result_int()) + ")");
    }
    tcp_layer.expires_never();
    co_return t;
  }

  asio::awaitable<void> runTunnel(TunnelPtr t) {
    auto self = shared_from_this();
    tunnel_ = t;
    t->last_rx = std::chrono::steady_clock::now();
    bump([](EdgeStreamStats& s) {
      ++s.sessions;
      s.connected = true;
      s.last_error.clear();
    });
    log_->info("tunnel connected server={} node={}", server_.authority, node_);
    asio::co_spawn(strand_, writeLoop(t), core::logCompletion(log_, "edgestream writer"));
    asio::co_spawn(strand_, pingLoop(t), core::logCompletion(log_, "edgestream pinger"));
    auto read_op = readLoop(t);
    co_await std::move(read_op);
    closeTunnel(t, t->end_reason.empty() ? "read ended" : t->end_reason);
    if (tunnel_ == t) {
      tunnel_.reset();
    }
    bump([](EdgeStreamStats& s) {
      s.connected = false;
      s.active_connections = 0;
    });
    log_->warn("tunnel disconnected server={} reason=\"{}\"", server_.authority, t->end_reason);
  }

  void closeTunnel(const TunnelPtr& t, const std::string& reason) {
    if (t->closed) {
      return;
    }
    t->closed = true;
    if (t->end_reason.empty()) {
      t->end_reason = reason;
    }
    boost::system::error_code ec;
    beast::get_lowest_layer(t->stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(t->stream).close();
    t->wake.cancel();
    t->space.cancel();
    t->pinger.cancel();
    for (auto& [id, c] : t->conns) {
      c->close();
    }
  }

  // Queues a frame; waits while the outbound queue is over its limit (backpressure on local
  // readers). False when the tunnel closed meanwhile.
  asio::awaitable<bool> sendFrame(TunnelPtr t, std::string frame) {
    while (!t->closed && t->out_bytes >= options_.max_outbound_bytes) {
      t->space.expires_at(std::chrono::steady_clock::time_point::max());
      auto [ec] = co_await t->space.async_wait(kAsTuple);
      (void)ec;
    }
    if (t->closed) {
      co_return false;
    }
    queueFrame(t, std::move(frame));
    co_return true;
  }

  // Control frames (REMOVE_CONNECT) skip the limit: they are tiny and end work.
  void queueFrame(const TunnelPtr& t, std::string frame) {
    queueWs(t, WsOpcode::Text, frame, false);
  }

  // Encodes one websocket frame (masked, as a client must). Control frames jump the queue: we
  // never fragment, so they cannot split a message.
  void queueWs(const TunnelPtr& t, WsOpcode op, std::string_view payload, bool front) {
    if (t->closed) {
      return;
    }
    uint8_t mask[4];
    uint64_t r = rng_();
    std::memcpy(mask, &r, sizeof mask);
    std::string wire = encodeWsFrame(op, payload, mask);
    t->out_bytes += wire.size();
    if (front) {
      t->outq.push_front(std::move(wire));
    } else {
      t->outq.push_back(std::move(wire));
    }
    t->wake.cancel();
  }

  asio::awaitable<void> writeLoop(TunnelPtr t) {
    auto self = shared_from_this();
    while (!t->closed) {
      if (t->outq.empty()) {
        t->wake.expires_at(std::chrono::steady_clock::time_point::max());
        auto [ec] = co_await t->wake.async_wait(kAsTuple);
        (void)ec;
        continue;
      }
      std::string frame = std::move(t->outq.front());
      t->outq.pop_front();
      auto [ec, n] = co_await asio::async_write(t->stream, asio::buffer(frame), kAsTuple);
      (void)n;
      t->out_bytes -= frame.size();
      t->space.cancel();
      if (ec) {
        if (t->end_reason.empty()) {
          t->end_reason = "write: " + ec.message();
        }
        closeTunnel(t, t->end_reason);
        co_return;
      }
      bump([](EdgeStreamStats& s) { ++s.frames_out; });
    }
  }

  // The original pings every 5 s and never checks for answers; we also end a session that has
  // been silent (no frame, no pong) for dead_after_pings intervals once the cloud serves it, or
  // for unserved_grace before that (see EdgeStreamOptions).
  asio::awaitable<void> pingLoop(TunnelPtr t) {
    auto self = shared_from_this();
    const auto interval = std::max(options_.ping_interval, std::chrono::milliseconds(10));
    const auto dead_after = interval * std::max(options_.dead_after_pings, 1);
    const auto unserved_limit =
        std::max<std::chrono::steady_clock::duration>(dead_after, options_.unserved_grace);
    while (!t->closed) {
      t->pinger.expires_after(interval);
      auto [ec] = co_await t->pinger.async_wait(kAsTuple);
      (void)ec;
      if (t->closed) {
        co_return;
      }
      auto silent = std::chrono::steady_clock::now() - t->last_rx;
      if (silent >= (t->served ? dead_after : unserved_limit)) {
        bump([](EdgeStreamStats& s) { ++s.dead_links; });
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
        closeTunnel(t, "no frame or pong for " + std::to_string(ms) + " ms (dead link)");
        co_return;
      }
      queueWs(t, WsOpcode::Ping, kPingPayload, true);
    }
  }

  // Reads at least `n` unparsed bytes into t->rbuf. False when the stream ended.
  asio::awaitable<bool> fill(TunnelPtr t, size_t n) {
    while (t->rbuf.size() < n) {
      auto space = t->rbuf.prepare(std::max<size_t>(kReadChunk, n - t->rbuf.size()));
      auto [ec, got] = co_await t->stream.async_read_some(space, kAsTuple);
      if (ec) {
        if (t->end_reason.empty()) {
          t->end_reason = "read: " + ec.message();
        }
        co_return false;
      }
      t->rbuf.commit(got);
      t->last_rx = std::chrono::steady_clock::now();
      if (!t->served) {
        t->served = true;
        log_->info("tunnel served by the cloud server={} node={}", server_.authority, node_);
      }
    }
    co_return true;
  }

  std::string_view unparsed(const TunnelPtr& t) const {
    auto d = t->rbuf.data();
    return {static_cast<const char*>(d.data()), d.size()};
  }

  // Websocket messages of any opcode (CloudStream uses text frames for binary payloads), at most
  // kMaxFrameBytes each: a longer message is read and dropped piecewise, never held whole.
  asio::awaitable<void> readLoop(TunnelPtr t) {
    auto self = shared_from_this();
    std::string message;
    bool in_message = false;
    bool oversized = false;
    uint64_t message_bytes = 0;
    while (!t->closed) {
      WsFrameHeader h;
      WsHeaderStatus hs;
      while ((hs = parseWsHeader(unparsed(t), h)) == WsHeaderStatus::NeedMore) {
        auto fill_op = fill(t, t->rbuf.size() + 1);
        if (!co_await std::move(fill_op)) {
          co_return;
        }
      }
      if (hs == WsHeaderStatus::Invalid) {
        t->end_reason = "websocket protocol error from the cloud";
        co_return;
      }
      t->rbuf.consume(h.header_len);
      const bool control = h.opcode >= 0x8;
      if (control) {
        auto fill_op = fill(t, h.payload_len);
        if (!co_await std::move(fill_op)) {
          co_return;
        }
        std::string payload(unparsed(t).substr(0, h.payload_len));
        t->rbuf.consume(h.payload_len);
        if (h.masked) {
          applyWsMask(payload.data(), payload.size(), h.mask, 0);
        }
        if (h.opcode == static_cast<uint8_t>(WsOpcode::Ping)) {
          queueWs(t, WsOpcode::Pong, payload, true);
        } else if (h.opcode == static_cast<uint8_t>(WsOpcode::Close)) {
          t->end_reason = "cloud sent a websocket close";
          co_return;
        }
        continue;  // pong (or an unknown control opcode): last_rx was updated by fill()
      }
      if (h.opcode != 0 && h.opcode != static_cast<uint8_t>(WsOpcode::Text) &&
          h.opcode != static_cast<uint8_t>(WsOpcode::Binary)) {
        t->end_reason = "unknown websocket opcode " + std::to_string(h.opcode);
        co_return;
      }
      if ((h.opcode == 0) != in_message) {
        t->end_reason = "websocket fragmentation out of order";
        co_return;
      }
      in_message = true;
      message_bytes += h.payload_len;
      if (!oversized && message_bytes > kMaxFrameBytes) {
        oversized = true;
        message.clear();
        message.shrink_to_fit();
      }
      // Payload in pieces of at most kReadChunk, appended or dropped.
      uint64_t remaining = h.payload_len;
      uint64_t offset = 0;
      while (remaining > 0) {
        if (t->rbuf.size() == 0) {
          auto fill_op = fill(t, 1);
          if (!co_await std::move(fill_op)) {
            co_return;
          }
        }
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, t->rbuf.size()));
        if (!oversized) {
          size_t at = message.size();
          message.append(unparsed(t).substr(0, take));
          if (h.masked) {
            applyWsMask(message.data() + at, take, h.mask, offset);
          }
        }
        t->rbuf.consume(take);
        remaining -= take;
        offset += take;
      }
      if (!h.fin) {
        continue;
      }
      in_message = false;
      bump([](EdgeStreamStats& s) { ++s.frames_in; });
      if (oversized) {
        rejectFrame(FrameError::Oversized, static_cast<size_t>(message_bytes));
      } else {
        auto handle_op = handleFrame(t, std::move(message));
        co_await std::move(handle_op);
      }
      message = std::string();
      oversized = false;
      message_bytes = 0;
    }
  }

  void rejectFrame(FrameError err, size_t bytes) {
    bump([err](EdgeStreamStats& s) {
      ++s.bad_frames;
      switch (err) {
        case FrameError::Oversized:
          ++s.oversized_frames;
          break;
        case FrameError::Truncated:
          ++s.truncated_frames;
          break;
        case FrameError::Overflow:
          ++s.overflow_frames;
          break;
        case FrameError::UnknownType:
          ++s.unknown_type_frames;
          break;
        case FrameError::None:
          break;
      }
    });
    warnLimited(
        std::string("bad:") + std::string(frameErrorName(err)),
        fmt::format("tunnel frame rejected reason={} bytes={}", frameErrorName(err), bytes));
  }

  asio::awaitable<void> handleFrame(TunnelPtr t, std::string payload) {
    DecodeResult d = decodeFrame(payload);
    if (!d.ok()) {
      rejectFrame(d.error, payload.size());
      co_return;
    }
    const Frame& f = d.frame;
    log_->debug("tunnel frame connect_id={} type={} bytes={}", f.connect_id,
                messageTypeName(f.type), f.data.size());
    switch (f.type) {
      case MessageType::CloseConnect:
        bump([](EdgeStreamStats& s) { ++s.close_messages; });
        log_->warn("cloud closed the tunnel err=\"{}\"", printable(f.data));
        closeTunnel(t, "CLOSE_CONNECT: " + printable(f.data));
        co_return;
      case MessageType::LogsConnect:
      case MessageType::MetricConnect:
      case MessageType::ExecConnect:
      case MessageType::AttachConnect:
        openLocal(t, f.connect_id, f.type, f.data);
        co_return;
      case MessageType::RemoveConnect: {
        auto it = t->conns.find(f.connect_id);
        if (it == t->conns.end()) {
          bump([](EdgeStreamStats& s) { ++s.unknown_id_frames; });
          co_return;
        }
        log_->debug("cloud removed connection connect_id={}", f.connect_id);
        it->second->removed_by_cloud = true;
        it->second->close();
        co_return;
      }
      case MessageType::Data: {
        auto it = t->conns.find(f.connect_id);
        if (it == t->conns.end()) {
          bump([](EdgeStreamStats& s) { ++s.unknown_id_frames; });
          co_return;
        }
        bump([n = f.data.size()](EdgeStreamStats& s) { s.bytes_from_cloud += n; });
        LocalConnPtr c = it->second;
        if (!c->streaming() || c->closed || f.data.empty()) {
          co_return;  // logs/metrics take no input (as the original)
        }
        // Backpressure: wait (bounded) for the local writer to make room; the whole tunnel waits
        // with us, as the original's blocking channel send does, but not forever.
        auto deadline = std::chrono::steady_clock::now() + options_.inbound_stall_limit;
        while (!c->closed && !t->closed && c->inbound_bytes > 0 &&
               c->inbound_bytes + f.data.size() > options_.max_inbound_bytes) {
          if (std::chrono::steady_clock::now() >= deadline) {
            bump([](EdgeStreamStats& s) { ++s.inbound_overflows; });
            warnLimited("inbound", fmt::format("local connection not draining, closed "
                                               "connect_id={} queued_bytes={}",
                                               c->id, c->inbound_bytes));
            c->close();
            co_return;
          }
          c->space.expires_at(deadline);
          auto [ec] = co_await c->space.async_wait(kAsTuple);
          (void)ec;
        }
        if (c->closed || t->closed) {
          co_return;
        }
        c->inbound_bytes += f.data.size();
        c->inbound.emplace_back(f.data);
        c->inbound_wake.cancel();
        co_return;
      }
    }
  }

  void openLocal(const TunnelPtr& t, uint64_t id, MessageType kind, std::string_view body) {
    if (t->conns.count(id) != 0) {
      bump([](EdgeStreamStats& s) { ++s.connections_refused; });
      warnLimited("dup", fmt::format("duplicate connect ignored connect_id={}", id));
      return;
    }
    if (t->conns.size() >= options_.max_connections) {
      bump([](EdgeStreamStats& s) { ++s.connections_refused; });
      warnLimited("limit", fmt::format("connection limit reached, refused connect_id={} limit={}",
                                       id, options_.max_connections));
      queueFrame(t, encodeFrame(id, MessageType::Data,
                                "edgestream: too many concurrent connections on this node\n"));
      queueFrame(t, encodeFrame(id, MessageType::RemoveConnect, {}));
      return;
    }
    auto req = parseConnectRequest(body);
    if (!req.ok()) {
      bump([](EdgeStreamStats& s) { ++s.bad_connect_messages; });
      warnLimited("badconnect", fmt::format("unusable connect message connect_id={} type={} err={}",
                                            id, messageTypeName(kind), req.status().message()));
      queueFrame(t, encodeFrame(id, MessageType::RemoveConnect, {}));
      return;
    }
    auto c = std::make_shared<LocalConn>(strand_, id, kind, std::move(req).value());
    t->conns.emplace(id, c);
    bump([&](EdgeStreamStats& s) {
      ++s.connections_opened;
      s.active_connections = t->conns.size();
    });
    log_->info("stream request connect_id={} type={} method={} target={}", id,
               messageTypeName(kind), c->req.method, printable(c->req.target));
    asio::co_spawn(strand_, serveLocal(t, c),
                   core::logCompletion(log_, "edgestream local connection"));
  }

  // ---- local connections ----

  asio::awaitable<void> serveLocal(TunnelPtr t, LocalConnPtr c) {
    auto self = shared_from_this();
    auto connect_op = connectLocal(c);
    Status st = co_await std::move(connect_op);
    if (!st.ok()) {
      if (!c->closed) {
        bump([](EdgeStreamStats& s) { ++s.local_failures; });
        warnLimited("local", fmt::format("local server unreachable connect_id={} err={}", c->id,
                                         st.message()));
        // The original sends nothing here and the cloud hangs; we say why and end it.
        auto send_op = sendFrame(
            t, encodeFrame(c->id, MessageType::Data, "edgestream: " + st.message() + "\n"));
        co_await std::move(send_op);
      }
    } else if (c->streaming()) {
      asio::co_spawn(strand_, localWriter(c), core::logCompletion(log_, "edgestream local writer"));
      auto pump_op = pumpRaw(t, c);
      co_await std::move(pump_op);
    } else {
      auto pump_op = pumpHttpBody(t, c);
      co_await std::move(pump_op);
    }
    c->close();
    auto it = t->conns.find(c->id);
    if (it != t->conns.end() && it->second == c) {
      t->conns.erase(it);
    }
    bump([&](EdgeStreamStats& s) { s.active_connections = t->conns.size(); });
    // Both ends say REMOVE when they are done; the original retries the write 3 times, which a
    // queued write makes moot.
    queueFrame(t, encodeFrame(c->id, MessageType::RemoveConnect, {}));
    log_->debug("stream request done connect_id={} by_cloud={}", c->id, c->removed_by_cloud);
  }

  asio::awaitable<Status> connectLocal(LocalConnPtr c) {
    tcp::resolver resolver(strand_);
    auto [rerr, results] = co_await resolver.async_resolve(local_.host, local_.port, kAsTuple);
    if (rerr) {
      co_return core::unavailable("resolve local server " + local_.authority + ": " +
                                  rerr.message());
    }
    if (c->closed) {
      co_return core::cancelled("removed");
    }
    c->stream.expires_after(options_.local_connect_timeout);
    auto [cerr, ep] = co_await c->stream.async_connect(results, kAsTuple);
    (void)ep;
    if (cerr) {
      co_return core::unavailable("local server " + local_.authority + ": " + cerr.message());
    }
    boost::system::error_code nodelay_ec;  // exec/attach bytes go on at once (no Nagle wait)
    c->stream.socket().set_option(tcp::no_delay(true), nodelay_ec);
    std::string head =
        buildRequestHead(c->req, local_.authority, c->kind == MessageType::MetricConnect);
    auto [werr, n] = co_await asio::async_write(c->stream, asio::buffer(head), kAsTuple);
    (void)n;
    if (werr) {
      co_return core::unavailable("local server " + local_.authority + ": " + werr.message());
    }
    c->stream.expires_never();
    co_return Status{};
  }

  // LOGS / METRICS: the response body (de-chunked) goes back as DATA frames. The HTTP status is
  // not relayed, as in the original: error bodies reach the user as text.
  asio::awaitable<void> pumpHttpBody(TunnelPtr t, LocalConnPtr c) {
    beast::flat_buffer buf;
    // Beast sizes each socket read by the buffer's free capacity (at least 512 bytes); without
    // room the body would trickle through in 512-byte DATA frames.
    buf.reserve(kLocalReadChunk);
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);  // streamed in bounded chunks; follow=true never ends
    parser.header_limit(64 * 1024);
    c->stream.expires_after(options_.local_connect_timeout * 6);
    auto [herr, hn] = co_await http::async_read_header(c->stream, buf, parser, kAsTuple);
    (void)hn;
    c->stream.expires_never();
    if (herr) {
      if (!c->closed) {
        auto send_op = sendFrame(
            t,
            encodeFrame(c->id, MessageType::Data,
                        "edgestream: local server response unreadable: " + herr.message() + "\n"));
        co_await std::move(send_op);
      }
      co_return;
    }
    std::string chunk(kLocalReadChunk, '\0');
    while (!parser.is_done() && !c->closed && !t->closed) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      auto [ec, n] = co_await http::async_read_some(c->stream, buf, parser, kAsTuple);
      (void)n;
      if (ec == http::error::need_buffer) {
        ec = {};
      }
      size_t got = chunk.size() - parser.get().body().size;
      if (got > 0) {
        bump([got](EdgeStreamStats& s) { s.bytes_to_cloud += got; });
        auto send_op = sendFrame(
            t, encodeFrame(c->id, MessageType::Data, std::string_view(chunk.data(), got)));
        if (!co_await std::move(send_op)) {
          co_return;
        }
      }
      if (ec) {
        co_return;
      }
    }
  }

  // EXEC / ATTACH, local -> cloud: raw bytes (the 101 response and the SPDY stream) as DATA.
  asio::awaitable<void> pumpRaw(TunnelPtr t, LocalConnPtr c) {
    std::string chunk(kLocalReadChunk, '\0');
    while (!c->closed && !t->closed) {
      auto [ec, n] = co_await c->stream.async_read_some(asio::buffer(chunk), kAsTuple);
      if (n > 0) {
        bump([n](EdgeStreamStats& s) { s.bytes_to_cloud += n; });
        auto send_op =
            sendFrame(t, encodeFrame(c->id, MessageType::Data, std::string_view(chunk.data(), n)));
        if (!co_await std::move(send_op)) {
          co_return;
        }
      }
      if (ec) {
        co_return;
      }
    }
  }

  // EXEC / ATTACH, cloud -> local.
  asio::awaitable<void> localWriter(LocalConnPtr c) {
    auto self = shared_from_this();
    while (!c->closed) {
      if (c->inbound.empty()) {
        c->inbound_wake.expires_at(std::chrono::steady_clock::time_point::max());
        auto [ec] = co_await c->inbound_wake.async_wait(kAsTuple);
        (void)ec;
        continue;
      }
      std::string data = std::move(c->inbound.front());
      c->inbound.pop_front();
      auto [ec, n] = co_await asio::async_write(c->stream, asio::buffer(data), kAsTuple);
      (void)n;
      c->inbound_bytes -= data.size();
      c->space.cancel();
      if (ec) {
        c->close();
        co_return;
      }
    }
  }

  core::Strand strand_;
  asio::any_io_executor blocking_;  // the shared blocking pool (address detection)
  std::shared_ptr<spdlog::logger> log_;
  core::EdgeStreamConfig cfg_;
  std::string node_;
  std::string node_ip_;           // configured SessionInternalIP; empty: detect on each dial
  std::string last_detected_ip_;  // for the "address changed" log line
  HostPort server_;
  HostPort local_;
  EdgeStreamOptions options_;
  asio::steady_timer retry_timer_;
  std::mt19937_64 rng_;
  core::LogLimiter limiter_{kLogInterval};
  TunnelPtr tunnel_;
  bool stopping_ = false;

  mutable std::mutex stats_mu_;
  EdgeStreamStats stats_;
};

class EdgeStreamModuleImpl final : public EdgeStreamModule {
 public:
  EdgeStreamModuleImpl(std::shared_ptr<Stream> stream, core::MetricsRegistry* registry)
      : stream_(std::move(stream)) {
    if (registry != nullptr) {
      // The tunnel's series on the agent's /metrics; removed before stream_ goes.
      metrics_ = registry->addScopedCollector(
          [stream = stream_.get()](std::string& out) { appendMetrics(stream->stats(), out); });
    }
  }

  // core::Module
  std::string_view name() const override { return "edgestream"; }
  std::string_view group() const override { return "stream"; }
  Status start() override { return stream_->start(); }
  void stop() override { stream_->stop(); }

  // EdgeStreamModule
  EdgeStreamStats stats() const override { return stream_->stats(); }

 private:
  std::shared_ptr<Stream> stream_;
  core::MetricsRegistry::Registration metrics_;  // after stream_: removed first
};

}  // namespace

// Where edged's server listens (tailoredKubeletConfig.address:readOnlyPort), as a dialable
// address: a wildcard bind is reached on loopback.
std::string edgedServerAddress(const core::EdgedConfig& edged) {
  std::string host = edged.address;
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";
  } else if (host == "::" || host == "[::]") {
    host = "::1";
  }
  if (host.find(':') != std::string::npos && host.front() != '[') {
    host = "[" + host + "]";
  }
  int32_t port = edged.read_only_port > 0 ? edged.read_only_port : 10350;
  return host + ":" + std::to_string(port);
}

core::Result<std::unique_ptr<EdgeStreamModule>> createEdgeStream(core::ModuleContext ctx,
                                                                 EdgeStreamOptions options) {
  const core::EdgeStreamConfig& cfg = ctx.config.modules.edge_stream;
  if (ctx.config.modules.edged.hostname_override.empty()) {
    return core::invalidArgument("modules.edged.hostnameOverride (the node name) is empty");
  }
  auto server = net::parseEndpoint(cfg.server);
  if (!server.ok()) {
    return server.status().withContext("modules.edgeStream.server");
  }
  if (options.local_server.empty()) {
    options.local_server = edgedServerAddress(ctx.config.modules.edged);
  }
  auto local = net::parseEndpoint(options.local_server);
  if (!local.ok()) {
    return local.status().withContext("edgestream local server");
  }
  // SessionInternalIP: edged.nodeIP when set, else detected on each dial (Stream::sessionIp).
  std::string node_ip = options.node_ip;
  if (node_ip.empty()) {
    node_ip = ctx.config.modules.edged.node_ip;
  }
  auto stream = std::make_shared<Stream>(ctx, std::move(options), std::move(server).value(),
                                         std::move(local).value(), std::move(node_ip));
  return std::unique_ptr<EdgeStreamModule>(
      std::make_unique<EdgeStreamModuleImpl>(std::move(stream), ctx.metrics.get()));
}

core::Result<core::ModulePtr> create(core::ModuleContext ctx) {
  auto m = createEdgeStream(ctx);
  if (!m.ok()) {
    return m.status();
  }
  return core::ModulePtr(std::move(m).value());
}

}  // namespace edgecore::edgestream
