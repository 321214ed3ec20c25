#include "join.h"

#include <filesystem>
#include <iostream>
#include <memory>

#include "edgecore/core/config.h"
#include "edgecore/core/file.h"
#include "edgecore/core/version.h"
#include "init_system.h"
#include "join_config.h"
#include "preflight.h"

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;

struct JoinFlags {
  JoinOptions options;
  int wait_timeout_s = 120;
  std::string pre_run, post_run;
  // Flags of keadm v1.20 that fetch or install KubeEdge: accepted, not needed here.
  std::string kubeedge_version, tarballpath, image_repository, quicport, runtimetype;
};

int fail(const std::string& line) {
  std::cerr << "error: " << line << "\n";
  return 1;
}

void printNoOps(CLI::App& cmd) {
  for (const char* name : {"--kubeedge-version", "--tarballpath", "--image-repository",
                           "--quicport", "--runtimetype"}) {
    if (cmd.count(name) > 0) {
      std::cout << name << ": not needed, edgecore-cpp " << core::kVersion
                << " is already installed (ignored)\n";
    }
  }
}

// The Debian package's unit runs the default config; for another config we write our own, which
// overrides it.
bool usePackagedUnit(const JoinOptions& o) {
  return o.config_path == kDefaultJoinConfigPath && fs::exists(packagedUnitPath()) &&
         !fs::exists(writtenUnitPath());
}

// A unit at our path that keadm did not write is the operator's: never overwritten. Checked
// before anything is written.
std::string unitConflict(const JoinOptions& o) {
  if (o.init_system != "systemd" || usePackagedUnit(o) || !fs::exists(writtenUnitPath())) {
    return {};
  }
  auto existing = core::readFile(writtenUnitPath());
  if (existing.ok() && existing->rfind(kUnitMarker, 0) == 0) {
    return {};
  }
  return writtenUnitPath() + " exists and was not written by keadm; move it away or run " +
         "`keadm reset` first";
}

core::Status installUnit(const JoinOptions& o) {
  if (usePackagedUnit(o)) {
    std::cout << "[join] using the packaged unit " << packagedUnitPath() << "\n";
    return core::Status();
  }
  fs::path dir = fs::path(writtenUnitPath()).parent_path();
  EC_RETURN_IF_ERROR(core::createDirectories(dir.string(), 0755).status());
  std::cout << "[join] writing " << writtenUnitPath() << "\n";
  return core::writeFileAtomic(writtenUnitPath(),
                               unitText(edgecoreBinary(), o.config_path, o.with_mqtt), 0644);
}

int runJoinSteps(CLI::App& cmd, JoinFlags& f);

// keadm v1.20 runs --pre-run before its checks (a failure stops the join) and --post-run after
// (a failure is only reported).
int runJoin(CLI::App& cmd, JoinFlags& f) {
  if (!f.pre_run.empty()) {
    std::cout << "[join] executing pre-run script: " << f.pre_run << std::endl;
    core::Status st = runScript(f.pre_run);
    if (!st.ok()) {
      return fail(st.message());
    }
  }
  int rc = runJoinSteps(cmd, f);
  if (!f.post_run.empty()) {
    std::cout << "[join] executing post-run script: " << f.post_run << std::endl;
    core::Status st = runScript(f.post_run);
    if (!st.ok()) {
      std::cerr << "warning: " << st.message() << "\n";
    }
  }
  return rc;
}

int runJoinSteps(CLI::App& cmd, JoinFlags& f) {
  JoinOptions& o = f.options;
  o.wait_timeout = std::chrono::seconds(f.wait_timeout_s);
  printNoOps(cmd);
  if (o.hub_protocol == "quic") {
    return fail(
        "--hub-protocol quic: edgecore-cpp implements the websocket transport only; use "
        "--hub-protocol websocket with CloudCore's websocket port (10000)");
  }
  if (o.init_system.empty()) {
    o.init_system = detectInitSystem();
  }
  if (o.init_system != "systemd" && o.init_system != "none") {
    return fail("--init-system " + o.init_system + ": use systemd or none");
  }
  if (o.init_system == "systemd" && detectInitSystem() != "systemd") {
    return fail(
        "--init-system systemd: systemd is not running on this machine (no /run/systemd/system); "
        "use --init-system=none and start edgecore yourself");
  }
  std::error_code ec;
  if (fs::exists(o.config_path, ec) && !o.force) {
    return fail(o.config_path +
                " exists: this node was joined before; run `keadm reset` first, or pass --force "
                "to overwrite it");
  }
  // Even with --force: a running edgecore holds the ports pre-flight checks, and `enable --now`
  // would not restart it with the new configuration.
  if (o.init_system == "systemd" && systemctlSays("is-active")) {
    return fail(
        "edgecore.service is running; run `keadm reset` (or `systemctl stop edgecore`) first");
  }
  if (std::string conflict = unitConflict(o); !conflict.empty()) {
    return fail(conflict);
  }
  core::HostInfo host = core::detectHostInfo();
  auto joined = buildJoinConfig(o, host);
  if (!joined.ok()) {
    return fail(joined.status().message());
  }
  std::cout << "[preflight] checking the container runtime, ports, CloudCore and the token\n";
  PreflightResult pre = runPreflight(o, *joined);
  for (const auto& w : pre.warnings) {
    std::cerr << "warning: " << w << "\n";
  }
  if (!pre.failures.empty()) {
    for (const auto& line : pre.failures) {
      std::cerr << "error: " << line << "\n";
    }
    std::cerr << "keadm join: " << pre.failures.size()
              << " pre-flight check(s) failed; nothing was written\n";
    return 1;
  }

  fs::path config_dir = fs::path(o.config_path).parent_path();
  auto made = core::createDirectories(config_dir.string(), 0700);
  if (!made.ok()) {
    return fail(made.status().message());
  }
  core::Status st = core::writeFileAtomic(o.config_path, joined->yaml, 0600);
  if (!st.ok()) {
    return fail(st.message());
  }
  std::cout << "[join] wrote " << o.config_path << " (node "
            << joined->config.modules.edged.hostname_override << ")\n";
  const std::string start = edgecoreBinary() + " --config " + o.config_path;
  if (o.init_system == "none") {
    std::cout << "[join] --init-system=none: edgecore is not started. Start it with:\n  " << start
              << "\n";
    return 0;
  }
  st = installUnit(o);
  if (st.ok()) {
    st = systemctl({"daemon-reload"});
  }
  if (st.ok()) {
    st = systemctl({"enable", "--now", "edgecore.service"});
  }
  if (!st.ok()) {
    return fail(st.message() +
                "; the configuration is written, fix systemd and run "
                "`systemctl enable --now edgecore`");
  }
  std::cout << "[join] edgecore.service started; waiting up to " << f.wait_timeout_s
            << " s for the node certificate and the cloud connection\n";
  st = waitUntilConnected(joined->config, o.wait_timeout);
  if (!st.ok()) {
    return fail(st.message());
  }
  std::cout << "[join] node " << joined->config.modules.edged.hostname_override
            << " is connected to CloudCore. Next:\n"
            << "  systemctl status edgecore\n"
            << "  journalctl -u edgecore -f\n"
            << "  keadm ctl "
            << (o.config_path == kDefaultJoinConfigPath ? "" : "--config " + o.config_path + " ")
            << "get pod"
            << (joined->config.modules.meta_manager.meta_server.enable
                    ? ""
                    : "   (after enabling MetaServer: modules.metaManager.metaServer.enable)")
            << "\n";
  return 0;
}

}  // namespace

void addJoinCommand(CLI::App& app, int& rc) {
  auto f = std::make_shared<JoinFlags>();
  JoinOptions& o = f->options;
  CLI::App* cmd = app.add_subcommand(
      "join",
      "Writes edgecore.yaml for this node, checks the node and the cloud first, installs and "
      "starts the edgecore systemd unit and waits until the node is connected");
  cmd->add_option("-e,--cloudcore-ipport", o.cloudcore_ipport, "IP:Port address of CloudCore")
      ->required();
  cmd->add_option("-t,--token", o.token, "Used for edge to apply for the certificate");
  cmd->add_option("-i,--edgenode-name", o.edgenode_name,
                  "Node name; default: the lowercased hostname");
  cmd->add_option("-p,--remote-runtime-endpoint", o.remote_runtime_endpoint, "CRI endpoint")
      ->capture_default_str();
  cmd->add_option("--cgroupdriver", o.cgroup_driver, "cgroupfs or systemd")->capture_default_str();
  cmd->add_option("-s,--certport", o.certport,
                  "The port where to apply for the edge certificate (default 10002)");
  cmd->add_option("-l,--labels", o.labels, "Node labels: key1=value1,key2=value2")->delimiter(',');
  cmd->add_option("--hub-protocol", o.hub_protocol, "websocket (quic is not implemented)")
      ->capture_default_str();
  cmd->add_option("--certPath,--cert-path", o.cert_path, "Directory of the node certificate and CA")
      ->capture_default_str();
  cmd->add_option("--set", o.sets,
                  "Set edgecore.yaml values: key1=val1,key2=val2 (e.g. "
                  "modules.metaManager.metaServer.enable=true)");
  cmd->add_flag("--with-mqtt", o.with_mqtt,
                "Deprecated in v1.20; edgecore-cpp starts no broker (install mosquitto)");
  cmd->add_option("-c,--config", o.config_path, "Where to write edgecore.yaml")
      ->capture_default_str();
  cmd->add_flag("--force", o.force, "Overwrite an existing edgecore.yaml");
  cmd->add_option("--init-system", o.init_system,
                  "systemd or none; default: systemd when it runs as PID 1");
  cmd->add_option("--wait-timeout", f->wait_timeout_s,
                  "Seconds to wait for the node to connect (systemd only)")
      ->capture_default_str();
  cmd->add_option("--pre-run", f->pre_run, "Script run with bash before joining");
  cmd->add_option("--post-run", f->post_run, "Script run with bash after joining");
  cmd->add_option("--kubeedge-version", f->kubeedge_version, "Accepted, not needed")
      ->expected(0, 1);
  cmd->add_option("--tarballpath", f->tarballpath, "Accepted, not needed");
  cmd->add_option("--image-repository", f->image_repository, "Accepted, not needed");
  cmd->add_option("--quicport", f->quicport, "Accepted, not needed");
  cmd->add_option("--runtimetype", f->runtimetype, "Accepted, not needed");
  cmd->callback([cmd, f, &rc] { rc = runJoin(*cmd, *f); });
}

void addVersionCommand(CLI::App& app, int& rc) {
  CLI::App* cmd = app.add_subcommand("version", "Print the version of keadm and edgecore");
  cmd->callback([&rc] {
    std::cout << "edgecore-cpp " << core::kVersion << " (KubeEdge " << core::kKubeEdgeCompat
              << " compatible)\n";
    rc = 0;
  });
}

}  // namespace edgecore::keadm
