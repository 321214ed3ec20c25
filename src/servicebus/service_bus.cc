// servicebus: the module on the bus. Rule requests are handled one coroutine each, on the
// module's strand; the Beast work is in local_client.cc.

#include <atomic>
#include <boost/asio/co_spawn.hpp>

#include "edgecore/core/async/spawn.h"
#include "edgecore/servicebus/module.h"
#include "local_client.h"
#include "translate.h"

namespace edgecore::servicebus {

namespace asio = boost::asio;
namespace names = core::names;
using core::Message;
using core::Status;

namespace {

constexpr std::string_view kRouterServiceBus = "router_servicebus";

// Shared with the call coroutines, which may outlive stop().
struct State {
  explicit State(core::ModuleContext c, ServiceBusOptions o) : ctx(std::move(c)), opts(o) {}
  core::ModuleContext ctx;
  ServiceBusOptions opts;
  size_t in_flight = 0;  // strand only
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> requests{0}, answered{0}, errors{0}, ignored{0}, send_failures{0};

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
    st->ignored++;
    st->ctx.log->info("servicebus rule url ignored (local server not supported yet) op={} url={}",
                      op, msg.route.resource);
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
  }

  // ServiceBusModule
  ServiceBusStats stats() const override {
    return {st_->requests, st_->answered, st_->errors, st_->ignored, st_->send_failures};
  }

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
