// `keadm reset` / `keadm reset edge` (keadm/cmd/keadm/app/cmd/edge/reset_others.go @ v1.20.0):
// confirm, stop and disable edgecore.service, optionally remove the CRI pods, then delete the
// files join and edgecore made. Unlike v1.20, which removes /etc/kubeedge and /var/lib/kubeedge
// wholesale and every CRI pod, we delete only the files the configuration names, after checking
// every one of them first, and leave pods alone unless --cleanup-containers (then only this
// node's).

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "edgecore/core/config.h"
#include "edgecore/core/file.h"
#include "edgecore/cri/cri_client.h"
#include "init_system.h"
#include "join.h"
#include "join_config.h"
#include "reset_plan.h"

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;

struct ResetFlags {
  bool force = false;
  bool cleanup_containers = false;
  std::string kube_config;  // accepted like v1.20's cloud reset; unused on an edge node
  std::string endpoint;     // empty: the config's containerRuntimeEndpoint
  std::string config_path = kDefaultJoinConfigPath;
  std::string init_system;
  std::string pre_run, post_run;
};

bool confirm() {
  if (::isatty(0) == 0) {
    std::cerr << "error: keadm reset asks for confirmation but stdin is not a terminal; pass "
                 "--force to reset without asking\n";
    return false;
  }
  std::cout << "[reset] WARNING: Changes made to this host by 'keadm init' or 'keadm join' will "
               "be reverted.\n[reset] Are you sure you want to proceed? [y/N]: "
            << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y") {
    std::cerr << "error: aborted reset operation\n";
    return false;
  }
  return true;
}

void stopService() {
  if (systemctlSays("is-active")) {
    std::cout << "[reset] stopping edgecore.service\n";
    core::Status st = systemctl({"stop", "edgecore.service"});
    if (!st.ok()) {
      std::cerr << "warning: " << st.message() << "\n";
    }
  }
  if (systemctlSays("is-enabled")) {
    core::Status st = systemctl({"disable", "edgecore.service"});
    if (!st.ok()) {
      std::cerr << "warning: " << st.message() << "\n";
    }
  }
}

void removeUnit() {
  auto text = core::readFile(writtenUnitPath());
  if (!text.ok()) {
    return;
  }
  if (text->rfind(kUnitMarker, 0) != 0) {
    std::cout << "[reset] leaving " << writtenUnitPath() << " alone (not written by keadm)\n";
    return;
  }
  std::error_code ec;
  fs::remove(writtenUnitPath(), ec);
  std::cout << "[reset] removed " << writtenUnitPath() << "\n";
  (void)systemctl({"daemon-reload"});
}

// The label edged puts on every pod sandbox it runs (src/edged/pod_model.h kLabelEdgedNode).
constexpr const char* kLabelEdgedNode = "edgecore.kubeedge.io/node";

// Stops and removes the pod sandboxes (with their containers) edgecore ran for `node`. v1.20
// removes every CRI container on the host; pods another agent runs on the same containerd are
// not ours to delete.
int cleanupContainers(const std::string& endpoint, const std::string& node) {
  cri::CriClientOptions o;
  o.runtime_endpoint = endpoint;
  o.status_timeout = std::chrono::seconds(10);
  auto client = cri::CriClient::create(o);
  if (!client.ok()) {
    std::cerr << "error: --cleanup-containers: " << client.status().message() << "\n";
    return 1;
  }
  runtimeapi::PodSandboxFilter filter;
  (*filter.mutable_label_selector())[kLabelEdgedNode] = node;
  auto pods = (*client)->listPodSandbox(filter);
  if (!pods.ok()) {
    std::cerr << "error: --cleanup-containers: " << pods.status().message() << "\n";
    return 1;
  }
  int rc = 0;
  for (const auto& pod : *pods) {
    const auto& md = pod.metadata();
    core::Status st = (*client)->stopPodSandbox(pod.id());
    if (st.ok() || st.code() == core::StatusCode::NotFound) {
      st = (*client)->removePodSandbox(pod.id());
    }
    if (!st.ok() && st.code() != core::StatusCode::NotFound) {
      std::cerr << "warning: cannot remove pod " << md.namespace_() << "/" << md.name() << ": "
                << st.message() << "\n";
      rc = 1;
      continue;
    }
    std::cout << "[reset] removed pod " << md.namespace_() << "/" << md.name() << "\n";
  }
  return rc;
}

int runResetSteps(ResetFlags& f);

// As v1.20: a failing --pre-run stops the reset, a failing --post-run is only reported.
int runReset(ResetFlags& f) {
  if (!f.pre_run.empty()) {
    std::cout << "[reset] executing pre-run script: " << f.pre_run << std::endl;
    core::Status st = runScript(f.pre_run);
    if (!st.ok()) {
      std::cerr << "error: " << st.message() << "\n";
      return 1;
    }
  }
  int rc = runResetSteps(f);
  if (!f.post_run.empty()) {
    std::cout << "[reset] executing post-run script: " << f.post_run << std::endl;
    core::Status st = runScript(f.post_run);
    if (!st.ok()) {
      std::cerr << "warning: " << st.message() << "\n";
    }
  }
  return rc;
}

int runResetSteps(ResetFlags& f) {
  core::HostInfo host = core::detectHostInfo();
  core::EdgeCoreConfig config;
  auto loaded = core::loadConfigFile(f.config_path, host);
  bool have_config = loaded.ok();
  if (have_config) {
    config = std::move(*loaded);
  } else {
    if (loaded.status().code() != core::StatusCode::NotFound) {
      std::cerr << "error: " << loaded.status().message()
                << "; fix or remove the file, then run keadm reset again\n";
      return 1;
    }
    std::cout << "[reset] " << f.config_path
              << " does not exist; cleaning up the default locations\n";
    config = core::defaultConfig(host);
  }
  ResetPlan plan = planReset(f.config_path, config);
  if (!plan.refused.empty()) {
    for (const auto& line : plan.refused) {
      std::cerr << "error: " << line << "\n";
    }
    std::cerr << "keadm reset: nothing was deleted; fix the paths in " << f.config_path << "\n";
    return 1;
  }
  if (!f.force && !confirm()) {
    return 1;
  }
  if (f.init_system.empty()) {
    f.init_system = detectInitSystem();
  }
  if (f.init_system == "systemd") {
    stopService();
    removeUnit();
  }
  int rc = 0;
  if (f.cleanup_containers) {
    std::string endpoint =
        f.endpoint.empty() ? config.modules.edged.container_runtime_endpoint : f.endpoint;
    rc = cleanupContainers(endpoint, config.modules.edged.hostname_override);
  }
  for (const auto& file : plan.files) {
    std::error_code ec;
    if (fs::remove(file, ec)) {
      std::cout << "[reset] removed " << file << "\n";
    } else if (ec) {
      std::cerr << "warning: cannot remove " << file << ": " << ec.message() << "\n";
      rc = 1;
    }
  }
  for (const auto& dir : plan.dirs_if_empty) {
    std::error_code ec;
    if (fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && fs::remove(dir, ec)) {
      std::cout << "[reset] removed " << dir << "/\n";
    }
  }
  if (rc == 0) {
    std::cout << "[reset] reset edge node successfully\n";
  }
  return rc;
}

}  // namespace

void addResetCommand(CLI::App& app, int& rc) {
  auto f = std::make_shared<ResetFlags>();
  CLI::App* cmd = app.add_subcommand(
      "reset",
      "Stops edgecore.service and removes what keadm join and edgecore wrote: the "
      "configuration, certificates and database (also `keadm reset edge`)");
  CLI::App* edge = cmd->add_subcommand("edge", "Teardowns EdgeCore component (same as reset)");
  for (CLI::App* c : {cmd, edge}) {
    c->add_flag("--force", f->force, "Reset the node without prompting for confirmation");
    c->add_flag("--cleanup-containers", f->cleanup_containers,
                "Also stop and remove the pods edgecore ran for this node");
    c->add_option("--remote-runtime-endpoint", f->endpoint,
                  "CRI endpoint for --cleanup-containers; default: the configuration's");
    c->add_option("--kube-config", f->kube_config, "Accepted, not used on an edge node");
    c->add_option("-c,--config", f->config_path, "edgecore.yaml naming what to remove")
        ->capture_default_str();
    c->add_option("--pre-run", f->pre_run, "Script run with bash before resetting");
    c->add_option("--post-run", f->post_run, "Script run with bash after resetting");
    c->add_option("--init-system", f->init_system,
                  "systemd or none; default: systemd when it runs as PID 1");
  }
  // `reset edge` has no callback of its own: CLI11 runs the parent's once after it.
  cmd->callback([f, &rc] { rc = runReset(*f); });
}

}  // namespace edgecore::keadm
