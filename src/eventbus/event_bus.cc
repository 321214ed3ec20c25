// eventbus module: MQTT <-> bus (spec/local-apis.md sections 7.2 and 8). Mirrors
// edge/pkg/eventbus/eventbus.go and edge/pkg/eventbus/mqtt/client.go @ v1.20.0, with one MQTT
// client instead of Go's separate sub and pub clients.
#include <spdlog/logger.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/host_port.h"
#include "edgecore/eventbus/module.h"
#include "edgecore/metamanager/sub_topic_store.h"
#include "mqtt_client.h"

namespace edgecore::eventbus {
namespace asio = boost::asio;
using core::Message;
using core::Result;
using core::Status;
namespace names = core::names;

namespace {

constexpr std::string_view kPublish = "publish";
constexpr std::string_view kSubscribe = "subscribe";
constexpr std::string_view kUnsubscribe = "unsubscribe";
constexpr std::string_view kMessage = "message";
constexpr std::string_view kGetResult = "get_result";

// The topics Go edgecore subscribes on every connect (mqtt/client.go SubTopics @ v1.20.0).
// '+' and '#' never match a level starting with '$', so the $hw prefix is literal.
const std::vector<std::string>& baseTopics() {
  static const std::vector<std::string> kTopics = {
      "$hw/events/upload/#",          "$hw/events/device/+/+/state/update",
      "$hw/events/device/+/+/twin/+", "$hw/events/node/+/membership/get",
      "SYS/dis/upload_records",       "+/user/#",
  };
  return kTopics;
}

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Result<std::pair<std::string, uint16_t>> parseBroker(std::string_view url, bool* tls) {
  *tls = false;
  std::string_view rest = url;
  if (startsWith(rest, "tcp://")) {
    rest.remove_prefix(6);
  } else if (startsWith(rest, "ssl://") || startsWith(rest, "tls://")) {
    rest.remove_prefix(6);
    *tls = true;
  } else if (startsWith(rest, "mqtt://")) {
    rest.remove_prefix(7);
  }
  auto hp = core::parseHostPort(rest);
  if (!hp.ok()) {
    return core::invalidArgument("MQTT broker address must be tcp://host:port, got " +
                                 std::string(url) + " (" + hp.status().message() + ")");
  }
  return std::make_pair(hp->host, hp->port);
}

class EventBus final : public EventBusModule {
 public:
  EventBus(core::ModuleContext ctx, metamanager::SubTopicStore* store, MqttClientOptions options)
      : ctx_(std::move(ctx)),
        store_(store),
        cfg_(ctx_.config.modules.event_bus),
        node_(ctx_.config.modules.edged.hostname_override),
        options_(std::move(options)) {}

  ~EventBus() override { alive_.reset(); }

  std::string_view name() const override { return names::kEventBusModule; }
  std::string_view group() const override { return names::kBusGroup; }

  Status start() override {
    std::weak_ptr<int> alive = alive_;
    client_ = std::make_shared<MqttClient>(
        ctx_.strand, options_, ctx_.log,
        [this](std::string topic, std::string payload) {
          onMqtt(std::move(topic), std::move(payload));
        },
        [this](bool up) {
          connected_.store(up, std::memory_order_relaxed);
          syncCounters();
        });
    for (const std::string& t : baseTopics()) {
      EC_RETURN_IF_ERROR(client_->subscribe(t));
    }
    EC_RETURN_IF_ERROR(ctx_.bus.subscribe(names::kEventBusModule, names::kBusGroup, ctx_.strand,
                                          [this](Message m) { onBus(std::move(m)); }));
    ctx_.log->info("eventbus starting broker={}:{} tls={} qos={} retain={} node={}", options_.host,
                   options_.port, options_.tls, cfg_.mqtt_qos, cfg_.mqtt_retain, node_);
    // sub_topics rows are read on the blocking pool; the client starts when they are known, so
    // the first SUBSCRIBE already carries them.
    if (store_ != nullptr) {
      asio::post(ctx_.blocking, [this, alive, store = store_] {
        auto topics = store->listSubTopics();
        asio::post(ctx_.strand, [this, alive, topics = std::move(topics)]() mutable {
          if (alive.expired() || stopped_) {
            return;
          }
          if (!topics.ok()) {
            ctx_.log->warn("sub_topics unreadable err=\"{}\"", topics.status().message());
          } else {
            for (const std::string& t : *topics) {
              Status st = client_->subscribe(t);
              if (!st.ok()) {
                ctx_.log->warn("stored topic not subscribed topic={} err=\"{}\"", t, st.message());
              }
            }
          }
          startClient();
        });
      });
    } else {
      asio::post(ctx_.strand, [this, alive] {
        if (!alive.expired() && !stopped_) {
          startClient();
        }
      });
    }
    return {};
  }

  // Runs on the module strand (the daemon calls it there).
  void stop() override {
    if (stopped_) {
      return;
    }
    stopped_ = true;
    ctx_.bus.unsubscribe(names::kEventBusModule);
    if (client_) {
      client_->stop();  // no client callback runs after this
    }
    alive_.reset();
  }

  EventBusStats stats() const override {
    EventBusStats s;
    s.connected = connected_.load(std::memory_order_relaxed);
    s.connects = counters_.connects.load();
    s.connect_failures = counters_.connect_failures.load();
    s.disconnects = counters_.disconnects.load();
    s.received = counters_.received.load();
    s.published = counters_.published.load();
    s.publish_failures = counters_.publish_failures.load();
    s.oversized = counters_.oversized.load();
    s.bus_rejections = counters_.bus_rejections.load();
    s.subscriptions = counters_.subscriptions.load();
    return s;
  }

 private:
  struct Counters {
    std::atomic<uint64_t> connects{0}, connect_failures{0}, disconnects{0}, received{0},
        published{0}, publish_failures{0}, oversized{0}, bus_rejections{0}, subscriptions{0};
  };

  void startClient() {
    Status st = client_->start();
    if (!st.ok()) {
      ctx_.log->error("mqtt client unusable err=\"{}\"", st.message());
    }
    syncCounters();
  }

  void syncCounters() {
    const auto& s = client_->stats();
    counters_.connects = s.connects;
    counters_.connect_failures = s.connect_failures;
    counters_.disconnects = s.disconnects;
    counters_.received = s.received;
    counters_.published = s.published;
    counters_.publish_failures = s.publish_failures;
    counters_.subscriptions = client_->subscriptions().size();
  }

  // MQTT -> bus (eventbus/common/util handler + filter @ v1.20.0).
  void onMqtt(std::string topic, std::string payload) {
    syncCounters();
    if (payload.size() > kMaxPayloadBytes) {
      ++counters_.oversized;
      warnLimited("mqtt payload too large, dropped topic={} bytes={}", topic, payload.size());
      return;
    }
    bool to_twin = startsWith(topic, "$hw/events/device/") || startsWith(topic, "$hw/events/node/");
    Message m;
    if (to_twin) {
      m = Message::create("bus", names::kUserGroup, core::op::kResponse, topic, std::move(payload));
      Status st = ctx_.bus.send(names::kTwinModule, std::move(m));
      if (!st.ok()) {
        ++counters_.bus_rejections;
        warnLimited("mqtt message not taken by twin topic={} err={}", topic, st.message());
      }
      return;
    }
    m = Message::create("bus", names::kUserGroup, core::op::kUpload, topic, std::move(payload));
    Status st = ctx_.bus.broadcast(names::kHubGroup, std::move(m));
    if (!st.ok()) {
      ++counters_.bus_rejections;
      warnLimited("mqtt message not taken by the hub topic={} err={}", topic, st.message());
    }
  }

  // bus -> MQTT and the cloud's topic management (spec 8.2).
  void onBus(Message m) {
    const std::string& op = m.route.operation;
    if (op == kPublish) {
      publish(m.route.resource, m.contentData());
    } else if (op == kSubscribe) {
      changeSubscription(m.route.resource, true);
    } else if (op == kUnsubscribe) {
      changeSubscription(m.route.resource, false);
    } else if (op == kMessage) {
      const auto* inner =
          m.content.is_object() && m.content.contains("message") ? &m.content["message"] : nullptr;
      if (inner == nullptr || !inner->is_object() || !inner->contains("topic") ||
          !(*inner)["topic"].is_string()) {
        warnLimited("message operation without message.topic dropped msg_id={} resource={}",
                    m.header.id, m.route.resource);
        return;
      }
      publish((*inner)["topic"].get<std::string>(), core::encodeJsonValue(*inner));
    } else if (op == kGetResult) {
      if (m.route.resource != "auth_info") {
        ctx_.log->debug("get_result for unknown resource dropped resource={}", m.route.resource);
        return;
      }
      publish("$hw/events/node/" + node_ + "/authInfo/get/result", m.contentData());
    } else {
      ctx_.log->debug("bus message ignored op={} resource={}", op, m.route.resource);
    }
  }

  void publish(const std::string& topic, const std::string& payload) {
    if (payload.size() > kMaxPayloadBytes) {
      ++counters_.oversized;
      warnLimited("payload too large, not published topic={} bytes={}", topic, payload.size());
      return;
    }
    Status st = client_->publish(topic, payload, cfg_.mqtt_qos, cfg_.mqtt_retain);
    syncCounters();
    if (!st.ok()) {
      warnLimited("publish failed topic={} err={}", topic, st.message());
    }
  }

  void changeSubscription(const std::string& topic, bool add) {
    Status st = add ? client_->subscribe(topic) : client_->unsubscribe(topic);
    syncCounters();
    if (!st.ok()) {
      ctx_.log->warn("{} failed topic={} err=\"{}\"", add ? "subscribe" : "unsubscribe", topic,
                     st.message());
      return;
    }
    if (store_ == nullptr) {
      return;
    }
    auto log = ctx_.log;
    auto done = [log, topic](Status written) {
      if (!written.ok()) {
        log->warn("sub_topics not updated topic={} err=\"{}\"", topic, written.message());
      }
    };
    Status sub = add ? store_->addSubTopic(topic, done) : store_->removeSubTopic(topic, done);
    if (!sub.ok()) {
      ctx_.log->warn("sub_topics not updated topic={} err=\"{}\"", topic, sub.message());
    }
  }

  template <typename... Args>
  void warnLimited(fmt::format_string<Args...> fmt, Args&&... args) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_warn_ < std::chrono::seconds(1)) {
      ++suppressed_;
      return;
    }
    if (suppressed_ > 0) {
      ctx_.log->warn("{} similar warnings suppressed", suppressed_);
      suppressed_ = 0;
    }
    last_warn_ = now;
    ctx_.log->warn(fmt, std::forward<Args>(args)...);
  }

  core::ModuleContext ctx_;
  metamanager::SubTopicStore* store_;
  const core::EventBusConfig& cfg_;
  std::string node_;
  MqttClientOptions options_;
  std::shared_ptr<MqttClient> client_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool stopped_ = false;
  std::atomic<bool> connected_{false};
  Counters counters_;
  std::chrono::steady_clock::time_point last_warn_{};
  uint64_t suppressed_ = 0;
};

}  // namespace

Result<std::unique_ptr<EventBusModule>> createEventBus(core::ModuleContext ctx,
                                                       metamanager::SubTopicStore* store) {
  const auto& cfg = ctx.config.modules.event_bus;
  MqttClientOptions options;
  bool url_tls = false;
  const std::string& url = cfg.mqtt_mode == core::MqttMode::Internal ? cfg.mqtt_server_internal
                                                                     : cfg.mqtt_server_external;
  EC_ASSIGN_OR_RETURN(auto hp, parseBroker(url, &url_tls));
  options.host = hp.first;
  options.port = hp.second;
  options.client_id = cfg.mqtt_sub_client_id;
  if (options.client_id.empty()) {
    // Go: "hub-client-sub-" + the first 10 digits of the millisecond clock (i.e. seconds).
    options.client_id = "hub-client-sub-" + std::to_string(core::nowUnixMillis()).substr(0, 10);
  }
  options.username = cfg.mqtt_username;
  options.password = cfg.mqtt_password;
  options.tls = cfg.tls.enable || url_tls;
  options.ca_file = cfg.tls.tls_mqtt_ca_file;
  options.cert_file = cfg.tls.tls_mqtt_cert_file;
  options.key_file = cfg.tls.tls_mqtt_private_key_file;
  if (cfg.mqtt_mode == core::MqttMode::Internal || cfg.mqtt_mode == core::MqttMode::Both) {
    ctx.log->warn(
        "mqttMode {} asks for the embedded broker, which edgecore-cpp does not have; connecting "
        "as a client to broker={}",
        static_cast<int>(cfg.mqtt_mode), url);
  }
  return std::unique_ptr<EventBusModule>(new EventBus(std::move(ctx), store, std::move(options)));
}

Result<core::ModulePtr> create(core::ModuleContext ctx, metamanager::SubTopicStore* store) {
  EC_ASSIGN_OR_RETURN(auto m, createEventBus(std::move(ctx), store));
  return core::ModulePtr(std::move(m));
}

}  // namespace edgecore::eventbus
