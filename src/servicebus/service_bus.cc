// servicebus: the module on the bus. Rule requests are handled one coroutine each, on the
// module's strand; the allowed-URL table lives in memory (guarded: the local server's sessions
// read it) and in SQLite (written in order on a strand of the blocking pool). The Beast work is
// in local_client.cc and local_server.cc.

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <set>

#include "edgecore/core/async/spawn.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/config.h"
#include "edgecore/servicebus/module.h"
#include "local_client.h"
#include "local_server.h"
#include "target_urls.h"
#include "translate.h"

namespace edgecore::servicebus {

namespace asio = boost::asio;
namespace names = core::names;
using core::Message;
using core::Status;

namespace {

constexpr std::string_view kRouterServiceBus = "router_servicebus";

using BlockingStrand = asio::strand<asio::thread_pool::executor_type>;

// Shared with the call coroutines, which may outlive stop().
struct State {
  explicit State(core::ModuleContext c, ServiceBusOptions o)
      : ctx(std::move(c)), opts(o), db_strand(asio::make_strand(ctx.blocking)) {}
  core::ModuleContext ctx;
  ServiceBusOptions opts;
  size_t in_flight = 0;  // strand only
  BlockingStrand db_strand;
  std::unique_ptr<TargetUrlTable> table;  // db_strand only; null when the database is unusable
  std::shared_ptr<LocalServer> server;    // strand only; null when not running
  mutable std::mutex urls_mu;
  std::set<std::string> urls;  // the allowed targetURLs
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> requests{0}, answered{0}, errors{0}, ignored{0}, send_failures{0},
      table_writes{0};

  void toCloud(Message m, bool is_error) {
    (is_error ? errors : answered)++;
    Status st = ctx.bus.broadcast(names::kHubGroup, std::move(m));
    if (!st.ok()) {
      send_failures++;
      ctx.log->warn("reply to cloud not sent err={}", st.message());
    }
  }
};

asio::awaitable<void> serve(std::shared_ptr<State> st, Message request, LocalCall call) {
  const std::string target = call.method + " 127.0.0.1:" + call.port + call.path;
  auto op = callLocal(std::move(call), st->opts.call_timeout, kMaxBodyBytes);
  CallOutcome out = co_await std::move(op);
  st->in_flight--;
  if (st->stopped) {
    co_return;
  }
  if (!out.ok) {
    st->ctx.log->warn(
        "local service call failed msg_id={} target=\"{}\" code={} err=\"{}\" cause=\"{}\"",
        request.header.id, target, out.error.code, out.error.text, out.detail);
    st->toCloud(buildErrorResponse(request, out.error), true);
    co_return;
  }
  st->ctx.log->debug("local service answered msg_id={} target=\"{}\" status={} bytes={}",
                     request.header.id, target, out.answer.status, out.answer.body.size());
  st->toCloud(buildResponse(request, out.answer), false);
}

bool allowed(const std::shared_ptr<State>& st, const std::string& url) {
  std::lock_guard lock(st->urls_mu);
  return st->urls.count(url) != 0;
}

std::chrono::milliseconds cloudTimeout(const core::EdgeCoreConfig& config) {
  auto t = config.modules.service_bus.timeout;
  return t.count() > 0 ? std::chrono::milliseconds(t) : std::chrono::milliseconds(10'000);
}

// A local app's request (docs/node-tasks.md 7.4): forwarded to the cloud router when its
// targetURL has a rule; the answer is always HTTP 200 with {"code","msg","body"}.
asio::awaitable<std::string> handleLocal(std::shared_ptr<State> st,
                                         core::Result<std::string> body) {
  if (!body.ok()) {
    co_return serverAnswer(400, "can't read data from body of the http's request", "");
  }
  std::optional<std::string> url = parseServerRequest(*body);
  if (!url) {
    co_return serverAnswer(400, "invalid params", "");
  }
  if (!allowed(st, *url)) {
    co_return serverAnswer(
        400, "url " + *url + " is not allowed and please make a rule for this url in the cloud",
        "");
  }
  // As upstream: the raw request bytes as a Go []byte, i.e. a base64 JSON string on the wire.
  Message msg = Message::create(names::kServiceBusModule, names::kUserGroup, core::op::kUpload,
                                *url, core::base64Encode(*body));
  auto op =
      st->ctx.bus.request(names::kEdgeHubModule, std::move(msg), cloudTimeout(st->ctx.config));
  core::Result<Message> answer = co_await std::move(op);
  if (!answer.ok()) {
    co_return serverAnswer(400, answer.status().message(), "");
  }
  if (answer->route.operation == core::op::kError) {
    co_return serverAnswer(400, answer->contentData(), "");
  }
  co_return serverAnswer(200, "receive response from cloud successfully", answer->contentData());
}

// The server's handler holds the state weakly: a connection the server's io_context has not
// torn down yet must not keep the module's state (and its strand on the blocking pool) alive
// past the module.
asio::awaitable<std::string> handleLocalIfRunning(std::weak_ptr<State> weak,
                                                  core::Result<std::string> body) {
  std::shared_ptr<State> st = weak.lock();
  if (!st || st->stopped) {
    co_return serverAnswer(503, "servicebus is stopping", "");
  }
  co_return co_await handleLocal(std::move(st), std::move(body));
}

// Strand only. Starts the local server if it is not running (upstream's server(); a failed
// listen is logged and retried on the next rule "start").
void ensureServer(const std::shared_ptr<State>& st) {
  if (st->server || st->stopped) {
    return;
  }
  const auto& cfg = st->ctx.config.modules.service_bus;
  LocalServerOptions o;
  o.address = cfg.server;
  o.port = st->opts.port_override ? *st->opts.port_override : static_cast<uint16_t>(cfg.port);
  o.max_body = kMaxBodyBytes;
  o.tls_cert_file = cfg.tls_cert_file;
  o.tls_private_key_file = cfg.tls_private_key_file;
  // Applications can no longer reach us: the module's run has failed (restarted with
  // featureGates.moduleRestart, else edgecore stops).
  o.on_failure = [weak = std::weak_ptr<State>(st)](core::Status why) {
    if (auto live = weak.lock(); live && !live->stopped) {
      live->ctx.log->error("servicebus server failed err=\"{}\"", why.message());
      live->ctx.report_failure(std::move(why));
    }
  };
  auto server = startLocalServer(st->ctx.strand.get_inner_executor().context(), o,
                                 [weak = std::weak_ptr<State>(st)](core::Result<std::string> body) {
                                   return handleLocalIfRunning(weak, std::move(body));
                                 });
  if (!server.ok()) {
    st->ctx.log->error("servicebus server not started err=\"{}\"", server.status().message());
    return;
  }
  st->server = std::move(server).value();
  st->ctx.log->info("servicebus server listening addr={}:{} tls={}", o.address, st->server->port(),
                    !o.tls_cert_file.empty());
}

void stopServer(const std::shared_ptr<State>& st) {
  if (st->server) {
    st->server->stop();
    st->server.reset();
    st->ctx.log->info("servicebus server stopped (no rule url left)");
  }
}

// Rule "start"/"stop" for a target URL (docs/node-tasks.md 7.2). The memory set answers at
// once; the table write follows in order on the blocking strand.
void onRuleUrl(const std::shared_ptr<State>& st, bool start, const std::string& url) {
  bool empty = false;
  {
    std::lock_guard lock(st->urls_mu);
    if (start) {
      st->urls.insert(url);
    } else {
      st->urls.erase(url);
    }
    empty = st->urls.empty();
  }
  asio::post(st->db_strand, [st, start, url] {
    if (!st->table) {
      return;
    }
    Status s = start ? st->table->add(url) : st->table->remove(url);
    st->table_writes++;
    if (!s.ok()) {
      st->ctx.log->warn("target url not saved url={} err=\"{}\"", url, s.message());
    }
  });
  st->ctx.log->info("servicebus rule url {} url={}", start ? "added" : "removed", url);
  if (start) {
    ensureServer(st);
  } else if (empty) {
    stopServer(st);
  }
}

// Opens the table on the blocking strand, then (on the module strand) loads the URLs and starts
// the server when there are any, as upstream's Start does.
void loadTable(const std::shared_ptr<State>& st) {
  asio::post(st->db_strand, [st] {
    const std::string path = st->ctx.config.database.data_source;
    auto table = TargetUrlTable::open(path);
    std::vector<std::string> urls;
    if (table.ok()) {
      st->table = std::move(table).value();
      auto listed = st->table->list();
      if (listed.ok()) {
        urls = std::move(listed).value();
      } else {
        st->ctx.log->warn("target urls not read err=\"{}\"", listed.status().message());
      }
    } else {
      st->ctx.log->warn("target url table unusable, rules kept in memory only err=\"{}\"",
                        table.status().message());
    }
    st->ctx.log->debug("servicebus target urls loaded count={}", urls.size());
    asio::post(st->ctx.strand, [st, urls = std::move(urls)] {
      bool any = false;
      {
        std::lock_guard lock(st->urls_mu);
        st->urls.insert(urls.begin(), urls.end());
        any = !st->urls.empty();
      }
      if (any) {
        ensureServer(st);
      }
    });
  });
}

void onMessage(const std::shared_ptr<State>& st, Message msg) {
  if (st->stopped) {
    return;
  }
  // Like upstream, only the cloud router's messages are served.
  if (msg.route.source != kRouterServiceBus) {
    st->ignored++;
    return;
  }
  const std::string& op = msg.route.operation;
  if (op == "start" || op == "stop") {
    onRuleUrl(st, op == "start", msg.route.resource);
    return;
  }
  st->requests++;
  ParsedCall parsed = parseRuleRequest(msg, kMaxBodyBytes);
  if (!parsed.ok) {
    st->ctx.log->warn("rule request refused msg_id={} resource={} code={} err=\"{}\"",
                      msg.header.id, msg.route.resource, parsed.error.code, parsed.error.text);
    st->toCloud(buildErrorResponse(msg, parsed.error), true);
    return;
  }
  if (st->in_flight >= kMaxCallsInFlight) {
    st->toCloud(buildErrorResponse(msg, {500, "error to call service: too many calls in flight"}),
                true);
    return;
  }
  st->in_flight++;
  core::spawnLogged(st->ctx.strand, serve(st, std::move(msg), std::move(parsed.call)), st->ctx.log,
                    "servicebus call");
}

class ServiceBusImpl : public ServiceBusModule {
 public:
  ServiceBusImpl(core::ModuleContext ctx, ServiceBusOptions opts)
      : st_(std::make_shared<State>(std::move(ctx), opts)) {}
  ~ServiceBusImpl() override { stop(); }

  // core::Module
  std::string_view name() const override { return names::kServiceBusModule; }
  std::string_view group() const override { return names::kBusGroup; }
  Status start() override {
    auto st = st_;
    EC_RETURN_IF_ERROR(st_->ctx.bus.subscribe(names::kServiceBusModule, names::kBusGroup,
                                              st_->ctx.strand,
                                              [st](Message m) { onMessage(st, std::move(m)); }));
    subscribed_ = true;
    loadTable(st_);
    st_->ctx.log->info("servicebus started call_timeout_ms={} max_body={}",
                       st_->opts.call_timeout.count(), kMaxBodyBytes);
    return Status();
  }
  void stop() override {
    st_->stopped = true;
    if (subscribed_) {
      subscribed_ = false;
      st_->ctx.bus.unsubscribe(names::kServiceBusModule);
    }
    if (st_->server) {
      st_->server->stop();
      st_->server.reset();
    }
  }

  // ServiceBusModule
  ServiceBusStats stats() const override {
    ServiceBusStats out{st_->requests, st_->answered, st_->errors, st_->ignored,
                        st_->send_failures};
    std::lock_guard lock(st_->urls_mu);
    out.target_urls = st_->urls.size();
    out.table_writes = st_->table_writes;
    return out;
  }
  uint16_t serverPortForTest() const override { return st_->server ? st_->server->port() : 0; }

 private:
  std::shared_ptr<State> st_;
  bool subscribed_ = false;
};

}  // namespace

core::Result<std::unique_ptr<ServiceBusModule>> createServiceBus(core::ModuleContext ctx,
                                                                 ServiceBusOptions options) {
  return std::unique_ptr<ServiceBusModule>(
      std::make_unique<ServiceBusImpl>(std::move(ctx), options));
}

core::Result<core::ModulePtr> create(core::ModuleContext ctx, ServiceBusOptions options) {
  auto m = createServiceBus(std::move(ctx), options);
  if (!m.ok()) {
    return m.status();
  }
  return core::ModulePtr(std::move(m).value());
}

}  // namespace edgecore::servicebus
