#pragma once

// The CloudForwarder that reaches CloudCore's dynamiccontroller through edgehub: each call becomes
// a beehive message (source "metaserver", group "dynamiccontroller", resource and operation
// "null", content = the Application JSON) sent as a bus request to module "websocket" with a
// 10 s deadline, as edge/pkg/metamanager/metaserver/agent/agent.go doApply @ v1.20.0 does.

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "edgecore/core/bus.h"
#include "edgecore/core/cloud_link.h"
#include "edgecore/metaserver/cloud_forwarder.h"

namespace edgecore::metaserver {

struct BusCloudForwarderOptions {
  std::string node_name;                     // Application.Nodename
  std::chrono::milliseconds timeout{10000};  // per call, like the original's SendSync
};

// `bus`, `link` and the io_context behind `executor` must outlive the forwarder and every call
// in flight. `done` runs on `executor`.
CloudForwarderPtr createBusCloudForwarder(core::Bus& bus, boost::asio::any_io_executor executor,
                                          const core::CloudLinkStatus& link,
                                          BusCloudForwarderOptions options,
                                          std::shared_ptr<spdlog::logger> log);

// The Application JSON of a request (Go field names, []byte fields base64, ID = hex SHA-256 of
// nodename+key+verb+option+reqBody+subresource). Exposed for tests.
std::string encodeApplication(const Application& app, const std::string& node_name);
// Reads the cloud's answer (its `content`, an Application JSON) into a result.
ApplicationResult decodeApplicationAnswer(const std::string& content_data);

}  // namespace edgecore::metaserver
