// Safe subPath mounts; see subpath.h for why and how.

#include "podplan/subpath.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace edgecore::edged {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSubPathDir = "volume-subpaths";  // kubelet containerSubPathDirectoryName
constexpr int kMaxStackedMounts = 16;  // unmount loop bound: a mount point holds a few at most

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

std::string errnoText(int err) { return std::strerror(err); }

// The path's components without "" and "."; nullopt when one is "..".
std::optional<std::vector<std::string>> components(const std::string& rel) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    std::string part = rel.substr(start, slash == std::string::npos ? rel.npos : slash - start);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") out.push_back(std::move(part));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

int openat2Beneath(int root_fd, const std::string& rel) {
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// One component at a time: each openat() sees a single name, O_NOFOLLOW refuses a symlink and a
// name cannot climb out ("" , "." skipped, ".." refused).
int openComponentWise(int root_fd, const std::string& rel) {
  auto parts = components(rel);
  if (!parts) return -EXDEV;
  Fd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (cur.fd < 0) return -errno;
  for (size_t i = 0; i < parts->size(); ++i) {
    const bool last = i + 1 == parts->size();
    int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY);
    Fd next(::openat(cur.fd, (*parts)[i].c_str(), flags));
    if (next.fd < 0) {
      return errno == ENOTDIR ? -ELOOP : -errno;  // a symlink where a directory must be
    }
    struct stat st {};
    if (::fstat(next.fd, &st) != 0) return -errno;
    if (S_ISLNK(st.st_mode)) return -ELOOP;  // O_PATH|O_NOFOLLOW opened the link itself
    std::swap(cur.fd, next.fd);
  }
  return cur.release();
}

// mkdir -p of `rel` beneath `root_fd` with `mode`, refusing symlinks on the way (kubelet
// doSafeMakeDir). Existing directories are kept as they are.
Status safeMakeDirs(int root_fd, const std::string& rel, mode_t mode) {
  auto parts = components(rel);
  if (!parts) return invalidArgument("path climbs out of the volume");
  Fd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (cur.fd < 0) return internalError("dup: " + errnoText(errno));
  for (const auto& part : *parts) {
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    Fd next(::openat(cur.fd, part.c_str(), flags));
    if (next.fd < 0 && errno == ENOENT) {
      if (::mkdirat(cur.fd, part.c_str(), mode) != 0 && errno != EEXIST) {
        return internalError("mkdir " + part + ": " + errnoText(errno));
      }
      next.fd = ::openat(cur.fd, part.c_str(), flags);
      if (next.fd >= 0) {
        ::fchmod(next.fd, mode);  // mkdirat applied the umask
      }
    }
    if (next.fd < 0) {
      return internalError("open " + part + ": " + errnoText(errno));
    }
    std::swap(cur.fd, next.fd);
  }
  return Status();
}

// Detaches whatever is mounted on `path` (stacked mounts too); EINVAL = nothing (more) there.
Status unmountAll(const std::string& path) {
  for (int i = 0; i < kMaxStackedMounts; ++i) {
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      if (errno == EINVAL || errno == ENOENT) return Status();
      return internalError("unmount " + path + ": " + errnoText(errno));
    }
  }
  return internalError("unmount " + path + ": still mounted after " +
                       std::to_string(kMaxStackedMounts) + " unmounts");
}

// A name used as one directory level under the pod dir.
bool plainName(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

// The staging path for one mount, of the opened subPath's type (an empty directory or file to
// mount over), with nothing mounted on it yet.
Result<std::string> stagingTarget(const std::string& pod_dir, const std::string& container,
                                  const SubPathMount& sp, bool is_dir) {
  if (!plainName(sp.volume_name) || !plainName(container)) {
    return invalidArgument("unusable volume or container name");
  }
  const std::string parent = pod_dir + "/" + kSubPathDir + "/" + sp.volume_name + "/" + container;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return internalError("mkdir " + parent + ": " + ec.message());
  const std::string target = parent + "/" + std::to_string(sp.mount_index);
  // A container restarted: its previous staging mount may point at another inode now.
  EC_RETURN_IF_ERROR(unmountAll(target));
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode) != is_dir) {
    if (::remove(target.c_str()) != 0) {
      return internalError("remove " + target + ": " + errnoText(errno));
    }
  }
  if (is_dir) {
    if (::mkdir(target.c_str(), 0750) != 0 && errno != EEXIST) {
      return internalError("mkdir " + target + ": " + errnoText(errno));
    }
  } else {
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) return internalError("create " + target + ": " + errnoText(errno));
    ::close(fd);
  }
  return target;
}

// Steps 1-3 of subpath.h for one mount; returns the staging path. `created` says whether a
// directory had to be made (the kubelet words that failure differently).
Result<std::string> bindOne(const std::string& pod_dir, const std::string& container,
                            const SubPathMount& sp, bool* mkdir_failed) {
  Fd root(::open(sp.volume_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.fd < 0) {
    return internalError("open volume " + sp.volume_path + ": " + errnoText(errno));
  }
  int fd = openBeneath(root.fd, sp.sub_path, SubPathResolve::Auto);
  if (fd == -ENOENT) {
    struct stat rst {};
    mode_t mode = ::fstat(root.fd, &rst) == 0 ? (rst.st_mode & 07777) : 0755;
    Status made = safeMakeDirs(root.fd, sp.sub_path, mode);
    if (!made.ok()) {
      *mkdir_failed = true;
      return made;
    }
    fd = openBeneath(root.fd, sp.sub_path, SubPathResolve::Auto);
  }
  if (fd < 0) {
    return internalError("subPath " + sp.sub_path + " of volume " + sp.volume_path + ": " +
                         errnoText(-fd) + (fd == -ELOOP ? " (symbolic link refused)" : ""));
  }
  Fd sub(fd);
  struct stat st {};
  if (::fstat(sub.fd, &st) != 0) return internalError("stat subPath: " + errnoText(errno));
  EC_ASSIGN_OR_RETURN(auto target, stagingTarget(pod_dir, container, sp, S_ISDIR(st.st_mode)));
  const std::string source = "/proc/self/fd/" + std::to_string(sub.fd);
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return internalError("bind mount " + sp.sub_path + " on " + target + ": " + errnoText(errno));
  }
  return target;
}

// Removes one level of the staging tree: every entry is unmounted first, then removed.
Status cleanLevel(const std::string& dir, int depth) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return errno == ENOENT ? Status() : internalError("open " + dir + ": " + errnoText(errno));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  Status first;
  for (const auto& n : names) {
    const std::string p = dir + "/" + n;
    Status st = depth < 2 ? Status() : unmountAll(p);  // <volume>/<container>/<index> are mounts
    struct stat sb {};
    if (st.ok() && ::lstat(p.c_str(), &sb) == 0) {
      if (S_ISDIR(sb.st_mode) && depth < 2) {
        st = cleanLevel(p, depth + 1);
      }
      if (st.ok() && ::remove(p.c_str()) != 0) {
        st = internalError("remove " + p + ": " + errnoText(errno));
      }
    }
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

}  // namespace

int openBeneath(int root_fd, const std::string& rel, SubPathResolve how) {
  if (rel.empty() || rel[0] == '/' || !components(rel)) {
    return -EXDEV;
  }
  if (how == SubPathResolve::Auto) {
    int fd = openat2Beneath(root_fd, rel);
    if (fd != -ENOSYS) return fd;
  }
  return openComponentWise(root_fd, rel);
}

std::optional<PlanError> prepareSubPaths(const std::string& pod_dir, const std::string& container,
                                         std::vector<Mount>& mounts, std::string* detail) {
  for (auto& m : mounts) {
    if (!m.sub_path) continue;
    bool mkdir_failed = false;
    auto target = bindOne(pod_dir, container, *m.sub_path, &mkdir_failed);
    if (!target.ok()) {
      if (detail) *detail = target.status().message();
      // What an earlier start of this container bound there must not outlive the refusal.
      if (plainName(m.sub_path->volume_name) && plainName(container)) {
        (void)unmountAll(pod_dir + "/" + kSubPathDir + "/" + m.sub_path->volume_name + "/" +
                         container + "/" + std::to_string(m.sub_path->mount_index));
      }
      const std::string what =
          mkdir_failed ? "failed to create subPath directory" : "failed to prepare subPath";
      return PlanError{std::string(kReasonCreateContainerConfigError),
                       what + " for volumeMount \"" + m.sub_path->volume_name +
                           "\" of container \"" + container + "\""};
    }
    m.host_path = std::move(target).value();
  }
  return std::nullopt;
}

Status cleanSubPaths(const std::string& pod_dir) {
  const std::string top = pod_dir + "/" + kSubPathDir;
  EC_RETURN_IF_ERROR(cleanLevel(top, 0));
  if (::rmdir(top.c_str()) != 0 && errno != ENOENT) {
    return internalError("remove " + top + ": " + errnoText(errno));
  }
  return Status();
}

}  // namespace edgecore::edged
