#pragma once

// Digests as text. Pure functions, any thread.

#include <string>
#include <string_view>

namespace edgecore::core {

// Lowercase hex SHA-256 of `bytes` (how KubeEdge's bootstrap token names the CA it pins).
std::string sha256Hex(std::string_view bytes);

}  // namespace edgecore::core
