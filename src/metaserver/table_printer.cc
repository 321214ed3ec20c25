#include "table_printer.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "edgecore/core/message.h"
#include "edgecore/kubeprint/kubeprint.h"

namespace edgecore::metaserver {
namespace {

using nlohmann::json;

using kubeprint::ageSince;
using kubeprint::field;
using kubeprint::fieldArray;
using kubeprint::fieldBool;
using kubeprint::fieldString;
using kubeprint::orNone;

json column(const char* name, const char* type, const char* format, const char* description,
            int priority = 0) {
  return json{{"name", name},
              {"type", type},
              {"format", format},
              {"description", description},
              {"priority", priority}};
}

}  // namespace

std::string ageCell(std::string_view creation_timestamp,
                    std::chrono::system_clock::time_point now) {
  return ageSince(creation_timestamp, now);
}

TablePrinter::TablePrinter(std::string_view resource, std::chrono::system_clock::time_point now,
                           IncludeObject include)
    : kind_(resource == "pods"    ? Kind::Pod
            : resource == "nodes" ? Kind::Node
                                  : Kind::Generic),
      now_(now),
      include_(include) {}

json TablePrinter::columns() const {
  const char* kName =
      "Name must be unique within a namespace. Is required when creating resources, although "
      "some resources may allow a client to request the generation of an appropriate name "
      "automatically. Name is primarily intended for creation idempotence and configuration "
      "definition. Cannot be updated. More info: "
      "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
  const char* kAge =
      "CreationTimestamp is a timestamp representing the server time when this object was "
      "created. It is not guaranteed to be set in happens-before order across separate "
      "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
      "UTC.";
  switch (kind_) {
    case Kind::Pod:
      return json::array({
          column("Name", "string", "name", kName),
          column("Ready", "string", "",
                 "The aggregate readiness state of this pod for accepting traffic."),
          column("Status", "string", "", "The aggregate status of the containers in this pod."),
          column("Restarts", "string", "",
                 "The number of times the containers in this pod have been restarted and when "
                 "the last container in this pod has restarted."),
          column("Age", "string", "", kAge),
          column("IP", "string", "",
                 "IP address allocated to the pod. Routable at least within the cluster. Empty if "
                 "not yet allocated.",
                 1),
          column("Node", "string", "", "Name of the node this pod is scheduled to.", 1),
          column("Nominated Node", "string", "",
                 "Name of the node this pod is nominated to, if any.", 1),
          column("Readiness Gates", "string", "", "Readiness gates of this pod, ready/total.", 1),
      });
    case Kind::Node:
      return json::array({
          column("Name", "string", "name", kName),
          column("Status", "string", "", "The status of the node"),
          column("Roles", "string", "", "The roles of the node"),
          column("Age", "string", "", kAge),
          column("Version", "string", "", "Kubelet Version reported by the node."),
          column("Internal-IP", "string", "", "List of internal IPs of the node.", 1),
          column("External-IP", "string", "", "List of external IPs of the node.", 1),
          column("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release.",
                 1),
          column("Kernel-Version", "string", "", "Kernel Version reported by the node.", 1),
          column("Container-Runtime", "string", "",
                 "Container Runtime Version reported by the node.", 1),
      });
    case Kind::Generic:
      break;
  }
  return json::array({column("Name", "string", "name", kName), column("Age", "string", "", kAge)});
}

json TablePrinter::podCells(const json& pod) const {
  json cells = json::array();
  for (auto& c : kubeprint::podCells(pod, now_)) cells.push_back(std::move(c));
  return cells;
}

json TablePrinter::nodeCells(const json& node) const {
  const json& meta = field(node, "metadata");
  const json& spec = field(node, "spec");
  const json& status = field(node, "status");
  std::string state = "Unknown";
  for (const auto& cond : fieldArray(status, "conditions")) {
    if (fieldString(cond, "type") == "Ready") {
      state = fieldString(cond, "status") == "True" ? "Ready" : "NotReady";
    }
  }
  if (fieldBool(spec, "unschedulable")) state += ",SchedulingDisabled";

  std::vector<std::string> roles;
  const json& labels = field(meta, "labels");
  if (labels.is_object()) {
    constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      const std::string& k = it.key();
      if (k.rfind(kRolePrefix, 0) == 0 && k.size() > kRolePrefix.size()) {
        roles.push_back(k.substr(kRolePrefix.size()));
      } else if (k == "kubernetes.io/role" && it->is_string() && !it->get<std::string>().empty()) {
        roles.push_back(it->get<std::string>());
      }
    }
  }
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  std::string roles_cell;
  for (const auto& r : roles) roles_cell += (roles_cell.empty() ? "" : ",") + r;

  std::string internal_ip;
  std::string external_ip;
  for (const auto& a : fieldArray(status, "addresses")) {
    if (fieldString(a, "type") == "InternalIP" && internal_ip.empty())
      internal_ip = fieldString(a, "address");
    if (fieldString(a, "type") == "ExternalIP" && external_ip.empty())
      external_ip = fieldString(a, "address");
  }
  const json& info = field(status, "nodeInfo");
  return json::array({fieldString(meta, "name"), state, orNone(roles_cell),
                      ageCell(fieldString(meta, "creationTimestamp"), now_),
                      fieldString(info, "kubeletVersion"), orNone(internal_ip), orNone(external_ip),
                      orNone(fieldString(info, "osImage")),
                      orNone(fieldString(info, "kernelVersion")),
                      orNone(fieldString(info, "containerRuntimeVersion"))});
}

json TablePrinter::row(const json& object) const {
  json r = json::object();
  switch (kind_) {
    case Kind::Pod:
      r["cells"] = podCells(object);
      break;
    case Kind::Node:
      r["cells"] = nodeCells(object);
      break;
    case Kind::Generic: {
      const json& meta = field(object, "metadata");
      r["cells"] = json::array(
          {fieldString(meta, "name"), ageCell(fieldString(meta, "creationTimestamp"), now_)});
      break;
    }
  }
  switch (include_) {
    case IncludeObject::None:
      break;
    case IncludeObject::Metadata:
      r["object"] =
          json{{"kind", "PartialObjectMetadata"},
               {"apiVersion", "meta.k8s.io/v1"},
               {"metadata", field(object, "metadata").is_object() ? field(object, "metadata")
                                                                  : json::object()}};
      break;
    case IncludeObject::Object:
      r["object"] = object;
      break;
  }
  return r;
}

json TablePrinter::table(const std::vector<metamanager::StoredObjectPtr>& objects,
                         uint64_t resource_version, std::string_view continue_token,
                         int64_t remaining) const {
  json t = json::object();
  t["kind"] = "Table";
  t["apiVersion"] = "meta.k8s.io/v1";
  json meta = json::object();
  meta["resourceVersion"] = std::to_string(resource_version);
  if (!continue_token.empty()) {
    meta["continue"] = continue_token;
    if (remaining > 0) meta["remainingItemCount"] = remaining;
  }
  t["metadata"] = std::move(meta);
  t["columnDefinitions"] = columns();
  json rows = json::array();
  for (const auto& o : objects) {
    json parsed = core::parseJsonBounded(o->json);
    if (parsed.is_discarded()) continue;  // the store only holds valid JSON; be safe anyway
    rows.push_back(row(parsed));
  }
  t["rows"] = std::move(rows);
  return t;
}

}  // namespace edgecore::metaserver
