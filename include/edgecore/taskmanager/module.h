#pragma once

// taskmanager: runs the v1alpha2 node tasks the cloud sends (NodeUpgradeJob, ImagePrePullJob,
// ConfigUpdateJob; docs/node-tasks.md) and reports each action upstream through edgehub. Task
// state lives in meta_v2 (UpgradeRecords), so a restart resumes or reports. keadm does the
// upgrade/backup/rollback/config-update work, started with an argument vector, never a shell.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::metamanager {
class UpgradeRecords;
}
namespace edgecore::cri {
class CriClient;
}

namespace edgecore::taskmanager {

inline constexpr std::string_view kModuleName = "taskmanager";
inline constexpr std::string_view kGroup = "taskmanager";
// MetaServer's confirm-upgrade asks the module with a bus request of this operation. The reply
// content is {"started":bool,"message":string}: started=false when no NodeUpgradeJob waits.
inline constexpr std::string_view kConfirmOperation = "confirm-upgrade";

struct TaskManagerOptions {
  metamanager::UpgradeRecords* records = nullptr;  // required; outlives the module
  // Reads a v1 meta value ("<ns>/secret/<name>") for image pull secrets; may block.
  std::function<core::Result<std::optional<std::string>>(const std::string& key)> read_meta;
  // Null: one is made from modules.edged.containerRuntimeEndpoint.
  std::shared_ptr<cri::CriClient> cri;
  size_t max_running_tasks = 8;  // more at once are refused (reported failed)
  // How long a v1alpha1 Init answer waits (the v1.17 cloud's cache lags its first message).
  std::chrono::milliseconds v1alpha1_init_delay{1000};
  size_t pull_concurrency = 2;  // images pulled at once by one ImagePrePullJob
  // edgecore's --config. keadm is given `--config <it>` unless it is keadm's own default, so
  // keadm backs up and changes the file this edgecore really runs with.
  std::string config_path;
};

core::Result<core::ModulePtr> create(core::ModuleContext ctx, TaskManagerOptions options);

}  // namespace edgecore::taskmanager
