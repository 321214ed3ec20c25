#pragma once

// edgestream's module class, split over two files: edge_stream.cc (the module, the connect loop,
// the tunnel's frames) and local_connections.cc (each ConnectID's connection to the edged
// server). The websocket session itself is net::WsSession (raw framing).
//
// Everything runs on the module strand: the tunnel's reader, writer and pinger, and every local
// connection's coroutines. State is therefore unsynchronised apart from the stats snapshot.

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "connect_request.h"
#include "edgecore/core/config.h"
#include "edgecore/core/log_limiter.h"
#include "edgecore/edgestream/module.h"
#include "edgecore/net/tls_client.h"
#include "edgecore/net/ws_session.h"
#include "frame.h"

namespace edgecore::edgestream {

namespace asio = boost::asio;
namespace beast = boost::beast;
using core::Status;

class Stream;

// The connection to the edged server: plain TCP on loopback, or TLS with the node's certificate
// when edged serves HTTPS (its tlsCertFile is set; required off loopback). One stream type so the
// HTTP parser and the byte pumps need no second copy.
class LocalStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using TlsStream = asio::ssl::stream<beast::tcp_stream>;

  explicit LocalStream(asio::any_io_executor ex) { plain_.emplace(std::move(ex)); }
  // Before connecting: from now on through TLS with `ctx` (kept alive here).
  void useTls(std::shared_ptr<asio::ssl::context> ctx) {
    ctx_ = std::move(ctx);
    tls_.emplace(std::move(*plain_), *ctx_);
    plain_.reset();
  }
  beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }
  executor_type get_executor() { return tcp().get_executor(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) {
      return tls_->async_read_some(buffers, std::forward<Token>(token));
    }
    return plain_->async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) {
      return tls_->async_write_some(buffers, std::forward<Token>(token));
    }
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::shared_ptr<asio::ssl::context> ctx_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<TlsStream> tls_;
};

// Where the TLS files for the edged server connection come from; `enabled()` false: plain TCP.
struct LocalTlsFiles {
  std::vector<std::string>
      ca_files;           // edged's clientCAFile and edgeHub's tlsCaFile (the node's CA)
  std::string cert_file;  // edgeHub tlsCertFile: the node's certificate
  std::string key_file;   // edgeHub tlsPrivateKeyFile
  bool enabled() const { return !cert_file.empty(); }
};
// From modules.edged.tailoredKubeletConfig (TLS on when tlsCertFile is set) and modules.edgeHub.
LocalTlsFiles localTlsFiles(const core::EdgeCoreConfig& config);

// One ConnectID's local connection to the edged server.
struct LocalConn {
  LocalConn(asio::any_io_executor ex, uint64_t conn_id, MessageType conn_kind, ConnectRequest r)
      : id(conn_id), kind(conn_kind), req(std::move(r)), stream(ex), inbound_wake(ex), space(ex) {}
  uint64_t id;
  MessageType kind;
  ConnectRequest req;
  LocalStream stream;
  std::deque<std::string> inbound;  // DATA from the cloud, for exec/attach
  size_t inbound_bytes = 0;
  asio::steady_timer inbound_wake;  // the local writer sleeps on it
  asio::steady_timer space;         // the tunnel reader waits on it when inbound is full
  bool closed = false;
  bool removed_by_cloud = false;

  bool streaming() const {
    return kind == MessageType::ExecConnect || kind == MessageType::AttachConnect;
  }
  void close();
};
using LocalConnPtr = std::shared_ptr<LocalConn>;

// One websocket session with CloudStream: the module's side of it (the outbound frame queue and
// the local connections), handed to the session as its handler.
struct Tunnel : net::WsSession::Handler, std::enable_shared_from_this<Tunnel> {
  Tunnel(std::shared_ptr<Stream> owner, net::WsSessionPtr session, asio::any_io_executor ex)
      : stream(std::move(owner)), ws(std::move(session)), space(ex) {}
  std::shared_ptr<Stream> stream;
  net::WsSessionPtr ws;
  std::deque<std::string> outq;  // encoded tunnel frames (payloads of websocket text frames)
  size_t out_bytes = 0;          // outq and the frame being written, as websocket frames
  size_t writing_bytes = 0;      // the frame the session is writing now
  asio::steady_timer space;      // producers wait on it while outq is over the limit
  std::map<uint64_t, LocalConnPtr> conns;

  bool closed() const { return ws->closed(); }

  // net::WsSession::Handler
  asio::awaitable<void> onMessage(std::string payload, bool binary) override;
  void onOversized(uint64_t bytes) override;
  asio::awaitable<net::WsPull> pull() override;
  asio::awaitable<void> onWritten(boost::system::error_code ec, bool control) override;
  void onDeadLink() override;
  void onFirstByte() override;
  void onClosed() override;
};
using TunnelPtr = std::shared_ptr<Tunnel>;

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  Stream(core::ModuleContext ctx, EdgeStreamOptions options, net::Endpoint server,
         net::Endpoint local, std::string node_ip);

  Status start();
  void stop();  // on the strand
  EdgeStreamStats stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
  }

 private:
  friend struct Tunnel;

  template <typename F>
  void bump(F f) {
    std::lock_guard lock(stats_mu_);
    f(stats_);
  }
  void warnLimited(const std::string& key, const std::string& line) {
    limiter_.log(*log_, spdlog::level::warn, key, line);
  }

  // ---- tunnel (edge_stream.cc) ----
  asio::awaitable<void> runLoop();
  core::Result<std::shared_ptr<asio::ssl::context>> makeTlsContext();
  asio::awaitable<std::string> sessionIp();
  asio::awaitable<core::Result<TunnelPtr>> connect();
  asio::awaitable<void> runTunnel(TunnelPtr t);
  asio::awaitable<bool> sendFrame(TunnelPtr t, std::string frame);
  void queueFrame(const TunnelPtr& t, std::string frame);
  void rejectFrame(FrameError err, size_t bytes);
  asio::awaitable<void> handleFrame(TunnelPtr t, std::string payload);
  asio::awaitable<void> deliverData(TunnelPtr t, uint64_t id, std::string_view data);

  // ---- local connections (local_connections.cc) ----
  void openLocal(const TunnelPtr& t, uint64_t id, MessageType kind, std::string_view body);
  asio::awaitable<void> serveLocal(TunnelPtr t, LocalConnPtr c);
  asio::awaitable<Status> connectLocal(LocalConnPtr c);
  core::Result<std::shared_ptr<asio::ssl::context>> makeLocalTlsContext();
  asio::awaitable<void> pumpHttpBody(TunnelPtr t, LocalConnPtr c);
  asio::awaitable<void> pumpRaw(TunnelPtr t, LocalConnPtr c);
  asio::awaitable<void> localWriter(LocalConnPtr c);

  core::Strand strand_;
  asio::any_io_executor blocking_;  // the shared blocking pool (address detection)
  std::shared_ptr<spdlog::logger> log_;
  core::EdgeStreamConfig cfg_;
  std::string node_;
  std::string node_ip_;           // configured SessionInternalIP; empty: detect on each dial
  std::string last_detected_ip_;  // for the "address changed" log line
  net::Endpoint server_;
  net::Endpoint local_;
  LocalTlsFiles local_tls_;  // edged serves TLS: connect with the node's certificate
  EdgeStreamOptions options_;
  asio::steady_timer retry_timer_;
  std::mt19937_64 rng_;
  core::LogLimiter limiter_{std::chrono::seconds(10)};
  TunnelPtr tunnel_;
  net::WsSessionPtr dialling_;  // so stop() reaches a dial in progress
  bool stopping_ = false;

  mutable std::mutex stats_mu_;
  EdgeStreamStats stats_;
};

// Log-safe text: at most 200 bytes, non-printables as '.'.
std::string printable(std::string_view text);

}  // namespace edgecore::edgestream
