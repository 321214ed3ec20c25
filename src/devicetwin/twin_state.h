#pragma once
// The device twin state machine: devices, attributes and twins in memory, mirrored in the
// `device`, `device_attr` and `device_twin` tables (spec/local-apis.md 2.2, 2.5, 7.1-7.3).
// Pure: every call returns the rows to write and the messages to send once they are durable, so
// the module decides when (and tests and the benchmark drive it without sockets).
// Mirrors edge/pkg/devicetwin/dtmanager/{twin,membership,device}.go @ v1.20.0; divergences are
// listed in docs/devicetwin.md.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::devicetwin {

// Twin values may be this long (the original stops at 512 characters).
inline constexpr size_t kMaxTwinValueBytes = 64 * 1024;
inline constexpr size_t kMaxTwinKeyBytes = 128;
// Twins one device may hold through MQTT twin updates (the original has no bound; each update
// could add keys until memory or the disk runs out). Beyond it the update is answered 400.
inline constexpr size_t kMaxTwinsPerDevice = 1024;

struct TwinValue {
  std::optional<std::string> value;
  int64_t timestamp = 0;  // metadata.timestamp, 0 = absent
};
struct TwinVersion {
  int64_t cloud = 0;
  int64_t edge = 0;
};
struct Twin {
  std::optional<TwinValue> expected;
  std::optional<TwinValue> actual;
  bool optional = true;
  std::string type = "string";  // attr_type; "deleted" marks a deleted twin
  std::string metadata;         // the `metadata` column (type removed), may be empty
  std::optional<TwinVersion> expected_version;
  std::optional<TwinVersion> actual_version;
};
struct Attr {
  std::string value;
  bool optional = true;
  std::string type = "string";
  std::string metadata;
};
struct Device {
  std::string id;  // <namespace>/<name>
  std::string name;
  std::string description;
  std::string state;
  std::string last_online;
  std::map<std::string, Attr> attrs;
  std::map<std::string, Twin> twins;
};

struct Publish {
  std::string topic;
  std::string payload;
};
struct CloudReport {
  std::string resource;  // device/<id>/twin/edge_updated, device/<id>/state/update
  nlohmann::json content;
};
// What one event produced: write `ops`, then (after COMMIT) publish and report.
struct Effects {
  std::vector<metamanager::WriteOp> ops;
  std::vector<Publish> publishes;
  std::vector<CloudReport> cloud;
  std::vector<std::string> state_changed;  // device ids whose state/last_online changed
  bool empty() const { return ops.empty() && publishes.empty() && cloud.empty(); }
};

// What an MQTT topic eventbus hands over (as the message resource) asks devicetwin for:
// $hw/events/device/<ns>/<name>/{twin/update,twin/get,state/update} and
// $hw/events/node/<node>/membership/get. Device ids have two levels (<ns>/<name>, v1.20).
struct TwinTopic {
  enum class Kind {
    NotMqtt,        // not under $hw/events/device/ or $hw/events/node/: a cloud message
    TwinUpdate,     // .../twin/update
    TwinGet,        // .../twin/get
    StateUpdate,    // .../state/update
    MembershipGet,  // $hw/events/node/<any>/membership/get
    Ignored,        // another $hw/events/ topic devicetwin does not answer
    NoDeviceId,     // $hw/events/device/ without <ns>/<name>/: dropped
  };
  Kind kind = Kind::NotMqtt;
  std::string device_id;  // TwinUpdate, TwinGet, StateUpdate
};
TwinTopic parseTwinTopic(std::string_view topic);

// Cloud resources "membership" / "membership/detail" (also with a prefix ending in them).
bool isMembershipResource(std::string_view resource);
bool isMembershipDetail(std::string_view resource);
// The content of a cloud membership message as an object: the content itself, or JSON text in a
// string parsed with the nesting bound (core::parseJsonBounded). Null when it is neither.
nlohmann::json membershipContent(const nlohmann::json& content);

class TwinState {
 public:
  explicit TwinState(std::string node_name) : node_(std::move(node_name)) {}

  // Loads the three tables (startup; blocking SQLite reads through `store`).
  core::Status load(metamanager::DeviceTwinStore& store);

  // $hw/events/device/<id>/twin/update (REST deal type).
  Effects twinUpdate(const std::string& id, std::string_view payload, int64_t now_ms);
  // $hw/events/device/<id>/twin/get
  Effects twinGet(const std::string& id, std::string_view payload, int64_t now_ms);
  // $hw/events/device/<id>/state/update (also DMI ReportDeviceStates).
  Effects stateUpdate(const std::string& id, std::string_view payload, int64_t now_ms);
  // $hw/events/node/<node>/membership/get
  Effects membershipGet(std::string_view payload, int64_t now_ms);
  // Cloud: group twin, resource "membership" (update) or "membership/detail" (full list).
  Effects membershipUpdate(const nlohmann::json& content, bool full_list, int64_t now_ms);
  // One MQTT event (`topic` from parseTwinTopic): twinUpdate, twinGet, stateUpdate or
  // membershipGet; nothing for the other kinds.
  Effects onMqtt(const TwinTopic& topic, std::string_view payload, int64_t now_ms);
  // Beyond the original: marks a device online/offline (mapper liveness), as a state update.
  Effects setOnline(const std::string& id, bool online, int64_t now_ms);

  const Device* find(const std::string& id) const;
  size_t size() const { return devices_.size(); }
  const std::map<std::string, Device>& devices() const { return devices_; }

 private:
  enum class Deal { Rest, Sync };
  struct TwinResult {
    nlohmann::ordered_json result = nlohmann::ordered_json::object();  // REST result twins
    nlohmann::ordered_json sync = nlohmann::ordered_json::object();    // to the cloud
    nlohmann::ordered_json document = nlohmann::ordered_json::object();
    std::vector<std::string> changed;  // keys whose row must be written
    std::vector<std::string> added;    // keys whose row must be inserted
    std::optional<std::string> error;  // REST: 400 with this reason
  };

  void dealTwins(Device& dev, const nlohmann::json& msg_twins, Deal deal, int64_t now,
                 TwinResult& out) const;
  Effects finishTwinDeal(const Device& before, Device& dev, const std::string& event_id,
                         TwinResult& res, Deal deal, int64_t now);
  void addDeviceOps(const Device& dev, Effects& fx) const;
  Effects updateState(const std::string& id, std::string state, int64_t now_ms);

  // membershipUpdate's steps. What a membership message asks for: `added` points into the
  // message (null when it has no list); removed_docs[i] is what is announced for removed_ids[i].
  struct MembershipChange {
    const nlohmann::json* added = nullptr;
    std::vector<std::string> removed_ids;
    std::vector<nlohmann::json> removed_docs;
  };
  MembershipChange parseMembership(const nlohmann::json& content, bool full_list) const;
  // Full list: every known device missing from `listed` is removed.
  void collectUnlisted(const nlohmann::json& listed, MembershipChange& change) const;
  // One entry of the added list: inserts a new device, syncs its twins, announces it.
  void addMember(const nlohmann::json& entry, const std::string& member_topic, int64_t now_ms,
                 Effects& fx);
  void removeMembers(const MembershipChange& change, const std::string& member_topic,
                     int64_t now_ms, Effects& fx);

  std::string node_;
  std::map<std::string, Device> devices_;
};

// JSON helpers shared with the module and tests.
nlohmann::ordered_json twinToJson(const Twin& t, bool with_versions);
nlohmann::ordered_json errorResult(std::string_view event_id, int64_t now, int code,
                                   std::string_view reason);
std::string dumpJson(const nlohmann::ordered_json& j);
nlohmann::json toPlain(const nlohmann::ordered_json& j);

}  // namespace edgecore::devicetwin
