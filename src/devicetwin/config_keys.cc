// modules.deviceTwin of edgecore.yaml: the rows deviceTwin owns in the key table
// (include/edgecore/core/config_rows.h) and their binding to DeviceTwinConfig. Compiled into
// edgecore_core. Key names and defaults come from upstream
// staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/{types.go,default.go}
// at v1.20.0 and v1.23.1 (dmiSockPath a directory), apart from offlineAfter (ours).

#include "edgecore/core/config_rows.h"

namespace edgecore::devicetwin {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
  {"modules.deviceTwin", T::Section, "", kOmitNil, kMin, k120, "device twin"},
  {"modules.deviceTwin.enable", T::Bool, "true", kAlways, kNotMin, k120, "run deviceTwin"},
  {"modules.deviceTwin.dmiSockPath", T::String, "/etc/kubeedge/", kOmitZero, kMin, k120, "directory of the mappers' DMI socket dmi.sock (v1.23); a path ending in .sock is the socket itself"},
  // Our own key, so printed configs stay KubeEdge's: accepted and typed, left out of
  // --defaultconfig/--minconfig. KubeEdge v1.20 decodes edgecore.yaml with
  // sigs.k8s.io/yaml (not strict), so a file carrying it still loads there.
  {"modules.deviceTwin.offlineAfter", T::Duration, "1m0s", kOmitZero, kNotMin, kOurs, "[edgecore-cpp] mark a device offline after this long without MQTT or mapper activity; 0s disables"},
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

namespace edgecore::core {

std::string dmiSocketPath(const DeviceTwinConfig& c) {
  const std::string& p = c.dmi_sock_path;
  if (p.size() >= 5 && p.compare(p.size() - 5, 5, ".sock") == 0) {
    return p;
  }
  std::string dir = p.empty() ? "/etc/kubeedge/" : p;
  return dir.back() == '/' ? dir + "dmi.sock" : dir + "/dmi.sock";
}

}  // namespace edgecore::core
