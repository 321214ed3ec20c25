#pragma once

// Blanking `modules.edgeHub.token` in edgecore.yaml after the certificate bootstrap, as the
// original does (edge/cmd/edgecore/app/server.go rewrites the whole file with yaml.Marshal).
// We edit the one line instead, so comments, key order and every other value stay byte for byte.

#include <optional>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::edgehub {

// The YAML text with the value of the block-style key modules.edgeHub.token replaced by "".
// nullopt when there is no such line (flow style, no token key): nothing to blank.
std::optional<std::string> blankTokenInYaml(std::string_view yaml);

// Applies blankTokenInYaml to the file at `path`, rewriting it atomically with its mode kept.
// Ok (and nothing written) when there is no token line or it is already empty.
core::Status blankTokenInConfigFile(const std::string& path);

}  // namespace edgecore::edgehub
