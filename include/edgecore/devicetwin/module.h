#pragma once
// devicetwin: device membership, twins and states (spec/local-apis.md section 7). Bus name
// "twin", group "twin", as in KubeEdge.
//
// What it does:
//  - keeps devices, attributes and twins in memory, mirrored in the `device`, `device_attr` and
//    `device_twin` tables of the shared SQLite file (exact KubeEdge schema);
//  - membership from the cloud (resource "membership", group twin): rows added/removed,
//    `$hw/events/node/<node>/membership/updated` published; on every cloud connect it asks for
//    `membership/detail` like Go edgecore;
//  - twin update / get and state update from MQTT (through eventbus) with KubeEdge's version
//    rules; results on `.../twin/update/result`, `.../twin/update/document`,
//    `.../twin/update/delta`, `.../twin/get/result`, `.../state/update/result`, published only
//    after the rows are durable;
//  - reports to the cloud through edgehub (`device/<id>/twin/edge_updated`,
//    `device/<id>/state/update`); edgehub keeps them in its outbox while offline;
//  - DMI v1beta1: serves DeviceManagerService on dmiSockPath (mode 0600) and calls each
//    registered mapper's DeviceMapperService when Device / DeviceModel CRDs change (from
//    metamanager, and MetaServer's device PUT); registrations are kept in `meta` (type
//    devicemapper) and survive restarts;
//  - beyond the original: a device that shows MQTT activity turns "online", and "offline" after
//    `offline_after` without any; the state is written into the Device object MetaServer serves.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "edgecore/core/module.h"
#include "edgecore/core/status.h"
#include "edgecore/devicetwin/metrics.h"

namespace edgecore::metamanager {
class MetaStore;
}

namespace edgecore::devicetwin {

struct DeviceTwinOptions {
  // A device with no MQTT/mapper activity for this long is marked offline (if we marked it
  // online). Zero disables the liveness tracking.
  std::chrono::milliseconds offline_after{60000};
  // Events queued while the tables are still loading at startup; beyond it they are dropped.
  size_t max_pending_events = 4096;
  // DMI socket; empty = modules.deviceTwin.dmiSockPath. "-" disables DMI (tests without gRPC).
  std::string dmi_sock_path;
  // Where device and mapper health goes for /metrics (may be null).
  std::shared_ptr<TwinMetrics> metrics;
};

struct DeviceTwinStats {
  uint64_t devices = 0;
  uint64_t twin_updates = 0;    // twin/update events handled (accepted or answered with an error)
  uint64_t rejected = 0;        // answered with an error code or dropped as malformed
  uint64_t write_failures = 0;  // batches the store refused or failed
  uint64_t cloud_reports = 0;   // messages handed to edgehub
  uint64_t publishes = 0;       // messages handed to eventbus
};

class DeviceTwinModule : public core::Module {
 public:
  virtual DeviceTwinStats stats() const = 0;
};

// `store` must outlive the module and have the device tables (create_device_tables).
core::Result<core::ModulePtr> create(core::ModuleContext ctx, metamanager::MetaStore& store,
                                     DeviceTwinOptions options = {});
core::Result<std::unique_ptr<DeviceTwinModule>> createDeviceTwin(core::ModuleContext ctx,
                                                                 metamanager::MetaStore& store,
                                                                 DeviceTwinOptions options = {});

}  // namespace edgecore::devicetwin
