// The pod's volumes as edged sees them: each spec.volumes entry checked and given its plugin
// and host directory (<pod dir>/volumes/<plugin>/<name>, hostPath as given). Used by the plan
// (mounts) and by volumes.cc (what to write on disk).

#include <set>
#include <string>
#include <vector>

#include "podplan/plan_util.h"

namespace edgecore::edged::plan {

using nlohmann::json;

Result<std::vector<VolumeInfo>> podVolumes(const json& pod, const PlanInputs& in) {
  std::vector<VolumeInfo> out;
  const json* spec = child(pod, "spec");
  const json* meta = child(pod, "metadata");
  if (spec == nullptr || meta == nullptr) {
    return planStatus(kReasonInvalidPodSpec, "pod: metadata and spec are required objects");
  }
  EC_ASSIGN_OR_RETURN(auto uid, getString(*meta, "uid", "metadata"));
  EC_ASSIGN_OR_RETURN(auto vols, getArray(*spec, "volumes", "spec"));
  std::set<std::string> seen;
  for (const json* v : vols) {
    VolumeInfo vi;
    EC_ASSIGN_OR_RETURN(vi.name, getString(*v, "name", "spec.volumes"));
    if (!isDns1123Label(vi.name)) {
      return planStatus(kReasonInvalidPodSpec,
                        "spec.volumes: invalid volume name \"" + vi.name + "\"");
    }
    if (!seen.insert(vi.name).second) {
      return planStatus(kReasonInvalidPodSpec,
                        "spec.volumes: duplicate volume name \"" + vi.name + "\"");
    }
    struct Kind {
      const char* key;
      const char* plugin;
    };
    static constexpr Kind kKinds[] = {
        {"emptyDir", "kubernetes.io~empty-dir"},  {"configMap", "kubernetes.io~configmap"},
        {"secret", "kubernetes.io~secret"},       {"downwardAPI", "kubernetes.io~downward-api"},
        {"projected", "kubernetes.io~projected"}, {"hostPath", ""},
    };
    for (const auto& k : kKinds) {
      if (const json* s = child(*v, k.key)) {
        vi.type = k.key;
        vi.source = s;
        if (vi.type == "hostPath") {
          EC_ASSIGN_OR_RETURN(vi.host_path, getString(*s, "path", "spec.volumes.hostPath"));
          if (vi.host_path.empty() || vi.host_path[0] != '/' ||
              vi.host_path.find('\0') != std::string::npos) {
            return planStatus(kReasonInvalidPodSpec,
                              "spec.volumes[" + vi.name + "].hostPath.path: must be absolute");
          }
        } else {
          vi.plugin = k.plugin;
          vi.host_path = podDir(in, uid) + "/volumes/" + vi.plugin + "/" + vi.name;
        }
        break;
      }
    }
    if (vi.type.empty()) {
      std::string kind = "unknown";
      if (v->is_object()) {
        for (auto it = v->begin(); it != v->end(); ++it) {
          if (it.key() != "name") kind = it.key();
        }
      }
      return planStatus(kReasonFailedMount, "volume \"" + vi.name + "\": volume type " + kind +
                                                " is not supported on this node");
    }
    out.push_back(std::move(vi));
  }
  return out;
}

}  // namespace edgecore::edged::plan
