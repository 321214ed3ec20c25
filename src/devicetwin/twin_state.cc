#include "twin_state.h"

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "edgecore/core/message.h"
#include "twin_codec.h"

namespace edgecore::devicetwin {
using core::Status;
using nlohmann::json;
using ojson = nlohmann::ordered_json;
using metamanager::WriteOp;

namespace {

const char kErrUnmarshal[] = "Unmarshal update request body failed, please check the request";
const char kErrUpdate[] = "Update twin error, key:twin does not exist";
const char kErrKey[] =
    "The key of twin must only include upper or lowercase letters, number, english, and special "
    "letter - _ . , : / @ # and the length of key should be less than 128 bytes";
const char kErrValue[] =
    "The value of twin must only include upper or lowercase letters, number, english, and special "
    "letter - _ . , : / @ # and the length of value should be at most 65536 bytes";
const std::string kErrTooManyTwins =
    "Update twin error, a device may have at most " + std::to_string(kMaxTwinsPerDevice) + " twins";

}  // namespace

Effects TwinState::onMqtt(const TwinTopic& topic, std::string_view payload, int64_t now_ms) {
  switch (topic.kind) {
    case TwinTopic::Kind::TwinUpdate:
      return twinUpdate(topic.device_id, payload, now_ms);
    case TwinTopic::Kind::TwinGet:
      return twinGet(topic.device_id, payload, now_ms);
    case TwinTopic::Kind::StateUpdate:
      return stateUpdate(topic.device_id, payload, now_ms);
    case TwinTopic::Kind::MembershipGet:
      return membershipGet(payload, now_ms);
    default:
      return {};
  }
}

const Device* TwinState::find(const std::string& id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

Status TwinState::load(metamanager::DeviceTwinStore& store) {
  EC_ASSIGN_OR_RETURN(metamanager::DeviceTables tables, store.loadDeviceTables());
  for (auto& r : tables.devices) {
    Device d;
    d.id = std::move(r.id);
    d.name = std::move(r.name);
    d.description = std::move(r.description);
    d.state = std::move(r.state);
    d.last_online = std::move(r.last_online);
    devices_[d.id] = std::move(d);
  }
  for (auto& r : tables.attrs) {
    auto it = devices_.find(r.device_id);
    if (it == devices_.end()) {
      continue;
    }
    Attr a;
    a.value = std::move(r.value);
    a.optional = r.optional;
    a.type = std::move(r.attr_type);
    a.metadata = std::move(r.metadata);
    it->second.attrs[r.name] = std::move(a);
  }
  for (auto& r : tables.twins) {
    auto it = devices_.find(r.device_id);
    if (it == devices_.end()) {
      continue;
    }
    Twin t;
    // DeviceTwinToMsgTwin: an empty value means "absent".
    auto value = [](const std::optional<std::string>& v,
                    const std::optional<std::string>& meta) -> std::optional<TwinValue> {
      if (!v || v->empty()) {
        return std::nullopt;
      }
      TwinValue tv;
      tv.value = *v;
      if (meta && !meta->empty()) {
        tv.timestamp = parseTs(json::parse(*meta, nullptr, false));
      }
      return tv;
    };
    t.expected = value(r.expected, r.expected_meta);
    t.actual = value(r.actual, r.actual_meta);
    if (const auto& v = r.expected_version; v && !v->empty()) {
      t.expected_version = parseVersion(json::parse(*v, nullptr, false)).value_or(TwinVersion{});
    }
    if (const auto& v = r.actual_version; v && !v->empty()) {
      t.actual_version = parseVersion(json::parse(*v, nullptr, false)).value_or(TwinVersion{});
    }
    t.optional = r.optional;
    t.type = std::move(r.attr_type);
    t.metadata = std::move(r.metadata);
    it->second.twins[r.name] = std::move(t);
  }
  return {};
}

// DealMsgTwin + dealTwinAdd/Compare/Delete, one key at a time, on `dev` (a working copy).
void TwinState::dealTwins(Device& dev, const json& msg_twins, Deal deal, int64_t now,
                          TwinResult& out) const {
  for (auto it = msg_twins.begin(); it != msg_twins.end(); ++it) {
    const std::string& key = it.key();
    auto parsed = parseMsgTwin(it.value());
    if (!parsed) {
      out.error = kErrUnmarshal;
      return;
    }
    const MsgTwin& msg = *parsed;
    auto existing = dev.twins.find(key);
    if (existing == dev.twins.end()) {
      // ---- add ----
      if (msg.null) {
        if (deal == Deal::Rest) {
          out.error = "the request body is wrong";
          return;
        }
        continue;
      }
      Twin t;
      t.optional = msg.optional.value_or(true);
      t.type = msg.has_metadata ? *msg.type : "string";
      if (msg.has_metadata) {
        t.metadata = "{}";
      }
      bool ok = true;
      auto take = [&](const std::optional<TwinValue>& in, const std::optional<TwinVersion>& req,
                      std::optional<TwinValue>& slot, std::optional<TwinVersion>& ver) {
        if (!in) {
          return;
        }
        TwinVersion v;
        if (deal == Deal::Rest) {
          v.edge = 1;
        } else {
          if (!req) {  // "version not allowed be nil while syncing"
            ok = false;
            return;
          }
          v = *req;
        }
        std::string value = in->value.value_or("");
        if (auto err = validateTyped(t.type, value)) {
          ok = false;
          if (deal == Deal::Rest) {
            out.error = *err;
          }
          return;
        }
        slot = TwinValue{value, now};
        ver = v;
      };
      take(msg.expected, msg.expected_version, t.expected, t.expected_version);
      if (ok) {
        take(msg.actual, msg.actual_version, t.actual, t.actual_version);
      }
      if (out.error) {
        return;
      }
      if (!ok) {
        // Sync without versions: Go leaves an empty entry in the cloud report and adds nothing.
        out.sync[key] = ojson::object();
        continue;
      }
      dev.twins[key] = t;
      out.added.push_back(key);
      ojson doc = ojson::object();
      doc["last"] = nullptr;
      doc["current"] = t.type == kDeleted ? ojson(nullptr) : twinToJson(t, false);
      out.document[key] = doc;
      if (deal == Deal::Rest) {
        out.result[key] = twinToJson(t, false);
        out.sync[key] = twinToJson(t, true);
      }
      continue;
    }
    Twin& twin = existing->second;
    bool twin_deleted = twin.type == kDeleted;
    if ((msg.null && deal == Deal::Rest) ||
        (deal == Deal::Sync && !msg.null && msg.type.value_or("") == kDeleted)) {
      // ---- delete ----
      if (twin_deleted || (deal == Deal::Rest && !twin.optional)) {
        continue;
      }
      ojson last = twinToJson(twin, false);
      bool changed = false;
      auto drop = [&](std::optional<TwinValue>& slot, std::optional<TwinVersion>& ver,
                      const std::optional<TwinVersion>& req) {
        if (!ver) {
          return;
        }
        if (deal == Deal::Rest) {
          ver->edge += 1;
        } else if (req) {
          if (ver->cloud > req->cloud || ver->edge > req->edge) {
            return;
          }
          *ver = *req;
        }
        slot.reset();
        changed = true;
      };
      drop(twin.expected, twin.expected_version, msg.expected_version);
      drop(twin.actual, twin.actual_version, msg.actual_version);
      if (!changed) {
        continue;
      }
      twin.type = std::string(kDeleted);
      out.changed.push_back(key);
      ojson doc = ojson::object();
      doc["last"] = last;
      doc["current"] = nullptr;
      out.document[key] = doc;
      if (deal == Deal::Rest) {
        out.result[key] = nullptr;
        out.sync[key] = twinToJson(twin, true);
      }
      continue;
    }
    // ---- compare ----
    ojson last = twin_deleted ? ojson(nullptr) : twinToJson(twin, false);
    std::string value_type =
        twin_deleted ? (msg.has_metadata ? *msg.type : std::string("string")) : twin.type;
    bool changed = false;
    bool sync_allowed = true;
    ojson sync_entry = ojson::object();
    auto apply = [&](const std::optional<TwinValue>& in, const std::optional<TwinVersion>& req,
                     std::optional<TwinValue>& slot, std::optional<TwinVersion>& ver,
                     const char* name) {
      if (!in || !sync_allowed || out.error) {
        return;
      }
      std::string value = in->value.value_or("");
      if (auto err = validateTyped(value_type, value)) {
        if (deal == Deal::Rest) {
          out.error = *err;
        }
        return;
      }
      TwinVersion v = ver.value_or(TwinVersion{});
      if (deal == Deal::Rest) {
        v.edge += 1;
      } else if (!req || v.cloud > req->cloud || v.edge > req->edge) {
        // Version conflict: tell the cloud what the edge holds instead.
        sync_allowed = false;
        Twin snapshot = twin;
        sync_entry = twinToJson(snapshot, true);
        return;
      } else {
        v = *req;
      }
      slot = TwinValue{value, now};
      ver = v;
      changed = true;
      (void)name;
    };
    apply(msg.expected, msg.expected_version, twin.expected, twin.expected_version, "expected");
    apply(msg.actual, msg.actual_version, twin.actual, twin.actual_version, "actual");
    if (out.error) {
      return;
    }
    if (sync_allowed) {
      if (msg.optional && *msg.optional != twin.optional && twin.optional) {
        twin.optional = *msg.optional;
        changed = true;
      }
      if (msg.has_metadata) {
        if (*msg.type != twin.type) {
          if (twin_deleted) {
            twin.type = *msg.type;
          }
          twin.metadata = "{}";
          changed = true;
        }
      } else if (twin_deleted) {
        twin.type = "string";
        changed = true;
      }
    }
    if (changed) {
      out.changed.push_back(key);
      ojson doc = ojson::object();
      doc["last"] = last;
      doc["current"] = twinToJson(twin, false);
      out.document[key] = doc;
      if (deal == Deal::Rest) {
        out.result[key] = twinToJson(twin, false);
        out.sync[key] = twinToJson(twin, true);
      }
    }
    if (!sync_allowed && deal == Deal::Sync) {
      out.sync[key] = sync_entry;
    }
  }
}

Effects TwinState::finishTwinDeal(const Device& before, Device& dev, const std::string& event_id,
                                  TwinResult& res, Deal deal, int64_t now) {
  Effects fx;
  const std::string prefix = std::string(kDevicePrefix) + dev.id;
  if (res.error) {
    dev = before;  // Go reloads the device from SQLite; we never changed the stored copy
    if (deal == Deal::Sync) {
      return fx;  // a cloud sync has no result topic to answer on
    }
    fx.publishes.push_back(
        {prefix + "/twin/update/result", dumpJson(errorResult(event_id, now, 400, *res.error))});
    return fx;
  }
  for (const auto& key : res.added) {
    fx.ops.push_back(WriteOp::insertTwin(twinRow(dev.id, key, dev.twins[key])));
  }
  for (const auto& key : res.changed) {
    fx.ops.push_back(WriteOp::updateTwin(twinRow(dev.id, key, dev.twins[key])));
  }
  if (deal == Deal::Rest) {
    ojson r = baseMessage(event_id, now);
    ojson twins = ojson::object();
    for (auto it = res.result.begin(); it != res.result.end(); ++it) {
      ojson& v = it.value();
      if (!v.is_null() && v.contains("metadata") && v["metadata"].value("type", "") == kDeleted) {
        continue;
      }
      twins[it.key()] = std::move(v);
    }
    r["twin"] = twins;
    fx.publishes.push_back({prefix + "/twin/update/result", dumpJson(r)});
  }
  if (!res.document.empty()) {
    ojson d = baseMessage(event_id, now);
    d["twin"] = std::move(res.document);
    fx.publishes.push_back({prefix + "/twin/update/document", dumpJson(d)});
  }
  // BuildDeviceTwinDelta over the whole device.
  ojson delta_twins = ojson::object();
  ojson delta = ojson::object();
  for (const auto& [k, t] : dev.twins) {
    if (t.type == kDeleted || !t.expected || t.expected->value.value_or("").empty()) {
      continue;
    }
    std::string expected = *t.expected->value;
    std::string actual = t.actual ? t.actual->value.value_or("") : "";
    if (expected != actual) {
      delta[k] = expected;
    }
    delta_twins[k] = twinToJson(t, false);
  }
  if (!delta.empty()) {
    ojson d = baseMessage(core::newUuidV4(), now);
    d["twin"] = delta_twins;
    d["delta"] = delta;
    fx.publishes.push_back({prefix + "/twin/update/delta", dumpJson(d)});
  }
  if (!res.sync.empty()) {
    // dttype.DeviceTwinResult is a struct: Go writes event_id, timestamp, twin in that order and
    // each MsgTwin in field order, so the content goes out as text, not as a (sorted) object.
    ojson c = baseMessage(core::newUuidV4(), now);
    c["twin"] = std::move(res.sync);
    fx.cloud.push_back({"device/" + dev.id + "/twin/edge_updated",
                        core::rawJsonContent(core::encodeOrderedJsonValue(c))});
  }
  return fx;
}

Effects TwinState::twinUpdate(const std::string& id, std::string_view payload, int64_t now) {
  const std::string result_topic = std::string(kDevicePrefix) + id + "/twin/update/result";
  json doc = core::parseJsonBounded(payload);
  std::string event_id = eventIdOf(doc).value_or("");
  auto fail = [&](int code, std::string_view reason) {
    Effects fx;
    fx.publishes.push_back({result_topic, dumpJson(errorResult(event_id, now, code, reason))});
    return fx;
  };
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(400, kErrUnmarshal);
  }
  auto twin_it = doc.find("twin");
  if (twin_it == doc.end() || twin_it->is_null()) {
    return fail(400, kErrUpdate);
  }
  if (!twin_it->is_object()) {
    return fail(400, kErrUnmarshal);
  }
  for (auto it = twin_it->begin(); it != twin_it->end(); ++it) {
    if (!validKey(it.key())) {
      return fail(400, kErrKey);
    }
    if (it->is_object()) {
      for (const char* side : {"expected", "actual"}) {
        auto s = it->find(side);
        if (s != it->end() && s->is_object()) {
          auto v = s->find("value");
          if (v != s->end() && v->is_string() && !validValue(v->get_ref<const std::string&>())) {
            return fail(400, kErrValue);
          }
        }
      }
    }
  }
  auto dev_it = devices_.find(id);
  if (dev_it == devices_.end()) {
    return fail(404, "update rejected due to the device is not existed");
  }
  size_t added = 0;
  for (auto it = twin_it->begin(); it != twin_it->end(); ++it) {
    added += dev_it->second.twins.count(it.key()) == 0 ? 1 : 0;
  }
  if (dev_it->second.twins.size() + added > kMaxTwinsPerDevice) {
    return fail(400, kErrTooManyTwins);
  }
  Device before = dev_it->second;
  TwinResult res;
  dealTwins(dev_it->second, *twin_it, Deal::Rest, now, res);
  return finishTwinDeal(before, dev_it->second, event_id, res, Deal::Rest, now);
}

Effects TwinState::twinGet(const std::string& id, std::string_view payload, int64_t now) {
  Effects fx;
  const std::string topic = std::string(kDevicePrefix) + id + "/twin/get/result";
  json doc = core::parseJsonBounded(payload);
  if (doc.is_discarded() || !doc.is_object()) {
    fx.publishes.push_back(
        {topic, dumpJson(errorResult(
                    "", now, 400,
                    "Unmarshal twin info " + std::string(payload.substr(0, 256)) + " failed"))});
    return fx;
  }
  std::string event_id = eventIdOf(doc).value_or("");
  const Device* dev = find(id);
  if (dev == nullptr) {
    fx.publishes.push_back(
        {topic, dumpJson(errorResult(event_id, now, 404,
                                     "Device " + id + " not found while getting twin"))});
    return fx;
  }
  ojson r = baseMessage(event_id, now);
  ojson twins = ojson::object();
  for (const auto& [k, t] : dev->twins) {
    if (t.type != kDeleted) {
      twins[k] = twinToJson(t, false);
    }
  }
  r["twin"] = twins;
  fx.publishes.push_back({topic, dumpJson(r)});
  return fx;
}

Effects TwinState::updateState(const std::string& id, std::string state, int64_t now) {
  Effects fx;
  auto it = devices_.find(id);
  if (it == devices_.end()) {
    return fx;
  }
  std::string lower = state;
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (lower != "online" && lower != "offline" && lower != "ok" && lower != "unknown" &&
      lower != "unhealthy") {
    return fx;
  }
  Device& dev = it->second;
  std::string last_online = (lower == "online" || lower == "ok") ? rfc3339(now) : std::string();
  dev.state = state;
  dev.last_online = last_online;
  fx.ops.push_back(WriteOp::setDeviceState(id, state, last_online));
  ojson msg = baseMessage(core::newUuidV4(), now);
  ojson d = ojson::object();
  if (!dev.name.empty()) {
    d["name"] = dev.name;
  }
  if (!state.empty()) {
    d["state"] = state;
  }
  if (!last_online.empty()) {
    d["lastOnlineTime"] = last_online;
  }
  msg["device"] = d;
  std::string payload = dumpJson(msg);
  fx.publishes.push_back({std::string(kDevicePrefix) + id + "/state/update/result", payload});
  fx.cloud.push_back({"device/" + id + "/state/update", json(payload)});
  fx.state_changed.push_back(id);
  return fx;
}

Effects TwinState::stateUpdate(const std::string& id, std::string_view payload, int64_t now) {
  json doc = core::parseJsonBounded(payload);
  if (doc.is_discarded() || !doc.is_object()) {
    return {};
  }
  // Go matches the key case-insensitively (DMI sends "State").
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    std::string k = it.key();
    for (char& c : k) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (k == "state" && it->is_string()) {
      return updateState(id, it->get<std::string>(), now);
    }
  }
  return {};
}

Effects TwinState::setOnline(const std::string& id, bool online, int64_t now) {
  const Device* dev = find(id);
  if (dev == nullptr || dev->state == (online ? "online" : "offline")) {
    return {};
  }
  return updateState(id, online ? "online" : "offline", now);
}

Effects TwinState::membershipGet(std::string_view payload, int64_t now) {
  Effects fx;
  const std::string topic = std::string(kNodePrefix) + node_ + "/membership/get/result";
  json doc = core::parseJsonBounded(payload);
  if (doc.is_discarded() || !doc.is_object()) {
    fx.publishes.push_back(
        {topic, dumpJson(errorResult("", now, 400, "Unmarshal get membership info failed"))});
    return fx;
  }
  ojson r = baseMessage(eventIdOf(doc).value_or(""), now);
  ojson list = ojson::array();
  for (const auto& [id, d] : devices_) {
    ojson o = ojson::object();
    auto put = [&](const char* k, const std::string& v) {
      if (!v.empty()) {
        o[k] = v;
      }
    };
    put("id", d.id);
    put("name", d.name);
    put("description", d.description);
    put("state", d.state);
    put("last_online", d.last_online);
    if (!d.attrs.empty()) {
      ojson attrs = ojson::object();
      for (const auto& [k, a] : d.attrs) {
        attrs[k] = attrToJson(a);
      }
      o["attributes"] = attrs;
    }
    list.push_back(o);
  }
  r["devices"] = list;
  fx.publishes.push_back({topic, dumpJson(r)});
  return fx;
}

void TwinState::addDeviceOps(const Device& dev, Effects& fx) const {
  fx.ops.push_back(WriteOp::saveDevice({.id = dev.id,
                                        .name = dev.name,
                                        .description = dev.description,
                                        .state = dev.state,
                                        .last_online = dev.last_online}));
  for (const auto& [k, a] : dev.attrs) {
    fx.ops.push_back(WriteOp::addDeviceAttr({.device_id = dev.id,
                                             .name = k,
                                             .value = a.value,
                                             .optional = a.optional,
                                             .attr_type = a.type,
                                             .metadata = a.metadata}));
  }
}

TwinState::MembershipChange TwinState::parseMembership(const json& content, bool full_list) const {
  MembershipChange change;
  if (full_list) {
    auto it = content.find("devices");
    if (it != content.end() && it->is_array()) {
      change.added = &*it;
      collectUnlisted(*it, change);
    }
    return change;
  }
  if (auto it = content.find("added_devices"); it != content.end() && it->is_array()) {
    change.added = &*it;
  }
  if (auto it = content.find("removed_devices"); it != content.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_object() && e.contains("id") && e["id"].is_string()) {
        change.removed_ids.push_back(e["id"].get<std::string>());
        change.removed_docs.push_back(e);
      }
    }
  }
  return change;
}

void TwinState::collectUnlisted(const json& listed, MembershipChange& change) const {
  for (const auto& [id, d] : devices_) {
    bool keep = false;
    for (const auto& e : listed) {
      if (e.is_object() && e.value("id", std::string()) == id) {
        keep = true;
        break;
      }
    }
    if (!keep) {
      change.removed_ids.push_back(id);
      change.removed_docs.push_back(json{{"id", id}});
    }
  }
}

namespace {

// Go unmarshals the whole message into typed structs first: one twin of the wrong JSON types
// drops the message. Checked up front so nothing is half applied or answered.
bool addedTwinsWellTyped(const json& added) {
  for (const auto& entry : added) {
    auto twins = entry.is_object() ? entry.find("twin") : entry.end();
    if (entry.is_object() && twins != entry.end() && twins->is_object()) {
      for (const auto& t : *twins) {
        if (!parseMsgTwin(t)) {
          return false;
        }
      }
    }
  }
  return true;
}

// The attributes of a device the membership message adds.
void attrsFromMember(const json& entry, Device& dev) {
  auto attrs = entry.find("attributes");
  if (attrs == entry.end() || !attrs->is_object()) {
    return;
  }
  for (auto a = attrs->begin(); a != attrs->end(); ++a) {
    if (!a->is_object()) {
      continue;
    }
    Attr attr;
    attr.value = a->value("value", std::string());
    if (auto o = a->find("optional"); o != a->end() && o->is_boolean()) {
      attr.optional = o->get<bool>();
    }
    if (auto m = a->find("metadata"); m != a->end() && m->is_object()) {
      attr.type = m->value("type", std::string("string"));
      attr.metadata = "{}";
    }
    dev.attrs[a.key()] = std::move(attr);
  }
}

// The membership/updated announcement of one added device, its twins without versions.
Publish memberAddedPublish(const json& entry, const std::string& topic, int64_t now) {
  ojson m = baseMessage(core::newUuidV4(), now);
  json copy = entry;
  if (copy.contains("twin") && copy["twin"].is_object()) {
    for (auto& [k, v] : copy["twin"].items()) {
      if (v.is_object()) {
        v.erase("expected_version");
        v.erase("actual_version");
      }
    }
  }
  m["added_devices"] = ojson::array({ojson::parse(dumpJson(copy))});
  m["removed_devices"] = nullptr;
  return {topic, dumpJson(m)};
}

void appendEffects(Effects& into, Effects& from) {
  for (auto& op : from.ops) {
    into.ops.push_back(std::move(op));
  }
  for (auto& p : from.publishes) {
    into.publishes.push_back(std::move(p));
  }
  for (auto& c : from.cloud) {
    into.cloud.push_back(std::move(c));
  }
}

}  // namespace

void TwinState::addMember(const json& entry, const std::string& member_topic, int64_t now,
                          Effects& fx) {
  if (!entry.is_object()) {
    return;
  }
  Device incoming = deviceFromJson(entry);
  if (incoming.id.empty()) {
    return;
  }
  auto twins = entry.find("twin");
  bool has_twins = twins != entry.end() && twins->is_object();
  if (has_twins) {
    bool bad_key = false;
    for (auto t = twins->begin(); t != twins->end(); ++t) {
      bad_key = bad_key || !validKey(t.key());
    }
    if (bad_key) {
      return;
    }
  }
  bool existed = devices_.count(incoming.id) > 0;
  if (!existed) {
    attrsFromMember(entry, incoming);
    devices_[incoming.id] = incoming;
    addDeviceOps(incoming, fx);
  }
  if (has_twins) {
    Device& dev = devices_[incoming.id];
    Device before = dev;
    TwinResult res;
    dealTwins(dev, *twins, Deal::Sync, now, res);
    Effects tfx = finishTwinDeal(before, dev, "", res, Deal::Sync, now);
    appendEffects(fx, tfx);
  }
  if (!existed) {
    fx.publishes.push_back(memberAddedPublish(entry, member_topic, now));
  }
}

void TwinState::removeMembers(const MembershipChange& change, const std::string& member_topic,
                              int64_t now, Effects& fx) {
  for (size_t i = 0; i < change.removed_ids.size(); ++i) {
    const std::string& id = change.removed_ids[i];
    if (devices_.erase(id) == 0) {
      continue;
    }
    fx.ops.push_back(WriteOp::deleteDevice(id));
    ojson m = baseMessage(core::newUuidV4(), now);
    m["added_devices"] = nullptr;
    m["removed_devices"] = ojson::array({ojson::parse(dumpJson(change.removed_docs[i]))});
    fx.publishes.push_back({member_topic, dumpJson(m)});
  }
}

Effects TwinState::membershipUpdate(const json& content, bool full_list, int64_t now) {
  Effects fx;
  if (!content.is_object()) {
    return fx;
  }
  MembershipChange change = parseMembership(content, full_list);
  if (change.added != nullptr && !addedTwinsWellTyped(*change.added)) {
    return Effects{};
  }
  const std::string member_topic = std::string(kNodePrefix) + node_ + "/membership/updated";
  if (change.added != nullptr) {
    for (const auto& entry : *change.added) {
      addMember(entry, member_topic, now, fx);
    }
  }
  removeMembers(change, member_topic, now, fx);
  return fx;
}

}  // namespace edgecore::devicetwin
