#pragma once

// The files `keadm backup|upgrade|rollback edge` and `keadm config-update` work on
// (docs/node-tasks.md section 4, docs/keadm.md): where they are, the running edgecore's version,
// backups of binary + config + database, the upgrade report file and the command lock.
// Test-only environment overrides (documented in docs/keadm.md): EDGECORE_KUBEEDGE_DIR replaces
// /etc/kubeedge (backups, lock, staged upgrades), EDGECORE_UPGRADE_REPORT the report file,
// EDGECORE_INSTALLED_BINARY the edgecore binary that is backed up and replaced.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/status.h"

namespace edgecore::keadm {

// /etc/kubeedge (or EDGECORE_KUBEEDGE_DIR).
std::string kubeedgeDir();
// <kubeedgeDir>/backup.
std::string backupRoot();
// /etc/kubeedge/upgrade_report.json (or EDGECORE_UPGRADE_REPORT).
std::string reportPath();
// The edgecore binary systemd runs: EDGECORE_INSTALLED_BINARY, else edgecoreBinary().
std::string installedBinary();

// KubeEdge's version shape, the only --toVersion accepted: v1.2.3 or v1.2.3-rc.1.
bool isReleaseVersion(const std::string& v);

// Runs `binary --version` (10 s at most) and returns its version as "v<x.y.z>" from the
// "edgecore-cpp <x.y.z> ..." line. Unavailable/InvalidArgument naming the binary otherwise.
core::Result<std::string> binaryVersion(const std::string& binary);

// The upgrade report (docs/node-tasks.md 4.5), written atomically with mode 0600.
struct Report {
  std::string event;  // Backup, Upgrade, Rollback, ConfigUpdate
  bool success = false;
  std::string from_version, to_version, error_message;
};
core::Status writeReport(const Report& report);

// Holds <kubeedgeDir>/keadm.lock locked (flock) while alive: one of these commands at a
// time. FailedPrecondition "the mutually exclusive command is being executed" when taken.
class CommandLock {
 public:
  static core::Result<std::unique_ptr<CommandLock>> acquire();
  ~CommandLock();
  CommandLock(const CommandLock&) = delete;
  CommandLock& operator=(const CommandLock&) = delete;

 private:
  explicit CommandLock(int fd) : fd_(fd) {}
  int fd_;
};

// Keeps keadm alive through the edgecore restart it causes: taskmanager may read keadm's output
// through a pipe that closes when edgecore stops (SIGPIPE), or the session may hang up (SIGHUP);
// dying then would skip the wait and the rollback. Called by each command before it changes
// anything.
void surviveEdgecoreRestart();

// What a backup holds and where it goes back to.
struct NodeFiles {
  std::string binary;    // installedBinary()
  std::string config;    // --config
  std::string database;  // the config's database.dataSource
};
core::Result<NodeFiles> nodeFiles(const std::string& config_path);

// Copies binary, config and a consistent copy of the database (VACUUM INTO, safe while edgecore
// writes it) into <backupRoot>/<version>/ (0750), replacing an older backup of that version only
// once the new one is complete. A missing database is skipped with a note on stdout.
core::Status backupNode(const NodeFiles& files, const std::string& version);

// The backup directory for `version`, or the newest one (by mtime) when `version` is empty.
// NotFound when there is none; InvalidArgument for a version that is not a plain name.
core::Result<std::string> findBackup(const std::string& version);

// Stops edgecore.service, puts binary, config and database (when the backup has one) back
// from `backup_dir`, each atomically, calls `before_start` with the outcome (the report must be
// on disk before edgecore starts: it reads the file when it connects) and starts the service.
core::Status restoreNode(const NodeFiles& files, const std::string& backup_dir,
                         const std::function<void(const core::Status&)>& before_start);

// Copies `src` to `dst` via a temporary file beside it: write, fsync, chmod `mode`, rename, fsync
// of the directory. Streams (the binary is large).
core::Status installFile(const std::string& src, const std::string& dst, unsigned mode);

// After a restart: is-active, then edgehub connected (waitUntilConnected) within `timeout`.
core::Status waitHealthy(const core::EdgeCoreConfig& config, std::chrono::seconds timeout);

}  // namespace edgecore::keadm
