// edgestream's local side: each ConnectID the cloud opens becomes a connection to the edged
// server (logs, metrics, exec, attach), pumped back through the tunnel as DATA frames. The only
// Beast HTTP TU of the module.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "edgecore/core/async/spawn.h"
#include "edgecore/core/file.h"
#include "stream.h"

namespace edgecore::edgestream {

namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kLocalReadChunk = 32 * 1024;  // DATA payload per frame from a local connection

}  // namespace

void LocalConn::close() {
  if (closed) {
    return;
  }
  closed = true;
  boost::system::error_code ec;
  stream.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  stream.tcp().close();
  inbound_wake.cancel();
  space.cancel();
}

void Stream::openLocal(const TunnelPtr& t, uint64_t id, MessageType kind, std::string_view body) {
  if (t->conns.count(id) != 0) {
    bump([](EdgeStreamStats& s) { ++s.connections_refused; });
    warnLimited("dup", fmt::format("duplicate connect ignored connect_id={}", id));
    return;
  }
  if (t->conns.size() >= options_.max_connections) {
    bump([](EdgeStreamStats& s) { ++s.connections_refused; });
    warnLimited("limit", fmt::format("connection limit reached, refused connect_id={} limit={}", id,
                                     options_.max_connections));
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
  log_->info("stream request connect_id={} type={} method={} target={}", id, messageTypeName(kind),
             c->req.method, printable(c->req.target));
  asio::co_spawn(strand_, serveLocal(t, c),
                 core::logCompletion(log_, "edgestream local connection"));
}

asio::awaitable<void> Stream::serveLocal(TunnelPtr t, LocalConnPtr c) {
  auto self = shared_from_this();
  auto connect_op = connectLocal(c);
  Status st = co_await std::move(connect_op);
  if (!st.ok()) {
    if (!c->closed) {
      bump([](EdgeStreamStats& s) { ++s.local_failures; });
      warnLimited("local", fmt::format("local server unreachable connect_id={} err={}", c->id,
                                       st.message()));
      // The original sends nothing here and the cloud hangs; we say why and end it.
      auto send_op =
          sendFrame(t, encodeFrame(c->id, MessageType::Data, "edgestream: " + st.message() + "\n"));
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

LocalTlsFiles localTlsFiles(const core::EdgeCoreConfig& config) {
  LocalTlsFiles f;
  const core::EdgedConfig& edged = config.modules.edged;
  if (edged.tls_cert_file.empty()) {
    return f;
  }
  for (const std::string* ca : {&edged.client_ca_file, &config.modules.edge_hub.tls_ca_file}) {
    if (!ca->empty()) f.ca_files.push_back(*ca);
  }
  f.cert_file = config.modules.edge_hub.tls_cert_file;
  f.key_file = config.modules.edge_hub.tls_private_key_file;
  return f;
}

// Read on every connection, like the tunnel's files: a renewed node certificate is used at once.
// The edged server's certificate must chain to the node's CA; its name is not checked (we dial
// the address edged listens on, usually a wildcard reached on loopback).
core::Result<std::shared_ptr<asio::ssl::context>> Stream::makeLocalTlsContext() {
  net::ClientTlsConfig tls;
  for (const auto& file : local_tls_.ca_files) {
    auto ca = core::readFile(file);
    if (!ca.ok()) {
      return ca.status().withContext("edged server CA");
    }
    tls.ca_pem += *ca + "\n";
  }
  auto cert = core::readFile(local_tls_.cert_file);
  if (!cert.ok()) {
    return cert.status().withContext("modules.edgeHub.tlsCertFile");
  }
  auto key = core::readFile(local_tls_.key_file);
  if (!key.ok()) {
    return key.status().withContext("modules.edgeHub.tlsPrivateKeyFile");
  }
  tls.cert_pem = std::move(cert).value();
  tls.key_pem = std::move(key).value();
  tls.check_key_matches = true;
  return net::makeClientTlsContext(tls);
}

asio::awaitable<Status> Stream::connectLocal(LocalConnPtr c) {
  if (local_tls_.enabled()) {
    auto ctx = makeLocalTlsContext();
    if (!ctx.ok()) {
      co_return core::unavailable("TLS to local server " + local_.authority + ": " +
                                  ctx.status().message());
    }
    c->stream.useTls(std::move(ctx).value());
  }
  tcp::resolver resolver(strand_);
  auto [rerr, results] = co_await resolver.async_resolve(local_.host, local_.port, kAsTuple);
  if (rerr) {
    co_return core::unavailable("resolve local server " + local_.authority + ": " + rerr.message());
  }
  if (c->closed) {
    co_return core::cancelled("removed");
  }
  c->stream.tcp().expires_after(options_.local_connect_timeout);
  auto [cerr, ep] = co_await c->stream.tcp().async_connect(results, kAsTuple);
  (void)ep;
  if (cerr) {
    co_return core::unavailable("local server " + local_.authority + ": " + cerr.message());
  }
  boost::system::error_code nodelay_ec;  // exec/attach bytes go on at once (no Nagle wait)
  c->stream.tcp().socket().set_option(tcp::no_delay(true), nodelay_ec);
  if (auto* tls = c->stream.tls()) {
    auto [herr] = co_await tls->async_handshake(asio::ssl::stream_base::client, kAsTuple);
    if (herr) {
      co_return core::unavailable("TLS handshake with local server " + local_.authority + ": " +
                                  herr.message());
    }
  }
  std::string head =
      buildRequestHead(c->req, local_.authority, c->kind == MessageType::MetricConnect);
  auto [werr, n] = co_await asio::async_write(c->stream, asio::buffer(head), kAsTuple);
  (void)n;
  if (werr) {
    co_return core::unavailable("local server " + local_.authority + ": " + werr.message());
  }
  c->stream.tcp().expires_never();
  co_return Status{};
}

// LOGS / METRICS: the response body (de-chunked) goes back as DATA frames. The HTTP status is
// not relayed, as in the original: error bodies reach the user as text.
asio::awaitable<void> Stream::pumpHttpBody(TunnelPtr t, LocalConnPtr c) {
  beast::flat_buffer buf;
  // Beast sizes each socket read by the buffer's free capacity (at least 512 bytes); without
  // room the body would trickle through in 512-byte DATA frames.
  buf.reserve(kLocalReadChunk);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // streamed in bounded chunks; follow=true never ends
  parser.header_limit(64 * 1024);
  c->stream.tcp().expires_after(options_.local_connect_timeout * 6);
  auto [herr, hn] = co_await http::async_read_header(c->stream, buf, parser, kAsTuple);
  (void)hn;
  c->stream.tcp().expires_never();
  if (herr) {
    if (!c->closed) {
      auto send_op = sendFrame(
          t, encodeFrame(c->id, MessageType::Data,
                         "edgestream: local server response unreadable: " + herr.message() + "\n"));
      co_await std::move(send_op);
    }
    co_return;
  }
  std::string chunk(kLocalReadChunk, '\0');
  while (!parser.is_done() && !c->closed && !t->closed()) {
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
      auto send_op =
          sendFrame(t, encodeFrame(c->id, MessageType::Data, std::string_view(chunk.data(), got)));
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
asio::awaitable<void> Stream::pumpRaw(TunnelPtr t, LocalConnPtr c) {
  std::string chunk(kLocalReadChunk, '\0');
  while (!c->closed && !t->closed()) {
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
asio::awaitable<void> Stream::localWriter(LocalConnPtr c) {
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

}  // namespace edgecore::edgestream
