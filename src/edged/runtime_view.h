#pragma once

// CRI runtime.v1 replies (ListPodSandbox, ListContainers, PodSandboxStatus, ContainerStatus)
// turned into the plain views the pod logic decides on (pod_model.h). Pure functions, no gRPC,
// any thread: PodRuntimeManager calls them after each CRI call, the cri_reply fuzz target calls
// them on arbitrary messages.

#include <string>

#include "edgecore/cri/cri_client.h"
#include "pod_model.h"

namespace edgecore::edged {

// The value of `key` in a CRI label/annotation map, "" when absent.
std::string criLabel(const google::protobuf::Map<std::string, std::string>& m, const char* key);

ContainerRunState runStateFromCri(runtimeapi::ContainerState s);

// A ListPodSandbox item. host_network and ip are left unset: they come from PodSandboxStatus.
SandboxView sandboxViewFromCri(const runtimeapi::PodSandbox& s);

// The facts of a sandbox that never change, from its PodSandboxStatus.
struct SandboxNetwork {
  bool host_network = false;
  std::string ip;  // "" when the runtime gave none
};
SandboxNetwork sandboxNetworkFromCri(const runtimeapi::PodSandboxStatus& st);

// A ListContainers item; name from io.kubernetes.container.name, else the CRI metadata name.
// Not `detailed`: times and exit code come from ContainerStatus (applyContainerStatus).
ContainerView containerViewFromCri(const runtimeapi::Container& c);
// Copies state, times, exit code, reason, message and image_ref (when set) of a ContainerStatus
// into `v` and marks it detailed.
void applyContainerStatus(const runtimeapi::ContainerStatus& st, ContainerView& v);

// Both lists newest first (created_at descending), as PodRuntime wants them.
void sortNewestFirst(PodRuntime& pod);

}  // namespace edgecore::edged
