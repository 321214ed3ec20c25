#include "edgecore/kubeprint/kubeprint.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <optional>

#include "edgecore/core/time.h"

namespace edgecore::kubeprint {

using nlohmann::json;

const json& field(const json& object, std::string_view key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string fieldString(const json& object, std::string_view key) {
  const json& v = field(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t fieldInt(const json& object, std::string_view key) {
  const json& v = field(object, key);
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

bool fieldBool(const json& object, std::string_view key) {
  const json& v = field(object, key);
  return v.is_boolean() && v.get<bool>();
}

const json& fieldArray(const json& object, std::string_view key) {
  static const json kEmpty = json::array();
  const json& v = field(object, key);
  return v.is_array() ? v : kEmpty;
}

std::string orNone(std::string s) { return s.empty() ? "<none>" : s; }

// ---------------------------------------------------------------- time

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

// A metav1.Time as kubectl reads it for ages: whole seconds (metav1.Time has no fraction on the
// wire; a MicroTime's fraction is dropped here so ages agree with kubectl's).
static bool parseTimestamp(std::string_view text, std::chrono::system_clock::time_point* out) {
  auto t = core::parseRfc3339(text);
  if (!t.ok()) return false;
  *out = std::chrono::floor<std::chrono::seconds>(*t);
  return true;
}

std::string ageSince(std::string_view timestamp, std::chrono::system_clock::time_point now) {
  std::chrono::system_clock::time_point t;
  if (timestamp.empty() || !parseTimestamp(timestamp, &t)) return "<unknown>";
  return humanDuration(now - t);
}

// ---------------------------------------------------------------- pods

namespace {

// STATUS while an init container has not finished; nullopt once all have (printPod's first loop).
// Adds the init containers' restarts to `restarts` and notes their last restart times.
template <typename NoteRestart>
std::optional<std::string> initReason(const json& spec, const json& status, int64_t& restarts,
                                      NoteRestart&& noteRestart) {
  const json& init_statuses = fieldArray(status, "initContainerStatuses");
  size_t init_total = fieldArray(spec, "initContainers").size();
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json& cs = init_statuses[i];
    restarts += fieldInt(cs, "restartCount");
    noteRestart(cs);
    const json& term = field(field(cs, "state"), "terminated");
    const json& wait = field(field(cs, "state"), "waiting");
    if (term.is_object() && fieldInt(term, "exitCode") == 0) continue;
    if (term.is_object()) {
      if (fieldString(term, "reason").empty()) {
        return fieldInt(term, "signal") != 0
                   ? "Init:Signal:" + std::to_string(fieldInt(term, "signal"))
                   : "Init:ExitCode:" + std::to_string(fieldInt(term, "exitCode"));
      }
      return "Init:" + fieldString(term, "reason");
    }
    if (wait.is_object() && !fieldString(wait, "reason").empty() &&
        fieldString(wait, "reason") != "PodInitializing") {
      return "Init:" + fieldString(wait, "reason");
    }
    return "Init:" + std::to_string(i) + "/" + std::to_string(init_total);
  }
  return std::nullopt;
}

bool hasTrueCondition(const json& status, std::string_view type) {
  for (const auto& cond : fieldArray(status, "conditions")) {
    if (fieldString(cond, "type") == type && fieldString(cond, "status") == "True") return true;
  }
  return false;
}

}  // namespace

// Long on purpose: it follows kubectl's printPod step by step (init containers, containers,
// readiness gates, the node-lost and terminating overrides) so the two compare line by line.
std::vector<std::string> podCells(const json& pod, std::chrono::system_clock::time_point now) {
  const json& meta = field(pod, "metadata");
  const json& spec = field(pod, "spec");
  const json& status = field(pod, "status");
  int64_t restarts = 0;
  int64_t total = static_cast<int64_t>(fieldArray(spec, "containers").size());
  int64_t ready = 0;
  std::chrono::system_clock::time_point last_restart{};
  auto noteRestart = [&](const json& cs) {
    const json& term = field(field(cs, "lastState"), "terminated");
    std::chrono::system_clock::time_point t;
    if (term.is_object() && parseTimestamp(fieldString(term, "finishedAt"), &t) &&
        t > last_restart) {
      last_restart = t;
    }
  };
  std::string reason = fieldString(status, "phase");
  if (!fieldString(status, "reason").empty()) reason = fieldString(status, "reason");
  for (const auto& cond : fieldArray(status, "conditions")) {
    if (fieldString(cond, "type") == "PodScheduled" &&
        fieldString(cond, "reason") == "SchedulingGated") {
      reason = "SchedulingGated";
    }
  }
  if (auto init = initReason(spec, status, restarts, noteRestart)) {
    reason = *init;
  } else {
    // kubectl counts the regular containers only once every init container has finished.
    restarts = 0;
    last_restart = {};
    bool has_running = false;
    const json& statuses = fieldArray(status, "containerStatuses");
    for (size_t n = statuses.size(); n-- > 0;) {
      const json& cs = statuses[n];
      restarts += fieldInt(cs, "restartCount");
      noteRestart(cs);
      const json& state = field(cs, "state");
      const json& wait = field(state, "waiting");
      const json& term = field(state, "terminated");
      if (wait.is_object() && !fieldString(wait, "reason").empty()) {
        reason = fieldString(wait, "reason");
      } else if (term.is_object() && !fieldString(term, "reason").empty()) {
        reason = fieldString(term, "reason");
      } else if (term.is_object()) {
        reason = fieldInt(term, "signal") != 0
                     ? "Signal:" + std::to_string(fieldInt(term, "signal"))
                     : "ExitCode:" + std::to_string(fieldInt(term, "exitCode"));
      } else if (fieldBool(cs, "ready") && field(state, "running").is_object()) {
        has_running = true;
        ++ready;
      }
    }
    if (reason == "Completed" && has_running) {
      reason = hasTrueCondition(status, "Ready") ? "Running" : "NotReady";
    }
  }
  if (!field(meta, "deletionTimestamp").is_null()) {
    std::string phase = fieldString(status, "phase");
    if (fieldString(status, "reason") == "NodeLost") {
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
  const json& readiness_gates = fieldArray(spec, "readinessGates");
  if (!readiness_gates.empty()) {
    size_t true_gates = 0;
    for (const auto& g : readiness_gates) {
      for (const auto& cond : fieldArray(status, "conditions")) {
        if (fieldString(cond, "type") == fieldString(g, "conditionType") &&
            fieldString(cond, "status") == "True") {
          ++true_gates;
        }
      }
    }
    gates = std::to_string(true_gates) + "/" + std::to_string(readiness_gates.size());
  }
  return {fieldString(meta, "name"),
          std::to_string(ready) + "/" + std::to_string(total),
          reason,
          restarts_cell,
          ageSince(fieldString(meta, "creationTimestamp"), now),
          orNone(fieldString(status, "podIP")),
          orNone(fieldString(spec, "nodeName")),
          orNone(fieldString(status, "nominatedNodeName")),
          gates};
}

// ---------------------------------------------------------------- YAML

namespace {

// Strings YAML would read back as something else get quoted.
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
      // Text ending in exactly one newline reads back the same from a plain "|" block (yaml-cpp
      // cannot write "|-"), so config files stay readable; other multi-line text is quoted.
      if (s.size() > 1 && s.back() == '\n' && s[s.size() - 2] != '\n' &&
          s.find_first_of("\t\r") == std::string::npos) {
        out << YAML::Literal << s.substr(0, s.size() - 1);
      } else if (yamlNeedsQuotes(s)) {
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
      // Numbers keep their JSON spelling (never throws: numbers are plain ASCII).
      out << j.dump(-1, ' ', false, json::error_handler_t::replace);
      break;
  }
}

}  // namespace

core::Result<std::string> toYaml(const json& j) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emitYaml(out, j);
  if (!out.good()) return core::internalError(out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace edgecore::kubeprint
