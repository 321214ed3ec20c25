#include "podplan/plan_util.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "edgecore/core/base64.h"

namespace edgecore::edged::plan {

Status planStatus(std::string_view reason, std::string_view message) {
  std::string m(reason);
  m += ": ";
  m += message;
  return invalidArgument(std::move(m));
}

const json* child(const json& o, std::string_view key) {
  if (!o.is_object()) {
    return nullptr;
  }
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

namespace {
Status typeError(std::string_view path, std::string_view key, std::string_view want) {
  std::string m(path);
  if (!m.empty()) {
    m += ".";
  }
  m += key;
  m += ": expected ";
  m += want;
  return planStatus(kReasonInvalidPodSpec, m);
}
}  // namespace

Result<std::string> getString(const json& o, std::string_view key, std::string_view path,
                              std::string fallback) {
  const json* v = child(o, key);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_string()) {
    return typeError(path, key, "a string");
  }
  return v->get<std::string>();
}

Result<bool> getBool(const json& o, std::string_view key, std::string_view path, bool fallback) {
  const json* v = child(o, key);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_boolean()) {
    return typeError(path, key, "a boolean");
  }
  return v->get<bool>();
}

Result<int64_t> getInt(const json& o, std::string_view key, std::string_view path,
                       int64_t fallback) {
  EC_ASSIGN_OR_RETURN(auto v, getOptInt(o, key, path));
  return v.value_or(fallback);
}

Result<std::optional<int64_t>> getOptInt(const json& o, std::string_view key,
                                         std::string_view path) {
  const json* v = child(o, key);
  if (v == nullptr) {
    return std::optional<int64_t>();
  }
  if (v->is_number_integer()) {
    return std::optional<int64_t>(v->get<int64_t>());
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() <= INT64_MAX) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get<uint64_t>()));
  }
  return typeError(path, key, "an integer");
}

Result<std::vector<std::string>> getStringList(const json& o, std::string_view key,
                                               std::string_view path) {
  std::vector<std::string> out;
  const json* v = child(o, key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    return typeError(path, key, "an array of strings");
  }
  for (const auto& e : *v) {
    if (!e.is_string()) {
      return typeError(path, key, "an array of strings");
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> getStringMap(const json& o, std::string_view key,
                                                        std::string_view path) {
  std::map<std::string, std::string> out;
  const json* v = child(o, key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_object()) {
    return typeError(path, key, "an object of strings");
  }
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) {
      return typeError(path, key, "an object of strings");
    }
    out.emplace(it.key(), it->get<std::string>());
  }
  return out;
}

Result<std::vector<const json*>> getArray(const json& o, std::string_view key,
                                          std::string_view path) {
  std::vector<const json*> out;
  const json* v = child(o, key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    return typeError(path, key, "an array");
  }
  for (const auto& e : *v) {
    out.push_back(&e);
  }
  return out;
}

namespace {
bool alnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

bool isDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63 || !alnumLower(s.front()) || !alnumLower(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return alnumLower(c) || c == '-'; });
}

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (part.empty() || !alnumLower(part.front()) || !alnumLower(part.back()) ||
        !std::all_of(part.begin(), part.end(), [](char c) { return alnumLower(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

bool isEnvVarName(std::string_view s) {
  // k8s.io/apimachinery validation.IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]*
  if (s.empty() || s == "." || s == ".." || s.substr(0, 2) == "..") {
    return false;
  }
  auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  };
  if (std::isdigit(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), ok);
}

bool isSafeRelativePath(std::string_view s) {
  if (s.empty() || s.size() > 4096 || s.front() == '/') {
    return false;
  }
  if (s.substr(0, 2) == "..") {
    return false;  // the API rejects a leading ".." even as part of a name
  }
  size_t start = 0;
  while (start <= s.size()) {
    size_t slash = s.find('/', start);
    std::string_view part =
        s.substr(start, slash == std::string_view::npos ? s.npos : slash - start);
    if (part == "..") {
      return false;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return s.find('\0') == std::string_view::npos;
}

Result<std::map<std::string, std::string>> configMapPayload(const json& cm) {
  EC_ASSIGN_OR_RETURN(auto data, getStringMap(cm, "data", "configmap"));
  EC_ASSIGN_OR_RETURN(auto bin, getStringMap(cm, "binaryData", "configmap"));
  for (auto& [k, v] : bin) {
    auto decoded = core::base64Decode(v);
    if (!decoded) {
      return invalidArgument("configmap binaryData key " + k + ": illegal base64 data");
    }
    data[k] = std::move(*decoded);
  }
  return data;
}

Result<std::map<std::string, std::string>> secretPayload(const json& secret) {
  EC_ASSIGN_OR_RETURN(auto data, getStringMap(secret, "data", "secret"));
  for (auto& [k, v] : data) {
    auto decoded = core::base64Decode(v);
    if (!decoded) {
      return invalidArgument("secret data key " + k + ": illegal base64 data");
    }
    v = std::move(*decoded);
  }
  // stringData is merged into data by the API server; honour it if a raw object carries it.
  EC_ASSIGN_OR_RETURN(auto sdata, getStringMap(secret, "stringData", "secret"));
  for (auto& [k, v] : sdata) {
    data[k] = v;
  }
  return data;
}

namespace {
// "metadata.labels['app']" -> ("metadata.labels", "app").
bool splitSubscript(std::string_view path, std::string_view* base, std::string* key) {
  size_t open = path.find("['");
  if (open == std::string_view::npos || path.size() < open + 4 ||
      path.substr(path.size() - 2) != "']") {
    return false;
  }
  *base = path.substr(0, open);
  *key = std::string(path.substr(open + 2, path.size() - open - 4));
  return true;
}
}  // namespace

Result<std::string> fieldRefValue(const json& pod, std::string_view field_path,
                                  const PlanInputs& in, bool* needs_pod_ip) {
  const json empty = json::object();
  const json* meta = child(pod, "metadata");
  const json* spec = child(pod, "spec");
  const json& m = meta ? *meta : empty;
  const json& s = spec ? *spec : empty;
  std::string_view base;
  std::string key;
  if (splitSubscript(field_path, &base, &key)) {
    if (base == "metadata.labels" || base == "metadata.annotations") {
      EC_ASSIGN_OR_RETURN(
          auto map,
          getStringMap(m, base == "metadata.labels" ? "labels" : "annotations", "metadata"));
      auto it = map.find(key);
      return it == map.end() ? std::string() : it->second;
    }
    return planStatus(kReasonCreateContainerConfigError,
                      "unsupported fieldPath: " + std::string(field_path));
  }
  if (field_path == "metadata.name") return getString(m, "name", "metadata");
  if (field_path == "metadata.namespace") return getString(m, "namespace", "metadata");
  if (field_path == "metadata.uid") return getString(m, "uid", "metadata");
  if (field_path == "metadata.labels" || field_path == "metadata.annotations") {
    EC_ASSIGN_OR_RETURN(
        auto map,
        getStringMap(m, field_path == "metadata.labels" ? "labels" : "annotations", "metadata"));
    return formatLabelsFile(map);
  }
  if (field_path == "spec.nodeName") {
    EC_ASSIGN_OR_RETURN(auto n, getString(s, "nodeName", "spec"));
    return n.empty() ? in.node_name : n;
  }
  if (field_path == "spec.serviceAccountName") return getString(s, "serviceAccountName", "spec");
  if (field_path == "status.hostIP" || field_path == "status.hostIPs") return in.host_ip;
  if (field_path == "status.podIP" || field_path == "status.podIPs") {
    if (in.pod_ips.empty()) {
      if (needs_pod_ip != nullptr) {
        *needs_pod_ip = true;
      }
      return std::string();
    }
    if (field_path == "status.podIP") {
      return in.pod_ips.front();
    }
    std::string joined;
    for (const auto& ip : in.pod_ips) {
      if (!joined.empty()) joined += ",";
      joined += ip;
    }
    return joined;
  }
  return planStatus(kReasonCreateContainerConfigError,
                    "unsupported fieldPath: " + std::string(field_path));
}

Result<std::string> resourceFieldValue(const json& container, std::string_view resource,
                                       std::string_view divisor, const PlanInputs& in) {
  const json empty = json::object();
  const json* res = child(container, "resources");
  size_t dot = resource.find('.');
  if (dot == std::string_view::npos) {
    return planStatus(kReasonCreateContainerConfigError,
                      "unsupported container resource: " + std::string(resource));
  }
  std::string_view kind = resource.substr(0, dot);  // limits / requests
  std::string_view name = resource.substr(dot + 1);
  if ((kind != "limits" && kind != "requests") ||
      (name != "cpu" && name != "memory" && name != "ephemeral-storage")) {
    return planStatus(kReasonCreateContainerConfigError,
                      "unsupported container resource: " + std::string(resource));
  }
  const json* list = res ? child(*res, kind) : nullptr;
  const json* q = list ? child(*list, name) : nullptr;
  std::string qs;
  if (q != nullptr && q->is_string()) {
    qs = q->get<std::string>();
  } else if (q != nullptr && q->is_number()) {
    qs = q->dump();
  }
  const bool cpu = name == "cpu";
  int64_t value_milli = 0;
  if (qs.empty()) {
    // Unset limits default to the node's allocatable (kubelet: containerResourceRuntimeValue
    // after MergeContainerResourceLimits); unset requests are zero.
    if (kind == "limits") {
      value_milli = cpu ? in.node_cpu_milli : in.node_memory_capacity_bytes * 1000;
    }
  } else {
    auto v = parseQuantityMilli(qs);
    if (!v.ok()) {
      return planStatus(kReasonCreateContainerConfigError, v.status().message());
    }
    value_milli = *v;
  }
  std::string div(divisor.empty() ? "1" : divisor);
  auto d = parseQuantityMilli(div);
  if (!d.ok() || *d <= 0) {
    return planStatus(kReasonCreateContainerConfigError, "invalid divisor " + div);
  }
  // Round up, as the kubelet's ExtractContainerResourceValue does for cpu and memory.
  int64_t out = (value_milli + *d - 1) / *d;
  return std::to_string(out);
}

std::string formatLabelsFile(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) {
      out += '\n';
    }
    out += k;
    out += "=\"";
    for (unsigned char c : v) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    out += '"';
  }
  return out;
}

std::string podDir(const PlanInputs& in, std::string_view uid) {
  return in.root_directory + "/pods/" + std::string(uid);
}

}  // namespace edgecore::edged::plan
