// edgehub: the module, its connect loop to CloudHub, the session's lifecycle and certificate
// rotation. The websocket session is net::WsSession (Beast framing); what travels through it is
// in cloud_traffic.cc.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>

#include "backoff.h"
#include "edgecore/core/async/spawn.h"
#include "edgecore/core/file.h"
#include "edgecore/core/shared_module.h"
#include "hub.h"
#include "tls.h"

namespace edgecore::edgehub {

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kConnectionSource = "edgehub";  // message.SourceNodeConnection
constexpr std::string_view kNodeConnection = "node/connection";
constexpr std::string_view kCloudConnected = "cloud_connected";
// taskmanager re-reports node task state on connection changes (docs/node-tasks.md 1.3).
constexpr std::string_view kTaskManagerGroup = "taskmanager";
constexpr std::string_view kCloudDisconnected = "cloud_disconnected";
constexpr std::chrono::seconds kRotationPoll{32};

}  // namespace

// ---- the blocking worker ----

void SerialWorker::post(std::function<void()> job) {
  std::lock_guard lock(mu_);
  jobs_.push_back(std::move(job));
  if (!running_) {
    running_ = true;
    asio::post(ex_, [self = shared_from_this()] { self->drain(); });
  }
}

void SerialWorker::drain() {
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

// ---- the module ----

Hub::Hub(core::ModuleContext ctx, std::string config_path, EdgeHubOptions options, Endpoint server)
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
  ws_options_.framing = net::WsFraming::Beast;
  ws_options_.server = server_;
  ws_options_.verify_name = true;  // the SAN must match the dialled host (spec 2.3)
  ws_options_.handshake_timeout =
      std::max(cfg_.websocket.handshake_timeout, std::chrono::seconds(1));
  ws_options_.target = "/" + cfg_.project_id + "/" + node_ + "/events";
  ws_options_.headers = {
      {"node_id", node_}, {"project_id", cfg_.project_id}, {"ConnectionUse", "msg"}};
  ws_options_.max_message_bytes = kMaxFrameBytes;
  ws_options_.log = log_;
}

Status Hub::start() {
  auto box = Outbox::open(options_.outbox_path, options_.outbox_max_rows, log_);
  if (box.ok()) {
    outbox_ = std::shared_ptr<Outbox>(std::move(box).value());
    auto c = outbox_->counters();
    if (c.depth > 0) {
      log_->info("outbox holds undelivered messages path={} depth={}", options_.outbox_path,
                 c.depth);
    }
  } else {
    // Degraded, not fatal: status then only survives in memory (and not a restart).
    log_->error("outbox unusable, status kept in memory only path={} err={}", options_.outbox_path,
                box.status().message());
  }
  auto self = shared_from_this();
  EC_RETURN_IF_ERROR(bus_.subscribe(core::names::kEdgeHubModule, core::names::kHubGroup, strand_,
                                    [self](Message m) { self->onUpstream(std::move(m)); }));
  subscribed_ = true;
  log_->info("edgehub starting server={} node={} heartbeat_s={} qps={} burst={} outbox={}",
             server_.authority, node_, cfg_.heartbeat.count(), cfg_.message_qps, cfg_.message_burst,
             options_.outbox_path);
  asio::co_spawn(strand_, self->runLoop(), core::logCompletion(log_, "edgehub connect loop"));
  if (cfg_.rotate_certificates) {
    asio::co_spawn(strand_, self->rotationLoop(), core::logCompletion(log_, "edgehub rotation"));
  }
  return {};
}

void Hub::stop() {
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
    session_->ws->close("edgehub stopping");
  }
}

EdgeHubStats Hub::stats() const {
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

// ---- connection lifecycle ----

asio::awaitable<void> Hub::runLoop() {
  auto self = shared_from_this();
  Backoff backoff(options_.initial_backoff, options_.max_backoff, rng_());
  bool was_failing = false;
  while (!stopping_) {
    Status st;
    {
      auto ensure_op = certs_.ensure(strand_);
      st = co_await std::move(ensure_op);
    }
    // ensure() says FailedPrecondition only when there is neither a certificate nor a token.
    const bool no_credentials = st.code() == core::StatusCode::FailedPrecondition;
    if (!no_credentials) {
      credentials_reported_ = false;
    }
    if (st.ok() && rotation_awaits_cert_) {
      // A certificate exists now (bootstrap): let the rotation loop schedule it at once
      // instead of at its next poll (32 s, longer than a short-lived certificate may last).
      rotation_awaits_cert_ = false;
      rotation_timer_.cancel();
    }
    if (st.ok()) {
      auto connect_op = connect();
      auto ws = co_await std::move(connect_op);
      if (ws.ok()) {
        if (was_failing) {
          log_->info("cloud reachable again attempts={}", backoff.attempts());
        }
        was_failing = false;
        backoff.reset();
        auto run_op = runSession(std::make_shared<Session>(self, std::move(ws).value()));
        co_await std::move(run_op);
      } else {
        st = ws.status();
      }
    }
    if (stopping_) {
      break;
    }
    auto delay = backoff.next();
    if (no_credentials) {
      // Nothing changes until someone writes a certificate or a token: poll at the slowest pace.
      delay = options_.max_backoff;
      logMissingCredentials(st, delay);
    } else if (!st.ok()) {
      logConnectFailure(st, backoff.attempts(), delay);
      was_failing = true;
    }
    retry_timer_.expires_after(delay);
    auto [ec] = co_await retry_timer_.async_wait(kAsTuple);
    (void)ec;
  }
}

void Hub::logConnectFailure(const Status& st, int attempt, std::chrono::milliseconds delay) {
  bump([&](EdgeHubStats& s) {
    ++s.connect_failures;
    s.last_error = st.toString();
  });
  bool clear_error = st.code() == core::StatusCode::FailedPrecondition ||
                     st.code() == core::StatusCode::PermissionDenied ||
                     st.code() == core::StatusCode::Unauthenticated ||
                     st.code() == core::StatusCode::InvalidArgument;
  std::string line = fmt::format("cloud connect failed attempt={} backoff_ms={} err=\"{}\"",
                                 attempt, delay.count(), st.toString());
  uint64_t suppressed = 0;
  if (limiter_.allow("connect", std::chrono::steady_clock::now(), &suppressed)) {
    // Operator action needed (certificate/token problems) is an error; a cloud that is merely
    // away is a warning.
    if (clear_error) {
      log_->error("{} suppressed={}", line, suppressed);
    } else {
      log_->warn("{} suppressed={}", line, suppressed);
    }
  }
}

void Hub::logMissingCredentials(const Status& st, std::chrono::milliseconds delay) {
  bump([&](EdgeHubStats& s) {
    ++s.connect_failures;
    s.last_error = st.toString();
  });
  if (credentials_reported_) {
    log_->debug("still no cloud credentials recheck_in_ms={}", delay.count());
    return;
  }
  credentials_reported_ = true;
  log_->warn(
      "not joined to a cloud: {}. The node runs offline from its local store (pods, MetaServer, "
      "devices). To join, run `keadm join --cloudcore-ipport=HOST:10000 --token=TOKEN` or set "
      "modules.edgeHub.token (from `keadm gettoken` on the cloud) and restart edgecore; checking "
      "for a certificate again every {} s",
      st.message(), delay.count() / 1000);
}

asio::awaitable<core::Result<net::WsSessionPtr>> Hub::connect() {
  auto cert = core::readFile(cfg_.tls_cert_file);
  auto key = core::readFile(cfg_.tls_private_key_file);
  auto ca = core::readFile(cfg_.tls_ca_file);
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
  net::WsOptions o = ws_options_;
  o.tls = std::move(tls).value();
  auto ws = net::WsSession::create(strand_, std::move(o));
  if (!ws.ok()) {
    co_return ws.status();
  }
  auto dial_op = (*ws)->connect();
  Status st = co_await std::move(dial_op);
  if (!st.ok()) {
    co_return st;
  }
  co_return ws;
}

asio::awaitable<void> Hub::runSession(SessionPtr s) {
  auto self = shared_from_this();
  session_ = s;
  online_ = true;
  std::erase_if(prio_, [](const Message& m) { return m.route.operation == core::op::kKeepalive; });
  bump([](EdgeHubStats& st) {
    ++st.sessions;
    st.connected = true;
    st.last_error.clear();
  });
  log_->info("cloud connected server={} node={}", server_.authority, node_);
  publishConnection(kCloudConnected);
  // Dead-link detection (KubeEdge sends no pings and never notices a half-open link): after one
  // heartbeat without any incoming frame a websocket ping goes out; after two heartbeats without
  // any frame or pong the session is closed. Checked every heartbeat/8. The keepalive message
  // goes out at the start and every heartbeat.
  const auto hb = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.heartbeat);
  net::WsLiveness live;
  live.tick = std::max(hb / 8, std::chrono::milliseconds(50));
  live.ping_after = hb;
  live.dead_after = 2 * hb;
  live.dead_after_unserved = 2 * hb;
  live.heartbeat = cfg_.heartbeat;
  auto run_op = s->ws->run(s, live);
  std::string reason = co_await std::move(run_op);
  session_.reset();
  online_ = false;
  bump([](EdgeHubStats& st) { st.connected = false; });
  log_->warn("cloud disconnected server={} reason=\"{}\"", server_.authority, reason);
  spillDurable();
  publishConnection(kCloudDisconnected);
}

void Hub::publishConnection(std::string_view content) {
  for (std::string_view group : {core::names::kTwinGroup, core::names::kMetaGroup,
                                 core::names::kBusGroup, kTaskManagerGroup}) {
    Message m = Message::create(kConnectionSource, group, core::op::kConnect, kNodeConnection,
                                std::string(content));
    Status st = bus_.broadcast(group, std::move(m));
    if (!st.ok() && st.code() != core::StatusCode::NotFound) {
      warnLimited("publish", fmt::format("connection event not delivered group={} err={}", group,
                                         st.message()));
    }
  }
}

// ---- certificate rotation ----

asio::awaitable<void> Hub::rotationLoop() {
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
    auto rotate_op = rotateUntilDone();
    co_await std::move(rotate_op);
  }
}

// Upstream's backoff: 2 s doubling for 5 steps, then every 32 s.
asio::awaitable<void> Hub::rotateUntilDone() {
  std::chrono::seconds retry{2};
  for (int attempt = 1; !stopping_; ++attempt) {
    auto rotate_op = certs_.rotate(strand_);
    Status st = co_await std::move(rotate_op);
    if (st.ok()) {
      bump([](EdgeHubStats& s) { ++s.certificates_issued; });
      log_->info("certificate rotated, reconnecting");
      if (session_) {
        session_->ws->close("certificate rotated");
      }
      co_return;
    }
    warnLimited("rotate", fmt::format("certificate rotation failed attempt={} err={}", attempt,
                                      st.toString()));
    rotation_timer_.expires_after(retry);
    auto [rec] = co_await rotation_timer_.async_wait(kAsTuple);
    (void)rec;
    retry = attempt < 5 ? retry * 2 : kRotationPoll;
  }
}

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
  return std::unique_ptr<EdgeHubModule>(std::make_unique<core::SharedModule<EdgeHubModule, Hub>>(
      core::names::kEdgeHubModule, core::names::kHubGroup, std::move(hub), ctx.metrics.get()));
}

core::Result<core::ModulePtr> create(core::ModuleContext ctx, std::string config_path) {
  auto hub = createEdgeHub(ctx, std::move(config_path));
  if (!hub.ok()) {
    return hub.status();
  }
  return core::ModulePtr(std::move(hub).value());
}

}  // namespace edgecore::edgehub
