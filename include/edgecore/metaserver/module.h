#pragma once

// MetaServer as a daemon module: serves the shared MetaStore on
// modules.metaManager.metaServer.server and exports the agent's own metrics.

#include <vector>

#include "edgecore/core/module.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metaserver/cloud_forwarder.h"
#include "edgecore/metaserver/metrics.h"

namespace edgecore::metaserver {

// `store` and `forwarder` must outlive the module. InvalidArgument if metaServer.server is not a
// host:port. The module is not a bus subscriber: reads are served from the store, the cloud is
// reached through `forwarder`.
// /metrics renders ctx.metrics, the daemon's registry, so it carries every module's series (its
// own request series included); without one (tests) MetaServer keeps a registry of its own.
// The keadm ctl operations (spec 4.7-4.10) use a CRI client on modules.edged's
// containerRuntimeEndpoint, edged's read-only port, the bus (device edits to metamanager) and
// `config_path` (handed to the upgrade program by confirm-upgrade).
core::Result<core::ModulePtr> createModule(core::ModuleContext ctx, metamanager::MetaStore& store,
                                           CloudForwarder& forwarder,
                                           const std::string& config_path = {});

}  // namespace edgecore::metaserver
