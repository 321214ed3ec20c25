#pragma once

// `keadm upgrade edge --image`: the new edgecore read out of an installation image through CRI,
// the way KubeEdge v1.23.1 does it (pkg/containers/container_runtime.go CopyResources,
// docs/node-tasks.md 4.2 step 4): pull, a host-network sandbox, a container of the image that
// sleeps, ExecSync of a copy into a host directory mounted in it, then both removed. The image
// therefore needs /bin/sh and cp.

#include <string>

#include "edgecore/core/config.h"
#include "edgecore/core/status.h"

namespace edgecore::keadm {

// Copies /usr/local/bin/edgecore (else /usr/bin/edgecore) of `image` to `dest_dir`/edgecore,
// using the CRI endpoint, cgroup driver and request timeout of `config`'s
// edged.tailoredKubeletConfig. Returns that path. The sandbox and container are removed on every
// path.
core::Result<std::string> edgecoreFromImage(const core::EdgeCoreConfig& config,
                                            const std::string& image, const std::string& dest_dir);

}  // namespace edgecore::keadm
