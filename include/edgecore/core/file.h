#pragma once

// Reading a whole file (certificates, keys, config) with an error that names the path and says
// whether it is missing (NotFound) or unreadable (Unavailable, with the system's reason).

#include <string>

#include "edgecore/core/status.h"

namespace edgecore::core {

Result<std::string> readFile(const std::string& path);

}  // namespace edgecore::core
