// prepareVolumes: the kubelet volume plugins edged supports, materialised as plain files.
// Layout and semantics follow vendor/k8s.io/kubernetes/pkg/volume/{emptydir,hostpath,configmap,
// secret,downwardapi,projected} @ v1.20.0 (paths <pod dir>/volumes/<plugin>/<name>, default mode
// 0644, items/keys/optional, hostPath type checks), and kubelet_pods.go for etc-hosts and the
// termination-log file. Divergences: files are written one by one (tmp + rename) instead of the
// AtomicWriter's "..data" symlink swap, and emptyDir medium Memory is a plain directory.
// Projected serviceAccountToken sources get their token from PlanInputs::tokens (fetched
// through metamanager by edged's token manager, src/edged/token/).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "podplan/plan_util.h"
#include "podplan/pod_plan.h"
#include "podplan/sa_token.h"
#include "podplan/subpath.h"

namespace edgecore::edged {

namespace fs = std::filesystem;
using nlohmann::json;
using plan::child;
using plan::getArray;
using plan::getBool;
using plan::getInt;
using plan::getString;
using plan::planStatus;

namespace {

struct File {
  std::string content;
  uint32_t mode = 0644;
};
using FileSet = std::map<std::string, File>;  // relative path -> file

Status mountError(const std::string& volume, const std::string& msg) {
  return planStatus(kReasonFailedMount,
                    "MountVolume.SetUp failed for volume \"" + volume + "\" : " + msg);
}

std::string tmpSuffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

// Writes `content` to `path` through a temporary file in the same directory and rename(2), so a
// reader sees the old or the new file, never a partial one.
Status writeAtomic(const std::string& path, const std::string& content, uint32_t mode) {
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string tmp = dir + "/.tmp." + tmpSuffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return internalError("create " + tmp + ": " + std::strerror(errno));
  }
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return internalError("write " + tmp + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode & 07777);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return internalError("rename " + tmp + ": " + std::strerror(err));
  }
  return Status();
}

// mkdir -p of `rel` under `base`, refusing symlinks on the way (a container could have planted
// one in a writable volume).
Status makeDirsUnder(const std::string& base, const std::string& rel) {
  std::string cur = base;
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) break;
    std::string part = rel.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    cur += "/" + part;
    struct stat st {};
    if (::lstat(cur.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
        return internalError(cur + " is not a directory");
      }
      continue;
    }
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return internalError("mkdir " + cur + ": " + std::strerror(errno));
    }
  }
  return Status();
}

Status mkdirAll(const std::string& dir, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return internalError("mkdir " + dir + ": " + ec.message());
  }
  fs::permissions(dir, perms, ec);
  return Status();
}

// Writes `files` into `dir` and removes regular files no longer wanted.
Status syncDir(const std::string& volume, const std::string& dir, const FileSet& files,
               size_t max_bytes) {
  size_t total = 0;
  for (const auto& [rel, f] : files) {
    if (!plan::isSafeRelativePath(rel)) {
      return mountError(volume,
                        "invalid path \"" + rel + "\": must be relative and not contain '..'");
    }
    total += f.content.size();
  }
  if (total > max_bytes) {
    return mountError(volume, "payload of " + std::to_string(total) +
                                  " bytes exceeds the limit of " + std::to_string(max_bytes) +
                                  " bytes");
  }
  EC_RETURN_IF_ERROR(mkdirAll(dir, fs::perms(0755)));
  for (const auto& [rel, f] : files) {
    Status st = makeDirsUnder(dir, rel);
    if (st.ok()) {
      st = writeAtomic(dir + "/" + rel, f.content, f.mode);
    }
    if (!st.ok()) {
      return mountError(volume, st.message());
    }
  }
  std::error_code ec;
  std::vector<fs::path> stale;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec) && !it->is_symlink(ec)) continue;
    const std::string rel = fs::relative(it->path(), dir, ec).string();
    if (!files.count(rel)) stale.push_back(it->path());
  }
  for (const auto& p : stale) {
    fs::remove(p, ec);
  }
  return Status();
}

struct ModeCtx {
  uint32_t default_mode = 0644;
};

Result<uint32_t> modeOf(const json& o, const char* key, uint32_t fallback,
                        const std::string& path) {
  EC_ASSIGN_OR_RETURN(auto m, getInt(o, key, path, fallback));
  if (m < 0 || m > 0777) {
    return planStatus(kReasonInvalidPodSpec, path + "." + key + ": must be between 0 and 0777");
  }
  return static_cast<uint32_t>(m);
}

// configMap / secret source (a volume or a projection) -> files.
Status addKeyedFiles(const std::string& volume, const json& src, bool secret, const std::string& ns,
                     const PlanInputs& in, uint32_t default_mode, FileSet& out) {
  const std::string path = secret ? "secret" : "configMap";
  EC_ASSIGN_OR_RETURN(auto name, getString(src, secret ? "secretName" : "name", path));
  if (secret && name.empty()) {
    EC_ASSIGN_OR_RETURN(name, getString(src, "name", path));  // projected secret uses "name"
  }
  EC_ASSIGN_OR_RETURN(auto optional, getBool(src, "optional", path));
  const char* kind = secret ? "secret" : "configmap";
  Result<json> obj = in.objects == nullptr ? Result<json>(notFound("no object source"))
                                           : (secret ? in.objects->getSecret(ns, name)
                                                     : in.objects->getConfigMap(ns, name));
  if (!obj.ok()) {
    if (obj.status().code() == core::StatusCode::NotFound) {
      if (optional) return Status();
      return mountError(volume, std::string(kind) + " \"" + name + "\" not found");
    }
    return mountError(volume, "couldn't get " + std::string(kind) + " " + ns + "/" + name + ": " +
                                  obj.status().message());
  }
  auto payload = secret ? plan::secretPayload(*obj) : plan::configMapPayload(*obj);
  if (!payload.ok()) {
    return mountError(volume, payload.status().message());
  }
  EC_ASSIGN_OR_RETURN(auto items, getArray(src, "items", path));
  if (items.empty()) {
    for (auto& [k, v] : *payload) {
      out[k] = File{v, default_mode};
    }
    return Status();
  }
  for (const json* item : items) {
    EC_ASSIGN_OR_RETURN(auto key, getString(*item, "key", path + ".items"));
    EC_ASSIGN_OR_RETURN(auto rel, getString(*item, "path", path + ".items"));
    EC_ASSIGN_OR_RETURN(auto mode, modeOf(*item, "mode", default_mode, path + ".items"));
    if (!plan::isSafeRelativePath(rel)) {
      return mountError(volume,
                        "invalid path \"" + rel + "\": must be relative and not contain '..'");
    }
    auto it = payload->find(key);
    if (it == payload->end()) {
      if (optional) continue;
      return mountError(volume, std::string(kind) + " references non-existent " +
                                    (secret ? "secret" : "config") + " key: " + key);
    }
    out[rel] = File{it->second, mode};
  }
  return Status();
}

Status addDownwardFiles(const std::string& volume, const json& src, const json& pod,
                        const PlanInputs& in, uint32_t default_mode, FileSet& out) {
  EC_ASSIGN_OR_RETURN(auto items, getArray(src, "items", "downwardAPI"));
  for (const json* item : items) {
    EC_ASSIGN_OR_RETURN(auto rel, getString(*item, "path", "downwardAPI.items"));
    EC_ASSIGN_OR_RETURN(auto mode, modeOf(*item, "mode", default_mode, "downwardAPI.items"));
    if (!plan::isSafeRelativePath(rel)) {
      return mountError(volume,
                        "invalid path \"" + rel + "\": must be relative and not contain '..'");
    }
    std::string value;
    if (const json* fr = child(*item, "fieldRef")) {
      EC_ASSIGN_OR_RETURN(auto fp, getString(*fr, "fieldPath", "downwardAPI.items.fieldRef"));
      auto v = plan::fieldRefValue(pod, fp, in, nullptr);
      if (!v.ok()) return mountError(volume, plan::planErrorFromStatusMessage(v.status()));
      value = std::move(*v);
    } else if (const json* rr = child(*item, "resourceFieldRef")) {
      EC_ASSIGN_OR_RETURN(auto cname, getString(*rr, "containerName", "resourceFieldRef"));
      EC_ASSIGN_OR_RETURN(auto resource, getString(*rr, "resource", "resourceFieldRef"));
      std::string divisor = "1";
      if (const json* d = child(*rr, "divisor")) {
        divisor = d->is_string() ? d->get<std::string>() : d->dump();
      }
      const json* container = nullptr;
      if (const json* spec = child(pod, "spec")) {
        for (const char* list : {"containers", "initContainers"}) {
          if (const json* cs = child(*spec, list); cs && cs->is_array()) {
            for (const auto& c : *cs) {
              if (c.is_object() && c.value("name", "") == cname) container = &c;
            }
          }
        }
      }
      if (container == nullptr) {
        return mountError(volume, "container \"" + cname + "\" not found for resourceFieldRef");
      }
      auto v = plan::resourceFieldValue(*container, resource, divisor, in);
      if (!v.ok()) return mountError(volume, plan::planErrorFromStatusMessage(v.status()));
      value = std::move(*v);
    }
    out[rel] = File{std::move(value), mode};
  }
  return Status();
}

// A projected serviceAccountToken source -> the token file (projected.go collectData @ v1.20.0:
// the file gets the volume's defaultMode; no token, no volume).
Status addTokenFile(const std::string& volume, const json& src, const json& pod,
                    const PlanInputs& in, uint32_t default_mode, FileSet& out) {
  EC_ASSIGN_OR_RETURN(auto rel, getString(src, "path", "serviceAccountToken"));
  if (rel.empty() || !plan::isSafeRelativePath(rel)) {
    return mountError(volume,
                      "invalid path \"" + rel + "\": must be relative and not contain '..'");
  }
  if (in.tokens == nullptr) {
    return mountError(volume, "failed to fetch token: no token source");
  }
  Result<std::string> token = in.tokens->token(tokenSourceRef(pod, src));
  if (!token.ok()) {
    return mountError(volume, "failed to fetch token: " + token.status().message());
  }
  out[rel] = File{std::move(*token), default_mode};
  return Status();
}

Status checkHostPath(const std::string& volume, const std::string& path, const std::string& type) {
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  auto fail = [&](const char* what) {
    return mountError(volume, "hostPath type check failed: " + path + " is not a " + what);
  };
  if (type.empty()) {
    return Status();
  }
  if (type == "DirectoryOrCreate") {
    if (!exists) {
      std::error_code ec;
      fs::create_directories(path, ec);
      if (ec) return mountError(volume, "mkdir " + path + ": " + ec.message());
      return Status();
    }
    return S_ISDIR(st.st_mode) ? Status() : fail("directory");
  }
  if (type == "FileOrCreate") {
    if (!exists) {
      std::error_code ec;
      fs::create_directories(fs::path(path).parent_path(), ec);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return mountError(volume, "create " + path + ": " + std::strerror(errno));
      ::close(fd);
      return Status();
    }
    return S_ISREG(st.st_mode) ? Status() : fail("file");
  }
  if (type == "Directory") return exists && S_ISDIR(st.st_mode) ? Status() : fail("directory");
  if (type == "File") return exists && S_ISREG(st.st_mode) ? Status() : fail("file");
  if (type == "Socket") return exists && S_ISSOCK(st.st_mode) ? Status() : fail("socket file");
  if (type == "CharDevice")
    return exists && S_ISCHR(st.st_mode) ? Status() : fail("character device");
  if (type == "BlockDevice") return exists && S_ISBLK(st.st_mode) ? Status() : fail("block device");
  return mountError(volume, "unsupported hostPath type \"" + type + "\"");
}

Result<std::string> etcHostsContent(const json& pod, const PodPlan& plan, const PlanInputs& in) {
  std::string out;
  if (plan.sandbox.host_network) {
    out = "# Kubernetes-managed hosts file (host network).\n";
    std::ifstream f(in.host_etc_hosts);
    std::string line;
    size_t bytes = 0;
    while (std::getline(f, line) && bytes < 1024 * 1024) {
      bytes += line.size() + 1;
      out += line + "\n";
    }
  } else {
    out =
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n";
    EC_ASSIGN_OR_RETURN(auto subdomain, getString(*child(pod, "spec"), "subdomain", "spec"));
    for (const auto& ip : in.pod_ips) {
      if (!subdomain.empty() && plan::isDns1123Label(subdomain)) {
        out += ip + "\t" + plan.sandbox.hostname + "." + subdomain + "." + plan.sandbox.ns +
               ".svc." + in.cluster_domain + "\t" + plan.sandbox.hostname + "\n";
      } else {
        out += ip + "\t" + plan.sandbox.hostname + "\n";
      }
    }
  }
  EC_ASSIGN_OR_RETURN(auto aliases, getArray(*child(pod, "spec"), "hostAliases", "spec"));
  if (!aliases.empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const json* a : aliases) {
      EC_ASSIGN_OR_RETURN(auto ip, getString(*a, "ip", "spec.hostAliases"));
      EC_ASSIGN_OR_RETURN(auto names, plan::getStringList(*a, "hostnames", "spec.hostAliases"));
      std::string line = ip;
      for (const auto& n : names) line += "\t" + n;
      if (line.find('\n') == std::string::npos) out += line + "\n";
    }
  }
  return out;
}

}  // namespace

namespace plan {
std::string planErrorFromStatusMessage(const Status& s) { return planErrorFromStatus(s).message; }
}  // namespace plan

Status prepareVolumes(const json& pod, const PodPlan& plan, const PlanInputs& in) {
  try {
    if (plan.sandbox.uid.empty() || plan.pod_dir != plan::podDir(in, plan.sandbox.uid)) {
      return planStatus(kReasonInvalidPodSpec, "plan does not belong to these inputs");
    }
    EC_ASSIGN_OR_RETURN(auto volumes, plan::podVolumes(pod, in));
    EC_RETURN_IF_ERROR(mkdirAll(plan.pod_dir, fs::perms(0750)));
    EC_RETURN_IF_ERROR(mkdirAll(plan.pod_dir + "/volumes", fs::perms(0750)));
    for (const auto& v : volumes) {
      const json& src = *v.source;
      if (v.type == "emptyDir") {
        EC_RETURN_IF_ERROR(mkdirAll(v.host_path, fs::perms::all));  // 0777 like the kubelet
      } else if (v.type == "hostPath") {
        EC_ASSIGN_OR_RETURN(auto type, getString(src, "type", "hostPath"));
        EC_RETURN_IF_ERROR(checkHostPath(v.name, v.host_path, type));
      } else {
        EC_ASSIGN_OR_RETURN(auto mode, modeOf(src, "defaultMode", 0644, v.type));
        FileSet files;
        if (v.type == "configMap" || v.type == "secret") {
          EC_RETURN_IF_ERROR(
              addKeyedFiles(v.name, src, v.type == "secret", plan.sandbox.ns, in, mode, files));
        } else if (v.type == "downwardAPI") {
          EC_RETURN_IF_ERROR(addDownwardFiles(v.name, src, pod, in, mode, files));
        } else if (v.type == "projected") {
          EC_ASSIGN_OR_RETURN(auto sources, getArray(src, "sources", "projected"));
          for (const json* s : sources) {
            if (const json* cm = child(*s, "configMap")) {
              EC_RETURN_IF_ERROR(
                  addKeyedFiles(v.name, *cm, false, plan.sandbox.ns, in, mode, files));
            } else if (const json* sec = child(*s, "secret")) {
              EC_RETURN_IF_ERROR(
                  addKeyedFiles(v.name, *sec, true, plan.sandbox.ns, in, mode, files));
            } else if (const json* da = child(*s, "downwardAPI")) {
              EC_RETURN_IF_ERROR(addDownwardFiles(v.name, *da, pod, in, mode, files));
            } else if (const json* sat = child(*s, "serviceAccountToken")) {
              EC_RETURN_IF_ERROR(addTokenFile(v.name, *sat, pod, in, mode, files));
            }
            // clusterTrustBundle: not available on the edge; skipped.
          }
        }
        EC_RETURN_IF_ERROR(syncDir(v.name, v.host_path, files, in.max_volume_bytes));
      }
    }
    EC_ASSIGN_OR_RETURN(auto hosts, etcHostsContent(pod, plan, in));
    EC_RETURN_IF_ERROR(writeAtomic(plan.etc_hosts, hosts, 0644));
    for (const auto* list : {&plan.init_containers, &plan.containers}) {
      for (const auto& c : *list) {
        if (c.termination_log_host_path.empty()) continue;
        EC_RETURN_IF_ERROR(mkdirAll(plan.pod_dir + "/containers/" + c.name, fs::perms(0750)));
        int fd = ::open(c.termination_log_host_path.c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0) {
          return internalError("create " + c.termination_log_host_path + ": " +
                               std::strerror(errno));
        }
        ::fchmod(fd, 0666);
        ::close(fd);
      }
    }
    return Status();
  } catch (const std::exception& e) {
    return planStatus(kReasonFailedMount, std::string("volume setup failed: ") + e.what());
  }
}

Status removePodDir(const std::string& root_directory, const std::string& uid) {
  if (uid.empty() || uid.find('/') != std::string::npos || uid == "." || uid == "..") {
    return invalidArgument("invalid pod uid \"" + uid + "\"");
  }
  // subPath staging bind mounts first: a recursive delete would go through them into the volume.
  EC_RETURN_IF_ERROR(cleanSubPaths(root_directory + "/pods/" + uid));
  std::error_code ec;
  // remove_all removes symlinks themselves, never what they point to.
  fs::remove_all(root_directory + "/pods/" + uid, ec);
  if (ec) {
    return internalError("remove pod dir: " + ec.message());
  }
  return Status();
}

}  // namespace edgecore::edged
