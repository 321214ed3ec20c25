// Device requests of a pod (see device_requests.h): reads container resources from the pod spec,
// and the extended resource name check. Called by DeviceManager's admission and registration
// (device_manager.cc).

#include "deviceplugin/device_requests.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

#include "deviceplugin/device_manager.h"

namespace edgecore::edged::deviceplugin {

using json = nlohmann::json;

namespace {

// Integer quantity of an extended resource ("2", 2); nullopt for anything else.
std::optional<int64_t> intQuantity(const json& v) {
  if (v.is_number_integer()) {
    return v.get<int64_t>();
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && p == s.data() + s.size()) {
      return n;
    }
  }
  return std::nullopt;
}

bool isQualifiedNamePart(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(s.front()) || !alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool isDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

const json& member(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace

bool isExtendedResourceName(const std::string& name) {
  // Native names have no domain or the kubernetes.io domain; "requests." is the quota prefix.
  if (name.rfind("requests.", 0) == 0) {
    return false;
  }
  size_t slash = name.find('/');
  if (slash == std::string::npos || name.find('/', slash + 1) != std::string::npos) {
    return false;
  }
  std::string domain = name.substr(0, slash);
  std::string rest = name.substr(slash + 1);
  if (domain == "kubernetes.io" ||
      (domain.size() > 14 && domain.compare(domain.size() - 14, 14, ".kubernetes.io") == 0)) {
    return false;
  }
  // "requests.<name>" must be a valid quota name as well (the kubelet checks that too).
  return isDnsSubdomain(domain) && isQualifiedNamePart(rest) && name.size() <= 253 + 64;
}

std::vector<ContainerDeviceRequest> deviceRequests(
    const json& spec, const std::function<bool(const std::string&)>& is_device_resource) {
  std::vector<ContainerDeviceRequest> wants;
  if (!spec.is_object()) {
    return wants;
  }
  for (const char* key : {"initContainers", "containers"}) {
    if (!spec.contains(key) || !spec[key].is_array()) {
      continue;
    }
    for (const auto& c : spec[key]) {
      if (!c.is_object()) {
        continue;
      }
      ContainerDeviceRequest w;
      auto name = c.find("name");
      w.name = name != c.end() && name->is_string() ? name->get<std::string>() : std::string();
      w.init = std::string(key) == "initContainers";
      const json& res = member(c, "resources");
      for (const char* part : {"requests", "limits"}) {  // limits win, as they must match
        for (const auto& [rname, q] : member(res, part).items()) {
          if (!is_device_resource(rname)) {
            continue;
          }
          auto n = intQuantity(q);
          if (n && *n > 0) {
            w.need[rname] = *n;
          } else {
            w.need.erase(rname);
          }
        }
      }
      if (!w.need.empty()) {
        wants.push_back(std::move(w));
      }
    }
  }
  return wants;
}

}  // namespace edgecore::edged::deviceplugin
