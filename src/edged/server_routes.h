#pragma once

// What edged's HTTP server (server/edged_server.h) serves, wired to edged's state: /pods from the
// pod snapshot, /containerLogs file locations, the CRI streaming URL for /exec and /attach
// (asked on the CRI pool), /metrics from the agent's registry. EdgedModule::start() passes the
// result to makeEdgedServer.

#include <boost/asio/thread_pool.hpp>
#include <memory>

#include "edgecore/core/config.h"
#include "edgecore/core/metrics.h"
#include "edgecore/cri/cri_client.h"
#include "pod_snapshot.h"
#include "server/edged_server.h"

namespace edgecore::edged {

// `snapshot`, `cri` and `pool` must outlive the server (the module stops it first); the
// callbacks hold `snapshot` weakly and answer Unavailable once it is gone.
EdgedServerCallbacks makeServerRoutes(const std::shared_ptr<PodSnapshot>& snapshot,
                                      cri::CriClient* cri,
                                      std::shared_ptr<boost::asio::thread_pool> pool,
                                      core::MetricsRegistrySharedPtr metrics);

// The server on modules.edged address:readOnlyPort (loopback when unset; TLS with client
// certificates when its TLS keys are set), started with `routes`. Null when it cannot start (the
// reason is logged): pods still run, only logs/exec through edged are unavailable.
std::unique_ptr<EdgedServer> startEdgedServer(boost::asio::io_context& ioc,
                                              const core::EdgedConfig& cfg,
                                              EdgedServerCallbacks routes, spdlog::logger& log);

}  // namespace edgecore::edged
