#include "table_printer.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "edgecore/core/message.h"

namespace edgecore::metaserver {
namespace {

using nlohmann::json;

const json* find(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
std::string str(const json& j, std::string_view key) {
  const json* v = find(j, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}
int64_t num(const json& j, std::string_view key) {
  const json* v = find(j, key);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}
bool boolean(const json& j, std::string_view key) {
  const json* v = find(j, key);
  return v && v->is_boolean() && v->get<bool>();
}
const json& sub(const json& j, std::string_view key) {
  static const json kNull;
  const json* v = find(j, key);
  return v ? *v : kNull;
}
const json& arr(const json& j, std::string_view key) {
  static const json kEmpty = json::array();
  const json* v = find(j, key);
  return v && v->is_array() ? *v : kEmpty;
}
std::string orNone(std::string s) { return s.empty() ? "<none>" : s; }

json column(const char* name, const char* type, const char* format, const char* description,
            int priority = 0) {
  return json{{"name", name},
              {"type", type},
              {"format", format},
              {"description", description},
              {"priority", priority}};
}

}  // namespace

std::string humanDuration(std::chrono::system_clock::duration d) {
  using namespace std::chrono;
  if (d < -seconds(1)) return "<invalid>";
  if (d < seconds(0)) return "0s";
  int64_t secs = duration_cast<seconds>(d).count();
  auto fmt = [](const char* f, int64_t a, int64_t b = 0) {
    char buf[48];
    std::snprintf(buf, sizeof buf, f, static_cast<long long>(a), static_cast<long long>(b));
    return std::string(buf);
  };
  if (secs < 120) return fmt("%llds", secs);
  int64_t mins = secs / 60;
  if (mins < 10) {
    return secs % 60 == 0 ? fmt("%lldm", mins) : fmt("%lldm%llds", mins, secs % 60);
  }
  if (mins < 180) return fmt("%lldm", mins);
  int64_t hours = mins / 60;
  if (hours < 8) {
    return mins % 60 == 0 ? fmt("%lldh", hours) : fmt("%lldh%lldm", hours, mins % 60);
  }
  if (hours < 48) return fmt("%lldh", hours);
  int64_t days = hours / 24;
  if (hours < 24 * 8) {
    return hours % 24 == 0 ? fmt("%lldd", days) : fmt("%lldd%lldh", days, hours % 24);
  }
  if (hours < 24 * 365 * 2) return fmt("%lldd", days);
  int64_t years = days / 365;
  if (hours < 24 * 365 * 8) {
    return days % 365 == 0 ? fmt("%lldy", years) : fmt("%lldy%lldd", years, days % 365);
  }
  return fmt("%lldy", years);
}

bool parseRfc3339(std::string_view text, std::chrono::system_clock::time_point* out) {
  int y, mo, d, h, mi, s;
  if (text.size() < 20) return false;
  std::string t(text);
  int consumed = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
          6 ||
      consumed != 19) {
    return false;
  }
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) ++pos;
  }
  int offset_secs = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (std::sscanf(t.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset_secs = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != t.size()) return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  time_t secs = timegm(&tm);
  *out = std::chrono::system_clock::from_time_t(secs - offset_secs);
  return true;
}

std::string ageCell(std::string_view creation_timestamp,
                    std::chrono::system_clock::time_point now) {
  std::chrono::system_clock::time_point t;
  if (creation_timestamp.empty() || !parseRfc3339(creation_timestamp, &t)) return "<unknown>";
  return humanDuration(now - t);
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
  const json& meta = sub(pod, "metadata");
  const json& spec = sub(pod, "spec");
  const json& status = sub(pod, "status");
  int64_t restarts = 0;
  int64_t total = static_cast<int64_t>(arr(spec, "containers").size());
  int64_t ready = 0;
  std::chrono::system_clock::time_point last_restart{};
  auto noteRestart = [&](const json& cs) {
    const json& term = sub(sub(cs, "lastState"), "terminated");
    std::chrono::system_clock::time_point t;
    if (term.is_object() && parseRfc3339(str(term, "finishedAt"), &t) && t > last_restart) {
      last_restart = t;
    }
  };
  std::string reason = str(status, "phase");
  if (!str(status, "reason").empty()) reason = str(status, "reason");
  for (const auto& cond : arr(status, "conditions")) {
    if (str(cond, "type") == "PodScheduled" && str(cond, "reason") == "SchedulingGated") {
      reason = "SchedulingGated";
    }
  }

  bool initializing = false;
  const json& init_statuses = arr(status, "initContainerStatuses");
  size_t init_total = arr(spec, "initContainers").size();
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json& cs = init_statuses[i];
    restarts += num(cs, "restartCount");
    noteRestart(cs);
    const json& state = sub(cs, "state");
    const json& term = sub(state, "terminated");
    const json& wait = sub(state, "waiting");
    if (term.is_object() && num(term, "exitCode") == 0) continue;
    if (term.is_object()) {
      if (str(term, "reason").empty()) {
        reason = num(term, "signal") != 0
                     ? "Init:Signal:" + std::to_string(num(term, "signal"))
                     : "Init:ExitCode:" + std::to_string(num(term, "exitCode"));
      } else {
        reason = "Init:" + str(term, "reason");
      }
    } else if (wait.is_object() && !str(wait, "reason").empty() &&
               str(wait, "reason") != "PodInitializing") {
      reason = "Init:" + str(wait, "reason");
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_total);
    }
    initializing = true;
    break;
  }
  if (!initializing) {
    restarts = 0;
    last_restart = {};
    bool has_running = false;
    const json& statuses = arr(status, "containerStatuses");
    for (size_t n = statuses.size(); n-- > 0;) {
      const json& cs = statuses[n];
      restarts += num(cs, "restartCount");
      noteRestart(cs);
      const json& state = sub(cs, "state");
      const json& wait = sub(state, "waiting");
      const json& term = sub(state, "terminated");
      if (wait.is_object() && !str(wait, "reason").empty()) {
        reason = str(wait, "reason");
      } else if (term.is_object() && !str(term, "reason").empty()) {
        reason = str(term, "reason");
      } else if (term.is_object()) {
        reason = num(term, "signal") != 0 ? "Signal:" + std::to_string(num(term, "signal"))
                                          : "ExitCode:" + std::to_string(num(term, "exitCode"));
      } else if (boolean(cs, "ready") && sub(state, "running").is_object()) {
        has_running = true;
        ++ready;
      }
    }
    if (reason == "Completed" && has_running) {
      bool ready_cond = false;
      for (const auto& cond : arr(status, "conditions")) {
        if (str(cond, "type") == "Ready" && str(cond, "status") == "True") ready_cond = true;
      }
      reason = ready_cond ? "Running" : "NotReady";
    }
  }
  if (find(meta, "deletionTimestamp") && !sub(meta, "deletionTimestamp").is_null()) {
    std::string phase = str(status, "phase");
    if (str(status, "reason") == "NodeLost") {
      reason = "Unknown";
    } else if (phase != "Succeeded" && phase != "Failed") {
      reason = "Terminating";
    }
  }

  std::string restarts_cell = std::to_string(restarts);
  if (last_restart != std::chrono::system_clock::time_point{}) {
    restarts_cell += " (" + humanDuration(now_ - last_restart) + " ago)";
  }
  std::string gates = "<none>";
  const json& readiness_gates = arr(spec, "readinessGates");
  if (!readiness_gates.empty()) {
    size_t true_gates = 0;
    for (const auto& g : readiness_gates) {
      for (const auto& cond : arr(status, "conditions")) {
        if (str(cond, "type") == str(g, "conditionType") && str(cond, "status") == "True") {
          ++true_gates;
        }
      }
    }
    gates = std::to_string(true_gates) + "/" + std::to_string(readiness_gates.size());
  }
  return json::array({str(meta, "name"), std::to_string(ready) + "/" + std::to_string(total),
                      reason, restarts_cell, ageCell(str(meta, "creationTimestamp"), now_),
                      orNone(str(status, "podIP")), orNone(str(spec, "nodeName")),
                      orNone(str(status, "nominatedNodeName")), gates});
}

json TablePrinter::nodeCells(const json& node) const {
  const json& meta = sub(node, "metadata");
  const json& spec = sub(node, "spec");
  const json& status = sub(node, "status");
  std::string state = "Unknown";
  for (const auto& cond : arr(status, "conditions")) {
    if (str(cond, "type") == "Ready") {
      state = str(cond, "status") == "True" ? "Ready" : "NotReady";
    }
  }
  if (boolean(spec, "unschedulable")) state += ",SchedulingDisabled";

  std::vector<std::string> roles;
  const json& labels = sub(meta, "labels");
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
  for (const auto& a : arr(status, "addresses")) {
    if (str(a, "type") == "InternalIP" && internal_ip.empty()) internal_ip = str(a, "address");
    if (str(a, "type") == "ExternalIP" && external_ip.empty()) external_ip = str(a, "address");
  }
  const json& info = sub(status, "nodeInfo");
  return json::array({str(meta, "name"), state, orNone(roles_cell),
                      ageCell(str(meta, "creationTimestamp"), now_), str(info, "kubeletVersion"),
                      orNone(internal_ip), orNone(external_ip), orNone(str(info, "osImage")),
                      orNone(str(info, "kernelVersion")),
                      orNone(str(info, "containerRuntimeVersion"))});
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
      const json& meta = sub(object, "metadata");
      r["cells"] = json::array({str(meta, "name"), ageCell(str(meta, "creationTimestamp"), now_)});
      break;
    }
  }
  switch (include_) {
    case IncludeObject::None:
      break;
    case IncludeObject::Metadata:
      r["object"] = json{{"kind", "PartialObjectMetadata"},
                         {"apiVersion", "meta.k8s.io/v1"},
                         {"metadata", sub(object, "metadata").is_object() ? sub(object, "metadata")
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
