// edgehub: the module, its websocket session to CloudHub and the upstream queues. The only TU
// with Beast's websocket; the certificate client has its own (cert_client.cc).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>

#include "backoff.h"
#include "cert_manager.h"
#include "edgecore/core/async/spawn.h"
#include "edgecore/core/config.h"
#include "edgecore/core/log_limiter.h"
#include "edgecore/edgehub/module.h"
#include "endpoint.h"
#include "outbox.h"
#include "routing.h"
#include "tls.h"
#include "token_bucket.h"

namespace edgecore::edgehub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using core::Message;
using core::Status;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kOutboxBatch = 32;
constexpr std::string_view kConnectionSource = "edgehub";  // message.SourceNodeConnection
constexpr std::string_view kNodeConnection = "node/connection";
constexpr std::string_view kCloudConnected = "cloud_connected";
constexpr std::string_view kCloudDisconnected = "cloud_disconnected";
constexpr std::chrono::seconds kLogInterval{10};
constexpr std::chrono::seconds kRotationPoll{32};

using WsStream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

// One websocket session. Lives while any of its coroutines runs.
struct Session {
  Session(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> tls_ctx)
      : tls(std::move(tls_ctx)), ws(ex, *tls), wake(ex), keepalive(ex), watchdog(ex) {}
  std::shared_ptr<asio::ssl::context> tls;  // outlives the stream that refers to it
  WsStream ws;
  asio::steady_timer wake;  // the writer's sleep: cancelled when there is something to write
  asio::steady_timer keepalive;
  asio::steady_timer watchdog;
  std::chrono::steady_clock::time_point last_rx = std::chrono::steady_clock::now();
  bool ping_in_flight = false;
  bool closed = false;
  std::string end_reason;
};
using SessionPtr = std::shared_ptr<Session>;

// Runs posted jobs one at a time, in order, on the blocking pool. Unlike a strand of the pool it
// holds no reference into the pool's services, so edgehub state that outlives the pool during
// shutdown (coroutine frames destroyed with the io_context) stays safe to destroy.
class SerialWorker : public std::enable_shared_from_this<SerialWorker> {
 public:
  explicit SerialWorker(asio::thread_pool::executor_type ex) : ex_(ex) {}
  void post(std::function<void()> job) {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    if (!running_) {
      running_ = true;
      asio::post(ex_, [self = shared_from_this()] { self->drain(); });
    }
  }

 private:
  void drain() {
    while (true) {
      std::function<void()> job;
      {
        std::lock_guard lock(mu_);
        if (jobs_.empty()) {
          running_ = false;
          return;
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  asio::thread_pool::executor_type ex_;
  std::mutex mu_;
  std::deque<std::function<void()>> jobs_;
  bool running_ = false;
};

struct Pending {
  Message msg;
  Durability durability;
};

class Hub : public std::enable_shared_from_this<Hub> {
 public:
  Hub(core::ModuleContext ctx, std::string config_path, EdgeHubOptions options, Endpoint server)
      : strand_(ctx.strand),
        bus_(ctx.bus),
        log_(ctx.log),
        clock_(ctx.clock),
        blocking_(std::make_shared<SerialWorker>(ctx.blocking.get_executor())),
        cfg_(ctx.config.modules.edge_hub),
        node_(ctx.config.modules.edged.hostname_override),
        server_(std::move(server)),
        options_(std::move(options)),
        certs_(cfg_, node_, std::move(config_path), log_, ctx.clock),
        retry_timer_(strand_),
        rotation_timer_(strand_),
        bucket_(cfg_.message_qps, cfg_.message_burst, std::chrono::steady_clock::now()),
        rng_(std::random_device{}()) {
    if (options_.outbox_path.empty()) {
      auto dir = std::filesystem::path(ctx.config.database.data_source).parent_path();
      options_.outbox_path = (dir / "edgecore-outbox.db").string();
    }
  }

  Status start() {
    auto box = Outbox::open(options_.outbox_path, options_.outbox_max_rows);
    if (box.ok()) {
      outbox_ = std::shared_ptr<Outbox>(std::move(box).value());
      auto c = outbox_->counters();
      if (c.depth > 0) {
        log_->info("outbox holds undelivered messages path={} depth={}", options_.outbox_path,
                   c.depth);
      }
    } else {
      // Degraded, not fatal: status then only survives in memory (and not a restart).
      log_->error("outbox unusable, status kept in memory only path={} err={}",
                  options_.outbox_path, box.status().message());
    }
    auto self = shared_from_this();
    EC_RETURN_IF_ERROR(bus_.subscribe(core::names::kEdgeHubModule, core::names::kHubGroup, strand_,
                                      [self](Message m) { self->onUpstream(std::move(m)); }));
    subscribed_ = true;
    log_->info("edgehub starting server={} node={} heartbeat_s={} qps={} burst={} outbox={}",
               server_.authority, node_, cfg_.heartbeat.count(), cfg_.message_qps,
               cfg_.message_burst, options_.outbox_path);
    asio::co_spawn(strand_, self->runLoop(), core::logCompletion(log_, "edgehub connect loop"));
    if (cfg_.rotate_certificates) {
      asio::co_spawn(strand_, self->rotationLoop(), core::logCompletion(log_, "edgehub rotation"));
    }
    return {};
  }

  // On the strand.
  void stop() {
    if (stopping_) {
      return;
    }
    stopping_ = true;
    if (subscribed_) {
      bus_.unsubscribe(core::names::kEdgeHubModule);
    }
    retry_timer_.cancel();
    rotation_timer_.cancel();
    if (session_) {
      closeSession(session_, "edgehub stopping");
    }
  }

  EdgeHubStats stats() const {
    std::lock_guard lock(stats_mu_);
    EdgeHubStats out = stats_;
    if (outbox_) {
      auto c = outbox_->counters();
      out.outbox_depth = c.depth;
      out.outbox_appended = c.appended;
      out.outbox_delivered = c.delivered;
      out.outbox_coalesced = c.coalesced;
      out.outbox_dropped = c.dropped;
    }
    return out;
  }

 private:
  template <typename F>
  void bump(F f) {
    std::lock_guard lock(stats_mu_);
    f(stats_);
  }

  // Runs `f` on the blocking worker (ordered with every other outbox call) and resumes on our
  // strand. `f` and the result live in this frame, which stays put while suspended.
  template <typename F>
  asio::awaitable<std::invoke_result_t<F&>> onBlocking(F f) {
    using R = std::invoke_result_t<F&>;
    std::optional<R> result;
    F* fn = &f;
    std::optional<R>* out = &result;
    auto op = asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this, fn, out](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          core::Strand strand = strand_;
          blocking_->post([h, fn, out, strand] {
            out->emplace((*fn)());
            asio::post(strand, [h]() mutable { (*h)(); });
          });
        },
        asio::use_awaitable);
    co_await std::move(op);
    co_return std::move(*result);
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

  // ---- connection lifecycle ----

  asio::awaitable<void> runLoop() {
    auto self = shared_from_this();
    Backoff backoff(options_.initial_backoff, options_.max_backoff, rng_());
    bool was_failing = false;
    while (!stopping_) {
      Status st;
      {
        auto ensure_op = certs_.ensure(strand_);
        st = co_await std::move(ensure_op);
      }
      if (st.ok() && rotation_awaits_cert_) {
        // A certificate exists now (bootstrap): let the rotation loop schedule it at once
        // instead of at its next poll (32 s, longer than a short-lived certificate may last).
        rotation_awaits_cert_ = false;
        rotation_timer_.cancel();
      }
      if (st.ok()) {
        auto connect_op = connect();
        auto session = co_await std::move(connect_op);
        if (session.ok()) {
          if (was_failing) {
            log_->info("cloud reachable again attempts={}", backoff.attempts());
          }
          was_failing = false;
          backoff.reset();
          auto run_op = runSession(*session);
          co_await std::move(run_op);
        } else {
          st = session.status();
        }
      }
      if (stopping_) {
        break;
      }
      auto delay = backoff.next();
      if (!st.ok()) {
        bump([&](EdgeHubStats& s) {
          ++s.connect_failures;
          s.last_error = st.toString();
        });
        bool clear_error = st.code() == core::StatusCode::FailedPrecondition ||
                           st.code() == core::StatusCode::PermissionDenied ||
                           st.code() == core::StatusCode::Unauthenticated ||
                           st.code() == core::StatusCode::InvalidArgument;
        std::string line = fmt::format("cloud connect failed attempt={} backoff_ms={} err=\"{}\"",
                                       backoff.attempts(), delay.count(), st.toString());
        uint64_t suppressed = 0;
        if (limiter_.allow("connect", std::chrono::steady_clock::now(), &suppressed)) {
          // Operator action needed (certificate/token problems) is an error; a cloud that is
          // merely away is a warning.
          if (clear_error) {
            log_->error("{} suppressed={}", line, suppressed);
          } else {
            log_->warn("{} suppressed={}", line, suppressed);
          }
        }
        was_failing = true;
      }
      retry_timer_.expires_after(delay);
      auto [ec] = co_await retry_timer_.async_wait(kAsTuple);
      (void)ec;
    }
  }

  asio::awaitable<core::Result<SessionPtr>> connect() {
    auto cert = readFile(cfg_.tls_cert_file);
    auto key = readFile(cfg_.tls_private_key_file);
    auto ca = readFile(cfg_.tls_ca_file);
    if (!ca.ok()) {
      co_return ca.status().withContext("modules.edgeHub.tlsCaFile");
    }
    if (!cert.ok() || !key.ok()) {
      co_return (cert.ok() ? key.status() : cert.status()).withContext("client certificate");
    }
    auto tls = makeClientTlsContext(ClientTlsConfig{true, *ca, *cert, *key});
    if (!tls.ok()) {
      co_return tls.status();
    }
    auto s = std::make_shared<Session>(strand_, *tls);
    Status peer = setTlsPeer(s->ws.next_layer().native_handle(), server_, true);
    if (!peer.ok()) {
      co_return peer;
    }
    const auto handshake_timeout =
        std::max(cfg_.websocket.handshake_timeout, std::chrono::seconds(1));
    {
      auto dial_op = net::dialTls(s->ws.next_layer(), server_, handshake_timeout);
      Status dialled = co_await std::move(dial_op);
      if (!dialled.ok()) {
        co_return dialled;
      }
    }
    auto& tcp_layer = beast::get_lowest_layer(s->ws);
    tcp_layer.expires_never();  // the websocket's own timeouts take over
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = handshake_timeout;
    // Dead links are found by watchdogLoop (Beast's own idle pings tick at idle/2 and can take
    // up to 3 x that), so Beast's idle timeout stays off.
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    s->ws.set_option(timeouts);
    std::weak_ptr<Session> weak = s;
    s->ws.control_callback([weak](websocket::frame_type, beast::string_view) {
      if (auto locked = weak.lock()) {
        locked->last_rx = std::chrono::steady_clock::now();
      }
    });
    s->ws.read_message_max(0);  // the reader enforces kMaxFrameBytes itself, keeping the session
    s->ws.auto_fragment(false);
    std::string node = node_;
    std::string project = cfg_.project_id;
    s->ws.set_option(websocket::stream_base::decorator([node, project](websocket::request_type& r) {
      r.set("node_id", node);
      r.set("project_id", project);
      r.set("ConnectionUse", "msg");
      r.set(beast::http::field::user_agent, "edgecore-cpp");
    }));
    std::string target = "/" + cfg_.project_id + "/" + node_ + "/events";
    websocket::response_type res;
    auto [werr] = co_await s->ws.async_handshake(res, server_.authority, target, kAsTuple);
    if (werr) {
      std::string detail = werr.message();
      if (res.result_int() != 0) {
        detail += " (HTTP " + std::to_string(res.result_int()) + ")";
      }
      co_return core::unavailable("websocket upgrade at " + server_.authority + target + ": " +
                                  detail);
    }
    s->ws.text(true);
    co_return s;
  }

  asio::awaitable<void> runSession(SessionPtr s) {
    auto self = shared_from_this();
    session_ = s;
    online_ = true;
    std::erase_if(prio_,
                  [](const Message& m) { return m.route.operation == core::op::kKeepalive; });
    bump([](EdgeHubStats& st) {
      ++st.sessions;
      st.connected = true;
      st.last_error.clear();
    });
    log_->info("cloud connected server={} node={}", server_.authority, node_);
    publishConnection(kCloudConnected);
    asio::co_spawn(strand_, writeLoop(s), core::logCompletion(log_, "edgehub writer"));
    asio::co_spawn(strand_, keepaliveLoop(s), core::logCompletion(log_, "edgehub keepalive"));
    asio::co_spawn(strand_, watchdogLoop(s), core::logCompletion(log_, "edgehub watchdog"));
    auto read_op = readLoop(s);
    co_await std::move(read_op);
    closeSession(s, s->end_reason.empty() ? "read ended" : s->end_reason);
    session_.reset();
    online_ = false;
    bump([](EdgeHubStats& st) { st.connected = false; });
    log_->warn("cloud disconnected server={} reason=\"{}\"", server_.authority, s->end_reason);
    // Durable messages still waiting in memory go to disk now, so a restart keeps them too.
    for (auto it = normal_.begin(); it != normal_.end();) {
      if (it->durability.durable) {
        appendToOutbox(std::move(it->msg), it->durability.coalesce_key);
        it = normal_.erase(it);
      } else {
        ++it;
      }
    }
    publishConnection(kCloudDisconnected);
  }

  void closeSession(const SessionPtr& s, const std::string& reason) {
    if (s->closed) {
      return;
    }
    s->closed = true;
    if (s->end_reason.empty()) {
      s->end_reason = reason;
    }
    boost::system::error_code ec;
    beast::get_lowest_layer(s->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(s->ws).close();
    s->wake.cancel();
    s->keepalive.cancel();
    s->watchdog.cancel();
  }

  void publishConnection(std::string_view content) {
    for (std::string_view group :
         {core::names::kTwinGroup, core::names::kMetaGroup, core::names::kBusGroup}) {
      Message m = Message::create(kConnectionSource, group, core::op::kConnect, kNodeConnection,
                                  std::string(content));
      Status st = bus_.broadcast(group, std::move(m));
      if (!st.ok() && st.code() != core::StatusCode::NotFound) {
        warnLimited("publish", fmt::format("connection event not delivered group={} err={}", group,
                                           st.message()));
      }
    }
  }

  // ---- downstream ----

  asio::awaitable<void> readLoop(SessionPtr s) {
    beast::flat_buffer buf;
    beast::flat_buffer discard;
    while (!s->closed) {
      buf.clear();
      bool oversized = false;
      size_t total = 0;
      do {
        beast::flat_buffer& target = oversized ? discard : buf;
        if (oversized) {
          discard.clear();
        }
        auto [ec, n] = co_await s->ws.async_read_some(target, kReadChunk, kAsTuple);
        if (ec) {
          if (s->end_reason.empty()) {
            s->end_reason = "read: " + ec.message();
          }
          co_return;
        }
        s->last_rx = std::chrono::steady_clock::now();
        total += n;
        if (!oversized && buf.size() > kMaxFrameBytes) {
          oversized = true;
          buf.clear();
          buf.shrink_to_fit();
        }
      } while (!s->ws.is_message_done());
      bump([](EdgeHubStats& st) { ++st.frames_in; });
      if (oversized) {
        bump([](EdgeHubStats& st) { ++st.oversized_frames; });
        discard.shrink_to_fit();
        warnLimited("oversized", fmt::format("cloud frame too large, dropped bytes={} limit={}",
                                             total, kMaxFrameBytes));
        continue;
      }
      const auto* bytes = static_cast<const char*>(buf.data().data());
      Inbound in = acceptInbound(std::string_view(bytes, buf.size()), s->ws.got_binary());
      if (buf.capacity() > 4 * kReadChunk) {
        buf.shrink_to_fit();  // a large message should not pin its buffer for the session
      }
      switch (in.verdict) {
        case InboundVerdict::Dispatch:
          dispatch(std::move(in.msg), std::move(in.route));
          break;
        case InboundVerdict::Binary:
          bump([](EdgeHubStats& st) { ++st.binary_frames; });
          warnLimited("binary", fmt::format("binary frame from cloud dropped bytes={}", total));
          break;
        case InboundVerdict::Malformed:
          bump([](EdgeHubStats& st) { ++st.malformed_frames; });
          warnLimited("malformed", fmt::format("malformed frame from cloud dropped bytes={} err={}",
                                               total, in.error));
          break;
        case InboundVerdict::Oversized:
          bump([](EdgeHubStats& st) { ++st.oversized_frames; });
          warnLimited("oversized", fmt::format("cloud frame too large, dropped bytes={} limit={}",
                                               total, kMaxFrameBytes));
          break;
      }
    }
  }

  void dispatch(Message msg, DownstreamRoute route) {
    log_->debug("cloud message msg_id={} op={} resource={} group={}", msg.header.id,
                msg.route.operation, msg.route.resource, msg.route.group);
    Status st;
    switch (route.action) {
      case DownstreamAction::ControlAck:
        prio_.push_back(msg.makeResponse("ack"));
        wakeWriter();
        return;
      case DownstreamAction::BroadcastGroup:
        st = bus_.broadcast(route.target, std::move(msg));
        break;
      case DownstreamAction::SendModule:
        st = bus_.send(route.target, std::move(msg));
        break;
      case DownstreamAction::DeliverResponse: {
        std::string parent = msg.header.parent_id;
        st = bus_.deliverResponse(std::move(msg));
        if (st.code() == core::StatusCode::NotFound) {
          // Answers to fire-and-forget upstream messages (podpatch ObjectResp, "OK") land here;
          // upstream drops them the same way.
          log_->debug("cloud response with nobody waiting parent_msg_id={}", parent);
          return;
        }
        break;
      }
      case DownstreamAction::Drop:
        st = core::notFound(route.target);
        break;
    }
    if (!st.ok()) {
      bump([](EdgeHubStats& s) { ++s.dropped_downstream; });
      warnLimited("drop:" + route.target, fmt::format("cloud message dropped target={} err={}",
                                                      route.target, st.message()));
    }
  }

  // ---- upstream ----

  void onUpstream(Message m) {
    const bool sync = m.header.sync;
    m.header.sync = false;  // never on the wire (spec 1.1)
    if (bypassesLimiter(m)) {
      if (prio_.size() >= options_.memory_queue_limit) {
        bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
        warnLimited("prio-full", "upstream reply dropped: queue full");
        return;
      }
      prio_.push_back(std::move(m));
      wakeWriter();
      return;
    }
    if (!online_ && sync) {
      // Fail fast instead of letting the caller wait for its timeout (metamanager then answers
      // from its cache, as upstream's does when disconnected).
      Message err = m.makeError("connection lost between EdgeCore and CloudCore");
      err.route.source = std::string(core::names::kEdgeHubModule);
      err.route.group = m.route.group;
      (void)bus_.reply(m, std::move(err));
      return;
    }
    Durability d = classifyUpstream(m);
    if (d.durable && outbox_ && (!online_ || outboxBusy())) {
      appendToOutbox(std::move(m), d.coalesce_key);
      return;
    }
    if (normal_.size() >= options_.memory_queue_limit) {
      bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
      warnLimited("normal-full", fmt::format("upstream message dropped: queue full resource={}",
                                             m.route.resource));
      return;
    }
    normal_.push_back({std::move(m), std::move(d)});
    wakeWriter();
  }

  bool outboxBusy() const {
    return outbox_appends_in_flight_ > 0 || (outbox_ && outbox_->counters().depth > 0);
  }

  void appendToOutbox(Message m, std::optional<std::string> key) {
    if (!outbox_) {
      bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
      return;
    }
    ++outbox_appends_in_flight_;
    blocking_->post([self = shared_from_this(), m = std::move(m), key = std::move(key)] {
      Status st = self->outbox_->append(m, key);
      asio::post(self->strand_, [self, st, resource = m.route.resource] {
        --self->outbox_appends_in_flight_;
        if (!st.ok()) {
          self->bump([](EdgeHubStats& s) { ++s.dropped_upstream; });
          self->warnLimited("outbox-append",
                            fmt::format("outbox append failed, message lost resource={} err={}",
                                        resource, st.message()));
        }
        self->wakeWriter();
      });
    });
  }

  void wakeWriter() {
    if (session_) {
      session_->wake.cancel();
    }
  }

  asio::awaitable<void> keepaliveLoop(SessionPtr s) {
    while (!s->closed) {
      prio_.push_back(Message::create(core::names::kEdgeHubModule, core::names::kResourceGroup,
                                      core::op::kKeepalive, "node", "ping"));
      wakeWriter();
      s->keepalive.expires_after(cfg_.heartbeat);
      auto [ec] = co_await s->keepalive.async_wait(kAsTuple);
      (void)ec;
    }
  }

  // Dead-link detection (KubeEdge sends no pings and never notices a half-open link): after one
  // heartbeat without any incoming frame a websocket ping goes out; after two heartbeats without
  // any frame or pong the session is closed. Checked every heartbeat/8.
  asio::awaitable<void> watchdogLoop(SessionPtr s) {
    const auto hb = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.heartbeat);
    const auto tick = std::max(hb / 8, std::chrono::milliseconds(50));
    while (!s->closed) {
      s->watchdog.expires_after(tick);
      auto [ec] = co_await s->watchdog.async_wait(kAsTuple);
      (void)ec;
      if (s->closed) {
        co_return;
      }
      auto silent = std::chrono::steady_clock::now() - s->last_rx;
      if (silent >= 2 * hb) {
        bump([](EdgeHubStats& st) { ++st.dead_links; });
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
        closeSession(s, "no frame or pong for " + std::to_string(ms) + " ms (dead link)");
        co_return;
      }
      if (silent >= hb && !s->ping_in_flight) {
        s->ping_in_flight = true;
        websocket::ping_data payload;
        auto ping_op = s->ws.async_ping(payload, kAsTuple);
        auto [perr] = co_await std::move(ping_op);
        s->ping_in_flight = false;
        if (perr && !s->closed) {
          closeSession(s, "ping: " + perr.message());
          co_return;
        }
      }
    }
  }

  asio::awaitable<void> sleepWriter(const SessionPtr& s, std::chrono::nanoseconds d) {
    s->wake.expires_after(d);
    auto [ec] = co_await s->wake.async_wait(kAsTuple);
    (void)ec;
  }

  // Order of service: the priority lane (keepalives, replies); then fresh upstream messages;
  // then outbox rows, oldest first. A durable message only reaches normal_ when the outbox was
  // empty, and later durable ones go to the outbox behind it, so each object's statuses stay
  // in order while fresh requests (leases, queries with timeouts) never wait behind a backlog.
  asio::awaitable<void> writeLoop(SessionPtr s) {
    auto self = shared_from_this();
    std::deque<OutboxEntry> batch;  // rows read from the outbox, oldest first
    while (!s->closed) {
      Message msg;
      std::optional<int64_t> outbox_seq;
      std::optional<Durability> durability;
      if (!prio_.empty()) {
        msg = std::move(prio_.front());
        prio_.pop_front();
      } else if (!normal_.empty() || !batch.empty()) {
        auto wait = bucket_.tryTake(std::chrono::steady_clock::now());
        if (wait.count() > 0) {
          co_await sleepWriter(s, wait);
          continue;
        }
        if (!normal_.empty()) {
          msg = std::move(normal_.front().msg);
          durability = std::move(normal_.front().durability);
          normal_.pop_front();
        } else {
          outbox_seq = batch.front().seq;
          msg = std::move(batch.front().message);
          batch.pop_front();
        }
      } else if (outbox_ && outbox_appends_in_flight_ == 0 && outbox_->counters().depth > 0) {
        auto box = outbox_;
        auto peek_op = onBlocking([box] { return box->peek(kOutboxBatch); });
        auto rows = co_await std::move(peek_op);
        if (rows.ok()) {
          for (auto& r : *rows) {
            batch.push_back(std::move(r));
          }
        } else {
          warnLimited("outbox-peek", "outbox read failed err=" + rows.status().message());
          co_await sleepWriter(s, std::chrono::seconds(1));
        }
        continue;
      } else {
        // Woken by a new message, a finished outbox append, a keepalive, or the session end.
        co_await sleepWriter(s, std::chrono::hours(24));
        continue;
      }
      std::string frame = core::encodeMessage(msg);
      frame.push_back('\n');  // as Go's json.Encoder writes it (spec 9 item 11)
      auto [ec, n] = co_await s->ws.async_write(asio::buffer(frame), kAsTuple);
      (void)n;
      if (ec) {
        if (durability && durability->durable && outbox_) {
          appendToOutbox(std::move(msg), durability->coalesce_key);
        } else if (!outbox_seq) {
          bump([](EdgeHubStats& st) { ++st.dropped_upstream; });
        }
        if (s->end_reason.empty()) {
          s->end_reason = "write: " + ec.message();
        }
        closeSession(s, s->end_reason);
        break;
      }
      const bool keepalive = msg.route.operation == core::op::kKeepalive;
      bump([keepalive](EdgeHubStats& st) {
        ++st.frames_out;
        if (keepalive) {
          ++st.keepalives;
        }
      });
      log_->debug("sent to cloud msg_id={} op={} resource={}", msg.header.id, msg.route.operation,
                  msg.route.resource);
      if (outbox_seq) {
        auto box = outbox_;
        int64_t seq = *outbox_seq;
        auto remove_op = onBlocking([box, seq] { return box->remove(seq); });
        Status st = co_await std::move(remove_op);
        if (!st.ok()) {
          warnLimited("outbox-remove",
                      "outbox delete failed (row may be sent again) err=" + st.message());
        }
      }
    }
  }

  // ---- certificate rotation ----

  asio::awaitable<void> rotationLoop() {
    auto self = shared_from_this();
    std::mt19937_64 rng(rng_());
    while (!stopping_) {
      auto current = certs_.loadCurrent();
      std::chrono::steady_clock::duration wait = kRotationPoll;
      rotation_awaits_cert_ = !current.ok();
      if (current.ok()) {
        auto deadline = rotationDeadline(*current, rng);
        wait = std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(0),
                                                             deadline - clock_.wallNow());
        log_->info("certificate rotation scheduled in_s={}",
                   std::chrono::duration_cast<std::chrono::seconds>(wait).count());
      }
      rotation_timer_.expires_after(wait);
      auto [ec] = co_await rotation_timer_.async_wait(kAsTuple);
      (void)ec;
      if (stopping_) {
        co_return;
      }
      if (!current.ok()) {
        continue;  // polled, or woken by the bootstrap: look at the certificate again
      }
      // Upstream's backoff: 2 s doubling for 5 steps, then every 32 s.
      std::chrono::seconds retry{2};
      for (int attempt = 1; !stopping_; ++attempt) {
        auto rotate_op = certs_.rotate(strand_);
        Status st = co_await std::move(rotate_op);
        if (st.ok()) {
          bump([](EdgeHubStats& s) { ++s.certificates_issued; });
          log_->info("certificate rotated, reconnecting");
          if (session_) {
            closeSession(session_, "certificate rotated");
          }
          break;
        }
        warnLimited("rotate", fmt::format("certificate rotation failed attempt={} err={}", attempt,
                                          st.toString()));
        rotation_timer_.expires_after(retry);
        auto [rec] = co_await rotation_timer_.async_wait(kAsTuple);
        (void)rec;
        retry = attempt < 5 ? retry * 2 : kRotationPoll;
      }
    }
  }

  core::Strand strand_;
  core::Bus& bus_;
  std::shared_ptr<spdlog::logger> log_;
  core::Clock& clock_;
  std::shared_ptr<SerialWorker> blocking_;
  core::EdgeHubConfig cfg_;
  std::string node_;
  Endpoint server_;
  EdgeHubOptions options_;
  CertManager certs_;
  asio::steady_timer retry_timer_;
  asio::steady_timer rotation_timer_;
  bool rotation_awaits_cert_ = false;  // strand: the rotation loop waits for a first certificate
  TokenBucket bucket_;
  std::mt19937_64 rng_;
  core::LogLimiter limiter_{kLogInterval};

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

class EdgeHubModuleImpl final : public EdgeHubModule {
 public:
  EdgeHubModuleImpl(std::shared_ptr<Hub> hub, core::MetricsRegistry* registry)
      : hub_(std::move(hub)) {
    if (registry != nullptr) {
      // Connection state and counters on the agent's /metrics; removed before hub_ goes.
      metrics_ = registry->addScopedCollector(
          [hub = hub_.get()](std::string& out) { appendMetrics(hub->stats(), out); });
    }
  }
  ~EdgeHubModuleImpl() override = default;

  // core::Module
  std::string_view name() const override { return core::names::kEdgeHubModule; }
  std::string_view group() const override { return core::names::kHubGroup; }
  Status start() override { return hub_->start(); }
  void stop() override { hub_->stop(); }

  // EdgeHubModule
  EdgeHubStats stats() const override { return hub_->stats(); }

 private:
  std::shared_ptr<Hub> hub_;
  core::MetricsRegistry::Registration metrics_;  // after hub_: removed first
};

}  // namespace

core::Result<std::unique_ptr<EdgeHubModule>> createEdgeHub(core::ModuleContext ctx,
                                                           std::string config_path,
                                                           EdgeHubOptions options) {
  const core::EdgeHubConfig& cfg = ctx.config.modules.edge_hub;
  if (!cfg.websocket.enable) {
    return core::invalidArgument(
        "modules.edgeHub.websocket.enable is false: only the websocket transport is supported "
        "(QUIC is not)");
  }
  if (cfg.heartbeat.count() <= 0) {
    return core::invalidArgument("modules.edgeHub.heartbeat must be positive");
  }
  if (ctx.config.modules.edged.hostname_override.empty()) {
    return core::invalidArgument("modules.edged.hostnameOverride (the node name) is empty");
  }
  auto server = parseEndpoint(cfg.websocket.server);
  if (!server.ok()) {
    return server.status().withContext("modules.edgeHub.websocket.server");
  }
  auto hub = std::make_shared<Hub>(ctx, std::move(config_path), std::move(options),
                                   std::move(server).value());
  return std::unique_ptr<EdgeHubModule>(
      std::make_unique<EdgeHubModuleImpl>(std::move(hub), ctx.metrics.get()));
}

core::Result<core::ModulePtr> create(core::ModuleContext ctx, std::string config_path) {
  auto hub = createEdgeHub(ctx, std::move(config_path));
  if (!hub.ok()) {
    return hub.status();
  }
  return core::ModulePtr(std::move(hub).value());
}

}  // namespace edgecore::edgehub
