#pragma once

// `keadm ctl edit device`'s editing steps: the user's editor on a temporary file, comment
// lines dropped, the edited YAML typed back into JSON.

#include <nlohmann/json.hpp>
#include <string>

#include "edgecore/core/status.h"

namespace YAML {
class Node;
}

namespace edgecore::keadm {

// Runs $KUBE_EDITOR, else $EDITOR, else vi on `path` and waits for it; an error names the editor
// when it could not start or did not exit with 0.
core::Status runEditor(const std::string& path);

// `text` without its comment lines (first non-blank character '#').
std::string stripComments(const std::string& text);

// Plain scalars are typed as YAML 1.1/JSON would (bool, int, float, null); quoted ones stay
// strings.
nlohmann::json yamlToJson(const YAML::Node& n);

}  // namespace edgecore::keadm
