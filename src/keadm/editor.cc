#include "editor.h"

#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace edgecore::keadm {

using nlohmann::json;

std::string stripComments(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '#') continue;
    out += line + "\n";
  }
  return out;
}

nlohmann::json yamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json j = json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = yamlToJson(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      json j = json::array();
      for (const auto& v : n) j.push_back(yamlToJson(v));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      json num = json::parse(s, nullptr, false);
      if (num.is_number()) return num;
      return s;
    }
    default:
      return nullptr;
  }
}

core::Status runEditor(const std::string& path) {
  std::string editor;
  for (const char* var : {"KUBE_EDITOR", "EDITOR"}) {
    const char* v = std::getenv(var);
    if (v && *v) {
      editor = v;
      break;
    }
  }
  if (editor.empty()) editor = "vi";
  // The file name is passed as an argument, never spliced into the shell text; the editor
  // variable may carry its own arguments ("code --wait").
  pid_t pid = ::fork();
  if (pid < 0) return core::unavailable("cannot start the editor");
  if (pid == 0) {
    std::string script = editor + " \"$1\"";
    ::execl("/bin/sh", "sh", "-c", script.c_str(), "sh", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return core::unavailable("there was a problem with the editor \"" + editor + "\"");
  }
  return core::Status();
}

}  // namespace edgecore::keadm
