#pragma once

// Files that must stay private to edgecore (the database holding Secrets, keys, certificates):
// reading one whole, creating directories and files with a mode the umask cannot widen or
// narrow, narrowing the mode of an existing file, and replacing a file atomically without
// following anything a local user planted in its directory. Errors name the path.

#include <optional>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::core {

// The whole file: NotFound when it is missing, Unavailable (with the system's reason) when it
// cannot be read.
Result<std::string> readFile(const std::string& path);

// A mode we narrowed, for the caller's one log line ("old=0644 new=0600").
struct ModeChange {
  std::string path;
  unsigned old_mode = 0;
  unsigned new_mode = 0;
};

// "0644": permission bits as ls and chmod write them.
std::string octalMode(unsigned mode);

// mkdir -p: `dir` and each missing parent are created with exactly `mode` (chmod after mkdir,
// so the umask does not matter); directories that already exist are left alone. Returns whether
// `dir` itself was created. Unavailable names the directory that could not be made.
Result<bool> createDirectories(const std::string& dir, unsigned mode);

// Makes sure the regular file `path` grants nothing beyond `mode`. The last component is never
// followed if it is a symlink (FailedPrecondition). With `create`, a missing file is created
// with exactly `mode`; without, a missing file is fine. An existing file that grants more (0644
// when 0600 is asked) is narrowed to `mode` and the change returned so the caller logs it.
Result<std::optional<ModeChange>> ensurePrivateFile(const std::string& path, unsigned mode,
                                                    bool create);

// Replaces `path` with `data` so that a reader sees the old or the new file, never a part, and
// nothing planted in the directory is written through: the temporary file is created next to
// `path` under an unpredictable name with O_CREAT|O_EXCL|O_NOFOLLOW and gets `mode` before the
// first byte is written; then fsync, rename over `path` (a symlink at `path` is replaced, not
// followed) and fsync of the directory. The directory must exist. Unavailable on failure; the
// temporary file is removed.
Status writeFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0600);

}  // namespace edgecore::core
