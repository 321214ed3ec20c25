#include "reset_plan.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;

// Directories whose direct entries are never ours to delete.
const std::set<std::string>& systemDirs() {
  static const auto* const dirs = new std::set<std::string>{"/",
                                                            "/bin",
                                                            "/boot",
                                                            "/dev",
                                                            "/etc",
                                                            "/home",
                                                            "/lib",
                                                            "/lib32",
                                                            "/lib64",
                                                            "/media",
                                                            "/mnt",
                                                            "/opt",
                                                            "/proc",
                                                            "/root",
                                                            "/run",
                                                            "/sbin",
                                                            "/srv",
                                                            "/sys",
                                                            "/tmp",
                                                            "/usr",
                                                            "/usr/bin",
                                                            "/usr/lib",
                                                            "/usr/local",
                                                            "/usr/sbin",
                                                            "/usr/share",
                                                            "/var",
                                                            "/var/lib",
                                                            "/var/log",
                                                            "/var/tmp",
                                                            "/etc/systemd",
                                                            "/etc/systemd/system",
                                                            "/lib/systemd",
                                                            "/lib/systemd/system"};
  return *dirs;
}

// Roots reset may empty but keeps (the Debian package owns them).
bool isKubeEdgeRoot(const std::string& p) {
  return p == "/etc/kubeedge" || p == "/var/lib/kubeedge";
}

std::string metaServerPkiDir() {
  const char* dir = std::getenv("EDGECORE_METASERVER_PKI_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/etc/kubeedge/pki/metaserver";
}

}  // namespace

std::string unsafeToDelete(const std::string& path) {
  fs::path p(path);
  if (path.empty() || !p.is_absolute()) {
    return "refusing to delete \"" + path + "\": not an absolute path";
  }
  std::string norm = p.lexically_normal().string();
  while (norm.size() > 1 && norm.back() == '/') {
    norm.pop_back();
  }
  if (systemDirs().count(norm) > 0 || isKubeEdgeRoot(norm)) {
    return "refusing to delete " + norm + ": a system directory";
  }
  std::string parent = fs::path(norm).parent_path().string();
  if (systemDirs().count(parent) > 0) {
    return "refusing to delete " + norm + ": it is directly in " + parent +
           ", outside the KubeEdge directories";
  }
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(norm, ec))) {
    return "refusing to delete " + norm + ": a directory, where the configuration names a file";
  }
  return {};
}

ResetPlan planReset(const std::string& config_path, const core::EdgeCoreConfig& c) {
  ResetPlan plan;
  std::vector<std::string> named;
  auto add = [&](const std::string& path) {
    if (!path.empty() && std::find(named.begin(), named.end(), path) == named.end()) {
      named.push_back(path);
    }
  };
  add(config_path);
  const auto& hub = c.modules.edge_hub;
  add(hub.tls_ca_file);
  add(hub.tls_cert_file);
  add(hub.tls_private_key_file);
  add(core::dmiSocketPath(c.modules.device_twin));  // deviceTwin's socket, left behind by a stop
  const std::string& db = c.database.data_source;
  if (!db.empty() && db.find(':') == std::string::npos) {  // not a sqlite URI or :memory:
    fs::path outbox = fs::path(db).parent_path() / "edgecore-outbox.db";
    for (const std::string& base : {db, outbox.string()}) {
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        add(base + suffix);
      }
    }
  }
  // MetaServer's own serving certificates (requireAuthorization), generated under a fixed dir.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(metaServerPkiDir(), ec)) {
    if (entry.is_regular_file()) {
      add(entry.path().string());
    }
  }
  std::set<std::string> dirs;
  for (const auto& path : named) {
    std::string why = unsafeToDelete(path);
    if (!why.empty()) {
      plan.refused.push_back(why);
      continue;
    }
    plan.files.push_back(path);
    std::string parent = fs::path(path).lexically_normal().parent_path().string();
    if (systemDirs().count(parent) == 0 && !isKubeEdgeRoot(parent)) {
      dirs.insert(parent);
    }
  }
  plan.dirs_if_empty.assign(dirs.begin(), dirs.end());
  // Deepest first, so /etc/kubeedge/pki/metaserver goes before /etc/kubeedge/pki.
  std::sort(plan.dirs_if_empty.begin(), plan.dirs_if_empty.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  if (dirs.count(metaServerPkiDir()) > 0) {
    std::string pki = fs::path(metaServerPkiDir()).parent_path().string();
    if (unsafeToDelete(pki).empty() || fs::is_directory(pki, ec)) {
      if (systemDirs().count(pki) == 0 && !isKubeEdgeRoot(pki)) {
        plan.dirs_if_empty.push_back(pki);
      }
    }
  }
  return plan;
}

}  // namespace edgecore::keadm
