// Recording edgecoreVersion in edgecore.yaml at start, as KubeEdge v1.23 does
// (edge/cmd/edgecore/app/server.go: when the file's edgecoreVersion differs from the running
// version it sets it and rewrites the whole file with yaml.Marshal). We edit or append one line,
// so comments, key order and every other value stay byte for byte.

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>

#include "edgecore/core/config.h"
#include "edgecore/core/file.h"

namespace edgecore::core {
namespace {

constexpr std::string_view kKey = "edgecoreVersion";

// Whether `line` is the top-level key `edgecoreVersion` (no indent, optional spaces, ':').
bool isVersionLine(std::string_view line) {
  if (line.substr(0, kKey.size()) != kKey) {
    return false;
  }
  size_t i = kKey.size();
  while (i < line.size() && line[i] == ' ') {
    ++i;
  }
  return i < line.size() && line[i] == ':';
}

}  // namespace

std::optional<std::string> withEdgecoreVersion(std::string_view yaml, std::string_view version) {
  const std::string wanted = std::string(kKey) + ": " + std::string(version);
  std::string out;
  out.reserve(yaml.size() + wanted.size() + 1);
  bool replaced = false;
  size_t pos = 0;
  while (pos < yaml.size()) {
    size_t nl = yaml.find('\n', pos);
    size_t end = nl == std::string_view::npos ? yaml.size() : nl;
    std::string_view line = yaml.substr(pos, end - pos);
    bool cr = !line.empty() && line.back() == '\r';
    if (!replaced && isVersionLine(line)) {
      out += wanted;
      out += cr ? "\r" : "";
      replaced = true;
    } else {
      out += line;
    }
    if (nl != std::string_view::npos) {
      out += '\n';
    }
    pos = end + 1;
  }
  if (!replaced) {
    if (!out.empty() && out.back() != '\n') {
      out += '\n';
    }
    out += wanted + "\n";
  }
  // Only a result that reads back as the same document with the new version is written: a flow
  // mapping, a multi-document file or an odd layout is left alone.
  try {
    YAML::Node before = YAML::Load(std::string(yaml));
    YAML::Node after = YAML::Load(out);
    if (!after.IsMap() || !after[std::string(kKey)] ||
        after[std::string(kKey)].as<std::string>() != version) {
      return std::nullopt;
    }
    if (before.IsMap() && before[std::string(kKey)] && before[std::string(kKey)].IsScalar() &&
        before[std::string(kKey)].as<std::string>() == version) {
      return std::nullopt;  // already recorded
    }
    if (!(before.IsMap() || before.IsNull()) ||
        after.size() != before.size() + (replaced ? 0 : 1)) {
      return std::nullopt;
    }
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  return out;
}

Result<bool> recordEdgecoreVersion(const std::string& path, std::string_view version) {
  EC_ASSIGN_OR_RETURN(std::string text, readFile(path));
  std::optional<std::string> updated = withEdgecoreVersion(text, version);
  if (!updated) {
    return false;
  }
  struct stat st {};
  unsigned mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
  EC_RETURN_IF_ERROR(writeFileAtomic(path, *updated, mode));
  return true;
}

}  // namespace edgecore::core
