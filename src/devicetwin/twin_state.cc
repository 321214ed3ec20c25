#include "twin_state.h"

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "edgecore/core/message.h"

namespace edgecore::devicetwin {
using core::Status;
using nlohmann::json;
using ojson = nlohmann::ordered_json;
using metamanager::SqlValue;
using metamanager::WriteOp;

namespace {

constexpr std::string_view kDeleted = "deleted";
constexpr std::string_view kDevicePrefix = "$hw/events/device/";
constexpr std::string_view kNodePrefix = "$hw/events/node/";

// The charset of dtcommon.ValidateTwinKey/ValidateTwinValue; the length limits are ours.
bool validChars(std::string_view s) {
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ',' || c == ':' || c == '/' || c == '@' ||
              c == '#';
    if (!ok) {
      return false;
    }
  }
  return true;
}
bool validKey(std::string_view k) {
  return !k.empty() && k.size() <= kMaxTwinKeyBytes && validChars(k);
}
bool validValue(std::string_view v) {
  return v.empty() || (v.size() <= kMaxTwinValueBytes && validChars(v));
}

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

// dtcommon.ValidateValue
std::optional<std::string> validateTyped(std::string_view type, const std::string& v) {
  if (type.empty() || type == "string" || type == kDeleted) {
    return std::nullopt;
  }
  if (type == "int" || type == "integer") {
    char* end = nullptr;
    errno = 0;
    std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || errno != 0 || *end != '\0') {
      return "the value is not int or integer";
    }
    return std::nullopt;
  }
  if (type == "float" || type == "double") {
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0') {
      return "the value is not float";
    }
    return std::nullopt;
  }
  if (type == "boolean" || type == "bool") {
    if (v != "true" && v != "false") {
      return "the bool value must be true or false";
    }
    return std::nullopt;
  }
  return "the value type is not allowed";
}

std::string versionJson(const TwinVersion& v) {
  return "{\"cloud\":" + std::to_string(v.cloud) + ",\"edge\":" + std::to_string(v.edge) + "}";
}
std::string metaJson(int64_t ts) {
  return ts == 0 ? "{}" : "{\"timestamp\":" + std::to_string(ts) + "}";
}
std::optional<TwinVersion> parseVersion(const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  TwinVersion v;
  if (auto it = j.find("cloud"); it != j.end() && it->is_number_integer()) {
    v.cloud = it->get<int64_t>();
  }
  if (auto it = j.find("edge"); it != j.end() && it->is_number_integer()) {
    v.edge = it->get<int64_t>();
  }
  return v;
}
int64_t parseTs(const json& meta) {
  if (meta.is_object()) {
    if (auto it = meta.find("timestamp"); it != meta.end() && it->is_number_integer()) {
      return it->get<int64_t>();
    }
  }
  return 0;
}

ojson valueToJson(const TwinValue& v) {
  ojson o = ojson::object();
  if (v.value) {
    o["value"] = *v.value;
  }
  ojson m = ojson::object();
  if (v.timestamp != 0) {
    m["timestamp"] = v.timestamp;
  }
  o["metadata"] = m;
  return o;
}

ojson attrToJson(const Attr& a) {
  ojson o = ojson::object();
  o["value"] = a.value;
  o["optional"] = a.optional;
  ojson m = ojson::object();
  if (!a.type.empty()) {
    m["type"] = a.type;
  }
  o["metadata"] = m;
  return o;
}

// An incoming MsgTwin, checked for JSON types (Go's json.Unmarshal into dttype.MsgTwin).
struct MsgTwin {
  bool null = true;
  std::optional<TwinValue> expected, actual;
  std::optional<bool> optional;
  std::optional<std::string> type;  // metadata.type; metadata present iff set
  bool has_metadata = false;
  std::optional<TwinVersion> expected_version, actual_version;
};

bool parseValue(const json& j, std::optional<TwinValue>& out) {
  if (j.is_null()) {
    return true;
  }
  if (!j.is_object()) {
    return false;
  }
  TwinValue v;
  if (auto it = j.find("value"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) {
      return false;
    }
    v.value = it->get<std::string>();
  }
  if (auto it = j.find("metadata"); it != j.end()) {
    v.timestamp = parseTs(*it);
  }
  out = std::move(v);
  return true;
}

std::optional<MsgTwin> parseMsgTwin(const json& j) {
  MsgTwin m;
  if (j.is_null()) {
    return m;
  }
  if (!j.is_object()) {
    return std::nullopt;
  }
  m.null = false;
  if (auto it = j.find("expected"); it != j.end() && !parseValue(*it, m.expected)) {
    return std::nullopt;
  }
  if (auto it = j.find("actual"); it != j.end() && !parseValue(*it, m.actual)) {
    return std::nullopt;
  }
  if (auto it = j.find("optional"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return std::nullopt;
    }
    m.optional = it->get<bool>();
  }
  if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      return std::nullopt;
    }
    m.has_metadata = true;
    auto t = it->find("type");
    m.type = (t != it->end() && t->is_string()) ? t->get<std::string>() : std::string();
  }
  if (auto it = j.find("expected_version"); it != j.end() && !it->is_null()) {
    m.expected_version = parseVersion(*it);
  }
  if (auto it = j.find("actual_version"); it != j.end() && !it->is_null()) {
    m.actual_version = parseVersion(*it);
  }
  return m;
}

std::optional<std::string> eventIdOf(const json& doc) {
  if (doc.is_object()) {
    if (auto it = doc.find("event_id"); it != doc.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return std::nullopt;
}

WriteOp exec(std::string sql, std::vector<SqlValue> params) {
  WriteOp w;
  w.kind = WriteOp::Kind::Exec;
  w.key = std::move(sql);
  w.params = std::move(params);
  return w;
}

void pushText(std::vector<SqlValue>& p, const std::optional<std::string>& v) {
  if (v) {
    p.emplace_back(std::in_place_type<std::string>, *v);
  } else {
    p.emplace_back(std::in_place_type<std::monostate>);
  }
}

std::optional<std::string> valueOf(const std::optional<TwinValue>& v) {
  if (v && v->value) {
    return *v->value;
  }
  return std::nullopt;
}
std::optional<std::string> metaOf(const std::optional<TwinValue>& v) {
  if (v && v->value) {
    return metaJson(v->timestamp);
  }
  return std::nullopt;
}
std::optional<std::string> versionOf(const std::optional<TwinVersion>& v) {
  if (v) {
    return versionJson(*v);
  }
  return std::nullopt;
}

std::vector<SqlValue> twinCols(const Twin& t) {
  std::vector<SqlValue> p;
  p.reserve(11);
  pushText(p, valueOf(t.expected));
  pushText(p, valueOf(t.actual));
  pushText(p, metaOf(t.expected));
  pushText(p, metaOf(t.actual));
  pushText(p, versionOf(t.expected_version));
  pushText(p, versionOf(t.actual_version));
  p.emplace_back(std::in_place_type<int64_t>, t.optional ? 1 : 0);
  pushText(p, t.type);
  pushText(p, t.metadata);
  return p;
}

WriteOp insertTwin(const std::string& id, const std::string& key, const Twin& t) {
  auto p = twinCols(t);
  p.insert(p.begin(), SqlValue{key});
  p.insert(p.begin(), SqlValue{id});
  return exec(
      "INSERT INTO device_twin (deviceid, name, expected, actual, expected_meta, actual_meta, "
      "expected_version, actual_version, optional, attr_type, metadata) VALUES "
      "(?,?,?,?,?,?,?,?,?,?,?)",
      std::move(p));
}

WriteOp updateTwin(const std::string& id, const std::string& key, const Twin& t) {
  auto p = twinCols(t);
  p.emplace_back(id);
  p.emplace_back(key);
  return exec(
      "UPDATE device_twin SET expected = ?, actual = ?, expected_meta = ?, actual_meta = ?, "
      "expected_version = ?, actual_version = ?, optional = ?, attr_type = ?, metadata = ? "
      "WHERE deviceid = ? AND name = ?",
      std::move(p));
}

std::string rfc3339(int64_t now_ms) {
  std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ojson baseMessage(std::string_view event_id, int64_t now) {
  ojson o = ojson::object();
  o["event_id"] = std::string(event_id);
  o["timestamp"] = now;
  return o;
}

// dtclient.Device fields from a cloud Device entry.
Device deviceFromJson(const json& j) {
  Device d;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  d.id = str("id");
  d.name = str("name");
  d.description = str("description");
  d.state = str("state");
  return d;
}

}  // namespace

// ordered_json -> json without a dump/parse round trip (the bus codec sorts keys anyway).
json toPlain(const ojson& j) {
  switch (j.type()) {
    case ojson::value_t::object: {
      json out = json::object();
      for (auto it = j.begin(); it != j.end(); ++it) {
        out.emplace(it.key(), toPlain(it.value()));
      }
      return out;
    }
    case ojson::value_t::array: {
      json out = json::array();
      for (const auto& v : j) {
        out.push_back(toPlain(v));
      }
      return out;
    }
    case ojson::value_t::string:
      return j.get_ref<const std::string&>();
    case ojson::value_t::boolean:
      return j.get<bool>();
    case ojson::value_t::number_integer:
      return j.get<int64_t>();
    case ojson::value_t::number_unsigned:
      return j.get<uint64_t>();
    case ojson::value_t::number_float:
      return j.get<double>();
    default:
      return nullptr;
  }
}

// Go's json.Marshal of a struct: fields in declaration order (ordered_json keeps insertion
// order), <, > and & escaped, invalid UTF-8 replaced, like every MQTT payload Go writes.
std::string dumpJson(const ojson& j) { return core::encodeOrderedJsonValue(j); }

ojson twinToJson(const Twin& t, bool with_versions) {
  ojson o = ojson::object();
  if (t.expected) {
    o["expected"] = valueToJson(*t.expected);
  }
  if (t.actual) {
    o["actual"] = valueToJson(*t.actual);
  }
  o["optional"] = t.optional;
  ojson m = ojson::object();
  if (!t.type.empty()) {
    m["type"] = t.type;
  }
  o["metadata"] = m;
  if (with_versions) {
    if (t.expected_version) {
      o["expected_version"] = {{"cloud", t.expected_version->cloud},
                               {"edge", t.expected_version->edge}};
    }
    if (t.actual_version) {
      o["actual_version"] = {{"cloud", t.actual_version->cloud}, {"edge", t.actual_version->edge}};
    }
  }
  return o;
}

ojson errorResult(std::string_view event_id, int64_t now, int code, std::string_view reason) {
  ojson o = baseMessage(event_id, now);
  o["code"] = code;
  o["reason"] = std::string(reason);
  return o;
}

TwinTopic parseTwinTopic(std::string_view topic) {
  TwinTopic t;
  auto starts = [&](std::string_view p) { return topic.substr(0, p.size()) == p; };
  if (starts(kNodePrefix)) {
    constexpr std::string_view kSuffix = "/membership/get";
    bool ends =
        topic.size() >= kSuffix.size() && topic.substr(topic.size() - kSuffix.size()) == kSuffix;
    t.kind = ends ? TwinTopic::Kind::MembershipGet : TwinTopic::Kind::Ignored;
    return t;
  }
  if (!starts(kDevicePrefix)) {
    return t;
  }
  std::string_view rest = topic.substr(kDevicePrefix.size());
  auto a = rest.find('/');
  auto b = a == std::string_view::npos ? a : rest.find('/', a + 1);
  if (b == std::string_view::npos) {
    t.kind = TwinTopic::Kind::NoDeviceId;
    return t;
  }
  std::string_view suffix = rest.substr(b);
  if (suffix == "/twin/update") {
    t.kind = TwinTopic::Kind::TwinUpdate;
  } else if (suffix == "/twin/get") {
    t.kind = TwinTopic::Kind::TwinGet;
  } else if (suffix == "/state/update") {
    t.kind = TwinTopic::Kind::StateUpdate;
  } else {
    t.kind = TwinTopic::Kind::Ignored;
    return t;
  }
  t.device_id = std::string(rest.substr(0, b));
  return t;
}

bool isMembershipResource(std::string_view res) {
  auto ends = [&](std::string_view s) {
    return res.size() >= s.size() && res.substr(res.size() - s.size()) == s;
  };
  return res == "membership" || res == "membership/detail" || ends("/membership") ||
         ends("/membership/detail");
}

bool isMembershipDetail(std::string_view res) {
  constexpr std::string_view kDetail = "detail";
  return isMembershipResource(res) && res.size() >= kDetail.size() &&
         res.substr(res.size() - kDetail.size()) == kDetail;
}

json membershipContent(const json& content) {
  json parsed =
      content.is_string() ? core::parseJsonBounded(content.get_ref<const std::string&>()) : content;
  return parsed.is_object() ? parsed : json();
}

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

Status TwinState::load(metamanager::MetaStore& store) {
  auto str = [](const SqlValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      return std::optional<std::string>(*s);
    }
    if (const auto* n = std::get_if<int64_t>(&v)) {
      return std::optional<std::string>(std::to_string(*n));
    }
    return std::optional<std::string>();
  };
  auto boolean = [](const SqlValue& v) {
    if (const auto* n = std::get_if<int64_t>(&v)) {
      return *n != 0;
    }
    if (const auto* s = std::get_if<std::string>(&v)) {
      return *s == "1" || *s == "true";
    }
    return false;
  };
  EC_ASSIGN_OR_RETURN(
      auto devs, store.query("SELECT id, name, description, state, last_online FROM device", {}));
  for (const auto& r : devs) {
    Device d;
    d.id = str(r[0]).value_or("");
    d.name = str(r[1]).value_or("");
    d.description = str(r[2]).value_or("");
    d.state = str(r[3]).value_or("");
    d.last_online = str(r[4]).value_or("");
    devices_[d.id] = std::move(d);
  }
  EC_ASSIGN_OR_RETURN(
      auto attrs,
      store.query("SELECT deviceid, name, value, optional, attr_type, metadata FROM device_attr",
                  {}));
  for (const auto& r : attrs) {
    auto it = devices_.find(str(r[0]).value_or(""));
    if (it == devices_.end()) {
      continue;
    }
    Attr a;
    a.value = str(r[2]).value_or("");
    a.optional = boolean(r[3]);
    a.type = str(r[4]).value_or("");
    a.metadata = str(r[5]).value_or("");
    it->second.attrs[str(r[1]).value_or("")] = std::move(a);
  }
  EC_ASSIGN_OR_RETURN(
      auto twins,
      store.query("SELECT deviceid, name, expected, actual, expected_meta, actual_meta, "
                  "expected_version, actual_version, optional, attr_type, metadata "
                  "FROM device_twin",
                  {}));
  for (const auto& r : twins) {
    auto it = devices_.find(str(r[0]).value_or(""));
    if (it == devices_.end()) {
      continue;
    }
    Twin t;
    // DeviceTwinToMsgTwin: an empty value means "absent".
    auto value = [&](int vi, int mi) -> std::optional<TwinValue> {
      auto v = str(r[vi]);
      if (!v || v->empty()) {
        return std::nullopt;
      }
      TwinValue tv;
      tv.value = *v;
      if (auto m = str(r[mi]); m && !m->empty()) {
        tv.timestamp = parseTs(json::parse(*m, nullptr, false));
      }
      return tv;
    };
    t.expected = value(2, 4);
    t.actual = value(3, 5);
    if (auto v = str(r[6]); v && !v->empty()) {
      t.expected_version = parseVersion(json::parse(*v, nullptr, false)).value_or(TwinVersion{});
    }
    if (auto v = str(r[7]); v && !v->empty()) {
      t.actual_version = parseVersion(json::parse(*v, nullptr, false)).value_or(TwinVersion{});
    }
    t.optional = boolean(r[8]);
    t.type = str(r[9]).value_or("");
    t.metadata = str(r[10]).value_or("");
    it->second.twins[str(r[1]).value_or("")] = std::move(t);
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
    fx.ops.push_back(insertTwin(dev.id, key, dev.twins[key]));
  }
  for (const auto& key : res.changed) {
    fx.ops.push_back(updateTwin(dev.id, key, dev.twins[key]));
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
  fx.ops.push_back(exec("UPDATE device SET state = ?, last_online = ? WHERE id = ?",
                        {SqlValue{state}, SqlValue{last_online}, SqlValue{id}}));
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
  fx.ops.push_back(
      exec("INSERT OR REPLACE INTO device (id, name, description, state, last_online) VALUES "
           "(?,?,?,?,?)",
           {SqlValue{dev.id}, SqlValue{dev.name}, SqlValue{dev.description}, SqlValue{dev.state},
            SqlValue{dev.last_online}}));
  for (const auto& [k, a] : dev.attrs) {
    fx.ops.push_back(
        exec("INSERT INTO device_attr (deviceid, name, description, value, optional, attr_type, "
             "metadata) VALUES (?,?,?,?,?,?,?)",
             {SqlValue{dev.id}, SqlValue{k}, SqlValue{std::string()}, SqlValue{a.value},
              SqlValue{static_cast<int64_t>(a.optional ? 1 : 0)}, SqlValue{a.type},
              SqlValue{a.metadata}}));
  }
}

Effects TwinState::membershipUpdate(const json& content, bool full_list, int64_t now) {
  Effects fx;
  if (!content.is_object()) {
    return fx;
  }
  const json* added = nullptr;
  std::vector<std::string> removed_ids;
  std::vector<json> removed_docs;
  if (full_list) {
    auto it = content.find("devices");
    if (it != content.end() && it->is_array()) {
      added = &*it;
      for (const auto& [id, d] : devices_) {
        bool keep = false;
        for (const auto& e : *it) {
          if (e.is_object() && e.value("id", std::string()) == id) {
            keep = true;
            break;
          }
        }
        if (!keep) {
          removed_ids.push_back(id);
          removed_docs.push_back(json{{"id", id}});
        }
      }
    }
  } else {
    if (auto it = content.find("added_devices"); it != content.end() && it->is_array()) {
      added = &*it;
    }
    if (auto it = content.find("removed_devices"); it != content.end() && it->is_array()) {
      for (const auto& e : *it) {
        if (e.is_object() && e.contains("id") && e["id"].is_string()) {
          removed_ids.push_back(e["id"].get<std::string>());
          removed_docs.push_back(e);
        }
      }
    }
  }
  // Go unmarshals the whole message into typed structs first: one twin of the wrong JSON types
  // drops the message. Checked up front so nothing is half applied or answered.
  if (added != nullptr) {
    for (const auto& entry : *added) {
      auto twins = entry.is_object() ? entry.find("twin") : entry.end();
      if (entry.is_object() && twins != entry.end() && twins->is_object()) {
        for (const auto& t : *twins) {
          if (!parseMsgTwin(t)) {
            return Effects{};
          }
        }
      }
    }
  }
  const std::string member_topic = std::string(kNodePrefix) + node_ + "/membership/updated";
  if (added != nullptr) {
    for (const auto& entry : *added) {
      if (!entry.is_object()) {
        continue;
      }
      Device incoming = deviceFromJson(entry);
      if (incoming.id.empty()) {
        continue;
      }
      auto twins = entry.find("twin");
      bool has_twins = twins != entry.end() && twins->is_object();
      if (has_twins) {
        bool bad_key = false;
        for (auto t = twins->begin(); t != twins->end(); ++t) {
          bad_key = bad_key || !validKey(t.key());
        }
        if (bad_key) {
          continue;
        }
      }
      bool existed = devices_.count(incoming.id) > 0;
      if (!existed) {
        if (auto attrs = entry.find("attributes"); attrs != entry.end() && attrs->is_object()) {
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
            incoming.attrs[a.key()] = std::move(attr);
          }
        }
        devices_[incoming.id] = incoming;
        addDeviceOps(incoming, fx);
      }
      if (has_twins) {
        Device& dev = devices_[incoming.id];
        Device before = dev;
        TwinResult res;
        dealTwins(dev, *twins, Deal::Sync, now, res);
        Effects tfx = finishTwinDeal(before, dev, "", res, Deal::Sync, now);
        for (auto& op : tfx.ops) {
          fx.ops.push_back(std::move(op));
        }
        for (auto& p : tfx.publishes) {
          fx.publishes.push_back(std::move(p));
        }
        for (auto& c : tfx.cloud) {
          fx.cloud.push_back(std::move(c));
        }
      }
      if (!existed) {
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
        fx.publishes.push_back({member_topic, dumpJson(m)});
      }
    }
  }
  for (size_t i = 0; i < removed_ids.size(); ++i) {
    const std::string& id = removed_ids[i];
    if (devices_.erase(id) == 0) {
      continue;
    }
    fx.ops.push_back(exec("DELETE FROM device_twin WHERE deviceid = ?", {SqlValue{id}}));
    fx.ops.push_back(exec("DELETE FROM device_attr WHERE deviceid = ?", {SqlValue{id}}));
    fx.ops.push_back(exec("DELETE FROM device WHERE id = ?", {SqlValue{id}}));
    ojson m = baseMessage(core::newUuidV4(), now);
    m["added_devices"] = nullptr;
    m["removed_devices"] = ojson::array({ojson::parse(dumpJson(removed_docs[i]))});
    fx.publishes.push_back({member_topic, dumpJson(m)});
  }
  return fx;
}

}  // namespace edgecore::devicetwin
