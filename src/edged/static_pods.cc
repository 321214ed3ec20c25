// Static pod manifests (see static_pods.h).

#include "static_pods.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace edgecore::edged {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kMaxYamlDepth = 128;

json scalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") {  // quoted or explicitly tagged: a string
    return s;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return nullptr;
  }
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(
      "[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+");
  if (std::regex_match(s, kInt)) {
    try {
      return std::stoll(s);
    } catch (...) {
      return s;
    }
  }
  if (std::regex_match(s, kFloat)) {
    try {
      return std::stod(s);
    } catch (...) {
      return s;
    }
  }
  return s;
}

json convert(const YAML::Node& node, int depth) {
  if (depth > kMaxYamlDepth) {
    throw std::runtime_error("document nested too deeply");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalarToJson(node);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : node) {
        a.push_back(convert(item, depth + 1));
      }
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : node) {
        o[kv.first.as<std::string>()] = convert(kv.second, depth + 1);
      }
      return o;
    }
  }
  return nullptr;
}

// FNV-1a 64 twice with different seeds: a 32-hex-digit stable id (formatted as a UUID).
std::string contentUid(const std::string& data) {
  auto fnv = [&](uint64_t h) {
    for (unsigned char c : data) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    return h;
  };
  uint64_t a = fnv(14695981039346656037ULL);
  uint64_t b = fnv(a ^ 0x9e3779b97f4a7c15ULL);
  char buf[40];
  std::snprintf(
      buf, sizeof(buf), "%08llx-%04llx-%04llx-%04llx-%012llx",
      static_cast<unsigned long long>(a >> 32), static_cast<unsigned long long>((a >> 16) & 0xffff),
      static_cast<unsigned long long>(a & 0xffff), static_cast<unsigned long long>(b >> 48),
      static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace

json yamlToJson(const YAML::Node& node) { return convert(node, 0); }

core::Result<json> staticPodFromText(const std::string& text, const std::string& node_name,
                                     const std::string& source_name) {
  json pod;
  try {
    std::string trimmed = text;
    trimmed.erase(0, trimmed.find_first_not_of(" \t\r\n"));
    if (!trimmed.empty() && trimmed.front() == '{') {
      pod = json::parse(trimmed);
    } else {
      pod = yamlToJson(YAML::Load(text));
    }
  } catch (const std::exception& e) {
    return core::invalidArgument(source_name + ": not YAML or JSON: " + e.what());
  }
  if (!pod.is_object() || pod.value("kind", "") != "Pod") {
    return core::invalidArgument(source_name + ": not a Pod (kind must be Pod)");
  }
  if (!pod.contains("metadata") || !pod["metadata"].is_object() ||
      !pod["metadata"].contains("name") || !pod["metadata"]["name"].is_string() ||
      pod["metadata"]["name"].get<std::string>().empty()) {
    return core::invalidArgument(source_name + ": metadata.name missing");
  }
  if (!pod.contains("spec") || !pod["spec"].is_object()) {
    return core::invalidArgument(source_name + ": spec missing");
  }
  json& md = pod["metadata"];
  std::string uid = contentUid(text + "\n" + node_name + "\nfile");
  md["name"] = md["name"].get<std::string>() + "-" + node_name;
  if (!md.contains("namespace") || !md["namespace"].is_string() ||
      md["namespace"].get<std::string>().empty()) {
    md["namespace"] = "default";
  }
  md["uid"] = uid;
  if (!md.contains("annotations") || !md["annotations"].is_object()) {
    md["annotations"] = json::object();
  }
  md["annotations"]["kubernetes.io/config.source"] = "file";
  md["annotations"]["kubernetes.io/config.hash"] = uid;
  pod["spec"]["nodeName"] = node_name;
  return pod;
}

core::Result<StaticPodScan> scanStaticPods(const std::string& dir, const std::string& node_name) {
  StaticPodScan scan;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      return core::unavailable("cannot create static pod directory " + dir + ": " + ec.message());
    }
    return scan;
  }
  std::vector<fs::path> files;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (name.empty() || name[0] == '.') {
      continue;
    }
    std::error_code fec;
    if (!fs::is_regular_file(p, fec)) {
      continue;
    }
    files.push_back(p);
  }
  if (ec) {
    return core::unavailable("cannot read static pod directory " + dir + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::error_code fec;
    auto size = fs::file_size(p, fec);
    if (fec || size > kMaxManifestBytes) {
      scan.errors.push_back(p.string() + ": unreadable or larger than 1 MiB");
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto pod = staticPodFromText(ss.str(), node_name, p.string());
    if (!pod.ok()) {
      scan.errors.push_back(pod.status().message());
      continue;
    }
    scan.pods.push_back(std::move(pod).value());
  }
  return scan;
}

std::chrono::milliseconds staticScanPeriod(std::chrono::milliseconds override,
                                           std::chrono::nanoseconds file_check_frequency) {
  auto period = override.count() > 0
                    ? override
                    : std::chrono::duration_cast<std::chrono::milliseconds>(file_check_frequency);
  return period.count() > 0 ? period : std::chrono::seconds(20);
}

void logNewStaticPodErrors(const std::vector<std::string>& errors, std::set<std::string>& seen,
                           spdlog::logger& log) {
  for (const auto& err : errors) {
    if (seen.insert(err).second) {
      log.warn("static pod manifest ignored err=\"{}\"", err);
    }
  }
}

}  // namespace edgecore::edged
