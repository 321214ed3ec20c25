#pragma once

// What a pod asks of device plugins: per container (init containers first), the number of
// devices of each device-plugin resource in its requests/limits (limits win). DeviceManager's
// admission calls it under its lock with a predicate saying which names are device resources.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace edgecore::edged::deviceplugin {

struct ContainerDeviceRequest {
  std::string name;
  bool init = false;
  std::map<std::string, int64_t> need;  // resource -> count, never empty
};

// Containers that need at least one device, in spec order (initContainers, then containers).
// Quantities that are not positive integers are ignored, as are names `is_device_resource`
// refuses.
std::vector<ContainerDeviceRequest> deviceRequests(
    const nlohmann::json& spec, const std::function<bool(const std::string&)>& is_device_resource);

}  // namespace edgecore::edged::deviceplugin
