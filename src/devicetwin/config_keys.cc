// modules.deviceTwin of edgecore.yaml: the rows deviceTwin owns in the key table
// (include/edgecore/core/config_rows.h) and their binding to DeviceTwinConfig. Compiled into
// edgecore_core. Key names and defaults come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go}
// at v1.20.0, apart from offlineAfter (ours).

#include "edgecore/core/config_rows.h"

namespace edgecore::devicetwin {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
  {"modules.deviceTwin", T::Section, "", kOmitNil, kMin, k120, "device twin"},
  {"modules.deviceTwin.enable", T::Bool, "true", kAlways, kNotMin, k120, "run deviceTwin"},
  {"modules.deviceTwin.dmiSockPath", T::String, "/etc/kubeedge/dmi.sock", kOmitZero, kMin, k120, "DMI socket of mappers"},
  // Our own key, flagged like the v1.23 keys so printed configs stay KubeEdge's: accepted and
  // typed, left out of --defaultconfig/--minconfig. KubeEdge v1.20 decodes edgecore.yaml with
  // sigs.k8s.io/yaml (not strict), so a file carrying it still loads there.
  {"modules.deviceTwin.offlineAfter", T::Duration, "1m0s", kOmitZero, kNotMin, k123, "[edgecore-cpp] mark a device offline after this long without MQTT or mapper activity; 0s disables"},
};
// clang-format on

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::DeviceTwinConfig& d = c.modules.device_twin;
  d.enable = r.boolean("modules.deviceTwin.enable");
  d.dmi_sock_path = r.str("modules.deviceTwin.dmiSockPath");
  d.offline_after = r.duration("modules.deviceTwin.offlineAfter");
}

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, nullptr}; }

}  // namespace edgecore::devicetwin
