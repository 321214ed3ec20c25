#pragma once

// Files that hold keys and certificates: a directory only the owner may enter (0700) and files
// only the owner may read (0600), each written through a fresh temporary file opened with
// O_CREAT|O_EXCL|O_NOFOLLOW (a planted file or symlink is never followed or reused), fsynced and
// renamed over the old one, so a reader sees the old or the new content, never a mix.

#include <cstddef>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::tls {

// Creates `dir` (and parents) if missing and sets it to 0700. Refuses a symlink.
core::Status ensurePrivateDir(const std::string& dir);
// Atomically replaces `dir`/`name` with `data`, mode 0600 (core::writeFileAtomic).
core::Status writePrivateFile(const std::string& dir, const std::string& name,
                              const std::string& data);
// Reads a regular file of at most `max_bytes`; NotFound when absent. Follows no symlink.
core::Result<std::string> readPrivateFile(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace edgecore::metaserver::tls
