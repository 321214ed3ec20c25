// modules.eventBus of edgecore.yaml: the rows eventBus owns in the key table
// (include/edgecore/core/config_rows.h), their binding to EventBusConfig and upstream's checks
// (plus an mqttQOS range check). Compiled into edgecore_core. Key names and defaults come from
// upstream staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/
// {types.go,default.go} at v1.20.0.

#include <string>

#include "edgecore/core/config_rows.h"

namespace edgecore::eventbus {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
  {"modules.eventBus", T::Section, "", kOmitNil, kMin, k120, "MQTT bridge"},
  {"modules.eventBus.enable", T::Bool, "true", kAlways, kNotMin, k120, "run eventBus"},
  {"modules.eventBus.mqttQOS", T::Uint8, "0", kAlways, kMin, k120, "MQTT QoS 0..2"},
  {"modules.eventBus.mqttRetain", T::Bool, "false", kAlways, kMin, k120, "MQTT retain flag"},
  {"modules.eventBus.mqttSessionQueueSize", T::Int32, "100", kOmitZero, kNotMin, k120, "MQTT session queue size"},
  {"modules.eventBus.mqttServerInternal", T::String, "tcp://127.0.0.1:1884", kOmitZero, kMin, k120, "internal broker"},
  {"modules.eventBus.mqttServerExternal", T::String, "tcp://127.0.0.1:1883", kOmitZero, kMin, k120, "external broker"},
  {"modules.eventBus.mqttSubClientID", T::String, "", kAlways, kMin, k120, "subscriber client ID"},
  {"modules.eventBus.mqttPubClientID", T::String, "", kAlways, kMin, k120, "publisher client ID"},
  {"modules.eventBus.mqttUsername", T::String, "", kAlways, kMin, k120, "broker user"},
  {"modules.eventBus.mqttPassword", T::String, "", kAlways, kMin, k120, "broker password"},
  {"modules.eventBus.mqttMode", T::Int64, "2", kAlways, kMin, k120, "0 internal, 1 both, 2 external"},
  {"modules.eventBus.eventBusTLS", T::Section, "", kOmitNil, kNotMin, k120, "broker TLS"},
  {"modules.eventBus.eventBusTLS.enable", T::Bool, "false", kAlways, kNotMin, k120, "use TLS to the broker"},
  {"modules.eventBus.eventBusTLS.tlsMqttCAFile", T::String, "/etc/kubeedge/ca/rootCA.crt", kOmitZero, kNotMin, k120, "broker CA"},
  {"modules.eventBus.eventBusTLS.tlsMqttCertFile", T::String, "/etc/kubeedge/certs/server.crt", kOmitZero, kNotMin, k120, "client certificate"},
  {"modules.eventBus.eventBusTLS.tlsMqttPrivateKeyFile", T::String, "/etc/kubeedge/certs/server.key", kOmitZero, kNotMin, k120, "client key"},
};
// clang-format on

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::EventBusConfig& b = c.modules.event_bus;
  const std::string eb = "modules.eventBus.";
  b.enable = r.boolean(eb + "enable");
  b.mqtt_qos = static_cast<uint8_t>(r.integer(eb + "mqttQOS"));
  b.mqtt_retain = r.boolean(eb + "mqttRetain");
  b.mqtt_session_queue_size = r.int32(eb + "mqttSessionQueueSize");
  b.mqtt_server_internal = r.str(eb + "mqttServerInternal");
  b.mqtt_server_external = r.str(eb + "mqttServerExternal");
  b.mqtt_sub_client_id = r.str(eb + "mqttSubClientID");
  b.mqtt_pub_client_id = r.str(eb + "mqttPubClientID");
  b.mqtt_username = r.str(eb + "mqttUsername");
  b.mqtt_password = r.str(eb + "mqttPassword");
  b.mqtt_mode = static_cast<core::MqttMode>(r.integer(eb + "mqttMode"));
  b.tls.enable = r.boolean(eb + "eventBusTLS.enable");
  b.tls.tls_mqtt_ca_file = r.str(eb + "eventBusTLS.tlsMqttCAFile");
  b.tls.tls_mqtt_cert_file = r.str(eb + "eventBusTLS.tlsMqttCertFile");
  b.tls.tls_mqtt_private_key_file = r.str(eb + "eventBusTLS.tlsMqttPrivateKeyFile");
}

void check(const core::EdgeCoreConfig& c, core::ConfigProblems& p) {
  const core::EventBusConfig& b = c.modules.event_bus;
  if (!b.enable) {
    return;
  }
  int mode = static_cast<int>(b.mqtt_mode);
  if (mode < 0 || mode > 2) {
    p.add("modules.eventBus.mqttMode",
          std::to_string(mode) + " is not in [0, 2] (0 internal, 1 both, 2 external)");
  }
  if (b.mqtt_qos > 2) {
    p.add("modules.eventBus.mqttQOS",
          std::to_string(b.mqtt_qos) + " is not an MQTT QoS (0, 1 or 2)");
  }
}

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, &check}; }

}  // namespace edgecore::eventbus
