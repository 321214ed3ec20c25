#include "printing.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

namespace edgecore::keadm {
namespace {

using nlohmann::json;

const json& sub(const json& j, std::string_view key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}
std::string str(const json& j, std::string_view key) {
  const json& v = sub(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}
int64_t num(const json& j, std::string_view key) {
  const json& v = sub(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}
bool boolean(const json& j, std::string_view key) {
  const json& v = sub(j, key);
  return v.is_boolean() && v.get<bool>();
}
const json& arr(const json& j, std::string_view key) {
  static const json kEmpty = json::array();
  const json& v = sub(j, key);
  return v.is_array() ? v : kEmpty;
}
std::string orNone(std::string s) { return s.empty() ? "<none>" : s; }
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

// ---- YAML ----
bool yamlNeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::array<std::string_view, 14> kSpecial = {"true", "false", "yes",  "no",   "on",
                                                            "off",  "null",  "~",    "y",    "n",
                                                            ".inf", "-.inf", ".nan", "+.inf"};
  std::string l = s;
  for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto w : kSpecial) {
    if (l == w) return true;
  }
  unsigned char first = static_cast<unsigned char>(s[0]);
  if (std::isdigit(first) || first == '-' || first == '+' || first == '.') return true;
  return std::isspace(first) || std::isspace(static_cast<unsigned char>(s.back()));
}

void emitYaml(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        emitYaml(out, *it);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& v : j) emitYaml(out, v);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (yamlNeedsQuotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      break;
    case json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << j.dump();
      break;
  }
}

// ---- describe helpers ----
std::string rfc1123z(std::string_view ts) {
  std::chrono::system_clock::time_point t;
  if (!parseRfc3339(ts, &t)) return std::string(ts);
  time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
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
  if (sub(p, "httpGet").is_object()) {
    const json& h = sub(p, "httpGet");
    std::string scheme = str(h, "scheme").empty() ? "http" : str(h, "scheme");
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    kind = "http-get " + scheme + "://" + str(h, "host") + ":" + scalarText(sub(h, "port")) +
           str(h, "path");
  } else if (sub(p, "tcpSocket").is_object()) {
    kind = "tcp-socket " + str(sub(p, "tcpSocket"), "host") + ":" +
           scalarText(sub(sub(p, "tcpSocket"), "port"));
  } else if (sub(p, "exec").is_object()) {
    std::string cmd;
    for (const auto& c : arr(sub(p, "exec"), "command")) {
      cmd += (cmd.empty() ? "" : " ") + scalarText(c);
    }
    kind = "exec [" + cmd + "]";
  } else if (sub(p, "grpc").is_object()) {
    kind = "grpc <pod>:" + std::to_string(num(sub(p, "grpc"), "port")) + " " +
           orNone(str(sub(p, "grpc"), "service"));
  } else {
    kind = "unknown";
  }
  auto field = [&](const char* k, int64_t def) {
    const json& v = sub(p, k);
    return v.is_number_integer() ? v.get<int64_t>() : def;
  };
  char buf[160];
  std::snprintf(buf, sizeof buf,
                " delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld",
                static_cast<long long>(field("initialDelaySeconds", 0)),
                static_cast<long long>(field("timeoutSeconds", 1)),
                static_cast<long long>(field("periodSeconds", 10)),
                static_cast<long long>(field("successThreshold", 1)),
                static_cast<long long>(field("failureThreshold", 3)));
  return kind + buf;
}

void describeState(std::string& w, std::string_view title, const json& state) {
  const std::string ind = "    ";
  if (sub(state, "running").is_object()) {
    w += ind + std::string(title) + ":\tRunning\n";
    w += ind + "  Started:\t" + rfc1123z(str(sub(state, "running"), "startedAt")) + "\n";
  } else if (sub(state, "waiting").is_object()) {
    w += ind + std::string(title) + ":\tWaiting\n";
    w += ind + "  Reason:\t" + str(sub(state, "waiting"), "reason") + "\n";
    if (!str(sub(state, "waiting"), "message").empty()) {
      w += ind + "  Message:\t" + str(sub(state, "waiting"), "message") + "\n";
    }
  } else if (sub(state, "terminated").is_object()) {
    const json& t = sub(state, "terminated");
    w += ind + std::string(title) + ":\tTerminated\n";
    w += ind + "  Reason:\t" + str(t, "reason") + "\n";
    if (!str(t, "message").empty()) w += ind + "  Message:\t" + str(t, "message") + "\n";
    w += ind + "  Exit Code:\t" + std::to_string(num(t, "exitCode")) + "\n";
    if (num(t, "signal") > 0) w += ind + "  Signal:\t" + std::to_string(num(t, "signal")) + "\n";
    w += ind + "  Started:\t" + rfc1123z(str(t, "startedAt")) + "\n";
    w += ind + "  Finished:\t" + rfc1123z(str(t, "finishedAt")) + "\n";
  } else {
    w += ind + std::string(title) + ":\tWaiting\n";
  }
}

std::string portsText(const json& ports, const char* key) {
  std::string out;
  for (const auto& p : ports) {
    if (!out.empty()) out += ",";
    std::string proto = str(p, "protocol").empty() ? "TCP" : str(p, "protocol");
    out += std::to_string(num(p, key)) + "/" + proto;
  }
  return out;
}

void describeContainers(std::string& w, std::string_view title, const json& containers,
                        const json& statuses, const json& devices) {
  w += std::string(title) + ":\n";
  for (const auto& c : containers) {
    const json* status = nullptr;
    for (const auto& s : statuses) {
      if (str(s, "name") == str(c, "name")) status = &s;
    }
    w += "  " + str(c, "name") + ":\n";
    if (status) w += "    Container ID:\t" + str(*status, "containerID") + "\n";
    w += "    Image:\t" + str(c, "image") + "\n";
    if (status) w += "    Image ID:\t" + str(*status, "imageID") + "\n";
    std::string ports = portsText(arr(c, "ports"), "containerPort");
    std::string host_ports = portsText(arr(c, "ports"), "hostPort");
    w += std::string("    ") + (ports.find(',') != std::string::npos ? "Ports" : "Port") + ":\t" +
         orNone(ports) + "\n";
    w += std::string("    ") +
         (host_ports.find(',') != std::string::npos ? "Host Ports" : "Host Port") + ":\t" +
         orNone(host_ports) + "\n";
    if (!arr(c, "command").empty()) {
      w += "    Command:\n";
      for (const auto& a : arr(c, "command")) w += "      " + scalarText(a) + "\n";
    }
    if (!arr(c, "args").empty()) {
      w += "    Args:\n";
      for (const auto& a : arr(c, "args")) w += "      " + scalarText(a) + "\n";
    }
    if (status) {
      describeState(w, "State", sub(*status, "state"));
      if (sub(sub(*status, "lastState"), "terminated").is_object()) {
        describeState(w, "Last State", sub(*status, "lastState"));
      }
      w += std::string("    Ready:\t") + (boolean(*status, "ready") ? "True" : "False") + "\n";
      w += "    Restart Count:\t" + std::to_string(num(*status, "restartCount")) + "\n";
    }
    const json& res = sub(c, "resources");
    for (const char* kind : {"limits", "requests"}) {
      const json& m = sub(res, kind);
      if (m.is_object() && !m.empty()) {
        w += std::string("    ") + (kind[0] == 'l' ? "Limits" : "Requests") + ":\n";
        for (auto it = m.begin(); it != m.end(); ++it) {
          w += "      " + it.key() + ":\t" + scalarText(*it) + "\n";
        }
      }
    }
    const json& ids = sub(sub(devices, str(c, "name")), "deviceIDs");
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
    if (sub(c, "livenessProbe").is_object()) {
      w += "    Liveness:\t" + probeText(sub(c, "livenessProbe")) + "\n";
    }
    if (sub(c, "readinessProbe").is_object()) {
      w += "    Readiness:\t" + probeText(sub(c, "readinessProbe")) + "\n";
    }
    if (sub(c, "startupProbe").is_object()) {
      w += "    Startup:\t" + probeText(sub(c, "startupProbe")) + "\n";
    }
    const json& env = arr(c, "env");
    if (env.empty()) {
      w += "    Environment:\t<none>\n";
    } else {
      w += "    Environment:\n";
      for (const auto& e : env) {
        if (sub(e, "value").is_string()) {
          w += "      " + str(e, "name") + ":\t" + str(e, "value") + "\n";
        } else {
          w += "      " + str(e, "name") + ":\t<set from valueFrom>\n";
        }
      }
    }
    std::vector<const json*> mounts;
    for (const auto& m : arr(c, "volumeMounts")) mounts.push_back(&m);
    std::sort(mounts.begin(), mounts.end(), [](const json* a, const json* b) {
      return str(*a, "mountPath") < str(*b, "mountPath");
    });
    w += mounts.empty() ? "    Mounts:\t<none>\n" : "    Mounts:\n";
    for (const json* m : mounts) {
      std::string flags = boolean(*m, "readOnly") ? "ro" : "rw";
      if (!str(*m, "subPath").empty()) flags += ",path=\"" + str(*m, "subPath") + "\"";
      w += "      " + str(*m, "mountPath") + " from " + str(*m, "name") + " (" + flags + ")\n";
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
    w += "  " + str(v, "name") + ":\n";
    if (sub(v, "hostPath").is_object()) {
      w += "    Type:\tHostPath (bare host directory volume)\n";
      w += "    Path:\t" + str(sub(v, "hostPath"), "path") + "\n";
      w += "    HostPathType:\t" + str(sub(v, "hostPath"), "type") + "\n";
    } else if (sub(v, "emptyDir").is_object()) {
      w += "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n";
      w += "    Medium:\t" + str(sub(v, "emptyDir"), "medium") + "\n";
      w += "    SizeLimit:\t" + orNone(scalarText(sub(sub(v, "emptyDir"), "sizeLimit"))) + "\n";
    } else if (sub(v, "configMap").is_object()) {
      w += "    Type:\tConfigMap (a volume populated by a ConfigMap)\n";
      w += "    Name:\t" + str(sub(v, "configMap"), "name") + "\n";
      w += std::string("    Optional:\t") +
           (boolean(sub(v, "configMap"), "optional") ? "true" : "false") + "\n";
    } else if (sub(v, "secret").is_object()) {
      w += "    Type:\tSecret (a volume populated by a Secret)\n";
      w += "    SecretName:\t" + str(sub(v, "secret"), "secretName") + "\n";
      w += std::string("    Optional:\t") +
           (boolean(sub(v, "secret"), "optional") ? "true" : "false") + "\n";
    } else if (sub(v, "projected").is_object()) {
      w += "    Type:\tProjected (a volume that contains injected data from multiple sources)\n";
    } else if (sub(v, "persistentVolumeClaim").is_object()) {
      w += "    Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
           "namespace)\n";
      w += "    ClaimName:\t" + str(sub(v, "persistentVolumeClaim"), "claimName") + "\n";
      w += std::string("    ReadOnly:\t") +
           (boolean(sub(v, "persistentVolumeClaim"), "readOnly") ? "true" : "false") + "\n";
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
  std::string q = str(sub(pod, "status"), "qosClass");
  if (!q.empty()) return q;
  bool any = false;
  bool guaranteed = true;
  for (const auto& c : arr(sub(pod, "spec"), "containers")) {
    const json& limits = sub(sub(c, "resources"), "limits");
    const json& requests = sub(sub(c, "resources"), "requests");
    if ((limits.is_object() && !limits.empty()) || (requests.is_object() && !requests.empty())) {
      any = true;
    }
    for (const char* r : {"cpu", "memory"}) {
      if (!sub(limits, r).is_string() && !sub(limits, r).is_number()) guaranteed = false;
      if (sub(requests, r) != sub(limits, r) && !sub(requests, r).is_null()) guaranteed = false;
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
    std::string last = str(e, "lastTimestamp");
    if (last.empty()) last = str(e, "eventTime");
    if (last.empty()) last = str(sub(e, "metadata"), "creationTimestamp");
    std::string age = ageSince(last, now);
    int64_t count = num(e, "count");
    if (count > 1 && !str(e, "firstTimestamp").empty()) {
      age +=
          " (x" + std::to_string(count) + " over " + ageSince(str(e, "firstTimestamp"), now) + ")";
    }
    std::string from = str(sub(e, "source"), "component");
    if (from.empty()) from = str(e, "reportingComponent");
    std::string msg = str(e, "message");
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    w += "  " + str(e, "type") + "\t" + str(e, "reason") + "\t" + age + "\t" + from + "\t" + msg +
         "\n";
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
  if (mins < 10) return secs % 60 == 0 ? fmt("%lldm", mins) : fmt("%lldm%llds", mins, secs % 60);
  if (mins < 180) return fmt("%lldm", mins);
  int64_t hours = mins / 60;
  if (hours < 8) return mins % 60 == 0 ? fmt("%lldh", hours) : fmt("%lldh%lldm", hours, mins % 60);
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
  *out = std::chrono::system_clock::from_time_t(timegm(&tm) - offset_secs);
  return true;
}

std::string ageSince(std::string_view timestamp, std::chrono::system_clock::time_point now) {
  std::chrono::system_clock::time_point t;
  if (timestamp.empty() || !parseRfc3339(timestamp, &t)) return "<unknown>";
  return humanDuration(now - t);
}

// Mirrors kubectl's printPod (k8s.io/kubernetes pkg/printers/internalversion/printers.go).
std::vector<std::string> podCells(const json& pod, std::chrono::system_clock::time_point now) {
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
    const json& term = sub(sub(cs, "state"), "terminated");
    const json& wait = sub(sub(cs, "state"), "waiting");
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
  if (!sub(meta, "deletionTimestamp").is_null()) {
    std::string phase = str(status, "phase");
    if (str(status, "reason") == "NodeLost") {
      reason = "Unknown";
    } else if (phase != "Succeeded" && phase != "Failed") {
      reason = "Terminating";
    }
  }
  std::string restarts_cell = std::to_string(restarts);
  if (last_restart != std::chrono::system_clock::time_point{}) {
    restarts_cell += " (" + humanDuration(now - last_restart) + " ago)";
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
  return {str(meta, "name"),
          std::to_string(ready) + "/" + std::to_string(total),
          reason,
          restarts_cell,
          ageSince(str(meta, "creationTimestamp"), now),
          orNone(str(status, "podIP")),
          orNone(str(spec, "nodeName")),
          orNone(str(status, "nominatedNodeName")),
          gates};
}

std::string toYaml(const json& j) {
  YAML::Emitter out;
  out.SetIndent(2);
  emitYaml(out, j);
  return std::string(out.c_str()) + "\n";
}

json podDevicesFromCheckpoint(std::string_view checkpoint, const std::string& uid) {
  json j = json::parse(checkpoint.begin(), checkpoint.end(), nullptr, false);
  const json& pod = sub(sub(j, "pods"), uid);
  return pod.is_object() ? pod : json();
}

std::string describePod(const json& pod, const std::vector<json>& events, bool show_events,
                        std::chrono::system_clock::time_point now, const json& devices) {
  const json& meta = sub(pod, "metadata");
  const json& spec = sub(pod, "spec");
  const json& status = sub(pod, "status");
  std::string w;
  w += "Name:\t" + str(meta, "name") + "\n";
  w += "Namespace:\t" + str(meta, "namespace") + "\n";
  if (sub(spec, "priority").is_number_integer()) {
    w += "Priority:\t" + std::to_string(num(spec, "priority")) + "\n";
  }
  if (!str(spec, "priorityClassName").empty()) {
    w += "Priority Class Name:\t" + str(spec, "priorityClassName") + "\n";
  }
  if (!str(spec, "runtimeClassName").empty()) {
    w += "Runtime Class Name:\t" + str(spec, "runtimeClassName") + "\n";
  }
  if (!str(spec, "serviceAccountName").empty()) {
    w += "Service Account:\t" + str(spec, "serviceAccountName") + "\n";
  }
  w += "Node:\t" +
       (str(spec, "nodeName").empty() ? "<none>"
                                      : str(spec, "nodeName") + "/" + str(status, "hostIP")) +
       "\n";
  if (!str(status, "startTime").empty()) {
    w += "Start Time:\t" + rfc1123z(str(status, "startTime")) + "\n";
  }
  labelsMultiline(w, "Labels", sub(meta, "labels"));
  labelsMultiline(w, "Annotations", sub(meta, "annotations"));
  if (!str(meta, "deletionTimestamp").empty()) {
    w += "Status:\tTerminating (lasts " + ageSince(str(meta, "deletionTimestamp"), now) + ")\n";
  } else {
    w += "Status:\t" + str(status, "phase") + "\n";
  }
  if (!str(status, "reason").empty()) w += "Reason:\t" + str(status, "reason") + "\n";
  if (!str(status, "message").empty()) w += "Message:\t" + str(status, "message") + "\n";
  w += "IP:\t" + str(status, "podIP") + "\n";
  const json& ips = arr(status, "podIPs");
  if (ips.empty()) {
    w += "IPs:\t<none>\n";
  } else {
    w += "IPs:\n";
    for (const auto& ip : ips) w += "  IP:\t" + str(ip, "ip") + "\n";
  }
  for (const auto& ref : arr(meta, "ownerReferences")) {
    if (boolean(ref, "controller")) {
      w += "Controlled By:\t" + str(ref, "kind") + "/" + str(ref, "name") + "\n";
    }
  }
  if (!arr(spec, "initContainers").empty()) {
    describeContainers(w, "Init Containers", arr(spec, "initContainers"),
                       arr(status, "initContainerStatuses"), devices);
  }
  describeContainers(w, "Containers", arr(spec, "containers"), arr(status, "containerStatuses"),
                     devices);
  if (!arr(status, "conditions").empty()) {
    w += "Conditions:\n  Type\tStatus\n";
    for (const auto& c : arr(status, "conditions")) {
      w += "  " + str(c, "type") + " \t" + str(c, "status") + " \n";
    }
  }
  describeVolumes(w, arr(spec, "volumes"));
  w += "QoS Class:\t" + qosClass(pod) + "\n";
  labelsMultiline(w, "Node-Selectors", sub(spec, "nodeSelector"));
  const json& tolerations = arr(spec, "tolerations");
  w += "Tolerations:\t";
  if (tolerations.empty()) w += "<none>\n";
  bool first = true;
  for (const auto& t : tolerations) {
    if (!first) w += "\t";
    first = false;
    std::string text = str(t, "key");
    if (!str(t, "value").empty()) text += "=" + str(t, "value");
    if (!str(t, "effect").empty()) text += ":" + str(t, "effect");
    if (str(t, "operator") == "Exists" && str(t, "value").empty()) {
      text += (str(t, "key").empty() ? "" : " ") + std::string("op=Exists");
    }
    if (sub(t, "tolerationSeconds").is_number_integer()) {
      text += " for " + std::to_string(num(t, "tolerationSeconds")) + "s";
    }
    w += text + "\n";
  }
  if (show_events) describeEvents(w, events, now);
  return describeText(w);
}

std::string describeGeneric(const json& obj, const std::vector<json>& events, bool show_events,
                            std::chrono::system_clock::time_point now) {
  const json& meta = sub(obj, "metadata");
  std::string w;
  w += "Name:\t" + str(meta, "name") + "\n";
  w += "Namespace:\t" + str(meta, "namespace") + "\n";
  labelsMultiline(w, "Labels", sub(meta, "labels"));
  labelsMultiline(w, "Annotations", sub(meta, "annotations"));
  w += "API Version:\t" + str(obj, "apiVersion") + "\n";
  w += "Kind:\t" + str(obj, "kind") + "\n";
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
