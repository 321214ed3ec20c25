#pragma once

// What `keadm ctl` reads from edgecore.yaml before it talks to MetaServer: where MetaServer
// listens (and over TLS when featureGates.requireAuthorization is on), the node's name, and
// edged's device-plugin checkpoint (for describe pod).

#include <string>

#include "edgecore/core/status.h"
#include "http_client.h"

namespace edgecore::keadm {

struct Env {
  Endpoint endpoint;
  std::string node_name;
  // edged's device-plugin checkpoint: which devices each pod's containers got (describe pod).
  std::string device_checkpoint;
};

// Like keadm's GetKubeConfig: defaults overlaid by the file, metaServer must be enabled,
// https when featureGates.requireAuthorization is true. Errors are worded for the user.
core::Result<Env> loadEnv(const std::string& config_path);

// The checkpoint text, empty when it is absent, unreadable (keadm not run as root) or too big.
std::string readDeviceCheckpoint(const std::string& path);

}  // namespace edgecore::keadm
