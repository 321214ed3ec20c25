#pragma once

// The systemd side of join and reset: the edgecore unit, systemctl calls, waiting for a joined
// edgecore to connect. Two environment variables make it testable without systemd as PID 1
// (test-only, documented in docs/keadm.md): EDGECORE_SYSTEMCTL names the systemctl program,
// EDGECORE_SYSTEMD_ROOT is prepended to the unit directories and to /run/systemd/system.

#include <chrono>
#include <string>
#include <vector>

#include "edgecore/core/config.h"
#include "edgecore/core/status.h"

namespace edgecore::keadm {

inline constexpr const char* kUnitMarker = "# Written by keadm join (edgecore-cpp).";

// "systemd" when /run/systemd/system exists (systemd is PID 1), else "none".
std::string detectInitSystem();

// Where join writes its unit (/etc/systemd/system/edgecore.service) and where the Debian package
// puts its own (/lib/systemd/system/edgecore.service), both under EDGECORE_SYSTEMD_ROOT.
std::string writtenUnitPath();
std::string packagedUnitPath();

// The edgecore binary next to the running keadm, else the first on PATH, else
// /usr/bin/edgecore.
std::string edgecoreBinary();

// The unit keadm v1.20 writes (extsystem/simple.service), in packaging/systemd/edgecore.service's
// shape, running `edgecore_bin --config config_path`.
std::string unitText(const std::string& edgecore_bin, const std::string& config_path,
                     bool with_mqtt);

// Runs `systemctl args...`; Unavailable with its output when it fails.
core::Status systemctl(const std::vector<std::string>& args);
// `systemctl is-active|is-enabled edgecore` answered yes.
bool systemctlSays(const std::string& query);

// --pre-run/--post-run: `/bin/bash script` with our stdout and stderr, as keadm v1.20's
// util.RunScript. Unavailable naming the script when it cannot run or exits non-zero.
core::Status runScript(const std::string& script);

// Polls until the node certificate exists and edgecore's /metrics (edged server, else
// MetaServer) reports edgecore_edgehub_connected 1, printing a progress line on stdout.
// DeadlineExceeded saying what is still missing.
core::Status waitUntilConnected(const core::EdgeCoreConfig& config, std::chrono::seconds timeout);

}  // namespace edgecore::keadm
