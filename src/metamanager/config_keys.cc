// modules.metaManager of edgecore.yaml, without its metaServer section (src/metaserver owns that):
// the rows metaManager owns in the key table (include/edgecore/core/config_rows.h) and their
// binding to MetaManagerConfig. Compiled into edgecore_core. Key names and defaults come from
// upstream staging/src/github.com/kubeedge/api/apis/componentconfig/edgecore/v1alpha2/
// {types.go,default.go} at v1.20.0.

#include <string>

#include "edgecore/core/config_rows.h"

namespace edgecore::metamanager {
namespace {

using namespace core::config_row;

// clang-format off
constexpr core::ConfigKey kKeys[] = {
  {"modules.metaManager", T::Section, "", kOmitNil, kNotMin, k120, "local metadata cache"},
  {"modules.metaManager.enable", T::Bool, "true", kAlways, kNotMin, k120, "run metaManager"},
  {"modules.metaManager.contextSendGroup", T::String, "hub", kOmitZero, kNotMin, k120, "group cloud-bound messages go to"},
  {"modules.metaManager.contextSendModule", T::String, "websocket", kOmitZero, kNotMin, k120, "module cloud-bound messages go to"},
  {"modules.metaManager.remoteQueryTimeout", T::Int32, "60", kOmitZero, kNotMin, k120, "remote query timeout in seconds"},
};
// clang-format on

void read(const core::ConfigReader& r, core::EdgeCoreConfig& c) {
  core::MetaManagerConfig& mm = c.modules.meta_manager;
  const std::string mp = "modules.metaManager.";
  mm.enable = r.boolean(mp + "enable");
  mm.context_send_group = r.str(mp + "contextSendGroup");
  mm.context_send_module = r.str(mp + "contextSendModule");
  mm.remote_query_timeout = r.seconds(mp + "remoteQueryTimeout");
}

}  // namespace

core::ConfigRows configRows() { return {kKeys, &read, nullptr}; }

}  // namespace edgecore::metamanager
