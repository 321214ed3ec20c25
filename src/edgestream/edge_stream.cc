// edgestream: the module, its connect loop to CloudStream and the tunnel's frames. The websocket
// session is net::WsSession (raw framing); the local connections to the edged server are in
// local_connections.cc, the frame codec (frame.cc) and the connect-message parser
// (connect_request.cc) are plain C++.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <sstream>

#include "edgecore/core/async/spawn.h"
#include "edgecore/core/file.h"
#include "edgecore/core/shared_module.h"
#include "edgecore/net/ws_frame.h"
#include "stream.h"

namespace edgecore::edgestream {

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kConnectPath = "/v1/kubeedge/connect";
constexpr std::string_view kPingPayload = "ping you";  // the original's payload
constexpr std::chrono::seconds kStableSession{10};     // a session this long resets the backoff
constexpr size_t kLoggedTextMax = 200;

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kLoggedTextMax)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '.');
  }
  return out;
}

// ---- the tunnel session's handler ----

asio::awaitable<void> Tunnel::onMessage(std::string payload, bool /*binary*/) {
  stream->bump([](EdgeStreamStats& s) { ++s.frames_in; });
  auto handle_op = stream->handleFrame(shared_from_this(), std::move(payload));
  co_await std::move(handle_op);
}

void Tunnel::onOversized(uint64_t bytes) {
  stream->bump([](EdgeStreamStats& s) { ++s.frames_in; });
  stream->rejectFrame(FrameError::Oversized, static_cast<size_t>(bytes));
}

asio::awaitable<net::WsPull> Tunnel::pull() {
  net::WsPull next;
  if (!outq.empty()) {
    next.message = std::move(outq.front());
    outq.pop_front();
    writing_bytes = net::wsClientFrameSize(next.message->size());
  }
  co_return next;
}

asio::awaitable<void> Tunnel::onWritten(boost::system::error_code ec, bool control) {
  if (!control) {
    out_bytes -= writing_bytes;
    writing_bytes = 0;
    space.cancel();
  }
  if (!ec) {
    stream->bump([](EdgeStreamStats& s) { ++s.frames_out; });
  }
  co_return;
}

void Tunnel::onDeadLink() {
  stream->bump([](EdgeStreamStats& s) { ++s.dead_links; });
}

void Tunnel::onFirstByte() {
  stream->log_->info("tunnel served by the cloud server={} node={}", stream->server_.authority,
                     stream->node_);
}

void Tunnel::onClosed() {
  space.cancel();
  for (auto& [id, c] : conns) {
    c->close();
  }
}

// ---- the module ----

Stream::Stream(core::ModuleContext ctx, EdgeStreamOptions options, net::Endpoint server,
               net::Endpoint local, std::string node_ip)
    : strand_(ctx.strand),
      blocking_(ctx.blocking.get_executor()),
      log_(ctx.log),
      cfg_(ctx.config.modules.edge_stream),
      node_(ctx.config.modules.edged.hostname_override),
      node_ip_(std::move(node_ip)),
      server_(std::move(server)),
      local_(std::move(local)),
      local_tls_(localTlsFiles(ctx.config)),
      options_(std::move(options)),
      retry_timer_(strand_),
      rng_(std::random_device{}()) {}

Status Stream::start() {
  log_->info("edgestream starting server={} node={} node_ip={} local={}", server_.authority, node_,
             node_ip_.empty() ? "(detected on each dial)" : node_ip_, local_.authority);
  asio::co_spawn(strand_, shared_from_this()->runLoop(),
                 core::logCompletion(log_, "edgestream connect loop"));
  return {};
}

void Stream::stop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  retry_timer_.cancel();
  if (dialling_) {
    dialling_->close("edgestream stopping");
  }
  if (tunnel_) {
    tunnel_->ws->close("edgestream stopping");
  }
}

asio::awaitable<void> Stream::runLoop() {
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
core::Result<std::shared_ptr<asio::ssl::context>> Stream::makeTlsContext() {
  auto ca = core::readFile(cfg_.tls_tunnel_ca_file);
  if (!ca.ok()) {
    return ca.status().withContext("modules.edgeStream.tlsTunnelCAFile");
  }
  auto cert = core::readFile(cfg_.tls_tunnel_cert_file);
  if (!cert.ok()) {
    return cert.status().withContext("modules.edgeStream.tlsTunnelCertFile");
  }
  auto key = core::readFile(cfg_.tls_tunnel_private_key_file);
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
asio::awaitable<std::string> Stream::sessionIp() {
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

asio::awaitable<core::Result<TunnelPtr>> Stream::connect() {
  auto ip_op = sessionIp();
  const std::string session_ip = co_await std::move(ip_op);
  if (stopping_) {
    co_return core::unavailable("edgestream stopping");
  }
  auto tls = makeTlsContext();
  if (!tls.ok()) {
    co_return tls.status();
  }
  net::WsOptions o;
  o.framing = net::WsFraming::Raw;
  o.server = server_;
  o.tls = std::move(tls).value();
  o.verify_name = false;  // no SAN check (see docs/edgestream.md)
  // One deadline covers TCP, TLS and the upgrade (handshakeTimeout).
  o.handshake_timeout = std::max(cfg_.handshake_timeout, std::chrono::seconds(1));
  o.target = std::string(kConnectPath);
  o.headers = {{"SessionHostNameOverride", node_}, {"SessionInternalIP", session_ip}};
  o.max_message_bytes = kMaxFrameBytes;
  o.log = log_;
  auto session = net::WsSession::create(strand_, std::move(o));
  if (!session.ok()) {
    co_return session.status();
  }
  dialling_ = *session;  // so stop() reaches a dial in progress
  auto dial_op = dialling_->connect();
  Status st = co_await std::move(dial_op);
  dialling_.reset();
  if (!st.ok()) {
    co_return st;
  }
  co_return std::make_shared<Tunnel>(shared_from_this(), std::move(session).value(), strand_);
}

// The original pings every 5 s and never checks for answers; we also end a session that has
// been silent (no frame, no pong) for dead_after_pings intervals once the cloud serves it, or
// for unserved_grace before that (see EdgeStreamOptions).
asio::awaitable<void> Stream::runTunnel(TunnelPtr t) {
  auto self = shared_from_this();
  tunnel_ = t;
  bump([](EdgeStreamStats& s) {
    ++s.sessions;
    s.connected = true;
    s.last_error.clear();
  });
  log_->info("tunnel connected server={} node={}", server_.authority, node_);
  net::WsLiveness live;
  live.tick = std::max<std::chrono::steady_clock::duration>(options_.ping_interval,
                                                            std::chrono::milliseconds(10));
  live.dead_after = live.tick * std::max(options_.dead_after_pings, 1);
  live.dead_after_unserved =
      std::max<std::chrono::steady_clock::duration>(live.dead_after, options_.unserved_grace);
  live.ping_payload = std::string(kPingPayload);
  auto run_op = t->ws->run(t, live);
  std::string reason = co_await std::move(run_op);
  if (tunnel_ == t) {
    tunnel_.reset();
  }
  bump([](EdgeStreamStats& s) {
    s.connected = false;
    s.active_connections = 0;
  });
  log_->warn("tunnel disconnected server={} reason=\"{}\"", server_.authority, reason);
}

// Queues a frame; waits while the outbound queue is over its limit (backpressure on local
// readers). False when the tunnel closed meanwhile.
asio::awaitable<bool> Stream::sendFrame(TunnelPtr t, std::string frame) {
  while (!t->closed() && t->out_bytes >= options_.max_outbound_bytes) {
    t->space.expires_at(std::chrono::steady_clock::time_point::max());
    auto [ec] = co_await t->space.async_wait(kAsTuple);
    (void)ec;
  }
  if (t->closed()) {
    co_return false;
  }
  queueFrame(t, std::move(frame));
  co_return true;
}

// Control frames (REMOVE_CONNECT) skip the limit: they are tiny and end work.
void Stream::queueFrame(const TunnelPtr& t, std::string frame) {
  if (t->closed()) {
    return;
  }
  t->out_bytes += net::wsClientFrameSize(frame.size());  // counted as on the wire
  t->outq.push_back(std::move(frame));
  t->ws->wake();
}

void Stream::rejectFrame(FrameError err, size_t bytes) {
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
  warnLimited(std::string("bad:") + std::string(frameErrorName(err)),
              fmt::format("tunnel frame rejected reason={} bytes={}", frameErrorName(err), bytes));
}

asio::awaitable<void> Stream::handleFrame(TunnelPtr t, std::string payload) {
  DecodeResult d = decodeFrame(payload);
  if (!d.ok()) {
    rejectFrame(d.error, payload.size());
    co_return;
  }
  const Frame& f = d.frame;
  log_->debug("tunnel frame connect_id={} type={} bytes={}", f.connect_id, messageTypeName(f.type),
              f.data.size());
  switch (f.type) {
    case MessageType::CloseConnect:
      bump([](EdgeStreamStats& s) { ++s.close_messages; });
      log_->warn("cloud closed the tunnel err=\"{}\"", printable(f.data));
      t->ws->close("CLOSE_CONNECT: " + printable(f.data));
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
      auto data_op = deliverData(t, f.connect_id, f.data);
      co_await std::move(data_op);
      co_return;
    }
  }
}

// DATA for an exec/attach connection: queued for its local writer.
asio::awaitable<void> Stream::deliverData(TunnelPtr t, uint64_t id, std::string_view data) {
  auto it = t->conns.find(id);
  if (it == t->conns.end()) {
    bump([](EdgeStreamStats& s) { ++s.unknown_id_frames; });
    co_return;
  }
  bump([n = data.size()](EdgeStreamStats& s) { s.bytes_from_cloud += n; });
  LocalConnPtr c = it->second;
  if (!c->streaming() || c->closed || data.empty()) {
    co_return;  // logs/metrics take no input (as the original)
  }
  // Backpressure: wait (bounded) for the local writer to make room; the whole tunnel waits
  // with us, as the original's blocking channel send does, but not forever.
  auto deadline = std::chrono::steady_clock::now() + options_.inbound_stall_limit;
  while (!c->closed && !t->closed() && c->inbound_bytes > 0 &&
         c->inbound_bytes + data.size() > options_.max_inbound_bytes) {
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
  if (c->closed || t->closed()) {
    co_return;
  }
  c->inbound_bytes += data.size();
  c->inbound.emplace_back(data);
  c->inbound_wake.cancel();
  co_return;
}

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
      std::make_unique<core::SharedModule<EdgeStreamModule, Stream>>(
          "edgestream", "stream", std::move(stream), ctx.metrics.get()));
}

core::Result<core::ModulePtr> create(core::ModuleContext ctx) {
  auto m = createEdgeStream(ctx);
  if (!m.ok()) {
    return m.status();
  }
  return core::ModulePtr(std::move(m).value());
}

}  // namespace edgecore::edgestream
