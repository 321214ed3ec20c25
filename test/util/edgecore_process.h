#pragma once

// Fixtures for tests that run the real edgecore and drive it with keadm ctl or kubectl: wait
// for a line on its stderr, stop it as systemd would, build the command lines and the edgeHub
// section that points it at the cloud simulator.

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {

// What edgecore logs once every enabled module has started.
inline constexpr const char* kEdgecoreRunning = "edgecore running";

// True once `needle` appears on the child's stderr within `timeout`.
inline bool waitForStderr(const ChildProcess& child, const std::string& needle,
                          std::chrono::milliseconds timeout) {
  return waitFor([&] { return child.stderrSoFar().find(needle) != std::string::npos; }, timeout);
}

inline bool waitUntilRunning(const ChildProcess& child, std::chrono::milliseconds timeout) {
  return waitForStderr(child, kEdgecoreRunning, timeout);
}

// SIGTERM, then up to `grace` for the child to end; nullopt when it is still running (its
// destructor SIGKILLs it).
inline std::optional<ProcessResult> terminate(ChildProcess& child,
                                              std::chrono::milliseconds grace) {
  child.signal(SIGTERM);
  return child.wait(grace);
}

// For TearDown: terminates the child if there is one and destroys it (SIGKILL if it outlived
// `grace`).
inline void stopAndReset(std::unique_ptr<ChildProcess>& child, std::chrono::milliseconds grace) {
  if (child) {
    (void)terminate(*child, grace);
  }
  child.reset();
}

// `env HOME=<home> <env...> <keadm> ctl --config <config> <args...>`: HOME keeps keadm off the
// user's files.
inline std::vector<std::string> keadmCtlArgv(const std::string& keadm, const std::string& home,
                                             const std::string& config,
                                             const std::vector<std::string>& args,
                                             const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv{"/usr/bin/env", "HOME=" + home};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.insert(argv.end(), {keadm, "ctl", "--config", config});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// `env HOME=<home> <kubectl> --server http://127.0.0.1:<port> <args...>`: HOME keeps kubectl
// from reading a kubeconfig of the user.
inline std::vector<std::string> kubectlArgv(const std::string& kubectl, const std::string& home,
                                            int port, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/env", "HOME=" + home, kubectl, "--server",
                                "http://127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The `  edgeHub:` section (indented under `modules:`) for an edgecore that bootstraps with
// `token` from the cloud simulator's HTTPS port and keeps its certificates below `dir`
// (ca/rootCA.crt, certs/server.{crt,key}); heartbeat 2 s so disconnects show quickly.
inline std::string cloudEdgeHubYaml(const std::string& dir, int https_port, int ws_port,
                                    const std::string& token) {
  return "  edgeHub:\n"
         "    enable: true\n"
         "    heartbeat: 2\n"
         "    httpServer: https://127.0.0.1:" +
         std::to_string(https_port) + "\n    tlsCaFile: " + dir + "/ca/rootCA.crt\n" +
         "    tlsCertFile: " + dir + "/certs/server.crt\n" + "    tlsPrivateKeyFile: " + dir +
         "/certs/server.key\n" + "    token: " + token + "\n" + "    websocket:\n" +
         "      enable: true\n" + "      server: 127.0.0.1:" + std::to_string(ws_port) + "\n";
}

}  // namespace edgecore::testing
