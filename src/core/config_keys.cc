// Core's rows of the edgecore.yaml key table (include/edgecore/core/config_rows.h): the document
// root (apiVersion, kind, featureGates, database, the modules section) and the modules that have
// no folder in this tree. A module with a folder declares its rows in src/<module>/config_keys.cc.
// Key names, defaults and the omitempty/pointer shape of each field come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go,
// default_others.go} at v1.20.0; edgecoreVersion and taskManager at v1.23.1.

#include "edgecore/core/config_rows.h"

namespace edgecore::core::config_rows {
namespace {

using namespace config_row;

// clang-format off
constexpr ConfigKey kGlobalKeys[] = {
  {"apiVersion", T::String, "edgecore.config.kubeedge.io/v1alpha2", kOmitZero, kMin, k120, "config schema version; other values are ignored with a warning"},
  {"kind", T::String, "EdgeCore", kOmitZero, kMin, k120, "config kind"},
  {"edgecoreVersion", T::String, "", kAlways, kNotMin, k123, "[v1.23] version of the edgecore that last wrote this file"},
  {"featureGates", T::BoolMap, kNil, kOmitZero, kNotMin, k120, "edgecore feature gates, e.g. requireAuthorization"},
  {"database", T::Section, "", kOmitNil, kMin, k120, "local metadata store"},
  {"database.driverName", T::String, "sqlite3", kOmitZero, kNotMin, k120, "database driver"},
  {"database.aliasName", T::String, "default", kOmitZero, kNotMin, k120, "ORM alias of the database"},
  {"database.dataSource", T::String, "/var/lib/kubeedge/edgecore.db", kOmitZero, kMin, k120, "SQLite file"},
  {"modules", T::Section, "", kOmitNil, kMin, k120, "per-module settings"},
};

constexpr ConfigKey kServiceBusKeys[] = {
  {"modules.serviceBus", T::Section, "", kOmitNil, kNotMin, k120, "HTTP bridge to edge applications"},
  {"modules.serviceBus.enable", T::Bool, "false", kAlways, kNotMin, k120, "run serviceBus"},
  {"modules.serviceBus.server", T::String, "127.0.0.1", kAlways, kNotMin, k120, "listen host"},
  {"modules.serviceBus.port", T::Int64, "9060", kAlways, kNotMin, k120, "listen port"},
  {"modules.serviceBus.timeout", T::Int64, "60", kAlways, kNotMin, k120, "request timeout in seconds"},
  // KubeEdge master after v1.23.1 (commit b33a16d6e), in no release yet: accepted, never printed.
  {"modules.serviceBus.tlsCertFile", T::String, "", kOmitZero, kNotMin, kOurs, "[master] server certificate (PEM, serverAuth); with tlsPrivateKeyFile, HTTPS"},
  {"modules.serviceBus.tlsPrivateKeyFile", T::String, "", kOmitZero, kNotMin, kOurs, "[master] private key of tlsCertFile (PEM)"},
};

constexpr ConfigKey kDbTestKeys[] = {
  {"modules.dbTest", T::Section, "", kOmitNil, kNotMin, k120, "database test module"},
  {"modules.dbTest.enable", T::Bool, "false", kAlways, kNotMin, k120, "run dbTest"},
};

constexpr ConfigKey kTaskManagerKeys[] = {
  {"modules.taskManager", T::Section, "", kOmitNil, kNotMin, k123, "[v1.23] node task manager"},
  {"modules.taskManager.enable", T::Bool, "false", kAlways, kNotMin, k123, "[v1.23] run taskManager"},
};
// clang-format on

void readGlobal(const ConfigReader& r, EdgeCoreConfig& c) {
  c.api_version = r.str("apiVersion");
  c.kind = r.str("kind");
  c.edgecore_version = r.str("edgecoreVersion");
  c.feature_gates = r.boolMap("featureGates");
  c.database = {r.str("database.driverName"), r.str("database.aliasName"),
                r.str("database.dataSource")};
}

void readServiceBus(const ConfigReader& r, EdgeCoreConfig& c) {
  ServiceBusConfig& s = c.modules.service_bus;
  s.enable = r.boolean("modules.serviceBus.enable");
  s.server = r.str("modules.serviceBus.server");
  s.port = r.integer("modules.serviceBus.port");
  s.timeout = r.seconds("modules.serviceBus.timeout");
  s.tls_cert_file = r.str("modules.serviceBus.tlsCertFile");
  s.tls_private_key_file = r.str("modules.serviceBus.tlsPrivateKeyFile");
}

void readDbTest(const ConfigReader& r, EdgeCoreConfig& c) {
  c.modules.db_test.enable = r.boolean("modules.dbTest.enable");
}

void readTaskManager(const ConfigReader& r, EdgeCoreConfig& c) {
  c.modules.task_manager.enable = r.boolean("modules.taskManager.enable");
}

}  // namespace

ConfigRows global() { return {kGlobalKeys, &readGlobal, nullptr}; }
ConfigRows serviceBus() { return {kServiceBusKeys, &readServiceBus, nullptr}; }
ConfigRows dbTest() { return {kDbTestKeys, &readDbTest, nullptr}; }
ConfigRows taskManager() { return {kTaskManagerKeys, &readTaskManager, nullptr}; }

}  // namespace edgecore::core::config_rows
