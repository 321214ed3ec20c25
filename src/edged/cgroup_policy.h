#pragma once

// The v1.23 kubelet keys that depend on the host's cgroup version (failCgroupV1,
// singleProcessOOMKill) and the CrashLoopBackOff limits crashLoopBackOff sets.

#include <chrono>
#include <filesystem>

#include "edgecore/core/config.h"
#include "edgecore/core/status.h"
#include "pod_model.h"

namespace edgecore::edged {

enum class CgroupVersion { V1, V2 };

// V2 when the unified hierarchy is mounted at `root` (it then has cgroup.controllers); a v1 or
// hybrid host (v1 controllers, v2 only under unified/) is V1, as the kubelet counts it. Reads one
// directory entry; callable from any thread.
CgroupVersion detectCgroupVersion(const std::filesystem::path& root = "/sys/fs/cgroup");

// The kubelet's host-dependent checks of the config (pkg/kubelet/apis/config/validation/
// validation_linux.go, validateKubeletOSConfiguration, as vendored by KubeEdge v1.23.1):
// FailedPrecondition naming failCgroupV1 when it is true on cgroup v1, InvalidArgument naming
// singleProcessOOMKill when it is false on cgroup v1. Pure.
core::Status checkCgroupPolicy(const core::EdgedConfig& c, CgroupVersion v);

// Whether containers get memory.oom.group=1 (OOM-killed as a group) as the kubelet decides
// (pkg/kubelet/kubelet.go NewMainKubelet defaults singleProcessOOMKill to true on cgroup v1 and to
// false on v2; kuberuntime_container_linux.go then sets the unified key on v2 when it is false).
// Pure.
bool oomGroupKill(const core::EdgedConfig& c, CgroupVersion v);

// Container restart back-off as the kubelet sets it up (pkg/kubelet/kubelet.go, NewMainKubelet):
// the longest delay is crashLoopBackOff.maxContainerRestartPeriod when set, else 30 x `base`
// (300 s); the first delay is `base`, or that maximum when it is smaller. Pure.
RestartBackoffLimits restartBackoffLimits(std::chrono::milliseconds base,
                                          const core::EdgedConfig& c);

}  // namespace edgecore::edged
