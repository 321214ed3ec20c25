#pragma once

// `keadm backup edge`, `keadm upgrade edge`, `keadm rollback edge` (also in the order
// `keadm edge upgrade|backup|rollback`) and `keadm config-update`: what edgecore's taskmanager
// runs for NodeUpgradeJob and ConfigUpdateJob (docs/node-tasks.md sections 2 and 4,
// docs/keadm.md). Unlike KubeEdge v1.23.1, upgrade checks the new binary's version before
// touching anything, swaps it atomically, waits for the new edgecore to connect and rolls back
// by itself when it does not; config-update validates the result with edgecore's own loader.

#include <CLI/CLI.hpp>

namespace edgecore::keadm {

// Each registers its subcommand on `app`; `rc` receives 0 on success, 1 on failure.
void addNodeTaskCommands(CLI::App& app, int& rc);
void addConfigUpdateCommand(CLI::App& app, int& rc);

}  // namespace edgecore::keadm
