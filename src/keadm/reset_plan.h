#pragma once

// What `keadm reset` deletes, decided before anything is deleted: the files the configuration
// names (edgecore.yaml itself, the node certificate, key and CA, the database with its
// -wal/-shm/-journal, edgehub's outbox next to it, deviceTwin's DMI socket, MetaServer's generated
// certificates) and then their directories when they are left empty. Nothing outside /etc/kubeedge,
// /var/lib/kubeedge and those named paths; a named path that is a directory or sits directly in a
// system directory
// (/, /etc, /var/lib, /usr...) is refused, and then nothing is deleted.

#include <string>
#include <vector>

#include "edgecore/core/config.h"

namespace edgecore::keadm {

struct ResetPlan {
  std::vector<std::string> files;          // removed when they exist
  std::vector<std::string> dirs_if_empty;  // removed afterwards when empty, deepest first
  std::vector<std::string> refused;        // one line per unsafe path; non-empty = do nothing
};

ResetPlan planReset(const std::string& config_path, const core::EdgeCoreConfig& config);

// Why `path` must not be deleted by reset, empty when it may be.
std::string unsafeToDelete(const std::string& path);

}  // namespace edgecore::keadm
