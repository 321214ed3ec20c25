#pragma once

// The device checkpoint (<plugin_dir>/edgecore_device_checkpoint.json): which devices each pod's
// containers were given, so allocations survive an edgecore restart (the kubelet's
// kubelet_internal_checkpoint). DeviceManager writes it after each admission or release and reads
// it once at start; these functions only encode, decode and write the file.

#include <map>
#include <string>

#include "deviceplugin/device_manager.h"
#include "edgecore/core/status.h"

namespace edgecore::edged::deviceplugin {

// Pod uid -> container name -> what it was given.
using PodDeviceMap = std::map<std::string, std::map<std::string, ContainerDevices>>;

// The checkpoint JSON text ({"version":1,"pods":{...}}).
std::string encodeCheckpoint(const PodDeviceMap& pods);

// The allocations in a checkpoint text; InvalidArgument when it is not one.
core::Result<PodDeviceMap> decodeCheckpoint(const std::string& text);

// Writes `data` to `path` (0600) through core::writeFileAtomic: an unpredictable O_EXCL|O_NOFOLLOW
// temporary file, fsync, rename(2). Unavailable on failure. Blocking.
core::Status writeFileDurably(const std::string& path, const std::string& data);

}  // namespace edgecore::edged::deviceplugin
