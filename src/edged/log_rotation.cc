#include "log_rotation.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>
#include <vector>

#include "edgecore/core/time.h"
#include "pod_entry.h"
#include "podplan/pod_plan.h"

namespace edgecore::edged {

namespace {

std::string errnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string dirOf(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

std::string baseOf(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// Rotated files of `log`: "<base>.<stamp>" and "<base>.<stamp>.gz", oldest first (the stamp
// sorts as text). Temporary files of an interrupted compression ("….tmp") are removed.
std::vector<std::string> rotatedFiles(const std::string& log) {
  std::vector<std::string> out;
  const std::string dir = dirOf(log);
  const std::string prefix = baseOf(log) + ".";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return out;
  }
  while (dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    if (name.ends_with(".tmp")) {
      ::unlink((dir + "/" + name).c_str());
      continue;
    }
    out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// gzip `path` to `path`.gz through a temporary file, then removes `path`.
core::Status compress(const std::string& path) {
  const std::string tmp = path + ".gz.tmp";
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) {
    return core::internalError(errnoText("open", path));
  }
  gzFile out = ::gzopen(tmp.c_str(), "wb");
  if (out == nullptr) {
    ::close(in);
    return core::internalError("gzopen " + tmp + " failed");
  }
  char buf[64 * 1024];
  bool ok = true;
  while (true) {
    ssize_t n = ::read(in, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    if (::gzwrite(out, buf, static_cast<unsigned>(n)) != n) {
      ok = false;
      break;
    }
  }
  ::close(in);
  if (::gzclose(out) != Z_OK || !ok) {
    ::unlink(tmp.c_str());
    return core::internalError("compress " + path + " failed");
  }
  if (::rename(tmp.c_str(), (path + ".gz").c_str()) != 0) {
    ::unlink(tmp.c_str());
    return core::internalError(errnoText("rename", tmp));
  }
  ::unlink(path.c_str());
  return {};
}

}  // namespace

core::Result<LogRotationPolicy> makeLogRotationPolicy(const std::string& max_size, int max_files) {
  LogRotationPolicy p;
  if (!max_size.empty()) {
    auto v = parseQuantityValue(max_size);
    if (!v.ok() || *v <= 0) {
      return core::invalidArgument("containerLogMaxSize \"" + max_size +
                                   "\" is not a positive quantity");
    }
    p.max_size_bytes = *v;
  }
  if (max_files != 0) {
    if (max_files < 2) {
      return core::invalidArgument("containerLogMaxFiles must be at least 2, got " +
                                   std::to_string(max_files));
    }
    p.max_files = max_files;
  }
  return p;
}

std::string rotatedLogName(const std::string& log, std::chrono::system_clock::time_point now) {
  return log + "." + core::formatUtc(now, "%Y%m%d-%H%M%S");
}

core::Result<bool> rotateContainerLogIfNeeded(cri::CriClient& cri, const std::string& container_id,
                                              const std::string& log,
                                              const LogRotationPolicy& policy,
                                              std::chrono::system_clock::time_point now) {
  struct stat st {};
  if (::stat(log.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return core::internalError(errnoText("stat", log));
  }
  if (st.st_size < policy.max_size_bytes) {
    return false;
  }
  std::vector<std::string> rotated = rotatedFiles(log);
  std::string target = rotatedLogName(log, now);
  if (!rotated.empty() && (rotated.back() == target || rotated.back() == target + ".gz")) {
    return false;  // rotated within this second already; a later pass does it
  }
  // Room for the file about to be rotated and the live one: keep max_files - 2 older ones.
  const size_t keep = static_cast<size_t>(std::max(0, policy.max_files - 2));
  while (rotated.size() > keep) {
    ::unlink(rotated.front().c_str());
    rotated.erase(rotated.begin());
  }
  // The file rotated last time was left plain (a follower may still have been reading it); it
  // and any other plain one are compressed now.
  for (const std::string& r : rotated) {
    if (!r.ends_with(".gz")) {
      EC_RETURN_IF_ERROR(compress(r));
    }
  }
  if (::rename(log.c_str(), target.c_str()) != 0) {
    return core::internalError(errnoText("rename", log));
  }
  core::Status reopened = cri.reopenContainerLog(container_id);
  if (!reopened.ok()) {
    // The runtime still writes to the renamed file: put it back, as the kubelet does.
    if (::rename(target.c_str(), log.c_str()) != 0) {
      return core::internalError(errnoText("rename back", target) + " after " + reopened.message());
    }
    return reopened;
  }
  return true;
}

std::vector<LiveLog> liveContainerLogs(const std::map<std::string, PodEntry>& pods) {
  std::vector<LiveLog> out;
  for (const auto& [uid, e] : pods) {
    if (!e.plan || e.plan->sandbox.log_directory.empty()) {
      continue;
    }
    for (const auto& c : e.runtime.containers) {
      if (c.state == ContainerRunState::Running) {
        out.emplace_back(c.id, e.plan->sandbox.log_directory + "/" + c.name + "/" +
                                   std::to_string(c.attempt) + ".log");
      }
    }
  }
  return out;
}

void rotateContainerLogs(cri::CriClient& cri, const std::vector<LiveLog>& logs,
                         const LogRotationPolicy& policy, spdlog::logger& log) {
  for (const auto& [id, path] : logs) {
    auto r = rotateContainerLogIfNeeded(cri, id, path, policy, std::chrono::system_clock::now());
    if (!r.ok()) {
      log.warn("container log rotation failed id={} path={} err=\"{}\"", id.substr(0, 12), path,
               r.status().message());
    } else if (*r) {
      log.debug("container log rotated id={} path={}", id.substr(0, 12), path);
    }
  }
}

}  // namespace edgecore::edged
