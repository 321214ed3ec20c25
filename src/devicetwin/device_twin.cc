// devicetwin module: routes bus messages into TwinState and carries out its effects in order
// (rows durable first, then MQTT publishes and cloud reports). Mirrors
// edge/pkg/devicetwin/{devicetwin.go,dtmodule,dtmanager} @ v1.20.0 without its worker threads:
// everything runs on the module strand.
#include <spdlog/logger.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "dmi.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/config.h"
#include "edgecore/core/resource.h"
#include "edgecore/devicetwin/module.h"
#include "edgecore/metamanager/meta_store.h"
#include "twin_state.h"

namespace edgecore::devicetwin {
namespace asio = boost::asio;
using core::Message;
using core::Result;
using core::Status;
using nlohmann::json;
namespace names = core::names;

namespace {

constexpr std::string_view kCloudConnected = "cloud_connected";

class DeviceTwin final : public DeviceTwinModule, public std::enable_shared_from_this<DeviceTwin> {
 public:
  DeviceTwin(core::ModuleContext ctx, metamanager::MetaStore& store, DeviceTwinOptions options)
      : ctx_(std::move(ctx)),
        store_(store),
        options_(options),
        node_(ctx_.config.modules.edged.hostname_override),
        state_(node_),
        sweep_timer_(ctx_.strand) {}

  std::string_view name() const override { return names::kTwinModule; }
  std::string_view group() const override { return names::kTwinGroup; }

  Status start() override {
    EC_RETURN_IF_ERROR(ctx_.bus.subscribe(names::kTwinModule, names::kTwinGroup, ctx_.strand,
                                          [this](Message m) { onBus(std::move(m)); }));
    std::weak_ptr<int> alive = alive_;
    auto loaded = std::make_shared<TwinState>(node_);
    auto cache = std::make_shared<CrdCache>();
    asio::post(ctx_.blocking, [this, alive, loaded, cache, store = &store_] {
      Status st = loaded->load(*store);
      loadCrds(*store, *cache);
      asio::post(ctx_.strand, [this, alive, loaded, cache, st] {
        if (alive.expired() || stopped_) {
          return;
        }
        if (!st.ok()) {
          ctx_.log->error("device tables unreadable, starting empty err=\"{}\"", st.message());
        } else {
          state_ = std::move(*loaded);
        }
        crds_ = std::move(*cache);
        for (const auto& [name, rec] : crds_.mappers) {
          if (options_.metrics) {
            options_.metrics->setMapper(name, rec.protocol, rec.last_report_ms);
          }
        }
        startDmi();
        ready_ = true;
        devices_.store(state_.size());
        ctx_.log->info("devicetwin ready devices={} node={}", state_.size(), node_);
        while (!early_.empty()) {
          Message m = std::move(early_.front());
          early_.pop_front();
          handle(std::move(m));
        }
      });
    });
    if (options_.offline_after.count() > 0) {
      armSweep();
    }
    return {};
  }

  void stop() override {
    if (stopped_) {
      return;
    }
    stopped_ = true;
    ctx_.bus.unsubscribe(names::kTwinModule);
    sweep_timer_.cancel();
    if (dmi_) {
      dmi_->shutdown();
      dmi_.reset();
    }
    alive_.reset();
  }

  DeviceTwinStats stats() const override {
    DeviceTwinStats s;
    s.devices = devices_.load();
    s.twin_updates = twin_updates_.load();
    s.rejected = rejected_.load();
    s.write_failures = write_failures_.load();
    s.cloud_reports = cloud_reports_.load();
    s.publishes = publishes_.load();
    return s;
  }

 private:
  // Device / DeviceModel CRDs from the `meta` table and registered mappers (DMI).
  struct CrdCache {
    std::map<std::string, json> devices;          // <ns>/<name> -> Device CRD
    std::map<std::string, json> models;           // <ns>/<name> -> DeviceModel CRD
    std::map<std::string, MapperRecord> mappers;  // by mapper name
  };

  static std::string nsName(const json& crd) {
    const json& md = crd.is_object() && crd.contains("metadata") ? crd["metadata"] : json();
    if (!md.is_object() || !md.contains("name") || !md["name"].is_string()) {
      return "";
    }
    std::string ns = md.contains("namespace") && md["namespace"].is_string()
                         ? md["namespace"].get<std::string>()
                         : "";
    return ns + "/" + md["name"].get<std::string>();
  }
  static std::string protocolOf(const json& crd) {
    if (crd.is_object() && crd.contains("spec") && crd["spec"].is_object()) {
      const json& spec = crd["spec"];
      if (spec.contains("protocol")) {
        const json& p = spec["protocol"];
        if (p.is_object() && p.contains("protocolName") && p["protocolName"].is_string()) {
          return p["protocolName"].get<std::string>();
        }
        if (p.is_string()) {  // DeviceModel spec.protocol
          return p.get<std::string>();
        }
      }
    }
    return "";
  }
  static std::string modelRefOf(const json& crd) {
    if (crd.is_object() && crd.contains("spec") && crd["spec"].is_object()) {
      const json& spec = crd["spec"];
      if (spec.contains("deviceModelRef") && spec["deviceModelRef"].is_object()) {
        return spec["deviceModelRef"].value("name", std::string());
      }
    }
    return "";
  }

  // Blocking (runs on the blocking pool at startup).
  static void loadCrds(metamanager::MetaStore& store, CrdCache& cache) {
    for (const char* type : {"device", "devicemodel"}) {
      auto rows = store.listMetaByType(type);
      if (!rows.ok()) {
        continue;
      }
      for (const std::string& v : *rows) {
        json crd = json::parse(v, nullptr, false);
        std::string key = nsName(crd);
        if (!key.empty()) {
          (std::string_view(type) == "device" ? cache.devices : cache.models)[key] = crd;
        }
      }
    }
    auto mappers = store.listMetaByType("devicemapper");
    if (mappers.ok()) {
      for (const std::string& v : *mappers) {
        json info = json::parse(v, nullptr, false);
        if (!info.is_object()) {
          continue;
        }
        MapperRecord rec;
        rec.name = info.value("name", std::string());
        rec.version = info.value("version", std::string());
        rec.api_version = info.value("api_version", std::string());
        rec.protocol = info.value("protocol", std::string());
        // The address is stored base64-encoded, as the original stores Go []byte; a row that does
        // not decode names no socket to dial, and the mapper registers again when it starts.
        auto address = core::base64Decode(info.value("address", std::string()));
        if (!address) {
          continue;
        }
        rec.address = std::move(*address);
        rec.state = info.value("state", std::string());
        if (!rec.name.empty() && !rec.protocol.empty()) {
          cache.mappers[rec.name] = rec;
        }
      }
    }
  }

  void startDmi() {
    if (options_.dmi_sock_path == "-") {
      return;
    }
    std::string path = options_.dmi_sock_path.empty()
                           ? core::dmiSocketPath(ctx_.config.modules.device_twin)
                           : options_.dmi_sock_path;
    // The handlers run on our strand, possibly after stop(): they check `alive` first.
    DmiHandlers h;
    std::weak_ptr<int> alive = alive_;
    h.register_mapper = [this, alive](MapperRecord rec, bool with_data)
        -> core::Result<std::pair<std::vector<json>, std::vector<json>>> {
      if (alive.expired()) {
        return core::unavailable("devicetwin stopped");
      }
      return registerMapper(std::move(rec), with_data);
    };
    h.report_status = [this, alive](std::string id, std::string payload) -> Status {
      if (alive.expired()) {
        return core::unavailable("devicetwin stopped");
      }
      return dmiReport(id, payload, false);
    };
    h.report_states = [this, alive](std::string id, std::string payload) -> Status {
      if (alive.expired()) {
        return core::unavailable("devicetwin stopped");
      }
      return dmiReport(id, payload, true);
    };
    auto server = DmiServer::start(path, ctx_.strand, std::move(h), ctx_.log);
    if (!server.ok()) {
      ctx_.log->error("DMI not served path={} err=\"{}\"", path, server.status().message());
      return;
    }
    dmi_ = std::move(server).value();
    ctx_.log->info("DMI serving path={} mappers={}", path, crds_.mappers.size());
  }

  core::Result<std::pair<std::vector<json>, std::vector<json>>> registerMapper(MapperRecord rec,
                                                                               bool with_data) {
    int64_t now = core::nowUnixMillis();
    rec.registered_ms = now;
    rec.last_report_ms = now;
    json info = json::object();
    auto put = [&](const char* k, const std::string& v) {
      if (!v.empty()) {
        info[k] = v;
      }
    };
    put("name", rec.name);
    put("version", rec.version);
    put("api_version", rec.api_version);
    put("protocol", rec.protocol);
    put("address", core::base64Encode(rec.address));
    put("state", rec.state);
    metamanager::WriteOp w;
    w.kind = metamanager::WriteOp::Kind::UpsertMeta;
    w.key = "node/nodeID/namespace/devicemapper/" + rec.name;
    w.type = "devicemapper";
    w.value = core::encodeJsonValue(info);
    std::vector<metamanager::WriteOp> ops;
    ops.push_back(std::move(w));
    auto log = ctx_.log;
    std::string name = rec.name;
    Status st = store_.submit(std::move(ops), [log, name](Status done) {
      if (!done.ok()) {
        log->warn("mapper registration not stored mapper={} err=\"{}\"", name, done.message());
      }
    });
    if (!st.ok()) {
      return st;
    }
    ctx_.log->info("mapper registered mapper={} protocol={} address={}", rec.name, rec.protocol,
                   rec.address);
    if (options_.metrics) {
      options_.metrics->setMapper(rec.name, rec.protocol, now);
    }
    crds_.mappers[rec.name] = rec;
    std::pair<std::vector<json>, std::vector<json>> lists;
    if (with_data) {
      std::set<std::string> models;
      for (const auto& [key, crd] : crds_.devices) {
        if (protocolOf(crd) == rec.protocol) {
          lists.first.push_back(crd);
          std::string ns = key.substr(0, key.find('/'));
          models.insert(ns + "/" + modelRefOf(crd));
        }
      }
      for (const auto& m : models) {
        if (auto it = crds_.models.find(m); it != crds_.models.end()) {
          lists.second.push_back(it->second);
        }
      }
    }
    return lists;
  }

  const MapperRecord* mapperFor(const std::string& protocol) {
    const MapperRecord* best = nullptr;
    for (const auto& [name, rec] : crds_.mappers) {
      if (rec.protocol == protocol &&
          (best == nullptr || rec.registered_ms > best->registered_ms)) {
        best = &rec;
      }
    }
    return best;
  }

  Status dmiReport(const std::string& id, const std::string& payload, bool states) {
    int64_t now = core::nowUnixMillis();
    if (auto it = crds_.devices.find(id); it != crds_.devices.end()) {
      std::string protocol = protocolOf(it->second);
      for (auto& [name, rec] : crds_.mappers) {
        if (rec.protocol == protocol) {
          rec.last_report_ms = now;
          if (options_.metrics) {
            options_.metrics->setMapper(name, rec.protocol, now);
          }
        }
      }
    }
    if (state_.find(id) == nullptr) {
      return core::notFound("device " + id + " is not a member of this node");
    }
    noteActivity(id, now);
    apply(states ? state_.stateUpdate(id, payload, now) : state_.twinUpdate(id, payload, now));
    return {};
  }

  // A Device / DeviceModel CRD from metamanager (devicecontroller, or MetaServer's device PUT).
  void onCrd(const Message& m) {
    auto key = core::parseResource(m.route.resource);
    if (!key.ok() || key->shape != core::ResourceShape::Namespaced) {
      return;
    }
    bool is_model = key->type == "devicemodel";
    json crd = m.content;
    if (crd.is_string()) {
      crd = core::parseJsonBounded(crd.get<std::string>());
    }
    const std::string& op = m.route.operation;
    std::string id = nsName(crd);
    if (id.empty()) {
      id = key->ns + "/" + key->name;
    }
    auto& cache = is_model ? crds_.models : crds_.devices;
    MapperCall call;
    json object = crd;
    if (op == core::op::kDelete) {
      auto it = cache.find(id);
      if (it != cache.end()) {
        object = it->second;
        cache.erase(it);
      }
      if (!object.is_object()) {
        object = {{"metadata", {{"name", key->name}, {"namespace", key->ns}}}};
      }
      call = is_model ? MapperCall::RemoveDeviceModel : MapperCall::RemoveDevice;
    } else if (op == core::op::kInsert || op == core::op::kUpdate) {
      if (!crd.is_object()) {
        ctx_.log->warn("device CRD not an object resource={}", m.route.resource);
        return;
      }
      bool known = cache.count(id) > 0;
      cache[id] = crd;
      if (is_model) {
        call = known ? MapperCall::UpdateDeviceModel : MapperCall::CreateDeviceModel;
      } else {
        call = (op == core::op::kInsert && !known) ? MapperCall::RegisterDevice
                                                   : MapperCall::UpdateDevice;
      }
    } else {
      return;
    }
    std::string protocol = protocolOf(object);
    const MapperRecord* mapper = mapperFor(protocol);
    if (mapper == nullptr) {
      ctx_.log->debug("no mapper for protocol={} resource={}", protocol, m.route.resource);
      return;
    }
    std::string address = mapper->address;
    auto log = ctx_.log;
    asio::post(ctx_.blocking, [log, address, call, object, id] {
      Status st = callMapper(address, call, object);
      if (!st.ok()) {
        log->warn("mapper call failed call={} device={} address={} err=\"{}\"",
                  mapperCallName(call), id, address, st.message());
      } else {
        log->info("mapper called call={} device={}", mapperCallName(call), id);
      }
    });
  }

  struct Pending {
    Effects fx;
    bool durable = false;
    bool failed = false;
  };

  void onBus(Message m) {
    if (!ready_) {
      if (early_.size() >= options_.max_pending_events) {
        ++rejected_;
        ctx_.log->warn("event dropped while loading resource={}", m.route.resource);
        return;
      }
      early_.push_back(std::move(m));
      return;
    }
    handle(std::move(m));
  }

  void handle(Message m) {
    const std::string& res = m.route.resource;
    int64_t now = core::nowUnixMillis();
    TwinTopic topic = parseTwinTopic(res);
    if (topic.kind != TwinTopic::Kind::NotMqtt) {
      onMqttTopic(topic, res, m.contentData(), now);
      return;
    }
    if (m.route.operation == core::op::kConnect) {
      if (m.contentData() == kCloudConnected) {
        requestMembershipDetail();
      }
      return;
    }
    if (!m.header.parent_id.empty()) {
      ctx_.log->debug("cloud answer msg_id={} parent={} content={}", m.header.id,
                      m.header.parent_id, m.contentData().substr(0, 64));
      return;
    }
    {
      auto key = core::parseResource(res);
      if (key.ok() && key->shape == core::ResourceShape::Namespaced &&
          (key->type == "device" || key->type == "devicemodel")) {
        onCrd(m);
        return;
      }
    }
    if (isMembershipResource(res)) {
      json content = membershipContent(m.content);
      if (!content.is_object()) {
        ++rejected_;
        ctx_.log->warn("membership message not an object dropped msg_id={}", m.header.id);
        return;
      }
      apply(state_.membershipUpdate(content, isMembershipDetail(res), now));
      return;
    }
    ctx_.log->debug("twin message ignored op={} resource={} source={}", m.route.operation, res,
                    m.route.source);
  }

  // $hw/events/device/<ns>/<name>/<suffix> and $hw/events/node/<node>/membership/get.
  void onMqttTopic(const TwinTopic& topic, const std::string& res, const std::string& payload,
                   int64_t now) {
    switch (topic.kind) {
      case TwinTopic::Kind::NoDeviceId:
        ++rejected_;
        ctx_.log->debug("device topic without <ns>/<name> ignored topic={}", res);
        return;
      case TwinTopic::Kind::Ignored:
        ctx_.log->debug("twin topic ignored topic={}", res);
        return;
      case TwinTopic::Kind::TwinUpdate: {
        ++twin_updates_;
        noteActivity(topic.device_id, now);
        Effects fx = state_.onMqtt(topic, payload, now);
        if (fx.ops.empty()) {
          ++rejected_;
        }
        apply(std::move(fx));
        return;
      }
      case TwinTopic::Kind::StateUpdate:
        noteActivity(topic.device_id, now);
        apply(state_.onMqtt(topic, payload, now));
        return;
      default:
        apply(state_.onMqtt(topic, payload, now));
        return;
    }
  }

  // Beyond the original: liveness from activity.
  void noteActivity(const std::string& id, int64_t now) {
    if (options_.offline_after.count() <= 0 || state_.find(id) == nullptr) {
      return;
    }
    bool fresh = last_seen_.find(id) == last_seen_.end();
    last_seen_[id] = now;
    if (fresh || state_.find(id)->state != "online") {
      apply(state_.setOnline(id, true, now));
    }
  }

  void armSweep() {
    auto period = std::max(options_.offline_after / 4, std::chrono::milliseconds(50));
    sweep_timer_.expires_after(period);
    sweep_timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
          if (ec || alive.expired() || stopped_) {
            return;
          }
          int64_t now = core::nowUnixMillis();
          for (auto it = last_seen_.begin(); it != last_seen_.end();) {
            if (now - it->second >= options_.offline_after.count()) {
              apply(state_.setOnline(it->first, false, now));
              it = last_seen_.erase(it);
            } else {
              ++it;
            }
          }
          armSweep();
        });
  }

  void requestMembershipDetail() {
    // dttype.GetDetailNode field order, as the v1.15 recording e-query-device.jsonl shows it.
    nlohmann::ordered_json detail = nlohmann::ordered_json::object();
    detail["event_type"] = "group_membership_event";
    detail["event_id"] = core::newUuidV4();
    detail["group_id"] = node_;
    detail["operation"] = "detail";
    detail["timestamp"] = core::nowUnixMillis();
    Message m = Message::create(names::kTwinModule, names::kResourceGroup, core::op::kGet,
                                "membership/detail", core::encodeOrderedJsonValue(detail));
    sendCloud(std::move(m));
  }

  // Effects run in event order: rows first (one store batch per event), then the messages.
  void apply(Effects fx) {
    if (fx.empty()) {
      return;
    }
    devices_.store(state_.size());
    if (options_.metrics) {
      uint64_t online = 0;
      for (const auto& [id, d] : state_.devices()) {
        online += d.state == "online" ? 1 : 0;
      }
      options_.metrics->setDevices(state_.size(), online);
    }
    for (const std::string& id : fx.state_changed) {
      mirrorStateToObject(id, fx);
    }
    pending_.push_back(Pending{});
    Pending* p = &pending_.back();
    uint64_t seq = next_seq_++;
    std::vector<metamanager::WriteOp> ops = std::move(fx.ops);
    p->fx = std::move(fx);
    if (ops.empty()) {
      p->durable = true;
      flush();
      return;
    }
    std::weak_ptr<int> alive = alive_;
    Status st = store_.submit(std::move(ops), [this, alive, seq](Status done) {
      asio::post(ctx_.strand, [this, alive, seq, done] {
        if (alive.expired()) {
          return;
        }
        markDurable(seq, done);
      });
    });
    if (!st.ok()) {
      markDurable(seq, st);
    }
  }

  void markDurable(uint64_t seq, const Status& st) {
    uint64_t front_seq = next_seq_ - pending_.size();
    if (seq < front_seq || seq - front_seq >= pending_.size()) {
      return;
    }
    Pending& p = pending_[seq - front_seq];
    p.durable = true;
    if (!st.ok()) {
      p.failed = true;
      ++write_failures_;
      ctx_.log->warn("device rows not written err=\"{}\"", st.message());
    }
    flush();
  }

  void flush() {
    while (!pending_.empty() && pending_.front().durable) {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      for (auto& pub : p.fx.publishes) {
        Message m = Message::create(names::kTwinModule, names::kBusGroup, "publish", pub.topic,
                                    std::move(pub.payload));
        Status st = ctx_.bus.send(names::kEventBusModule, std::move(m));
        if (st.ok()) {
          ++publishes_;
        } else {
          ctx_.log->debug("publish not taken by eventbus topic={} err={}", pub.topic, st.message());
        }
      }
      if (p.failed) {
        continue;  // nothing was stored: do not tell the cloud it was
      }
      for (auto& c : p.fx.cloud) {
        Message m = Message::create(names::kTwinModule, names::kResourceGroup, core::op::kUpdate,
                                    c.resource, std::move(c.content));
        sendCloud(std::move(m));
      }
    }
  }

  void sendCloud(Message m) {
    Status st = ctx_.bus.send(names::kEdgeHubModule, std::move(m));
    if (st.ok()) {
      ++cloud_reports_;
    } else {
      ctx_.log->debug("cloud report not taken by edgehub err={}", st.message());
    }
  }

  // Beyond the original: the state into the Device object MetaServer serves (status.state,
  // status.lastOnlineTime), when the cloud sent that Device.
  void mirrorStateToObject(const std::string& id, Effects& fx) {
    auto slash = id.find('/');
    const Device* dev = state_.find(id);
    if (slash == std::string::npos || dev == nullptr) {
      return;
    }
    metamanager::ObjectKey key;
    key.gvr = {"devices.kubeedge.io", "v1beta1", "devices"};
    key.ns = id.substr(0, slash);
    key.name = id.substr(slash + 1);
    auto obj = store_.getObject(key);
    if (!obj) {
      return;
    }
    json doc = json::parse(obj->json, nullptr, false);
    if (!doc.is_object()) {
      return;
    }
    json& status = doc["status"];
    if (!status.is_object()) {
      status = json::object();
    }
    status["state"] = dev->state;
    if (!dev->last_online.empty()) {
      status["lastOnlineTime"] = dev->last_online;
    }
    metamanager::WriteOp w;
    w.kind = metamanager::WriteOp::Kind::UpsertObject;
    w.object_key = key;
    w.doc = std::make_shared<const json>(std::move(doc));
    fx.ops.push_back(std::move(w));
  }

  core::ModuleContext ctx_;
  metamanager::MetaStore& store_;
  DeviceTwinOptions options_;
  std::string node_;
  TwinState state_;
  asio::steady_timer sweep_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool ready_ = false;
  bool stopped_ = false;
  std::deque<Message> early_;
  std::deque<Pending> pending_;
  uint64_t next_seq_ = 0;
  std::map<std::string, int64_t> last_seen_;
  CrdCache crds_;
  std::unique_ptr<DmiServer> dmi_;
  std::atomic<uint64_t> devices_{0}, twin_updates_{0}, rejected_{0}, write_failures_{0},
      cloud_reports_{0}, publishes_{0};
};

}  // namespace

Result<std::unique_ptr<DeviceTwinModule>> createDeviceTwin(core::ModuleContext ctx,
                                                           metamanager::MetaStore& store,
                                                           DeviceTwinOptions options) {
  return std::unique_ptr<DeviceTwinModule>(new DeviceTwin(std::move(ctx), store, options));
}

Result<core::ModulePtr> create(core::ModuleContext ctx, metamanager::MetaStore& store,
                               DeviceTwinOptions options) {
  EC_ASSIGN_OR_RETURN(auto m, createDeviceTwin(std::move(ctx), store, options));
  return core::ModulePtr(std::move(m));
}

}  // namespace edgecore::devicetwin
