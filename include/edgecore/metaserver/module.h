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
// `collectors` add other modules' series to /metrics (e.g. devicetwin's mapper health).
core::Result<core::ModulePtr> createModule(core::ModuleContext ctx, metamanager::MetaStore& store,
                                           CloudForwarder& forwarder,
                                           std::vector<MetricsRegistry::Collector> collectors = {});

// "127.0.0.1:10550" -> {"127.0.0.1", 10550}; "[::1]:10550" -> {"::1", 10550}.
core::Result<std::pair<std::string, uint16_t>> splitHostPort(std::string_view server);

}  // namespace edgecore::metaserver
