#pragma once

// The node side of the kubelet device-plugin API v1beta1 (docs/deviceplugin.md), like the
// kubelet's cm/devicemanager (vendor/k8s.io/kubernetes/pkg/kubelet/cm/devicemanager @ v1.20.0:
// manager.go, plugin/v1beta1/server.go, endpoint.go):
//  - serves Registration on <plugin_dir>/kubelet.sock and recreates the socket when it is deleted;
//  - per registered plugin: GetDevicePluginOptions, then a ListAndWatch stream keeps the device
//    list; resources() gives capacity (all devices) and allocatable (healthy devices) per
//    resource name for the node status;
//  - admitPod() checks and allocates devices for a pod's containers (GetPreferredAllocation when
//    offered, Allocate), checkpoints the result to disk and keeps it for the pod's lifetime;
//    prepareContainer() applies it to the CRI container config (PreStartContainer if required).
//
// Threads: the gRPC server's threads, one reader thread per plugin, one socket watcher. Every
// public method is thread-safe; admitPod/prepareContainer block on plugin RPCs (call them from a
// worker pool, never from a strand).

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace runtime::v1 {
class ContainerConfig;
}

namespace edgecore::edged::deviceplugin {

inline constexpr const char* kKubeletSocket = "kubelet.sock";
inline constexpr const char* kCheckpointFile = "edgecore_device_checkpoint.json";
inline constexpr const char* kApiVersion = "v1beta1";
inline constexpr const char* kReasonUnexpectedAdmission = "UnexpectedAdmissionError";

struct ResourceCount {
  int64_t capacity = 0;     // devices the plugin listed (healthy or not)
  int64_t allocatable = 0;  // healthy devices (0 while the plugin is gone)
  friend bool operator==(const ResourceCount&, const ResourceCount&) = default;
};

// What the plugins answered for one container (all its resources merged).
struct ContainerDevices {
  struct MountSpec {
    std::string container_path;
    std::string host_path;
    bool read_only = false;
  };
  struct DeviceSpec {
    std::string container_path;
    std::string host_path;
    std::string permissions;
  };
  std::map<std::string, std::string> envs;
  std::vector<MountSpec> mounts;
  std::vector<DeviceSpec> devices;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cdi_devices;
  std::map<std::string, std::vector<std::string>> device_ids;  // by resource name
};

struct Admission {
  bool admitted = true;
  std::string reason;  // UnexpectedAdmissionError when refused
  std::string message;
};

// Extended resource name check of the kubelet (v1helper.IsExtendedResourceName): a qualified
// name with a domain prefix that is not kubernetes.io (or *.kubernetes.io) and not "requests.".
bool isExtendedResourceName(const std::string& name);

class DeviceManager {
 public:
  struct Options {
    std::string plugin_dir;  // <rootDirectory>/device-plugins
    std::chrono::milliseconds rpc_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds pre_start_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds watch_period{std::chrono::seconds(1)};  // socket checks
    // How long a resource whose plugin is gone (or that was only restored from the checkpoint)
    // stays in resources() with allocatable 0 before it is removed; the kubelet's
    // endpointStopGracePeriod (5 minutes). Checked every watch_period.
    std::chrono::milliseconds stop_grace_period{std::chrono::minutes(5)};
    // Called (from a manager thread) whenever resources() may have changed.
    std::function<void()> on_change;
  };

  DeviceManager(Options options, std::shared_ptr<spdlog::logger> log);
  ~DeviceManager();
  DeviceManager(const DeviceManager&) = delete;
  DeviceManager& operator=(const DeviceManager&) = delete;

  // Creates the directory, restores the checkpoint, serves kubelet.sock. Internal when the socket
  // cannot be served.
  core::Status start();
  // Idempotent: stops the server, the plugin streams and the watcher.
  void stop();

  std::string socketPath() const;
  std::string checkpointPath() const;

  // Per resource name: capacity and allocatable. A resource whose plugin has been gone for
  // longer than stop_grace_period is no longer listed.
  std::map<std::string, ResourceCount> resources() const;
  // Per reported resource: the ids of its healthy devices (PodResources GetAllocatableResources).
  std::map<std::string, std::vector<std::string>> allocatableDevices() const;

  // Admission + allocation of `pod` (a v1.Pod). Idempotent per pod uid (an admitted pod keeps
  // its devices). Blocking.
  Admission admitPod(const nlohmann::json& pod);
  // The allocation of one container (empty when it has none).
  ContainerDevices containerDevices(const std::string& uid, const std::string& container) const;
  // Applies the container's devices to `config` and calls PreStartContainer when a plugin asks
  // for it. Blocking. Unavailable when that call fails.
  core::Status prepareContainer(const std::string& uid, const std::string& container,
                                runtime::v1::ContainerConfig* config);
  // Frees the devices of a pod (ended or deleted) and rewrites the checkpoint.
  void releasePod(const std::string& uid);
  // Frees the devices of every pod not in `uids`.
  void retainOnly(const std::set<std::string>& uids);
  // Pod uids holding devices.
  std::set<std::string> allocatedPods() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

using DeviceManagerPtr = std::unique_ptr<DeviceManager>;

}  // namespace edgecore::edged::deviceplugin
