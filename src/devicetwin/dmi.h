#pragma once
// DMI v1beta1 (spec/local-apis.md 7.4): edgecore's DeviceManagerService on a unix socket, and
// calls to each mapper's DeviceMapperService. All gRPC code lives in dmi.cc, the conversions
// between DMI messages and our types in dmi_convert.cc; the module sees JSON (the Device /
// DeviceModel CRDs) and plain structs.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgecore/core/bus.h"
#include "edgecore/core/status.h"

namespace spdlog {
class logger;
}

namespace edgecore::devicetwin {

// MapperInfo (the fields edgecore uses).
struct MapperRecord {
  std::string name;
  std::string version;
  std::string api_version;
  std::string protocol;
  std::string address;  // the mapper's unix socket path
  std::string state;
  int64_t registered_ms = 0;
  int64_t last_report_ms = 0;  // last MapperRegister / ReportDeviceStatus / ReportDeviceStates
};

// What the gRPC handlers need from the module. Each runs on the module strand.
struct DmiHandlers {
  // Stores the mapper; on success returns the cached Device and DeviceModel CRDs of its protocol
  // when `with_data` (else empty lists).
  std::function<core::Result<std::pair<std::vector<nlohmann::json>, std::vector<nlohmann::json>>>(
      MapperRecord, bool with_data)>
      register_mapper;
  // A twin/update payload for device `<ns>/<name>` (ReportDeviceStatus).
  std::function<core::Status(std::string id, std::string payload)> report_status;
  // A state/update payload (ReportDeviceStates).
  std::function<core::Status(std::string id, std::string payload)> report_states;
};

class DmiServer {
 public:
  // Listens on unix:`socket_path` (a stale file is removed; the socket is chmod 0600). The
  // handlers are run on `strand`; a gRPC thread waits for them at most `handler_timeout`.
  static core::Result<std::unique_ptr<DmiServer>> start(const std::string& socket_path,
                                                        core::Strand strand, DmiHandlers handlers,
                                                        std::shared_ptr<spdlog::logger> log);
  virtual ~DmiServer() = default;
  // Stops accepting and waits briefly for running calls. Any thread except a gRPC one.
  virtual void shutdown() = 0;
};

enum class MapperCall {
  RegisterDevice,
  UpdateDevice,
  RemoveDevice,
  CreateDeviceModel,
  UpdateDeviceModel,
  RemoveDeviceModel
};
std::string_view mapperCallName(MapperCall call);

// Calls `call` on the mapper at unix:`address` with the CRD `object` converted to the DMI
// message (spec 7.4 "CRD -> DMI conversion"). Blocks up to `timeout`: run it on the blocking
// pool. Unavailable when the mapper does not answer; InvalidArgument for an unconvertible CRD.
core::Status callMapper(const std::string& address, MapperCall call, const nlohmann::json& object,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace edgecore::devicetwin
