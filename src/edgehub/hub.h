#pragma once

// edgehub's module class, split over two files: edge_hub.cc (the module, the connect loop, the
// session's lifecycle, certificate rotation) and cloud_traffic.cc (cloud messages to modules,
// module messages to the cloud: the queues, the outbox, the writer's order, keepalives). The
// websocket session itself is net::WsSession (Beast framing).
//
// Hub state is touched on the module strand only, apart from the stats snapshot (a mutex) and
// the outbox (its own worker).

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "cert_manager.h"
#include "edgecore/core/config.h"
#include "edgecore/core/log_limiter.h"
#include "edgecore/edgehub/module.h"
#include "edgecore/net/ws_session.h"
#include "endpoint.h"
#include "outbox.h"
#include "routing.h"
#include "token_bucket.h"

namespace edgecore::edgehub {

namespace asio = boost::asio;
using core::Message;
using core::Status;

// Runs posted jobs one at a time, in order, on the blocking pool. Unlike a strand of the pool it
// holds no reference into the pool's services, so edgehub state that outlives the pool during
// shutdown (coroutine frames destroyed with the io_context) stays safe to destroy.
class SerialWorker : public std::enable_shared_from_this<SerialWorker> {
 public:
  explicit SerialWorker(asio::thread_pool::executor_type ex) : ex_(ex) {}
  void post(std::function<void()> job);

 private:
  void drain();

  asio::thread_pool::executor_type ex_;
  std::mutex mu_;
  std::deque<std::function<void()>> jobs_;
  bool running_ = false;
};

struct Pending {
  Message msg;
  Durability durability;
};

class Hub;

// The module's side of one websocket session: the writer's batch of outbox rows and the message
// being written.
struct Session : net::WsSession::Handler {
  Session(std::shared_ptr<Hub> owner, net::WsSessionPtr session)
      : hub(std::move(owner)), ws(std::move(session)) {}
  std::shared_ptr<Hub> hub;
  net::WsSessionPtr ws;
  std::deque<OutboxEntry> batch;  // rows read from the outbox, oldest first
  Message writing;                // the message being written, and where it came from
  std::optional<int64_t> writing_seq;
  std::optional<Durability> writing_durability;

  // net::WsSession::Handler: the writer's side (cloud_traffic.cc: the writer's order, keepalive
  // messages), the reader's (routing) and the watchdog's (a counter).
  asio::awaitable<net::WsPull> pull() override;
  asio::awaitable<void> onWritten(boost::system::error_code ec, bool control) override;
  void onHeartbeat() override;
  asio::awaitable<void> onMessage(std::string payload, bool binary) override;
  void onOversized(uint64_t bytes) override;
  void onDeadLink() override;
};
using SessionPtr = std::shared_ptr<Session>;

class Hub : public std::enable_shared_from_this<Hub> {
 public:
  Hub(core::ModuleContext ctx, std::string config_path, EdgeHubOptions options, Endpoint server);

  Status start();
  void stop();  // on the strand
  EdgeHubStats stats() const;

 private:
  friend struct Session;

  template <typename F>
  void bump(F f) {
    std::lock_guard lock(stats_mu_);
    f(stats_);
  }
  template <typename F>
  asio::awaitable<std::invoke_result_t<F&>> onBlocking(F f);
  void warnLimited(const std::string& key, const std::string& line) {
    limiter_.log(*log_, spdlog::level::warn, key, line);
  }

  // ---- connection lifecycle (edge_hub.cc) ----
  asio::awaitable<void> runLoop();
  void logConnectFailure(const Status& st, int attempt, std::chrono::milliseconds delay);
  // No certificate and no token: a configuration state, said once (not a network fault).
  void logMissingCredentials(const Status& st, std::chrono::milliseconds delay);
  asio::awaitable<core::Result<net::WsSessionPtr>> connect();
  asio::awaitable<void> runSession(SessionPtr s);
  void publishConnection(std::string_view content);
  asio::awaitable<void> rotationLoop();
  asio::awaitable<void> rotateUntilDone();

  // ---- traffic (cloud_traffic.cc) ----
  void dispatch(Message msg, DownstreamRoute route);
  void onUpstream(Message m);
  bool outboxBusy() const;
  void appendToOutbox(Message m, std::optional<std::string> key);
  void wakeWriter();
  void spillDurable();
  asio::awaitable<net::WsPull> pullFor(Session& s);
  asio::awaitable<void> afterWrite(Session& s, boost::system::error_code ec);

  core::Strand strand_;
  core::Bus& bus_;
  std::shared_ptr<spdlog::logger> log_;
  core::Clock& clock_;
  std::shared_ptr<SerialWorker> blocking_;
  core::EdgeHubConfig cfg_;
  std::string node_;
  Endpoint server_;
  EdgeHubOptions options_;
  net::WsOptions ws_options_;  // every dial's, but for the TLS context read at the dial
  CertManager certs_;
  asio::steady_timer retry_timer_;
  asio::steady_timer rotation_timer_;
  bool credentials_reported_ = false;  // strand: the missing-credentials line was logged
  bool rotation_awaits_cert_ = false;  // strand: the rotation loop waits for a first certificate
  TokenBucket bucket_;
  std::mt19937_64 rng_;
  core::LogLimiter limiter_{std::chrono::seconds(10)};

  std::shared_ptr<Outbox> outbox_;
  int outbox_appends_in_flight_ = 0;
  SessionPtr session_;
  bool online_ = false;
  bool stopping_ = false;
  bool subscribed_ = false;
  std::deque<Message> prio_;    // keepalives, responses, errors: no limiter
  std::deque<Pending> normal_;  // everything else, through the token bucket

  mutable std::mutex stats_mu_;
  EdgeHubStats stats_;
};

}  // namespace edgecore::edgehub
