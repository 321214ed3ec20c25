#include "edgecore/core/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgecore::core {
namespace {

std::string sysError(int err) { return std::strerror(err); }

// Closes a descriptor when the scope ends (error paths included).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports close(2)'s error (a delayed write error shows up here).
  int closeNow() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// 16 hex digits from the kernel's random source: a temporary name nobody can predict, so
// nobody can plant something there in advance.
std::string randomSuffix() {
  unsigned char bytes[8] = {};
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;  // getrandom never fails for 8 bytes on Linux >= 3.17; O_EXCL still protects us
    }
    got += static_cast<size_t>(n);
  }
  char out[sizeof bytes * 2 + 1];
  for (size_t i = 0; i < sizeof bytes; ++i) {
    std::snprintf(out + 2 * i, 3, "%02x", bytes[i]);
  }
  return out;
}

Status writeAll(int fd, std::string_view data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return unavailable("cannot write " + what + ": " + sysError(errno));
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return notFound(path + ": no such file");
    }
    return unavailable(path + ": cannot read: " + std::strerror(err));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string octalMode(unsigned mode) {
  char out[8];
  std::snprintf(out, sizeof out, "%04o", mode & 07777);
  return out;
}

Result<bool> createDirectories(const std::string& dir, unsigned mode) {
  if (dir.empty()) {
    return invalidArgument("empty directory path");
  }
  std::filesystem::path target = std::filesystem::path(dir).lexically_normal();
  std::filesystem::path cur;
  bool created_leaf = false;
  for (const auto& part : target) {
    cur /= part;
    if (part.empty() || part == "/" || part == ".") {
      continue;
    }
    created_leaf = false;
    if (::mkdir(cur.c_str(), mode & 07777) == 0) {
      // mkdir applied the umask; give exactly `mode` to what we created.
      if (::chmod(cur.c_str(), mode & 07777) != 0) {
        return unavailable("cannot set the mode of directory " + cur.string() + ": " +
                           sysError(errno));
      }
      created_leaf = true;
      continue;
    }
    if (errno != EEXIST) {
      return unavailable("cannot create directory " + cur.string() + ": " + sysError(errno));
    }
  }
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return unavailable(target.string() + " exists and is not a directory");
  }
  return created_leaf;
}

Result<std::optional<ModeChange>> ensurePrivateFile(const std::string& path, unsigned mode,
                                                    bool create) {
  mode &= 07777;
  // O_NONBLOCK: opening must never hang on a FIFO someone put there.
  const int base = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  bool created = false;
  int raw = -1;
  if (create) {
    raw = ::open(path.c_str(), base | O_WRONLY | O_CREAT | O_EXCL, mode);
    // O_RDONLY is 0, so base | O_WRONLY opens for writing only.
    created = raw >= 0;
  }
  if (raw < 0 && (!create || errno == EEXIST)) {
    raw = ::open(path.c_str(), base);
  }
  if (raw < 0) {
    int err = errno;
    if (err == ENOENT && !create) {
      return std::optional<ModeChange>();
    }
    if (err == ELOOP) {
      return failedPrecondition(path +
                                " is a symbolic link: point the configuration at the real file");
    }
    return unavailable("cannot open " + path + ": " + sysError(err));
  }
  Fd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return unavailable("cannot stat " + path + ": " + sysError(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return failedPrecondition(path + " is not a regular file");
  }
  const unsigned old_mode = st.st_mode & 07777;
  if (created) {
    if (old_mode != mode && ::fchmod(fd.get(), mode) != 0) {  // the umask narrowed it
      return unavailable("cannot set the mode of " + path + ": " + sysError(errno));
    }
    return std::optional<ModeChange>();
  }
  if ((old_mode & ~mode) == 0) {
    return std::optional<ModeChange>();
  }
  if (::fchmod(fd.get(), mode) != 0) {
    return unavailable("cannot narrow the mode of " + path + " from " + octalMode(old_mode) +
                       " to " + octalMode(mode) + ": " + sysError(errno));
  }
  return std::optional<ModeChange>(ModeChange{path, old_mode, mode});
}

Status writeFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  mode &= 07777;
  std::filesystem::path file(path);
  if (!file.has_filename()) {
    return invalidArgument("cannot write " + path + ": not a file path");
  }
  std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  const std::string name = file.filename().string();
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    return unavailable("cannot open directory " + dir.string() + ": " + sysError(errno));
  }
  std::string tmp;
  int raw = -1;
  for (int attempt = 0; attempt < 8 && raw < 0; ++attempt) {
    tmp = "." + name + ".tmp-" + randomSuffix();
    raw = ::openat(dir_fd.get(), tmp.c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    if (raw < 0 && errno != EEXIST) {
      return unavailable("cannot create a temporary file in " + dir.string() + ": " +
                         sysError(errno));
    }
  }
  if (raw < 0) {
    return unavailable("cannot create a temporary file in " + dir.string() +
                       ": every random name was taken");
  }
  Fd fd(raw);
  const std::string tmp_path = (dir / tmp).string();
  auto fail = [&](Status st) {
    ::unlinkat(dir_fd.get(), tmp.c_str(), 0);
    return st;
  };
  // The umask may have narrowed the mode; set it exactly before any byte is in the file.
  if (::fchmod(fd.get(), mode) != 0) {
    return fail(unavailable("cannot set the mode of " + tmp_path + ": " + sysError(errno)));
  }
  if (Status st = writeAll(fd.get(), data, tmp_path); !st.ok()) {
    return fail(st);
  }
  if (::fsync(fd.get()) != 0 || fd.closeNow() != 0) {
    return fail(unavailable("cannot flush " + tmp_path + ": " + sysError(errno)));
  }
  if (::renameat(dir_fd.get(), tmp.c_str(), dir_fd.get(), name.c_str()) != 0) {
    return fail(unavailable("cannot replace " + path + ": " + sysError(errno)));
  }
  // The rename is durable only once the directory entry is on disk.
  if (::fsync(dir_fd.get()) != 0) {
    return unavailable("cannot flush directory " + dir.string() + ": " + sysError(errno));
  }
  return {};
}

}  // namespace edgecore::core
