#pragma once

// The kubelet's PodResources API v1 (List, GetAllocatableResources, Get) on
// <rootDirectory>/pod-resources/kubelet.sock, for monitoring agents that map devices to pods
// (e.g. NVIDIA's dcgm-exporter). Our own subset proto: proto/podresources/v1/api.proto. Devices
// come from the DeviceManager; CPU ids, memory, dynamic resources and topology are never set.
// The kubelet's pkg/kubelet/apis/podresources server_v1.go is the model (facts only).

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deviceplugin/device_manager.h"
#include "edgecore/core/status.h"

namespace edgecore::edged::deviceplugin {

inline constexpr const char* kPodResourcesSocket = "kubelet.sock";

// A pod as List reports it: name, namespace, uid (to find its devices) and its containers.
struct PodRef {
  std::string ns;
  std::string name;
  std::string uid;
  std::vector<std::string> containers;  // app containers, in spec order
};

class PodResourcesServer {
 public:
  struct Options {
    std::string dir;  // <rootDirectory>/pod-resources; created if missing
    // The pods edged runs (any thread; called per request).
    std::function<std::vector<PodRef>()> pods;
    size_t max_pods = 4096;  // List answers at most this many pods
  };

  PodResourcesServer(Options options, const DeviceManager& devices,
                     std::shared_ptr<spdlog::logger> log);
  ~PodResourcesServer();
  PodResourcesServer(const PodResourcesServer&) = delete;
  PodResourcesServer& operator=(const PodResourcesServer&) = delete;

  // Serves the socket (a stale one is replaced). Internal when it cannot.
  core::Status start();
  void stop();  // idempotent
  std::string socketPath() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgecore::edged::deviceplugin
