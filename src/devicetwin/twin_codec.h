#pragma once
// The encodings of devicetwin's state (pure functions): twin keys and values checked as
// dtcommon does, the JSON shapes of dttype (MsgTwin, twin/attr/version/metadata JSON, the MQTT
// results), topic parsing, and the device_twin row a twin is stored as. Mirrors
// edge/pkg/devicetwin/{dtcommon,dttype}/*.go @ v1.20.0. Used by twin_state.cc.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "edgecore/metamanager/device_twin_store.h"
#include "twin_state.h"

namespace edgecore::devicetwin {

// attr_type of a deleted twin (dtcommon.TypeDeleted).
inline constexpr std::string_view kDeleted = "deleted";
// The MQTT topic trees devicetwin answers on.
inline constexpr std::string_view kDevicePrefix = "$hw/events/device/";
inline constexpr std::string_view kNodePrefix = "$hw/events/node/";

// dtcommon.ValidateTwinKey / ValidateTwinValue (charset; the length limits are ours).
bool validKey(std::string_view k);
bool validValue(std::string_view v);
// dtcommon.ValidateValue: nullopt if `v` is a valid `type`, else the error text.
std::optional<std::string> validateTyped(std::string_view type, const std::string& v);

std::string versionJson(const TwinVersion& v);
std::string metaJson(int64_t ts);
std::optional<TwinVersion> parseVersion(const nlohmann::json& j);
int64_t parseTs(const nlohmann::json& meta);
nlohmann::ordered_json valueToJson(const TwinValue& v);
nlohmann::ordered_json attrToJson(const Attr& a);

// An incoming MsgTwin, checked for JSON types (Go's json.Unmarshal into dttype.MsgTwin).
struct MsgTwin {
  bool null = true;
  std::optional<TwinValue> expected, actual;
  std::optional<bool> optional;
  std::optional<std::string> type;  // metadata.type; metadata present iff set
  bool has_metadata = false;
  std::optional<TwinVersion> expected_version, actual_version;
};
std::optional<MsgTwin> parseMsgTwin(const nlohmann::json& j);
std::optional<std::string> eventIdOf(const nlohmann::json& doc);

// The device_twin row of twin `key` of device `id`.
metamanager::DeviceTwinRow twinRow(const std::string& id, const std::string& key, const Twin& t);

std::string rfc3339(int64_t now_ms);
// {"event_id": ..., "timestamp": ...}, the start of every MQTT result.
nlohmann::ordered_json baseMessage(std::string_view event_id, int64_t now);
// dtclient.Device fields from a cloud Device entry.
Device deviceFromJson(const nlohmann::json& j);

}  // namespace edgecore::devicetwin
