#pragma once
// eventbus: the bridge between the node's MQTT broker and the bus (spec/local-apis.md section 8).
// Bus name "eventbus", group "bus", as in KubeEdge.
//
// What it does:
//  - keeps one MQTT client connection to modules.eventBus.mqttServerExternal (mqttServerInternal
//    when mqttMode is 0; we embed no broker), reconnecting with jittered backoff (1 s -> 30 s) and
//    resubscribing after every connect; TLS when eventBusTLS.enable;
//  - subscribes, QoS 1, to `$hw/events/upload/#`, `$hw/events/device/+/+/state/update`,
//    `$hw/events/device/+/+/twin/+`, `$hw/events/node/+/membership/get`, `SYS/dis/upload_records`,
//    `+/user/#` and every topic of the `sub_topics` table;
//  - hands MQTT messages to the bus: `$hw/events/device/...` and `$hw/events/node/...` to module
//    "twin" (operation "response", resource = the topic, content = the payload as a string),
//    everything else to the cloud through "websocket" (operation "upload", resource = topic);
//  - publishes what modules send it (operation "publish": resource = topic, content = payload)
//    with mqttQOS / mqttRetain, and serves the cloud's subscribe / unsubscribe / message /
//    get_result operations (spec 8.2).
// Payloads over kMaxPayloadBytes are dropped both ways and counted.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::metamanager {
class SubTopicStore;
}

namespace edgecore::eventbus {

inline constexpr size_t kMaxPayloadBytes = 1u << 20;  // 1 MiB: larger payloads are dropped

struct EventBusStats {
  bool connected = false;
  uint64_t connects = 0;          // CONNACKs accepted
  uint64_t connect_failures = 0;  // dial or CONNACK failures
  uint64_t disconnects = 0;       // connections lost after being up
  uint64_t received = 0;          // MQTT messages received
  uint64_t published = 0;         // MQTT messages handed to the client library
  uint64_t publish_failures = 0;  // not connected, bad topic, library refusal
  uint64_t oversized = 0;         // payloads over kMaxPayloadBytes (either direction)
  uint64_t bus_rejections = 0;    // messages the bus did not take (mailbox full, no module)
  uint64_t subscriptions = 0;     // topics currently wanted
};

class EventBusModule : public core::Module {
 public:
  // A snapshot. Any thread.
  virtual EventBusStats stats() const = 0;
};

// `topics` (the store's sub_topics; may be null: then they are neither read nor written) must
// outlive the module.
// InvalidArgument if the broker address is not tcp://host:port or ssl://host:port.
core::Result<core::ModulePtr> create(core::ModuleContext ctx, metamanager::SubTopicStore* topics);
core::Result<std::unique_ptr<EventBusModule>> createEventBus(core::ModuleContext ctx,
                                                             metamanager::SubTopicStore* topics);

}  // namespace edgecore::eventbus
