#pragma once

// `keadm join`'s checks of the node before anything is written. keadm v1.20 checks only that no
// edgecore runs and /etc/kubeedge is empty (edge/join.go, PreRunE); we check what makes a joined
// node fail later instead: the runtime, its cgroup driver, our listen ports, the cloud and the
// token. Every failure is one line that says how to fix it.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "join_config.h"

namespace edgecore::keadm {

struct PreflightResult {
  std::vector<std::string> failures;  // one line each; any failure stops the join
  std::vector<std::string> warnings;  // printed, the join goes on
};

// Runs every check that applies to `joined` (the CRI checks only with edged enabled, the port of
// each enabled server, the cloud's ports, the token). Blocks for at most a few seconds per check.
PreflightResult runPreflight(const JoinOptions& options, const JoinedConfig& joined);

// Parts a check needs on its own, for tests.

// "systemd" or "cgroupfs" from containerd's CRI `Status` verbose info (its CRI plugin config as
// JSON under "config": the default runtime's options.SystemdCgroup); nullopt when the info does not
// say (another runtime, another layout).
std::optional<std::string> cgroupDriverFromCriInfo(const std::string& config_json);

// Empty when nothing listens on host:port (we could bind it), else why not.
std::string portInUse(const std::string& host, int port);

// Empty when a TCP connection to host:port opens within `timeout`, else why not.
std::string tcpConnectError(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace edgecore::keadm
