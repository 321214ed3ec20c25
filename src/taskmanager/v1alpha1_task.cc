#include "v1alpha1_task.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "edgecore/core/message.h"
#include "host_actions.h"

namespace edgecore::taskmanager::v1alpha1 {
namespace {

using nlohmann::json;

constexpr size_t kMaxListEntries = 1000;  // a real job names a handful of images

bool sameKey(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Go's encoding/json: the exact field name wins, else a case-insensitive match.
const json* field(const json& obj, std::string_view name) {
  if (auto it = obj.find(std::string(name)); it != obj.end()) return &*it;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (sameKey(it.key(), name)) return &*it;
  }
  return nullptr;
}

// A missing or null key keeps the zero value; a wrong type is an error.
core::Status readString(const json& obj, std::string_view name, std::string* out) {
  const json* v = field(obj, name);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_string())
    return core::invalidArgument("field " + std::string(name) + " is not a string");
  *out = v->get<std::string>();
  return {};
}

core::Status readBool(const json& obj, std::string_view name, bool* out) {
  const json* v = field(obj, name);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_boolean())
    return core::invalidArgument("field " + std::string(name) + " is not a bool");
  *out = v->get<bool>();
  return {};
}

core::Status readStrings(const json& obj, std::string_view name, std::vector<std::string>* out) {
  const json* v = field(obj, name);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_array()) return core::invalidArgument("field " + std::string(name) + " is not a list");
  if (v->size() > kMaxListEntries) {
    return core::invalidArgument("field " + std::string(name) + " has too many entries");
  }
  for (const json& e : *v) {
    if (!e.is_string()) {
      return core::invalidArgument("field " + std::string(name) + " holds a non-string");
    }
    out->push_back(e.get<std::string>());
  }
  return {};
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t pos = s.find('/', start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

}  // namespace

core::Result<TaskResource> parseTaskResource(std::string_view resource) {
  auto parts = split(resource);
  if (parts.size() != 4 || parts[2] != "node" || parts[1].empty() || parts[3].empty() ||
      (parts[0] != kUpgrade && parts[0] != kPrePull)) {
    return core::invalidArgument("not a v1alpha1 node task resource: " +
                                 std::string(resource.substr(0, 200)));
  }
  return TaskResource{std::string(parts[0]), std::string(parts[1]), std::string(parts[3])};
}

std::string reportResource(std::string_view task, std::string_view node) {
  return "task/" + std::string(task) + "/node/" + std::string(node);
}

core::Result<TaskRequest> parseTaskRequest(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "NodeTaskRequest"));
  TaskRequest r;
  EC_RETURN_IF_ERROR(readString(doc, "TaskID", &r.task_id));
  EC_RETURN_IF_ERROR(readString(doc, "Type", &r.type));
  EC_RETURN_IF_ERROR(readString(doc, "State", &r.state));
  const json* item = field(doc, "Item");
  r.item = item == nullptr ? "null" : item->dump();
  return r;
}

core::Result<std::vector<std::string>> parseCheckItems(std::string_view item) {
  json doc = core::parseJsonBounded(item);
  std::vector<std::string> items;
  if (doc.is_null()) return items;
  if (!doc.is_object()) return core::invalidArgument("check request is not a JSON object");
  EC_RETURN_IF_ERROR(readStrings(doc, "CheckItem", &items));
  return items;
}

core::Result<ImagePrePullSpec> parsePrePullRequest(std::string_view item) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(item, "ImagePrePullJobRequest"));
  ImagePrePullSpec spec;
  EC_RETURN_IF_ERROR(readStrings(doc, "Images", &spec.images));
  EC_RETURN_IF_ERROR(readStrings(doc, "CheckItems", &spec.check_items));
  EC_RETURN_IF_ERROR(readString(doc, "Secret", &spec.image_secrets));
  if (const json* v = field(doc, "RetryTimes"); v != nullptr && !v->is_null()) {
    if (!v->is_number_integer()) return core::invalidArgument("field RetryTimes is not an integer");
    auto n = v->get<int64_t>();
    if (n < 0 || n > 100) return core::invalidArgument("field RetryTimes is out of range 0-100");
    spec.retry_times = static_cast<int>(n);
  }
  return spec;
}

core::Result<UpgradeRequest> parseUpgradeRequest(std::string_view item) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(item, "NodeUpgradeJobRequest"));
  UpgradeRequest r;
  EC_RETURN_IF_ERROR(readString(doc, "UpgradeID", &r.upgrade_id));
  EC_RETURN_IF_ERROR(readString(doc, "HistoryID", &r.history_id));
  EC_RETURN_IF_ERROR(readString(doc, "Version", &r.version));
  EC_RETURN_IF_ERROR(readString(doc, "Image", &r.image));
  EC_RETURN_IF_ERROR(readBool(doc, "RequireConfirmation", &r.require_confirmation));
  return r;
}

std::string encodeResponse(const TaskResponse& r) {
  // nlohmann's ordered_json keeps insertion order: the Go struct's field order.
  nlohmann::ordered_json j;
  j["NodeName"] = r.node_name;
  j["State"] = r.state;
  j["Event"] = r.event;
  j["Action"] = r.action;
  j["Reason"] = r.reason;
  j["Time"] = r.time;
  j["ExternalMessage"] = r.external_message;
  return j.dump();
}

core::Result<TaskResponse> decodeResponse(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "NodeTaskResponse"));
  TaskResponse r;
  EC_RETURN_IF_ERROR(readString(doc, "NodeName", &r.node_name));
  EC_RETURN_IF_ERROR(readString(doc, "State", &r.state));
  EC_RETURN_IF_ERROR(readString(doc, "Event", &r.event));
  EC_RETURN_IF_ERROR(readString(doc, "Action", &r.action));
  EC_RETURN_IF_ERROR(readString(doc, "Reason", &r.reason));
  EC_RETURN_IF_ERROR(readString(doc, "Time", &r.time));
  EC_RETURN_IF_ERROR(readString(doc, "ExternalMessage", &r.external_message));
  return r;
}

core::Status runPreCheck(const std::vector<std::string>& items) {
  std::map<std::string, std::string> result;  // sorted keys, as Go marshals a map
  bool failed = false;
  for (const std::string& item : items) {
    if (item != "cpu" && item != "mem" && item != "disk") {
      result[item] = "check item not support";
      continue;
    }
    core::Status st = runCheckItems({item});
    if (!st.ok()) failed = true;
    result[item] = st.ok() ? "ok" : st.message();
  }
  if (!failed) return {};
  return core::unavailable(json(result).dump());
}

std::string encodeImageStates(const std::vector<ImageResult>& results) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ImageResult& r : results) {
    nlohmann::ordered_json e;
    e["image"] = r.image;
    e["state"] = r.ok ? "Successful" : "Failed";
    if (!r.reason.empty()) e["reason"] = r.reason;
    list.push_back(std::move(e));
  }
  return list.dump();
}

std::string encodeUpgradeState(const UpgradeState& s) {
  json j = {{"task", s.task_id}, {"node", s.node}, {"phase", s.phase}, {"request", s.request}};
  return j.dump();
}

std::optional<UpgradeState> decodeUpgradeState(std::string_view text) {
  json j = core::parseJsonBounded(text);
  if (!j.is_object()) return std::nullopt;
  UpgradeState s;
  if (!readString(j, "task", &s.task_id).ok() || !readString(j, "node", &s.node).ok() ||
      !readString(j, "phase", &s.phase).ok() || !readString(j, "request", &s.request).ok()) {
    return std::nullopt;
  }
  if (s.task_id.empty() || s.node.empty() || s.phase.empty()) return std::nullopt;
  return s;
}

std::optional<std::string> eventOfState(std::string_view type, std::string_view state) {
  if (state.empty() || state == "Init") return "Init";
  if (state == "Checking") return "Check";
  if (type == kPrePull) {
    if (state == "Pulling") return "Pull";
    return std::nullopt;
  }
  if (state == "BackingUp") return "Backup";
  if (state == "Upgrading") return "Upgrade";
  if (state == "RollingBack") return "Rollback";
  return std::nullopt;
}

}  // namespace edgecore::taskmanager::v1alpha1
