#pragma once

// What edged's HTTP server (server/edged_server.h) serves, wired to edged's state: /pods from the
// pod snapshot, /containerLogs file locations, the CRI streaming URL for /exec and /attach
// (asked on the CRI pool), /metrics from the agent's registry. EdgedModule::start() passes the
// result to makeEdgedServer.

#include <boost/asio/thread_pool.hpp>
#include <memory>

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

}  // namespace edgecore::edged
