#pragma once

// DeviceTwinStore: devicetwin's rows in KubeEdge's `device`, `device_attr` and `device_twin`
// tables (spec/local-apis.md 2.2, 2.5), as typed rows. Reads go through this interface; writes are
// WriteOps (meta_store.h: WriteOp::saveDevice ...) submitted with MetaStore::submit, so they
// commit in the store's one writer together with the rest of their batch.

#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::metamanager {

// A `device` row (dtclient.Device @ v1.20.0).
struct DeviceRow {
  std::string id;  // <namespace>/<name>
  std::string name;
  std::string description;
  std::string state;
  std::string last_online;
};

// A `device_attr` row (dtclient.DeviceAttr); its description column is written empty.
struct DeviceAttrRow {
  std::string device_id;
  std::string name;
  std::string value;
  bool optional = true;
  std::string attr_type;
  std::string metadata;
};

// A `device_twin` row (dtclient.DeviceTwin). nullopt is SQL NULL (and reads back as nullopt).
struct DeviceTwinRow {
  std::string device_id;
  std::string name;
  std::optional<std::string> expected;
  std::optional<std::string> actual;
  std::optional<std::string> expected_meta;
  std::optional<std::string> actual_meta;
  std::optional<std::string> expected_version;
  std::optional<std::string> actual_version;
  bool optional = true;
  std::string attr_type;
  std::string metadata;
};

// Every row of the three tables, in table order (rowid).
struct DeviceTables {
  std::vector<DeviceRow> devices;
  std::vector<DeviceAttrRow> attrs;
  std::vector<DeviceTwinRow> twins;
};

class DeviceTwinStore {
 public:
  virtual ~DeviceTwinStore() = default;

  // Reads the three tables (devicetwin's startup). Synchronous SQLite reads: call from a blocking
  // pool, never an I/O thread. Text columns read back NULL as "" (twin values as nullopt); an
  // integer `optional` is true when non-zero, a text one when "1" or "true". Errors: Unavailable
  // (locked, I/O), DataLoss (corrupt file), Internal.
  virtual core::Result<DeviceTables> loadDeviceTables() = 0;
};

}  // namespace edgecore::metamanager
