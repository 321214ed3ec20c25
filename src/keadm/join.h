#pragma once

// `keadm join`, `keadm reset [edge]` and `keadm version` for an installed edgecore-cpp
// (docs/keadm.md). Flags follow keadm v1.20 (keadm/cmd/keadm/app/cmd/edge/join_others.go,
// reset_others.go); the flags that download or install KubeEdge are accepted and ignored.

#include <CLI/CLI.hpp>

namespace edgecore::keadm {

// Each registers its subcommand on `app`; the flag storage lives in the subcommand's callback.
// `rc` receives the exit code: 0 on success, 1 on any failure (one line per problem on stderr).
void addJoinCommand(CLI::App& app, int& rc);
void addResetCommand(CLI::App& app, int& rc);
void addVersionCommand(CLI::App& app, int& rc);

}  // namespace edgecore::keadm
