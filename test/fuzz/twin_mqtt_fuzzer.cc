// libFuzzer target for devicetwin's MQTT and cloud payload handling (src/devicetwin/twin_state.cc):
// the topic eventbus hands over (parseTwinTopic) and its payload through TwinState::onMqtt (twin
// update / get, state update, membership get), or a cloud membership message (membershipContent +
// membershipUpdate, i.e. twin sync), on a state holding two devices with typed, versioned twins.
//
// Input layout: byte 0 = mode, then
//   mode % 4 == 0: first line = MQTT topic, the rest = payload
//   mode % 4 == 1: the payload, as a twin/update of device default/dev-a
//   mode % 4 == 2: the content (JSON text) of a cloud "membership" message
//   mode % 4 == 3: the content of a cloud "membership/detail" message
// Checks: no crash, no sanitizer report, no exception; every publish is valid JSON on a
// $hw/events/ topic; every error answer is the original's error JSON (event_id, timestamp, code,
// reason, in that order) with the code the original uses, and leaves the twins untouched; every
// answer that is not an error has the original's keys; cloud reports encode; values accepted
// over MQTT are at most kMaxTwinValueBytes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"
#include "twin_state.h"

namespace {

namespace dt = edgecore::devicetwin;
using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr int64_t kNow = 1714600000000;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "twin_mqtt invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Two devices: dev-a with int/float/bool/string/deleted twins (versions as the cloud sends them)
// and an attribute, dev-b bare.
const char kMembership[] = R"({
  "event_id": "setup", "timestamp": 1,
  "added_devices": [
    {"id": "default/dev-a", "name": "dev-a", "state": "online",
     "attributes": {"vendor": {"value": "acme", "optional": false, "metadata": {"type": "string"}}},
     "twin": {
       "temp": {"expected": {"value": "20"}, "actual": {"value": "19"},
                "expected_version": {"cloud": 1, "edge": 0},
                "actual_version": {"cloud": 1, "edge": 0}, "optional": false,
                "metadata": {"type": "int"}},
       "ratio": {"expected": {"value": "0.5"}, "expected_version": {"cloud": 2, "edge": 0},
                 "metadata": {"type": "float"}},
       "on": {"actual": {"value": "true"}, "actual_version": {"cloud": 1, "edge": 3},
              "metadata": {"type": "boolean"}},
       "mode": {"expected": {"value": "auto"}, "expected_version": {"cloud": 1, "edge": 0}}
     }},
    {"id": "default/dev-b", "name": "dev-b"}
  ],
  "removed_devices": []
})";

// All twins of all devices as text (to see that an error changed nothing).
std::string snapshot(const dt::TwinState& s) {
  ojson all = ojson::object();
  for (const auto& [id, d] : s.devices()) {
    ojson twins = ojson::object();
    for (const auto& [k, t] : d.twins) {
      twins[k] = dt::twinToJson(t, true);
      twins[k]["type"] = t.type;
    }
    all[id] = twins;
  }
  return dt::dumpJson(all);
}

bool endsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// An error answer: exactly event_id, timestamp, code, reason, in this order.
bool isErrorShape(const ojson& j) {
  if (!j.is_object() || j.size() != 4) {
    return false;
  }
  auto it = j.begin();
  return it.key() == "event_id" && it->is_string() && (++it).key() == "timestamp" &&
         it->is_number_integer() && (++it).key() == "code" && it->is_number_integer() &&
         (++it).key() == "reason" && it->is_string() && !it->get<std::string>().empty();
}

struct Checked {
  bool error = false;  // an error answer was published on the result topic of the request
};

Checked checkEffects(const dt::Effects& fx, std::string_view result_topic) {
  Checked c;
  for (const auto& p : fx.publishes) {
    if (p.topic.rfind("$hw/events/", 0) != 0) {
      fail("publish outside $hw/events/", p.topic);
    }
    ojson j = ojson::parse(p.payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      fail("a publish is not a JSON object", p.payload);
    }
    if (!j.contains("event_id") || !j["event_id"].is_string() || !j.contains("timestamp")) {
      fail("a publish has no event_id/timestamp", p.payload);
    }
    if (j.contains("code")) {
      if (!isErrorShape(j)) {
        fail("an error answer is not the original's error JSON", p.payload);
      }
      int code = j["code"].get<int>();
      if (code != 400 && code != 404) {
        fail("an error code the original does not use", p.payload);
      }
      if (p.topic == result_topic) {
        c.error = true;
      } else {
        fail("an error answer on another topic", p.topic);
      }
      continue;
    }
    if (endsWith(p.topic, "/twin/update/result") || endsWith(p.topic, "/twin/get/result") ||
        endsWith(p.topic, "/twin/update/document")) {
      if (!j.contains("twin") || !j["twin"].is_object()) {
        fail("a twin answer without a twin object", p.payload);
      }
    } else if (endsWith(p.topic, "/twin/update/delta")) {
      if (!j.contains("delta") || !j["delta"].is_object() || j["delta"].empty()) {
        fail("a delta without delta", p.payload);
      }
    } else if (endsWith(p.topic, "/membership/get/result")) {
      if (!j.contains("devices") || !j["devices"].is_array()) {
        fail("a membership answer without devices", p.payload);
      }
    } else if (endsWith(p.topic, "/membership/updated")) {
      if (!j.contains("added_devices") || !j.contains("removed_devices")) {
        fail("a membership update without added/removed", p.payload);
      }
    } else if (endsWith(p.topic, "/state/update/result")) {
      if (!j.contains("device") || !j["device"].is_object()) {
        fail("a state answer without device", p.payload);
      }
    } else {
      fail("a publish on an unexpected topic", p.topic);
    }
  }
  for (const auto& r : fx.cloud) {
    std::string text = edgecore::core::encodeJsonValue(r.content);
    if (!json::accept(text)) {
      fail("a cloud report does not encode to JSON", text);
    }
  }
  return c;
}

void checkMqttValues(const dt::TwinState& s, const std::string& id) {
  const dt::Device* d = s.find(id);
  if (d == nullptr) {
    return;
  }
  for (const auto& [k, t] : d->twins) {
    for (const auto* v : {&t.expected, &t.actual}) {
      if (*v && (*v)->value && (*v)->value->size() > dt::kMaxTwinValueBytes) {
        fail("a twin value over the limit was accepted", k);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The two devices, built once; every run starts from a copy (runs stay independent).
  static const dt::TwinState* base = [] {
    auto* s = new dt::TwinState("node-1");
    checkEffects(s->membershipUpdate(json::parse(kMembership), false, kNow), "");
    if (s->size() != 2) {
      fail("setup did not add both devices", snapshot(*s));
    }
    return s;
  }();
  static const std::string before = snapshot(*base);
  if (size == 0) {
    return 0;
  }
  const uint8_t mode = data[0] % 4;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  dt::TwinState state = *base;

  if (mode == 2 || mode == 3) {
    json content = dt::membershipContent(json(std::string(rest)));
    if (!content.is_null() && !content.is_object()) {
      fail("membershipContent gave neither null nor an object", "");
    }
    if (content.is_object()) {
      checkEffects(state.membershipUpdate(content, mode == 3, kNow + 1), "");
    }
  } else {
    std::string topic;
    std::string_view payload = rest;
    if (mode == 0) {
      size_t nl = rest.find('\n');
      topic = std::string(rest.substr(0, nl));
      payload = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    } else {
      topic = "$hw/events/device/default/dev-a/twin/update";
    }
    dt::TwinTopic t = dt::parseTwinTopic(topic);
    if ((t.kind == dt::TwinTopic::Kind::TwinUpdate || t.kind == dt::TwinTopic::Kind::TwinGet ||
         t.kind == dt::TwinTopic::Kind::StateUpdate) &&
        t.device_id.find('/') == std::string::npos) {
      fail("a device id without <ns>/<name>", topic);
    }
    std::string result_topic;
    if (t.kind == dt::TwinTopic::Kind::TwinUpdate) {
      result_topic = "$hw/events/device/" + t.device_id + "/twin/update/result";
    } else if (t.kind == dt::TwinTopic::Kind::TwinGet) {
      result_topic = "$hw/events/device/" + t.device_id + "/twin/get/result";
    } else if (t.kind == dt::TwinTopic::Kind::MembershipGet) {
      result_topic = "$hw/events/node/node-1/membership/get/result";
    }
    dt::Effects fx = state.onMqtt(t, payload, kNow + 1);
    Checked c = checkEffects(fx, result_topic);
    if (c.error) {
      if (!fx.ops.empty() || !fx.cloud.empty() || snapshot(state) != before) {
        fail("an error answer changed state or wrote rows", topic);
      }
    }
    if (t.kind == dt::TwinTopic::Kind::TwinUpdate) {
      checkMqttValues(state, t.device_id);
      if (!c.error && fx.publishes.empty()) {
        fail("a twin update got no answer", topic);
      }
    }
    if (t.kind == dt::TwinTopic::Kind::NotMqtt || t.kind == dt::TwinTopic::Kind::Ignored ||
        t.kind == dt::TwinTopic::Kind::NoDeviceId) {
      if (!fx.empty()) {
        fail("a topic devicetwin does not answer had effects", topic);
      }
    }
  }
  // Whatever happened, both devices still answer get requests with valid JSON.
  for (const char* id : {"default/dev-a", "default/dev-b"}) {
    checkEffects(state.twinGet(id, R"({"event_id":"g"})", kNow + 2),
                 std::string("$hw/events/device/") + id + "/twin/get/result");
  }
  checkEffects(state.membershipGet(R"({"event_id":"m"})", kNow + 2),
               "$hw/events/node/node-1/membership/get/result");
  return 0;
}
