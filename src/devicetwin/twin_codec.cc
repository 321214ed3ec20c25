#include "twin_codec.h"

#include <ctime>

#include "edgecore/core/message.h"
#include "edgecore/core/time.h"

namespace edgecore::devicetwin {
using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

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
}  // namespace

bool validKey(std::string_view k) {
  return !k.empty() && k.size() <= kMaxTwinKeyBytes && validChars(k);
}
bool validValue(std::string_view v) {
  return v.empty() || (v.size() <= kMaxTwinValueBytes && validChars(v));
}
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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

// The device_twin row of twin `key` (dtclient.DeviceTwin; values, metadata and versions as
// DeviceTwinToMsgTwin reads them back).
metamanager::DeviceTwinRow twinRow(const std::string& id, const std::string& key, const Twin& t) {
  return {.device_id = id,
          .name = key,
          .expected = valueOf(t.expected),
          .actual = valueOf(t.actual),
          .expected_meta = metaOf(t.expected),
          .actual_meta = metaOf(t.actual),
          .expected_version = versionOf(t.expected_version),
          .actual_version = versionOf(t.actual_version),
          .optional = t.optional,
          .attr_type = t.type,
          .metadata = t.metadata};
}

std::string rfc3339(int64_t now_ms) {
  return core::formatRfc3339(core::WallTime(std::chrono::milliseconds(now_ms)));
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

}  // namespace edgecore::devicetwin
