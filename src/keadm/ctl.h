#pragma once

// `keadm ctl`: offline pod and device operations on the edge node through MetaServer (spec
// local-apis.md section 5). Talks HTTP(S) only; reads edgecore.yaml for the address, TLS files and
// the node name the way keadm v1.20 does (keadm/cmd/keadm/app/cmd/ctl/client/request.go).

#include <string>
#include <vector>

namespace edgecore::keadm {

// Runs `keadm <args...>` (args without the program name). Returns the process exit code: 0 on
// success, 1 on any error (the message went to stderr).
int runKeadm(const std::vector<std::string>& args);

}  // namespace edgecore::keadm
