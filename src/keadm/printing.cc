#include "printing.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "edgecore/core/time.h"
#include "edgecore/kubeprint/kubeprint.h"

namespace edgecore::keadm {
namespace {

using nlohmann::json;

using kubeprint::ageSince;
using kubeprint::field;
using kubeprint::fieldArray;
using kubeprint::fieldBool;
using kubeprint::fieldInt;
using kubeprint::fieldString;
using kubeprint::humanDuration;
using kubeprint::orNone;

std::string scalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// ---- Go text/tabwriter ----
struct Cell {
  std::string text;
  size_t width = 0;  // in runes
};
size_t runeCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

class TabWriter {
 public:
  TabWriter(int minwidth, int padding) : minwidth_(minwidth), padding_(padding) {}

  std::string run(std::string_view text) {
    std::vector<Cell> line;
    std::string cur;
    for (char c : text) {
      if (c == '\t') {
        line.push_back(Cell{cur, runeCount(cur)});
        cur.clear();
      } else if (c == '\n') {
        line.push_back(Cell{cur, runeCount(cur)});
        cur.clear();
        lines_.push_back(std::move(line));
        line.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty() || !line.empty()) {
      line.push_back(Cell{cur, runeCount(cur)});
      lines_.push_back(std::move(line));
      trailing_newline_ = false;
    }
    format(0, lines_.size());
    return std::move(out_);
  }

 private:
  void writeLines(size_t line0, size_t line1) {
    for (size_t i = line0; i < line1; ++i) {
      const auto& line = lines_[i];
      for (size_t j = 0; j < line.size(); ++j) {
        const Cell& c = line[j];
        out_ += c.text;
        if (j + 1 < line.size() && j < widths_.size()) {
          out_.append(widths_[j] > c.width ? widths_[j] - c.width : 0, ' ');
        }
      }
      if (i + 1 < lines_.size() || trailing_newline_) out_ += '\n';
    }
  }

  // Go's tabwriter.format: a column block is a run of lines having a cell in `column`.
  void format(size_t line0, size_t line1) {
    size_t column = widths_.size();
    for (size_t i = line0; i < line1; ++i) {
      if (column + 1 >= lines_[i].size()) continue;
      writeLines(line0, i);
      line0 = i;
      size_t width = static_cast<size_t>(minwidth_);
      for (; i < line1; ++i) {
        if (column + 1 >= lines_[i].size()) break;
        size_t w = lines_[i][column].width + static_cast<size_t>(padding_);
        width = std::max(width, w);
      }
      widths_.push_back(width);
      format(line0, i);
      widths_.pop_back();
      line0 = i;  // line i has no cell in this column: the loop's ++i skips it rightly
    }
    writeLines(line0, line1);
  }

  int minwidth_;
  int padding_;
  std::vector<std::vector<Cell>> lines_;
  std::vector<size_t> widths_;
  std::string out_;
  bool trailing_newline_ = true;
};

// ---- describe helpers ----
std::string rfc1123z(std::string_view ts) {
  auto t = core::parseRfc3339(ts);
  if (!t.ok()) return std::string(ts);
  return core::formatUtc(*t, "%a, %d %b %Y %H:%M:%S +0000");
}

void labelsMultiline(std::string& w, std::string_view title, const json& m) {
  w += std::string(title) + ":\t";
  if (!m.is_object() || m.empty()) {
    w += "<none>\n";
    return;
  }
  bool first = true;
  for (auto it = m.begin(); it != m.end(); ++it) {  // nlohmann keeps keys sorted
    if (!first) w += "\t";
    w += it.key() + "=" + scalarText(*it) + "\n";
    first = false;
  }
}

std::string probeText(const json& p) {
  std::string kind;
  if (field(p, "httpGet").is_object()) {
    const json& h = field(p, "httpGet");
    std::string scheme = fieldString(h, "scheme").empty() ? "http" : fieldString(h, "scheme");
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    kind = "http-get " + scheme + "://" + fieldString(h, "host") + ":" +
           scalarText(field(h, "port")) + fieldString(h, "path");
  } else if (field(p, "tcpSocket").is_object()) {
    kind = "tcp-socket " + fieldString(field(p, "tcpSocket"), "host") + ":" +
           scalarText(field(field(p, "tcpSocket"), "port"));
  } else if (field(p, "exec").is_object()) {
    std::string cmd;
    for (const auto& c : fieldArray(field(p, "exec"), "command")) {
      cmd += (cmd.empty() ? "" : " ") + scalarText(c);
    }
    kind = "exec [" + cmd + "]";
  } else if (field(p, "grpc").is_object()) {
    kind = "grpc <pod>:" + std::to_string(fieldInt(field(p, "grpc"), "port")) + " " +
           orNone(fieldString(field(p, "grpc"), "service"));
  } else {
    kind = "unknown";
  }
  auto setting = [&](const char* k, int64_t def) {
    const json& v = field(p, k);
    return v.is_number_integer() ? v.get<int64_t>() : def;
  };
  char buf[160];
  std::snprintf(buf, sizeof buf,
                " delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld",
                static_cast<long long>(setting("initialDelaySeconds", 0)),
                static_cast<long long>(setting("timeoutSeconds", 1)),
                static_cast<long long>(setting("periodSeconds", 10)),
                static_cast<long long>(setting("successThreshold", 1)),
                static_cast<long long>(setting("failureThreshold", 3)));
  return kind + buf;
}

void describeState(std::string& w, std::string_view title, const json& state) {
  const std::string ind = "    ";
  if (field(state, "running").is_object()) {
    w += ind + std::string(title) + ":\tRunning\n";
    w += ind + "  Started:\t" + rfc1123z(fieldString(field(state, "running"), "startedAt")) + "\n";
  } else if (field(state, "waiting").is_object()) {
    w += ind + std::string(title) + ":\tWaiting\n";
    w += ind + "  Reason:\t" + fieldString(field(state, "waiting"), "reason") + "\n";
    if (!fieldString(field(state, "waiting"), "message").empty()) {
      w += ind + "  Message:\t" + fieldString(field(state, "waiting"), "message") + "\n";
    }
  } else if (field(state, "terminated").is_object()) {
    const json& t = field(state, "terminated");
    w += ind + std::string(title) + ":\tTerminated\n";
    w += ind + "  Reason:\t" + fieldString(t, "reason") + "\n";
    if (!fieldString(t, "message").empty())
      w += ind + "  Message:\t" + fieldString(t, "message") + "\n";
    w += ind + "  Exit Code:\t" + std::to_string(fieldInt(t, "exitCode")) + "\n";
    if (fieldInt(t, "signal") > 0)
      w += ind + "  Signal:\t" + std::to_string(fieldInt(t, "signal")) + "\n";
    w += ind + "  Started:\t" + rfc1123z(fieldString(t, "startedAt")) + "\n";
    w += ind + "  Finished:\t" + rfc1123z(fieldString(t, "finishedAt")) + "\n";
  } else {
    w += ind + std::string(title) + ":\tWaiting\n";
  }
}

std::string portsText(const json& ports, const char* key) {
  std::string out;
  for (const auto& p : ports) {
    if (!out.empty()) out += ",";
    std::string proto = fieldString(p, "protocol").empty() ? "TCP" : fieldString(p, "protocol");
    out += std::to_string(fieldInt(p, key)) + "/" + proto;
  }
  return out;
}

void describeContainers(std::string& w, std::string_view title, const json& containers,
                        const json& statuses, const json& devices) {
  w += std::string(title) + ":\n";
  for (const auto& c : containers) {
    const json* status = nullptr;
    for (const auto& s : statuses) {
      if (fieldString(s, "name") == fieldString(c, "name")) status = &s;
    }
    w += "  " + fieldString(c, "name") + ":\n";
    if (status) w += "    Container ID:\t" + fieldString(*status, "containerID") + "\n";
    w += "    Image:\t" + fieldString(c, "image") + "\n";
    if (status) w += "    Image ID:\t" + fieldString(*status, "imageID") + "\n";
    std::string ports = portsText(fieldArray(c, "ports"), "containerPort");
    std::string host_ports = portsText(fieldArray(c, "ports"), "hostPort");
    w += std::string("    ") + (ports.find(',') != std::string::npos ? "Ports" : "Port") + ":\t" +
         orNone(ports) + "\n";
    w += std::string("    ") +
         (host_ports.find(',') != std::string::npos ? "Host Ports" : "Host Port") + ":\t" +
         orNone(host_ports) + "\n";
    if (!fieldArray(c, "command").empty()) {
      w += "    Command:\n";
      for (const auto& a : fieldArray(c, "command")) w += "      " + scalarText(a) + "\n";
    }
    if (!fieldArray(c, "args").empty()) {
      w += "    Args:\n";
      for (const auto& a : fieldArray(c, "args")) w += "      " + scalarText(a) + "\n";
    }
    if (status) {
      describeState(w, "State", field(*status, "state"));
      if (field(field(*status, "lastState"), "terminated").is_object()) {
        describeState(w, "Last State", field(*status, "lastState"));
      }
      w += std::string("    Ready:\t") + (fieldBool(*status, "ready") ? "True" : "False") + "\n";
      w += "    Restart Count:\t" + std::to_string(fieldInt(*status, "restartCount")) + "\n";
    }
    const json& res = field(c, "resources");
    for (const char* kind : {"limits", "requests"}) {
      const json& m = field(res, kind);
      if (m.is_object() && !m.empty()) {
        w += std::string("    ") + (kind[0] == 'l' ? "Limits" : "Requests") + ":\n";
        for (auto it = m.begin(); it != m.end(); ++it) {
          w += "      " + it.key() + ":\t" + scalarText(*it) + "\n";
        }
      }
    }
    const json& ids = field(field(devices, fieldString(c, "name")), "deviceIDs");
    if (ids.is_object() && !ids.empty()) {
      w += "    Allocated Devices:\n";
      for (auto it = ids.begin(); it != ids.end(); ++it) {
        std::string list;
        if (it->is_array()) {
          for (const auto& id : *it) {
            if (!id.is_string()) continue;
            if (!list.empty()) list += ",";
            list += id.get<std::string>();
          }
        }
        w += "      " + it.key() + ":\t" + orNone(list) + "\n";
      }
    }
    if (field(c, "livenessProbe").is_object()) {
      w += "    Liveness:\t" + probeText(field(c, "livenessProbe")) + "\n";
    }
    if (field(c, "readinessProbe").is_object()) {
      w += "    Readiness:\t" + probeText(field(c, "readinessProbe")) + "\n";
    }
    if (field(c, "startupProbe").is_object()) {
      w += "    Startup:\t" + probeText(field(c, "startupProbe")) + "\n";
    }
    const json& env = fieldArray(c, "env");
    if (env.empty()) {
      w += "    Environment:\t<none>\n";
    } else {
      w += "    Environment:\n";
      for (const auto& e : env) {
        if (field(e, "value").is_string()) {
          w += "      " + fieldString(e, "name") + ":\t" + fieldString(e, "value") + "\n";
        } else {
          w += "      " + fieldString(e, "name") + ":\t<set from valueFrom>\n";
        }
      }
    }
    std::vector<const json*> mounts;
    for (const auto& m : fieldArray(c, "volumeMounts")) mounts.push_back(&m);
    std::sort(mounts.begin(), mounts.end(), [](const json* a, const json* b) {
      return fieldString(*a, "mountPath") < fieldString(*b, "mountPath");
    });
    w += mounts.empty() ? "    Mounts:\t<none>\n" : "    Mounts:\n";
    for (const json* m : mounts) {
      std::string flags = fieldBool(*m, "readOnly") ? "ro" : "rw";
      if (!fieldString(*m, "subPath").empty())
        flags += ",path=\"" + fieldString(*m, "subPath") + "\"";
      w += "      " + fieldString(*m, "mountPath") + " from " + fieldString(*m, "name") + " (" +
           flags + ")\n";
    }
  }
}

void describeVolumes(std::string& w, const json& volumes) {
  if (volumes.empty()) {
    w += "Volumes:\t<none>\n";
    return;
  }
  w += "Volumes:\n";
  for (const auto& v : volumes) {
    w += "  " + fieldString(v, "name") + ":\n";
    if (field(v, "hostPath").is_object()) {
      w += "    Type:\tHostPath (bare host directory volume)\n";
      w += "    Path:\t" + fieldString(field(v, "hostPath"), "path") + "\n";
      w += "    HostPathType:\t" + fieldString(field(v, "hostPath"), "type") + "\n";
    } else if (field(v, "emptyDir").is_object()) {
      w += "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n";
      w += "    Medium:\t" + fieldString(field(v, "emptyDir"), "medium") + "\n";
      w += "    SizeLimit:\t" + orNone(scalarText(field(field(v, "emptyDir"), "sizeLimit"))) + "\n";
    } else if (field(v, "configMap").is_object()) {
      w += "    Type:\tConfigMap (a volume populated by a ConfigMap)\n";
      w += "    Name:\t" + fieldString(field(v, "configMap"), "name") + "\n";
      w += std::string("    Optional:\t") +
           (fieldBool(field(v, "configMap"), "optional") ? "true" : "false") + "\n";
    } else if (field(v, "secret").is_object()) {
      w += "    Type:\tSecret (a volume populated by a Secret)\n";
      w += "    SecretName:\t" + fieldString(field(v, "secret"), "secretName") + "\n";
      w += std::string("    Optional:\t") +
           (fieldBool(field(v, "secret"), "optional") ? "true" : "false") + "\n";
    } else if (field(v, "projected").is_object()) {
      w += "    Type:\tProjected (a volume that contains injected data from multiple sources)\n";
    } else if (field(v, "persistentVolumeClaim").is_object()) {
      w += "    Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
           "namespace)\n";
      w += "    ClaimName:\t" + fieldString(field(v, "persistentVolumeClaim"), "claimName") + "\n";
      w += std::string("    ReadOnly:\t") +
           (fieldBool(field(v, "persistentVolumeClaim"), "readOnly") ? "true" : "false") + "\n";
    } else {
      std::string type;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key() != "name") type = it.key();
      }
      w += "    Type:\t" + orNone(type) + "\n";
    }
  }
}

std::string qosClass(const json& pod) {
  std::string q = fieldString(field(pod, "status"), "qosClass");
  if (!q.empty()) return q;
  bool any = false;
  bool guaranteed = true;
  for (const auto& c : fieldArray(field(pod, "spec"), "containers")) {
    const json& limits = field(field(c, "resources"), "limits");
    const json& requests = field(field(c, "resources"), "requests");
    if ((limits.is_object() && !limits.empty()) || (requests.is_object() && !requests.empty())) {
      any = true;
    }
    for (const char* r : {"cpu", "memory"}) {
      if (!field(limits, r).is_string() && !field(limits, r).is_number()) guaranteed = false;
      if (field(requests, r) != field(limits, r) && !field(requests, r).is_null())
        guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

void describeEvents(std::string& w, const std::vector<json>& events,
                    std::chrono::system_clock::time_point now) {
  if (events.empty()) {
    w += "Events:\t<none>\n";
    return;
  }
  w += "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n";
  for (const auto& e : events) {
    std::string last = fieldString(e, "lastTimestamp");
    if (last.empty()) last = fieldString(e, "eventTime");
    if (last.empty()) last = fieldString(field(e, "metadata"), "creationTimestamp");
    std::string age = ageSince(last, now);
    int64_t count = fieldInt(e, "count");
    if (count > 1 && !fieldString(e, "firstTimestamp").empty()) {
      age += " (x" + std::to_string(count) + " over " +
             ageSince(fieldString(e, "firstTimestamp"), now) + ")";
    }
    std::string from = fieldString(field(e, "source"), "component");
    if (from.empty()) from = fieldString(e, "reportingComponent");
    std::string msg = fieldString(e, "message");
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    w += "  " + fieldString(e, "type") + "\t" + fieldString(e, "reason") + "\t" + age + "\t" +
         from + "\t" + msg + "\n";
  }
}

// kubectl's smartLabelFor: "deviceModelRef" -> "Device Model Ref".
std::string smartLabel(const std::string& key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (i > 0 && std::isupper(c) && std::islower(static_cast<unsigned char>(key[i - 1]))) {
      out += ' ';
    }
    if (c == '_' || c == '-') {
      out += ' ';
      continue;
    }
    bool word_start = out.empty() || out.back() == ' ';
    out += static_cast<char>(word_start ? std::toupper(c) : c);
  }
  return out;
}

void describeFields(std::string& w, const json& j, int level) {
  std::string ind(static_cast<size_t>(level) * 2, ' ');
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = smartLabel(it.key());
    if (it->is_object()) {
      w += ind + key + ":\n";
      describeFields(w, *it, level + 1);
    } else if (it->is_array()) {
      w += ind + key + ":\n";
      for (const auto& v : *it) {
        if (v.is_object()) {
          describeFields(w, v, level + 1);
        } else {
          w += ind + "  " + scalarText(v) + "\n";
        }
      }
    } else {
      w += ind + key + ":\t" + scalarText(*it) + "\n";
    }
  }
}

}  // namespace

std::string tabwrite(std::string_view text, int minwidth, int padding) {
  return TabWriter(minwidth, padding).run(text);
}

json podDevicesFromCheckpoint(std::string_view checkpoint, const std::string& uid) {
  json j = json::parse(checkpoint.begin(), checkpoint.end(), nullptr, false);
  const json& pod = field(field(j, "pods"), uid);
  return pod.is_object() ? pod : json();
}

std::string describePod(const json& pod, const std::vector<json>& events, bool show_events,
                        std::chrono::system_clock::time_point now, const json& devices) {
  const json& meta = field(pod, "metadata");
  const json& spec = field(pod, "spec");
  const json& status = field(pod, "status");
  std::string w;
  w += "Name:\t" + fieldString(meta, "name") + "\n";
  w += "Namespace:\t" + fieldString(meta, "namespace") + "\n";
  if (field(spec, "priority").is_number_integer()) {
    w += "Priority:\t" + std::to_string(fieldInt(spec, "priority")) + "\n";
  }
  if (!fieldString(spec, "priorityClassName").empty()) {
    w += "Priority Class Name:\t" + fieldString(spec, "priorityClassName") + "\n";
  }
  if (!fieldString(spec, "runtimeClassName").empty()) {
    w += "Runtime Class Name:\t" + fieldString(spec, "runtimeClassName") + "\n";
  }
  if (!fieldString(spec, "serviceAccountName").empty()) {
    w += "Service Account:\t" + fieldString(spec, "serviceAccountName") + "\n";
  }
  w += "Node:\t" +
       (fieldString(spec, "nodeName").empty()
            ? "<none>"
            : fieldString(spec, "nodeName") + "/" + fieldString(status, "hostIP")) +
       "\n";
  if (!fieldString(status, "startTime").empty()) {
    w += "Start Time:\t" + rfc1123z(fieldString(status, "startTime")) + "\n";
  }
  labelsMultiline(w, "Labels", field(meta, "labels"));
  labelsMultiline(w, "Annotations", field(meta, "annotations"));
  if (!fieldString(meta, "deletionTimestamp").empty()) {
    w += "Status:\tTerminating (lasts " + ageSince(fieldString(meta, "deletionTimestamp"), now) +
         ")\n";
  } else {
    w += "Status:\t" + fieldString(status, "phase") + "\n";
  }
  if (!fieldString(status, "reason").empty())
    w += "Reason:\t" + fieldString(status, "reason") + "\n";
  if (!fieldString(status, "message").empty())
    w += "Message:\t" + fieldString(status, "message") + "\n";
  w += "IP:\t" + fieldString(status, "podIP") + "\n";
  const json& ips = fieldArray(status, "podIPs");
  if (ips.empty()) {
    w += "IPs:\t<none>\n";
  } else {
    w += "IPs:\n";
    for (const auto& ip : ips) w += "  IP:\t" + fieldString(ip, "ip") + "\n";
  }
  for (const auto& ref : fieldArray(meta, "ownerReferences")) {
    if (fieldBool(ref, "controller")) {
      w += "Controlled By:\t" + fieldString(ref, "kind") + "/" + fieldString(ref, "name") + "\n";
    }
  }
  if (!fieldArray(spec, "initContainers").empty()) {
    describeContainers(w, "Init Containers", fieldArray(spec, "initContainers"),
                       fieldArray(status, "initContainerStatuses"), devices);
  }
  describeContainers(w, "Containers", fieldArray(spec, "containers"),
                     fieldArray(status, "containerStatuses"), devices);
  if (!fieldArray(status, "conditions").empty()) {
    w += "Conditions:\n  Type\tStatus\n";
    for (const auto& c : fieldArray(status, "conditions")) {
      w += "  " + fieldString(c, "type") + " \t" + fieldString(c, "status") + " \n";
    }
  }
  describeVolumes(w, fieldArray(spec, "volumes"));
  w += "QoS Class:\t" + qosClass(pod) + "\n";
  labelsMultiline(w, "Node-Selectors", field(spec, "nodeSelector"));
  const json& tolerations = fieldArray(spec, "tolerations");
  w += "Tolerations:\t";
  if (tolerations.empty()) w += "<none>\n";
  bool first = true;
  for (const auto& t : tolerations) {
    if (!first) w += "\t";
    first = false;
    std::string text = fieldString(t, "key");
    if (!fieldString(t, "value").empty()) text += "=" + fieldString(t, "value");
    if (!fieldString(t, "effect").empty()) text += ":" + fieldString(t, "effect");
    if (fieldString(t, "operator") == "Exists" && fieldString(t, "value").empty()) {
      text += (fieldString(t, "key").empty() ? "" : " ") + std::string("op=Exists");
    }
    if (field(t, "tolerationSeconds").is_number_integer()) {
      text += " for " + std::to_string(fieldInt(t, "tolerationSeconds")) + "s";
    }
    w += text + "\n";
  }
  if (show_events) describeEvents(w, events, now);
  return describeText(w);
}

std::string describeGeneric(const json& obj, const std::vector<json>& events, bool show_events,
                            std::chrono::system_clock::time_point now) {
  const json& meta = field(obj, "metadata");
  std::string w;
  w += "Name:\t" + fieldString(meta, "name") + "\n";
  w += "Namespace:\t" + fieldString(meta, "namespace") + "\n";
  labelsMultiline(w, "Labels", field(meta, "labels"));
  labelsMultiline(w, "Annotations", field(meta, "annotations"));
  w += "API Version:\t" + fieldString(obj, "apiVersion") + "\n";
  w += "Kind:\t" + fieldString(obj, "kind") + "\n";
  json rest = obj;
  rest.erase("apiVersion");
  rest.erase("kind");
  if (rest.contains("metadata") && rest["metadata"].is_object()) {
    json& m = rest["metadata"];
    for (const char* k : {"name", "namespace", "labels", "annotations", "managedFields"}) {
      m.erase(k);
    }
  }
  describeFields(w, rest, 0);
  if (show_events) describeEvents(w, events, now);
  return describeText(w);
}

}  // namespace edgecore::keadm
