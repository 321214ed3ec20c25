// Hold-upgrade release (see unhold_upgrade.h). Status codes and texts as KubeEdge v1.22's
// MetaServer answers them.

#include "unhold_upgrade.h"

#include <nlohmann/json.hpp>

#include "edgecore/core/bus.h"
#include "edgecore/core/message.h"
#include "edgecore/core/resource.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver {
namespace {

using metamanager::Gvr;
using metamanager::ObjectKey;
using metamanager::StoredObject;

const Gvr kPods{"", "v1", "pods"};
const Gvr kNodes{"", "v1", "nodes"};

UnholdReply error(int code, const std::string& text) { return {code, text + "\n"}; }

// metadata.annotations["edge.kubeedge.io/hold-upgrade"] == "true".
bool annotated(const StoredObject& pod) {
  nlohmann::json j = core::parseJsonBounded(pod.json);
  if (!j.is_object() || !j.contains("metadata") || !j["metadata"].is_object()) return false;
  const auto& md = j["metadata"];
  if (!md.contains("annotations") || !md["annotations"].is_object()) return false;
  auto it = md["annotations"].find("edge.kubeedge.io/hold-upgrade");
  return it != md["annotations"].end() && it->is_string() && it->get<std::string>() == "true";
}

core::Status sendUnhold(core::Bus& bus, const std::string& ns, const std::string& name) {
  core::Message m =
      core::Message::create(core::names::kMetaManagerModule, "", "unhold-upgrade",
                            core::buildResource(ns, core::restype::kPod, name), nlohmann::json());
  return bus.send(core::names::kEdgedModule, std::move(m));
}

UnholdReply unholdPod(std::string_view body, const metamanager::MetaStore& store, core::Bus& bus) {
  const size_t slash = body.find('/');
  if (slash == std::string_view::npos) {
    return error(400, "invalid format, expected <namespace>/<name>");
  }
  ObjectKey key{kPods, std::string(body.substr(0, slash)), std::string(body.substr(slash + 1))};
  auto pod = store.getObject(key);
  if (!pod) {
    return error(404, "pod not found: pods \"" + key.name + "\" not found");
  }
  if (!annotated(*pod)) return error(400, "pod is not marked with hold-upgrade annotation");
  if (pod->phase != "Pending") return error(400, "pod is not in pending phase");
  if (core::Status st = sendUnhold(bus, key.ns, key.name); !st.ok()) {
    return error(503, "unhold not delivered to edged: " + st.message());
  }
  return {200, ""};
}

UnholdReply unholdNode(std::string_view body, const metamanager::MetaStore& store, core::Bus& bus) {
  const auto first = body.find_first_not_of(" \t\r\n\v\f");
  const auto last = body.find_last_not_of(" \t\r\n\v\f");
  if (first == std::string_view::npos) return error(400, "node name required in body");
  std::string node(body.substr(first, last - first + 1));
  if (!store.getObject(ObjectKey{kNodes, "", node})) {
    return error(404, "node not found: nodes \"" + node + "\" not found");
  }
  for (const auto& pod : store.listObjects(kPods, "")) {
    if (pod->node_name != node || pod->phase != "Pending" || !annotated(*pod)) continue;
    if (core::Status st = sendUnhold(bus, pod->key.ns, pod->key.name); !st.ok()) {
      return error(503, "unhold not delivered to edged: " + st.message());
    }
  }
  return {200, ""};
}

}  // namespace

UnholdReply unholdUpgrade(std::string_view resource, std::string_view body,
                          const metamanager::MetaStore* store, core::Bus* bus) {
  if (resource != "pods" && resource != "nodes") {
    return error(400, "unsupported resource for unhold-upgrade");
  }
  if (!store) return error(500, "cannot init kube client: no local store");
  if (!bus) return error(503, "edged is not reachable: no bus");
  return resource == "pods" ? unholdPod(body, *store, *bus) : unholdNode(body, *store, *bus);
}

}  // namespace edgecore::metaserver
