#pragma once
// DMI v1beta1 messages <-> our types, without gRPC: what DeviceManagerService does with a
// mapper's request before (and after) it reaches the module, and the Device / DeviceModel CRD ->
// DMI conversion (spec/local-apis.md 7.4). Pure functions, any thread. dmi.cc serves them over
// gRPC; the dmi_request fuzz target calls them directly.
// Mirrors edge/pkg/devicetwin/dmiserver/server.go and dtcommon.ConvertDevice @ v1.20.0.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dmi.h"
#include "dmi/v1beta1/api.pb.h"
#include "edgecore/core/status.h"

namespace edgecore::devicetwin {

// MapperRegister: the mapper to store. InvalidArgument (Go's message) when it has no protocol.
core::Result<MapperRecord> mapperFromRegister(const ::v1beta1::MapperRegisterRequest& req);

// A mapper's report turned into the MQTT-style payload devicetwin handles for device `id`
// (<namespace>/<name>).
struct DeviceReport {
  std::string id;
  std::string payload;  // JSON text, valid UTF-8 (invalid bytes become U+FFFD)
};
// ReportDeviceStatus -> a twin/update payload {"event_id":"","timestamp":now,"twin":{...}} with
// observedDesired as expected and reported as actual. InvalidArgument without a device name or
// without twins.
core::Result<DeviceReport> twinReportFrom(const ::v1beta1::ReportDeviceStatusRequest& req,
                                          int64_t now_ms);
// ReportDeviceStates -> a state/update payload {"event_id":"","timestamp":now,"State":state}.
// InvalidArgument without a device name or a state.
core::Result<DeviceReport> statesReportFrom(const ::v1beta1::ReportDeviceStatesRequest& req,
                                            int64_t now_ms);

// Device CRD JSON -> DMI Device (configData values as google.protobuf.Any); InvalidArgument for
// what does not convert (no metadata.name, nested configData, wrong field types).
core::Status convertDevice(const nlohmann::json& crd, ::v1beta1::Device* out);
// DeviceModel CRD JSON -> DMI DeviceModel (numeric minimum/maximum become strings).
core::Status convertModel(const nlohmann::json& crd, ::v1beta1::DeviceModel* out);

// RemoveDevice / RemoveDeviceModel requests for a CRD (metadata name and namespace, "" when
// missing).
::v1beta1::RemoveDeviceRequest removeDeviceRequest(const nlohmann::json& crd);
::v1beta1::RemoveDeviceModelRequest removeModelRequest(const nlohmann::json& crd);

// The MapperRegister answer: the CRDs that convert; each one that does not is left out and its
// error appended to `skipped` (may be null).
void fillRegisterResponse(const std::vector<nlohmann::json>& devices,
                          const std::vector<nlohmann::json>& models,
                          ::v1beta1::MapperRegisterResponse* resp,
                          std::vector<std::string>* skipped);

}  // namespace edgecore::devicetwin
