#pragma once

// One websocket client session to the cloud, shared by edgehub (CloudHub's message tunnel) and
// edgestream (CloudStream's stream tunnel). The session owns the skeleton both repeat:
//  - create + connect: TLS context and peer check, resolve + TCP + TLS (dialTls), the upgrade;
//  - run: the reader here, a writer woken by a timer when the handler has something to write,
//    the liveness loop (pings after silence, "dead link" after longer silence) and an optional
//    heartbeat tick; the session ends when the reader ends, and every other loop stops with it;
//  - close(reason): shuts the socket, cancels the timers, tells the handler; idempotent.
// What goes through it (routing, queues, keepalive messages, stream frames) is the Handler's.
//
// Two framings, because the two clouds differ on the wire:
//  - Beast: Beast's websocket stream; text messages, pings answered and closes echoed by Beast,
//    text that is not UTF-8 ends the session (CloudHub);
//  - Raw: our RFC 6455 codec (ws_frame.h); any bytes in text frames, pongs queued by the session,
//    a close from the peer ends the session unanswered (CloudStream).
// Everything runs on the executor given to create() (the owning module's strand); nothing here
// is synchronised. Beast's websocket templates live only in ws_session.cc.

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/net/tls_client.h"

namespace edgecore::net {

enum class WsFraming { Beast, Raw };

struct WsOptions {
  WsFraming framing = WsFraming::Beast;
  Endpoint server;
  std::shared_ptr<boost::asio::ssl::context> tls;  // kept alive by the session
  bool verify_name = true;                         // setTlsPeer's SAN check
  // Beast: covers TCP + TLS, then Beast's own handshake timeout covers the upgrade.
  // Raw: one deadline over TCP, TLS and the upgrade.
  std::chrono::steady_clock::duration handshake_timeout = std::chrono::seconds(30);
  std::string target;  // the upgrade's request target
  std::string user_agent = "edgecore-cpp";
  std::vector<std::pair<std::string, std::string>> headers;  // extra upgrade headers, in order
  size_t max_message_bytes = 1 << 20;   // a longer message is read and dropped piecewise
  std::shared_ptr<spdlog::logger> log;  // where a loop that threw (a bug) is reported
};

// Liveness: every `tick` the silence since the last byte (frame, ping, pong) is measured; at
// `dead_after` (`dead_after_unserved` before the peer's first byte) the session is closed as a
// dead link, else at `ping_after` or more a ping with `ping_payload` goes out (one at a time).
struct WsLiveness {
  std::chrono::steady_clock::duration tick = std::chrono::seconds(5);
  std::chrono::steady_clock::duration ping_after{0};
  std::chrono::steady_clock::duration dead_after = std::chrono::seconds(15);
  std::chrono::steady_clock::duration dead_after_unserved = std::chrono::seconds(15);
  std::string ping_payload;
  // Handler::onHeartbeat at the start and then every `heartbeat`; zero: never.
  std::chrono::steady_clock::duration heartbeat{0};
};

// What the writer gets from Handler::pull: a text message to send, or nothing for now and how
// long to sleep unless WsSession::wake() comes first.
struct WsPull {
  std::optional<std::string> message;
  std::chrono::steady_clock::duration idle = std::chrono::steady_clock::duration::max();
};

class WsSession;
using WsSessionPtr = std::shared_ptr<WsSession>;

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // The module's side of one session. All calls on the session's executor.
  class Handler {
   public:
    virtual ~Handler() = default;
    // One whole data message (`binary`: it came in binary frames).
    virtual boost::asio::awaitable<void> onMessage(std::string payload, bool binary) = 0;
    // A data message over max_message_bytes was read and dropped; `bytes` is its size.
    virtual void onOversized(uint64_t bytes) = 0;
    // The writer asks for the next message; may wait (the session stays up meanwhile).
    virtual boost::asio::awaitable<WsPull> pull() = 0;
    // After each write: of the pulled message, or of a queued control frame (`control`, Raw).
    // On an error the session closes right after this returns.
    virtual boost::asio::awaitable<void> onWritten(boost::system::error_code ec, bool control) = 0;
    virtual void onHeartbeat() {}
    virtual void onDeadLink() {}
    virtual void onFirstByte() {}  // the peer sent its first byte after the upgrade
    virtual void onClosed() {}     // from close(): end the handler's own waits
  };

  // InvalidArgument/Internal when the TLS peer settings cannot be applied. No I/O yet.
  static core::Result<WsSessionPtr> create(boost::asio::any_io_executor ex, WsOptions options);
  virtual ~WsSession() = default;

  // Dials and upgrades. Unavailable / DeadlineExceeded with the step and the address; a close()
  // meanwhile ends it as Unavailable.
  virtual boost::asio::awaitable<core::Status> connect() = 0;

  // Runs the session with `handler` until the reader ends; returns the end reason. The writer,
  // liveness and heartbeat loops hold `handler` and the session until they notice the close.
  boost::asio::awaitable<std::string> run(std::shared_ptr<Handler> handler, WsLiveness liveness);

  void close(const std::string& reason);
  void wake() { wake_.cancel(); }  // the writer pulls again
  bool closed() const { return closed_; }
  const std::string& endReason() const { return end_reason_; }

 protected:
  WsSession(boost::asio::any_io_executor ex, WsOptions options);
  virtual TlsStream& tlsStream() = 0;
  virtual boost::asio::awaitable<void> readLoop(Handler& handler) = 0;
  virtual boost::asio::awaitable<boost::system::error_code> write(const std::string& message) = 0;
  virtual bool takeControl(std::string& /*frame*/) { return false; }  // Raw: a queued control frame
  virtual boost::asio::awaitable<boost::system::error_code> writeControl(const std::string& frame);
  virtual boost::asio::awaitable<boost::system::error_code> ping(std::string_view payload) = 0;
  void endWith(std::string reason);  // sets the end reason if none yet
  void sawBytes(Handler& handler);   // a byte came in: liveness, first byte

  WsOptions options_;
  std::chrono::steady_clock::time_point last_rx_ = std::chrono::steady_clock::now();
  bool served_ = false;

 private:
  boost::asio::awaitable<void> writeLoop(std::shared_ptr<Handler> handler);
  boost::asio::awaitable<void> livenessLoop(std::shared_ptr<Handler> handler, WsLiveness l);
  boost::asio::awaitable<void> heartbeatLoop(std::shared_ptr<Handler> handler, WsLiveness l);

  boost::asio::any_io_executor ex_;
  boost::asio::steady_timer wake_;  // the writer's sleep
  boost::asio::steady_timer liveness_;
  boost::asio::steady_timer heartbeat_;
  std::weak_ptr<Handler> handler_;
  bool closed_ = false;
  bool ping_in_flight_ = false;
  std::string end_reason_;
};

}  // namespace edgecore::net
