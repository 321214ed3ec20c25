#include "cgroup_policy.h"

#include <algorithm>
#include <system_error>

namespace edgecore::edged {

CgroupVersion detectCgroupVersion(const std::filesystem::path& root) {
  std::error_code ec;
  return std::filesystem::exists(root / "cgroup.controllers", ec) ? CgroupVersion::V2
                                                                  : CgroupVersion::V1;
}

core::Status checkCgroupPolicy(const core::EdgedConfig& c, CgroupVersion v) {
  if (v != CgroupVersion::V1) {
    return {};
  }
  if (c.fail_cgroup_v1) {
    return core::failedPrecondition(
        "modules.edged.tailoredKubeletConfig.failCgroupV1 is true and this host uses cgroup v1 "
        "(no cgroup.controllers in /sys/fs/cgroup): edged refuses to start; boot the host with "
        "the unified cgroup v2 hierarchy or set failCgroupV1: false");
  }
  if (c.single_process_oom_kill == false) {
    return core::invalidArgument(
        "modules.edged.tailoredKubeletConfig.singleProcessOOMKill must not be false on a cgroup "
        "v1 host: cgroup v1 kills container processes one by one (leave it unset or true)");
  }
  return {};
}

bool oomGroupKill(const core::EdgedConfig& c, CgroupVersion v) {
  return v == CgroupVersion::V2 && !c.single_process_oom_kill.value_or(false);
}

RestartBackoffLimits restartBackoffLimits(std::chrono::milliseconds base,
                                          const core::EdgedConfig& c) {
  std::chrono::milliseconds max = base * 30;
  if (c.max_container_restart_period) {
    max = std::chrono::duration_cast<std::chrono::milliseconds>(*c.max_container_restart_period);
  }
  return {std::min(base, max), max};
}

}  // namespace edgecore::edged
