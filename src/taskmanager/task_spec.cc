#include "task_spec.h"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>

#include "edgecore/core/message.h"

namespace edgecore::taskmanager {
namespace {

using nlohmann::json;

// Bounds on what one job may ask for (a real job names a handful).
constexpr size_t kMaxListEntries = 1000;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// Go's decoder: a missing or null key keeps the zero value, a wrong type is an error.
core::Status readString(const json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string())
    return core::invalidArgument(std::string("field ") + key + " is not a string");
  *out = it->get<std::string>();
  return {};
}

core::Status readStrings(const json& obj, const char* key, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_array()) return core::invalidArgument(std::string("field ") + key + " is not a list");
  for (const json& v : *it) {
    if (!v.is_string())
      return core::invalidArgument(std::string("field ") + key + " holds a non-string");
    out->push_back(v.get<std::string>());
  }
  return {};
}

constexpr ActionStep kUpgradeFlow[] = {
    {"Check", "WaitingConfirmation", ""},
    {"WaitingConfirmation", "BackUp", ""},
    {"BackUp", "Upgrade", ""},
    {"Upgrade", "", "RollBack"},
    {"RollBack", "", ""},
};
constexpr ActionStep kPrePullFlow[] = {{"Check", "Pull", ""}, {"Pull", "", ""}};
constexpr ActionStep kConfigUpdateFlow[] = {{"Check", "BackUp", ""},
                                            {"BackUp", "Update", ""},
                                            {"Update", "", "RollBack"},
                                            {"RollBack", "", ""}};

}  // namespace

core::Result<json> parseObject(std::string_view text, std::string_view what) {
  json doc = core::parseJsonBounded(text);
  if (doc.is_discarded() || !doc.is_object()) {
    return core::invalidArgument("failed to parse " + std::string(what) + ": not a JSON object");
  }
  return doc;
}

std::string NodeJobResource::toString() const {
  return std::string(kNodeJobApiVersion) + "/" + type + "/" + job + "/node/" + node;
}

bool isNodeJobResource(std::string_view resource) {
  return resource.substr(0, kNodeJobApiVersion.size()) == kNodeJobApiVersion;
}

core::Result<NodeJobResource> parseNodeJobResource(std::string_view resource) {
  auto parts = split(resource, '/');
  if (parts.size() != 6 || parts[4] != "node") {
    return core::invalidArgument("node job resource \"" + std::string(resource.substr(0, 200)) +
                                 "\" is not " + std::string(kNodeJobApiVersion) +
                                 "/<type>/<job>/node/<node>");
  }
  for (std::string_view p : parts) {
    if (p.empty()) return core::invalidArgument("node job resource has an empty part");
  }
  if (std::string(parts[0]) + "/" + std::string(parts[1]) != kNodeJobApiVersion) {
    return core::invalidArgument("node job resource of another API version");
  }
  NodeJobResource r{std::string(parts[2]), std::string(parts[3]), std::string(parts[5])};
  if (r.type != kNodeUpgradeJob && r.type != kImagePrePullJob && r.type != kConfigUpdateJob) {
    return core::invalidArgument("unknown node job type \"" + r.type + "\"");
  }
  return r;
}

std::optional<ActionStep> findAction(std::string_view type, std::string_view action) {
  auto look = [&](const auto& flow) -> std::optional<ActionStep> {
    for (const ActionStep& s : flow) {
      if (s.name == action) return s;
    }
    return std::nullopt;
  };
  if (type == kNodeUpgradeJob) return look(kUpgradeFlow);
  if (type == kImagePrePullJob) return look(kPrePullFlow);
  if (type == kConfigUpdateJob) return look(kConfigUpdateFlow);
  return std::nullopt;
}

core::Result<NodeUpgradeSpec> parseNodeUpgradeSpec(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "NodeUpgradeJobSpec"));
  NodeUpgradeSpec s;
  EC_RETURN_IF_ERROR(readString(doc, "version", &s.version));
  EC_RETURN_IF_ERROR(readString(doc, "image", &s.image));
  EC_RETURN_IF_ERROR(readStrings(doc, "checkItems", &s.check_items));
  if (auto it = doc.find("requireConfirmation"); it != doc.end() && !it->is_null()) {
    if (!it->is_boolean()) return core::invalidArgument("field requireConfirmation is not a bool");
    s.require_confirmation = it->get<bool>();
  }
  return s;
}

core::Result<ImagePrePullSpec> parseImagePrePullSpec(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "ImagePrePullJobSpec"));
  ImagePrePullSpec s;
  auto it = doc.find("imagePrePullTemplate");
  if (it == doc.end() || it->is_null()) return s;
  if (!it->is_object()) return core::invalidArgument("field imagePrePullTemplate is not an object");
  const json& t = *it;
  EC_RETURN_IF_ERROR(readStrings(t, "images", &s.images));
  if (s.images.size() > kMaxListEntries) return core::invalidArgument("too many images");
  EC_RETURN_IF_ERROR(readStrings(t, "checkItems", &s.check_items));
  EC_RETURN_IF_ERROR(readString(t, "imageSecrets", &s.image_secrets));
  if (auto r = t.find("retryTimes"); r != t.end() && !r->is_null()) {
    if (!r->is_number_integer()) return core::invalidArgument("field retryTimes is not an integer");
    s.retry_times = static_cast<int>(std::clamp<int64_t>(r->get<int64_t>(), 0, 100));
  }
  return s;
}

core::Result<ConfigUpdateSpec> parseConfigUpdateSpec(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "ConfigUpdateJobSpec"));
  ConfigUpdateSpec s;
  auto it = doc.find("updateFields");
  if (it == doc.end() || it->is_null()) return s;
  if (!it->is_object()) return core::invalidArgument("field updateFields is not an object");
  if (it->size() > kMaxListEntries) return core::invalidArgument("too many updateFields");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return core::invalidArgument("updateFields." + k + " is not a string");
    s.update_fields[k] = v.get<std::string>();
  }
  return s;
}

core::Status validateVersion(std::string_view version) {
  static const std::regex re(R"(^v\d+\.\d+\.\d+(-[a-zA-Z0-9_.]+(?:-[a-zA-Z0-9_.]+)*)?$)");
  if (version.size() > 128 || !std::regex_match(version.begin(), version.end(), re)) {
    return core::invalidArgument("invalid version format: \"" +
                                 std::string(version.substr(0, 128)) + "\"");
  }
  return {};
}

core::Status validateImage(std::string_view image) {
  static const std::regex re(
      R"(^[A-Za-z0-9][A-Za-z0-9._:-]*/[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*(@sha256:[A-Fa-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$)");
  if (image.size() > 512 || !std::regex_match(image.begin(), image.end(), re)) {
    return core::invalidArgument("invalid image format: \"" + std::string(image.substr(0, 128)) +
                                 "\"");
  }
  return {};
}

std::vector<std::string> keadmBackupArgv(const std::string& keadm) {
  return {keadm, "backup", "edge"};
}

std::vector<std::string> keadmRollbackArgv(const std::string& keadm) {
  return {keadm, "rollback", "edge"};
}

core::Result<std::vector<std::string>> keadmUpgradeArgv(const std::string& keadm,
                                                        const NodeUpgradeSpec& spec) {
  EC_RETURN_IF_ERROR(validateVersion(spec.version));
  std::vector<std::string> argv = {keadm,     "upgrade",     "edge",
                                   "--force", "--toVersion", spec.version};
  if (!spec.image.empty()) {
    EC_RETURN_IF_ERROR(validateImage(spec.image));
    argv.push_back("--image");
    argv.push_back(spec.image);
  }
  return argv;
}

core::Result<std::vector<std::string>> keadmConfigUpdateArgv(const std::string& keadm,
                                                             const ConfigUpdateSpec& spec) {
  if (spec.update_fields.empty()) return core::invalidArgument("updateFields is empty");
  std::vector<std::string> pairs;
  for (const auto& [k, v] : spec.update_fields) {
    if (k.empty()) return core::invalidArgument("updateFields has an empty key");
    // A NUL cannot be passed in argv; everything else reaches keadm verbatim (no shell).
    if (k.find('\0') != std::string::npos || v.find('\0') != std::string::npos) {
      return core::invalidArgument("updateFields holds a NUL byte");
    }
    pairs.push_back(k + "=" + v);
  }
  std::sort(pairs.begin(), pairs.end());
  std::string joined;
  for (const std::string& p : pairs) {
    if (!joined.empty()) joined += ',';
    joined += p;
  }
  return std::vector<std::string>{keadm, "config-update", "--set", joined};
}

std::string encodeReport(const ActionReport& r) {
  nlohmann::ordered_json j;
  j["action"] = r.action;
  j["succ"] = r.succ;
  j["finishTime"] = r.finish_time;
  j["reason"] = r.reason;
  j["extend"] = r.extend;
  return core::encodeOrderedJsonValue(j);
}

core::Result<ActionReport> decodeReport(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "report"));
  ActionReport r;
  EC_RETURN_IF_ERROR(readString(doc, "action", &r.action));
  EC_RETURN_IF_ERROR(readString(doc, "finishTime", &r.finish_time));
  EC_RETURN_IF_ERROR(readString(doc, "reason", &r.reason));
  EC_RETURN_IF_ERROR(readString(doc, "extend", &r.extend));
  r.succ = doc.value("succ", false);
  return r;
}

core::Result<UpgradeReportFile> parseUpgradeReportFile(std::string_view text) {
  EC_ASSIGN_OR_RETURN(json doc, parseObject(text, "upgrade report"));
  UpgradeReportFile f;
  EC_RETURN_IF_ERROR(readString(doc, "event", &f.event));
  EC_RETURN_IF_ERROR(readString(doc, "fromVersion", &f.from_version));
  EC_RETURN_IF_ERROR(readString(doc, "toVersion", &f.to_version));
  EC_RETURN_IF_ERROR(readString(doc, "errorMessage", &f.error_message));
  if (auto it = doc.find("success"); it != doc.end() && it->is_boolean())
    f.success = it->get<bool>();
  return f;
}

std::string encodeImageResults(const std::vector<ImageResult>& results) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const ImageResult& r : results) {
    nlohmann::ordered_json e;
    e["image"] = r.image;
    e["status"] = r.ok ? "True" : "False";
    if (!r.reason.empty()) e["reason"] = r.reason;
    arr.push_back(std::move(e));
  }
  return core::encodeOrderedJsonValue(arr);
}

std::string rfc3339Now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace edgecore::taskmanager
