#include "tls/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "edgecore/core/file.h"

namespace edgecore::metaserver::tls {
namespace {

core::Status errnoStatus(const std::string& what, int err) {
  return core::internalError(what + ": " + std::strerror(err));
}

}  // namespace

core::Status ensurePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return core::internalError("creating " + dir + ": " + ec.message());
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return errnoStatus("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return core::failedPrecondition(dir + " is not a directory");
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    return errnoStatus("chmod 0700 " + dir, errno);
  }
  return {};
}

core::Status writePrivateFile(const std::string& dir, const std::string& name,
                              const std::string& data) {
  return core::writeFileAtomic(dir + "/" + name, data, 0600);
}

core::Result<std::string> readPrivateFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return core::notFound(path + " does not exist");
    return errnoStatus("opening " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return core::invalidArgument(path + " is not a regular file of at most " +
                                 std::to_string(max_bytes) + " bytes");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(off);
  return out;
}

}  // namespace edgecore::metaserver::tls
