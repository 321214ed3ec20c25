#include "init_system.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "edgecore/core/host_port.h"
#include "http_client.h"
#include "process.h"

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::chrono::seconds kSystemctlTimeout{90};

std::string systemdRoot() { return envOr("EDGECORE_SYSTEMD_ROOT", ""); }

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Where /metrics is served without client certificates, empty when nowhere.
std::string metricsServer(const core::EdgeCoreConfig& c, Endpoint& ep) {
  const auto& edged = c.modules.edged;
  if (edged.enable && edged.read_only_port > 0 && edged.tls_cert_file.empty()) {
    ep.host = edged.address.empty() ? "127.0.0.1" : edged.address;
    ep.port = static_cast<uint16_t>(edged.read_only_port);
    return "edged server";
  }
  const auto& ms = c.modules.meta_manager.meta_server;
  auto gate = c.feature_gates.find("requireAuthorization");
  bool tls = gate != c.feature_gates.end() && gate->second;
  if (ms.enable && !tls) {
    auto hp = core::parseHostPort(ms.server);
    if (hp.ok()) {
      ep.host = hp->host;
      ep.port = hp->port;
      return "MetaServer";
    }
  }
  return {};
}

}  // namespace

std::string detectInitSystem() {
  return fs::is_directory(systemdRoot() + "/run/systemd/system") ? "systemd" : "none";
}

std::string writtenUnitPath() { return systemdRoot() + "/etc/systemd/system/edgecore.service"; }
std::string packagedUnitPath() { return systemdRoot() + "/lib/systemd/system/edgecore.service"; }

std::string edgecoreBinary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path next = self.parent_path() / "edgecore";
    if (::access(next.c_str(), X_OK) == 0) {
      return next.string();
    }
  }
  std::string path = envOr("PATH", "/usr/local/bin:/usr/bin:/bin");
  for (size_t start = 0; start <= path.size();) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / "edgecore";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return fs::absolute(candidate).string();
    }
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  return "/usr/bin/edgecore";
}

std::string unitText(const std::string& edgecore_bin, const std::string& config_path,
                     bool with_mqtt) {
  return std::string(kUnitMarker) +
         "\n"
         "# Same shape as packaging/systemd/edgecore.service and keadm v1.20's unit\n"
         "# (keadm/cmd/keadm/app/cmd/util/extsystem/simple.service). `keadm reset` removes it.\n"
         "[Unit]\n"
         "Description=edgecore.service\n"
         "Documentation=https://kubeedge.io\n"
         "After=network-online.target containerd.service\n"
         "Wants=network-online.target\n"
         "\n"
         "[Service]\n"
         "Type=simple\n"
         "ExecStart=" +
         edgecore_bin + " --config " + config_path +
         "\n"
         "Restart=always\n"
         "RestartSec=10\n"
         "Environment=DEPLOY_MQTT_CONTAINER=" +
         (with_mqtt ? "true" : "false") +
         "\n"
         "KillMode=process\n"
         "TimeoutStopSec=20\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

core::Status systemctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{envOr("EDGECORE_SYSTEMCTL", "systemctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string cmd = "systemctl";
  for (const auto& a : args) {
    cmd += " " + a;
  }
  // Generous: `systemctl start|stop` waits for the unit, and edgecore may take a while to stop
  // (TimeoutStopSec=20) or start; the bound only keeps a wedged systemd from hanging keadm.
  auto run = runProcess(argv, kSystemctlTimeout);
  if (!run.ok()) {
    return core::unavailable(cmd + " failed: " + run.status().message());
  }
  if (!run->succeeded()) {
    return core::unavailable(cmd + " failed (" + run->describe() + "): " + trimmed(run->output));
  }
  return core::Status();
}

core::Status runScript(const std::string& script) {
  pid_t pid = ::fork();
  if (pid < 0) {
    return core::unavailable("cannot run " + script + ": fork failed");
  }
  if (pid == 0) {
    ::execl("/bin/bash", "bash", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return core::unavailable("script " + script + " failed (exit " +
                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  return core::Status();
}

bool systemctlSays(const std::string& query) {
  return systemctl({query, "--quiet", "edgecore.service"}).ok();
}

core::Status waitUntilConnected(const core::EdgeCoreConfig& config, std::chrono::seconds timeout) {
  const std::string& cert = config.modules.edge_hub.tls_cert_file;
  Endpoint ep;
  std::string server = metricsServer(config, ep);
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + timeout;
  bool tty = ::isatty(1) != 0;
  std::string missing;
  for (int tick = 0;; ++tick) {
    auto elapsed_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    bool have_cert = fs::exists(cert);
    bool connected = false;
    if (!server.empty()) {
      HttpClient client(ep, 2s);
      auto reply = client.request("GET", "/metrics");
      connected = reply.ok() && reply->status == 200 &&
                  reply->body.find("\nedgecore_edgehub_connected 1") != std::string::npos;
    } else {
      connected = have_cert;  // no unauthenticated /metrics: the certificate is the signal
    }
    if (have_cert && connected) {
      if (tty) {
        std::cout << "\n";
      }
      return core::Status();
    }
    missing = !have_cert ? "node certificate " + cert + " not issued yet"
                         : "edgehub not connected yet (" + server + " /metrics)";
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    if (tty) {
      std::cout << "\r[wait] " << elapsed_s << " s: " << missing << "          " << std::flush;
    } else if (tick % 20 == 0) {
      std::cout << "[wait] " << missing << std::endl;
    }
    std::this_thread::sleep_for(500ms);
  }
  if (tty) {
    std::cout << "\n";
  }
  return core::deadlineExceeded("edgecore did not connect within " +
                                std::to_string(timeout.count()) + " s: " + missing +
                                "; see journalctl -u edgecore -e");
}

}  // namespace edgecore::keadm
