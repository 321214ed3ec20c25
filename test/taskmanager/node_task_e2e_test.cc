// Node tasks with real processes only: the cloud simulator (in this test) sends v1alpha2 node
// tasks, or v1alpha1 requests state by state as CloudCore v1.17.5 does, to the edgecore binary
// (taskManager on), which spawns the real keadm; keadm restarts edgecore through a fake
// systemctl (EDGECORE_SYSTEMCTL, as in test/keadm/node_tasks_test.cc) that really stops and
// starts the installed binary as "the service"; the reports come back to the simulator from the
// old edgecore and, after a restart, from the new one (keadm's report file, docs/node-tasks.md
// 3.3). All files live in a temp root (EDGECORE_KUBEEDGE_DIR,
// EDGECORE_INSTALLED_BINARY, EDGECORE_UPGRADE_REPORT, --config).

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "util/node_task_reports.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kEdgecore = EDGECORE_BINARY;
const std::string kKeadm = KEADM_BINARY;

// "v<x.y.z>" of the built edgecore ("version A").
std::string versionA() {
  auto r = runCommand({kEdgecore, "--version"});
  std::string v = r.out.substr(std::string("edgecore-cpp ").size());
  return "v" + v.substr(0, v.find(' '));
}

bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  return stat.find(") Z") == std::string::npos;
}

class NodeTaskE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok()) << pki.status().toString();
    cloudsim::Options o;
    o.node_name = "edge-1";
    auto sim = cloudsim::CloudSim::start(*pki, o);
    ASSERT_TRUE(sim.ok()) << sim.status().toString();
    sim_ = std::move(sim).value();
    root_ = dir_.path();
    for (const char* d : {"usr/bin", "etc", "var", "kubeedge", "sysroot/run/systemd/system"}) {
      fs::create_directories(root_ + "/" + d);
    }
    port_ = freeLoopbackPort();
    config_text_ = configText();
    dir_.write("etc/edgecore.yaml", config_text_);
    fs::permissions(config(), fs::perms::owner_read | fs::perms::owner_write);
    fs::copy_file(kEdgecore, installed());
    writeSystemctl();
  }

  void TearDown() override {
    // keadm may still wait for a connection; it and the service are ours to end.
    for (pid_t pid : keadmPids()) ::kill(pid, SIGKILL);
    if (pid_t pid = servicePid(); pid > 0) ::kill(pid, SIGKILL);
    sim_.reset();
  }

  std::string configText() const {
    return "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
           "database:\n  dataSource: " +
           root_ +
           "/var/edgecore.db\n"
           "modules:\n"
           "  edgeHub:\n    enable: true\n    heartbeat: 15\n"
           "    httpServer: https://127.0.0.1:" +
           std::to_string(sim_->httpsPort()) + "\n    tlsCaFile: " + root_ +
           "/ca/rootCA.crt\n    tlsCertFile: " + root_ +
           "/certs/server.crt\n    tlsPrivateKeyFile: " + root_ +
           "/certs/server.key\n    token: " + sim_->token() +
           "\n    websocket:\n      enable: true\n      server: 127.0.0.1:" +
           std::to_string(sim_->wsPort()) +
           "\n  edged:\n    enable: false\n    hostnameOverride: edge-1\n"
           "  taskManager:\n    enable: true\n"
           "  metaManager:\n    metaServer:\n      enable: true\n      server: 127.0.0.1:" +
           std::to_string(port_) + "\n";
  }

  std::string config() const { return root_ + "/etc/edgecore.yaml"; }
  std::string installed() const { return root_ + "/usr/bin/edgecore"; }
  std::string pidfile() const { return root_ + "/edgecore.pid"; }
  std::string report() const { return root_ + "/upgrade_report.json"; }
  std::string keadmLog() const {
    return fs::exists(root_ + "/keadm.log") ? readFile(root_ + "/keadm.log") : "";
  }
  std::string serviceLog() const {
    return fs::exists(root_ + "/service.log") ? readFile(root_ + "/service.log") : "";
  }
  std::string systemctlLog() const {
    return fs::exists(root_ + "/systemctl.log") ? readFile(root_ + "/systemctl.log") : "";
  }

  // A systemctl that runs `<installed> --config <config>` as edgecore.service, with the
  // environment that points edgecore at the real keadm and keadm at this temp root.
  // keadm_wait_s: how long `keadm upgrade edge` waits for the new edgecore to connect.
  void writeSystemctl(int keadm_wait_s = 60) const {
    const std::string pid = pidfile();
    const std::string env =
        "export EDGECORE_KEADM_WAIT_TIMEOUT=" + std::to_string(keadm_wait_s) +
        " EDGECORE_KEADM=" + kKeadm + " EDGECORE_KEADM_LOG=" + root_ + "/keadm.log" +
        " EDGECORE_UPGRADE_REPORT=" + report() + " EDGECORE_KUBEEDGE_DIR=" + root_ + "/kubeedge" +
        " EDGECORE_INSTALLED_BINARY=" + installed() + " EDGECORE_SYSTEMCTL=" + root_ +
        "/systemctl" + " EDGECORE_SYSTEMD_ROOT=" + root_ + "/sysroot\n";
    dir_.write("systemctl",
               "#!/bin/sh\n" + env + "echo \"$*\" >> " + root_ +
                   "/systemctl.log\n"
                   "alive() { [ -f " +
                   pid + " ] && p=$(cat " + pid +
                   ") && [ -e /proc/$p ] && ! grep -q ') Z' /proc/$p/stat; }\n"
                   "stop() { if alive; then kill $(cat " +
                   pid +
                   "); i=0; while alive && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done;\n"
                   "  alive && kill -9 $(cat " +
                   pid + "); fi; rm -f " + pid +
                   "; }\n"
                   "start() { " +
                   installed() + " --config " + config() + " >>" + root_ +
                   "/service.log 2>&1 </dev/null & echo $! > " + pid +
                   "; }\n"
                   "case \"$1\" in\n"
                   "  start) start;;\n"
                   "  stop) stop;;\n"
                   "  restart) stop; start;;\n"
                   "  is-active) alive || exit 3;;\n"
                   "esac\n"
                   "exit 0\n");
    fs::permissions(root_ + "/systemctl", fs::perms::owner_all);
  }

  pid_t servicePid() const {
    std::string text = fs::exists(pidfile()) ? readFile(pidfile()) : "";
    return text.empty() ? 0 : static_cast<pid_t>(std::stoi(text));
  }

  // keadm processes working on this test's config (started by edgecore, so not our children).
  std::vector<pid_t> keadmPids() const {
    std::vector<pid_t> pids;
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(e.path() / "cmdline", std::ios::binary);
      std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmd.rfind(kKeadm + '\0', 0) == 0 && cmd.find(config()) != std::string::npos) {
        pids.push_back(static_cast<pid_t>(std::stoi(name)));
      }
    }
    return pids;
  }

  // The keadm of this test running `keadm <what> ...`, or 0.
  pid_t keadmRunning(const std::string& what) const {
    for (pid_t pid : keadmPids()) {
      std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
      std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmd.find(std::string(1, '\0') + what + '\0') != std::string::npos) return pid;
    }
    return 0;
  }

  void startService() {
    auto r = runCommand({root_ + "/systemctl", "start"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << serviceLog();
  }

  std::vector<cloudsim::NodeTaskReport> waitReports(const std::string& job, size_t n,
                                                    std::chrono::milliseconds timeout = 45s) {
    (void)sim_->waitUntil([&] { return sim_->nodeTaskReports(job).size() >= n; }, timeout);
    return sim_->nodeTaskReports(job);
  }

  bool waitKeadmDone() {
    return sim_->waitUntil([&] { return keadmPids().empty(); }, 30s);
  }

  // Version B: a wrapper whose `--version` says 9.9.9 and that otherwise runs a copy of the
  // real edgecore (so B connects to the cloud like A). Staged where `keadm upgrade edge` finds
  // it without --tarballpath or --image.
  // connects=false: a B that runs but never connects (keadm must roll back to A).
  void stageVersionB(bool connects = true) const {
    fs::create_directories(root_ + "/a");
    fs::copy_file(kEdgecore, root_ + "/a/edgecore");
    const std::string staged = "kubeedge/upgrade/v9.9.9/edgecore";
    fs::create_directories(root_ + "/kubeedge/upgrade/v9.9.9");
    dir_.write(staged,
               "#!/bin/sh\n"
               "if [ \"$1\" = --version ]; then echo 'edgecore-cpp 9.9.9 (test B)'; exit 0; fi\n"
               "exec " +
                   (connects ? root_ + "/a/edgecore \"$@\"\n" : std::string("sleep 600\n")));
    fs::permissions(root_ + "/" + staged, fs::perms::owner_all);
  }

  json upgradeSpec() const {
    return {{"version", "v9.9.9"},
            {"imageDigestGatter", nullptr},
            {"checkItems", json::array()},
            {"requireConfirmation", true}};
  }

  ProcessResult confirm() const {
    return runCommand({kKeadm, "ctl", "--config", config(), "confirm", "edge-1"});
  }

  // Drops the link and waits for edgecore to connect again: the reconnect hook runs once more.
  void reconnect() {
    sim_->dropConnections();
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << serviceLog();
  }

  // v1alpha1 (docs/node-tasks.md 1.2, 2.4): plays CloudCore v1.17.5 for one upgrade task.
  // Sends the request of the node's state, waits for the answer and moves the state by the
  // v1.17.5 rule table; an answer the table has no row for (Confirm/Confirmation) leaves the
  // state as it is and the walk stops there. Returns "Event/Action " per answer.
  std::string walkV1alpha1(const std::string& task, const json& item, std::string* state,
                           int max_steps = 6) {
    std::string walked;
    for (int step = 0; step < max_steps && !cloudsim::v1alpha1Final(*state); ++step) {
      const size_t before = sim_->v1alpha1Answers(task).size();
      if (!sim_->sendV1alpha1Task("upgrade", task, *state, item).ok()) return walked + "unsent";
      if (!waitV1alpha1Answers(task, before + 1)) return walked + "no answer in " + *state;
      if (!stepV1alpha1(task, state, &walked)) break;
    }
    return walked;
  }
  bool waitV1alpha1Answers(const std::string& task, size_t n) {
    // Upgrading is answered by the edgecore keadm started (or put back), after its restart.
    return sim_->waitUntil([&] { return sim_->v1alpha1Answers(task).size() >= n; }, 60s);
  }
  // Applies the newest answer; false when the cloud's table has no row for it.
  bool stepV1alpha1(const std::string& task, std::string* state, std::string* walked) {
    const json body = sim_->v1alpha1Answers(task).back().body;
    const std::string event = body.value("Event", "");
    const std::string action = body.value("Action", "");
    *walked += event + "/" + action + " ";
    auto next = cloudsim::v1alpha1NextState("upgrade", *state, event, action);
    if (next) *state = *next;
    return next.has_value();
  }
  static json v1alpha1Item(const std::string& id, bool confirm = false) {
    return {{"UpgradeID", id},
            {"HistoryID", id + "-h"},
            {"Version", "v9.9.9"},
            {"UpgradeTool", "keadm"},
            {"Image", "kubeedge/installation-package:v9.9.9"},
            {"RequireConfirmation", confirm}};
  }

  TempDir dir_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::string root_;
  std::string config_text_;
  int port_ = 0;
};

TEST_F(NodeTaskE2E, ConfigUpdateIsWrittenRestartsEdgecoreAndTheNewOneReportsIt) {
  ASSERT_NO_FATAL_FAILURE(startService());
  const pid_t before = servicePid();
  // As edgecore left it: it records edgecoreVersion and drops the token it has used.
  const std::string old_text = readFile(config());
  ASSERT_TRUE(sim_->sendNodeTask("configupdatejob", "cu1", "Check",
                                 {{"updateFields", {{"modules.edgeHub.heartbeat", "17"}}}})
                  .ok());
  auto rs = waitReports("cu1", 3);
  ASSERT_EQ(reportedActions(rs), "Check+ BackUp+ Update+ ") << keadmLog() << serviceLog();
  EXPECT_EQ(rs[2].type, "configupdatejob");
  EXPECT_EQ(rs[2].body["reason"], "");
  EXPECT_FALSE(rs[2].body["finishTime"].get<std::string>().empty());

  const std::string text = readFile(config());
  EXPECT_NE(text.find("heartbeat: 17"), std::string::npos) << text;
  EXPECT_EQ(text.find("heartbeat: 15"), std::string::npos) << text;
  EXPECT_EQ(readFile(config() + ".bak"), old_text);
  EXPECT_EQ(readFile(root_ + "/kubeedge/backup/" + versionA() + "/edgecore.yaml"), old_text);
  // The Update report came from a new edgecore: keadm restarted the service.
  EXPECT_NE(servicePid(), before);
  EXPECT_TRUE(alive(servicePid()));
  EXPECT_NE(systemctlLog().find("restart edgecore.service"), std::string::npos) << systemctlLog();

  // keadm ends once it has seen the connection (its output went to the old edgecore, which is
  // gone); the report it left was taken exactly once.
  ASSERT_TRUE(waitKeadmDone());
  EXPECT_FALSE(fs::exists(report()));
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("cu1").size(), 3u)
      << reportedActions(sim_->nodeTaskReports("cu1"));
}

TEST_F(NodeTaskE2E, ConfigUpdateWithABadValueFailsNamingTheKeyAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(startService());
  const std::string old_text = readFile(config());
  ASSERT_TRUE(sim_->sendNodeTask("configupdatejob", "cu2", "Check",
                                 {{"updateFields", {{"modules.edgeHub.heartbeat", "abc"}}}})
                  .ok());
  // Update fails before anything is written; the flow's RollBack restores the backup taken a
  // moment ago and restarts edgecore, whose reconnect reports it (docs/node-tasks.md 2.3).
  auto rs = waitReports("cu2", 4);
  ASSERT_EQ(reportedActions(rs), "Check+ BackUp+ Update- RollBack+ ") << keadmLog() << serviceLog();
  const std::string reason = rs[2].body["reason"];
  EXPECT_NE(reason.find("update config failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("modules.edgeHub.heartbeat"), std::string::npos) << reason;
  EXPECT_EQ(readFile(config()), old_text);
  EXPECT_FALSE(fs::exists(config() + ".bak"));
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  EXPECT_TRUE(alive(servicePid()));
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("cu2").size(), 4u)
      << reportedActions(sim_->nodeTaskReports("cu2"));
}

TEST_F(NodeTaskE2E, ConfigUpdateThatDoesNotConnectPutsTheOldFileBackAndReportsIt) {
  writeSystemctl(5);
  ASSERT_NO_FATAL_FAILURE(startService());
  const std::string old_text = readFile(config());
  // Valid for the loader, but no cloud answers there.
  const std::string dead = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  ASSERT_TRUE(sim_->sendNodeTask("configupdatejob", "cu3", "Check",
                                 {{"updateFields", {{"modules.edgeHub.websocket.server", dead}}}})
                  .ok());
  // keadm waits 5 s, puts the old file back and restarts edgecore, which connects and reports
  // the failure keadm wrote before that restart (no RollBack: the file is already restored).
  auto rs = waitReports("cu3", 3);
  ASSERT_EQ(reportedActions(rs), "Check+ BackUp+ Update- ") << keadmLog() << serviceLog();
  const std::string reason = rs[2].body["reason"];
  EXPECT_NE(reason.find("the new configuration did not start"), std::string::npos) << reason;
  EXPECT_NE(reason.find("the old configuration is back"), std::string::npos) << reason;
  EXPECT_EQ(readFile(config()), old_text);
  ASSERT_TRUE(waitKeadmDone());
  EXPECT_FALSE(fs::exists(report()));
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("cu3").size(), 3u)
      << reportedActions(sim_->nodeTaskReports("cu3"));
}

TEST_F(NodeTaskE2E, UpgradeWaitsForKeadmCtlConfirmThenRunsBAndBReportsTheUpgrade) {
  stageVersionB();
  ASSERT_NO_FATAL_FAILURE(startService());
  const pid_t a = servicePid();
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "up1", "Check", upgradeSpec()).ok());
  auto rs = waitReports("up1", 2);
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ ") << serviceLog();
  EXPECT_TRUE(keadmLog().empty()) << "nothing runs before the confirmation";

  auto confirmed = confirm();
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.out << confirmed.err;
  rs = waitReports("up1", 4);
  // docs/node-tasks.md 2.1: BackUp from the old edgecore, Upgrade from B out of keadm's report.
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade+ ")
      << keadmLog() << serviceLog();
  EXPECT_EQ(rs[2].body["extend"], "," + versionA());
  EXPECT_EQ(rs[3].body["extend"], versionA() + ",v9.9.9");
  EXPECT_NE(servicePid(), a);
  auto version = runCommand({installed(), "--version"});
  EXPECT_EQ(version.out.rfind("edgecore-cpp 9.9.9", 0), 0u) << version.out;
  EXPECT_TRUE(sim_->connected());
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  EXPECT_NE(keadmLog().find("edgecore v9.9.9 is running and connected"), std::string::npos)
      << keadmLog();
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("up1").size(), 4u)
      << reportedActions(sim_->nodeTaskReports("up1"));
  // Nothing waits any more.
  EXPECT_NE(confirm().exit_code, 0);
}

TEST_F(NodeTaskE2E, KilledWhileWaitingForConfirmationTheUpgradeGoesOnAfterRestart) {
  stageVersionB();
  ASSERT_NO_FATAL_FAILURE(startService());
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "up2", "Check", upgradeSpec()).ok());
  ASSERT_EQ(reportedActions(waitReports("up2", 2)), "Check+ WaitingConfirmation+ ") << serviceLog();

  // kill -9: the state is in the store (docs/node-tasks.md 10.1), not in memory.
  const pid_t killed = servicePid();
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  ASSERT_TRUE(sim_->waitUntil([&] { return !alive(killed) && !sim_->connected(); }, 10s));
  ASSERT_NO_FATAL_FAILURE(startService());
  // The restarted edgecore re-sends nothing (3.3: only keadm's report file is re-reported)...
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(reportedActions(sim_->nodeTaskReports("up2")), "Check+ WaitingConfirmation+ ");
  // ...and still holds the task at WaitingConfirmation: confirm goes on from BackUp.
  auto confirmed = confirm();
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.out << confirmed.err << serviceLog();
  auto rs = waitReports("up2", 4);
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade+ ")
      << keadmLog() << serviceLog();
  EXPECT_EQ(rs[3].body["extend"], versionA() + ",v9.9.9");
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("up2").size(), 4u)
      << reportedActions(sim_->nodeTaskReports("up2"));
}

TEST_F(NodeTaskE2E, UpgradeToABThatNeverConnectsRollsBackToA) {
  stageVersionB(false);
  writeSystemctl(5);
  ASSERT_NO_FATAL_FAILURE(startService());
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "up3", "Check", upgradeSpec()).ok());
  ASSERT_EQ(reportedActions(waitReports("up3", 2)), "Check+ WaitingConfirmation+ ") << serviceLog();
  auto confirmed = confirm();
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.out << confirmed.err;
  // keadm swaps in B, waits 5 s, puts A back and starts it; A reports the failed Upgrade from
  // keadm's report file and, as in KubeEdge, runs RollBack (keadm rollback edge: the same
  // backup again), which the next A reports (docs/node-tasks.md 2.1, 3.3, 10.3).
  auto rs = waitReports("up3", 5, 50s);
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade- RollBack+ ")
      << keadmLog() << serviceLog();
  const std::string reason = rs[3].body["reason"];
  EXPECT_NE(reason.find("upgrade to v9.9.9 failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("rolled back to " + versionA()), std::string::npos) << reason;
  EXPECT_EQ(rs[3].body["extend"], versionA() + ",v9.9.9");
  // from = the running A after keadm put it back, to = the backup restored (A again).
  EXPECT_EQ(rs[4].body["extend"], versionA() + "," + versionA());
  auto version = runCommand({installed(), "--version"});
  EXPECT_EQ(version.out.rfind("edgecore-cpp ", 0), 0u) << version.out;
  EXPECT_EQ(version.out.find("test B"), std::string::npos) << version.out;
  EXPECT_EQ(runCommand({"/usr/bin/cmp", "-s", installed(), kEdgecore}).exit_code, 0);
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  EXPECT_TRUE(alive(servicePid()));
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("up3").size(), 5u)
      << reportedActions(sim_->nodeTaskReports("up3"));
}

TEST_F(NodeTaskE2E, KilledWhileKeadmUpgradesBReportsTheUpgradeOnce) {
  stageVersionB();
  ASSERT_NO_FATAL_FAILURE(startService());
  const pid_t a = servicePid();
  ASSERT_TRUE(sim_->sendNodeTask("nodeupgradejob", "up4", "Check", upgradeSpec()).ok());
  ASSERT_EQ(reportedActions(waitReports("up4", 2)), "Check+ WaitingConfirmation+ ") << serviceLog();
  auto confirmed = confirm();
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.out << confirmed.err;
  // kill -9 of A while its Upgrade action runs keadm (keadm may already be restarting it: the
  // outcome must be the same either way).
  ASSERT_TRUE(sim_->waitUntil([&] { return keadmRunning("upgrade") != 0; }, 20s)) << keadmLog();
  EXPECT_EQ(::kill(a, SIGKILL), 0) << "A was still running the task";
  // keadm goes on by itself; B reports keadm's result at its connect (docs/node-tasks.md 10.1:
  // a task in a keadm action is not rerun after a restart).
  auto rs = waitReports("up4", 4);
  ASSERT_EQ(reportedActions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade+ ")
      << keadmLog() << serviceLog();
  EXPECT_EQ(rs[3].body["extend"], versionA() + ",v9.9.9");
  EXPECT_EQ(runCommand({installed(), "--version"}).out.rfind("edgecore-cpp 9.9.9", 0), 0u);
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  ASSERT_NO_FATAL_FAILURE(reconnect());
  EXPECT_EQ(sim_->nodeTaskReports("up4").size(), 4u)
      << reportedActions(sim_->nodeTaskReports("up4"));
}

// ---- v1alpha1: the v1.17.5 cloud's states, answered by the real edgecore and keadm ----

TEST_F(NodeTaskE2E, V1alpha1UpgradeWalksTheV117StatesAndBAnswersTheUpgrade) {
  stageVersionB();
  ASSERT_NO_FATAL_FAILURE(startService());
  const pid_t a = servicePid();
  std::string state;  // the cloud starts with an empty node state
  std::string walked = walkV1alpha1("v1-up1", v1alpha1Item("v1-up1"), &state);
  ASSERT_EQ(walked, "Init/Success Check/Success Backup/Success Upgrade/Success ")
      << keadmLog() << serviceLog();
  EXPECT_EQ(state, "Successful");
  auto last = sim_->v1alpha1Answers("v1-up1").back();
  EXPECT_EQ(last.node, "edge-1");
  EXPECT_EQ(last.body["NodeName"], "edge-1");
  EXPECT_NE(servicePid(), a);
  EXPECT_EQ(runCommand({installed(), "--version"}).out.rfind("edgecore-cpp 9.9.9", 0), 0u);
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  EXPECT_NE(keadmLog().find("node task v1-up1 (history v1-up1-h"), std::string::npos) << keadmLog();
  // Answered once: a later connect finds nothing to report.
  ASSERT_NO_FATAL_FAILURE(reconnect());
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(sim_->v1alpha1Answers("v1-up1").size(), 4u);
}

TEST_F(NodeTaskE2E, V1alpha1UpgradeWaitsForKeadmCtlConfirmThenGoesOn) {
  stageVersionB();
  ASSERT_NO_FATAL_FAILURE(startService());
  std::string state;
  const json item = v1alpha1Item("v1-up2", true);
  std::string walked = walkV1alpha1("v1-up2", item, &state);
  // v1.17.5's table has no row for Confirm/Confirmation: the node stays at Init.
  ASSERT_EQ(walked, "Confirm/Confirmation ") << serviceLog();
  EXPECT_EQ(state, "");
  EXPECT_TRUE(keadmLog().empty()) << "nothing runs before the confirmation";
  auto confirmed = confirm();
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.out << confirmed.err << serviceLog();
  ASSERT_TRUE(waitV1alpha1Answers("v1-up2", 2)) << serviceLog();
  ASSERT_TRUE(stepV1alpha1("v1-up2", &state, &walked));
  walked += walkV1alpha1("v1-up2", item, &state);
  EXPECT_EQ(walked,
            "Confirm/Confirmation Init/Success Check/Success Backup/Success Upgrade/Success ")
      << keadmLog() << serviceLog();
  EXPECT_EQ(state, "Successful");
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  EXPECT_NE(confirm().exit_code, 0) << "nothing waits any more";
}

TEST_F(NodeTaskE2E, V1alpha1FailingBackupEndsTheNodeFailedAndChangesNothing) {
  stageVersionB();
  ASSERT_NO_FATAL_FAILURE(startService());
  // keadm backup cannot tell the running version without the installed binary (the running
  // service does not need the file).
  fs::rename(installed(), root_ + "/a/moved-away");
  std::string state;
  std::string walked = walkV1alpha1("v1-up3", v1alpha1Item("v1-up3"), &state);
  ASSERT_EQ(walked, "Init/Success Check/Success Backup/Failure ") << keadmLog() << serviceLog();
  EXPECT_EQ(state, "Failed");
  const std::string reason = sim_->v1alpha1Answers("v1-up3").back().body["Reason"];
  EXPECT_NE(reason.find("keadm backup failed"), std::string::npos) << reason;
  EXPECT_EQ(keadmRunning("upgrade"), 0);
  EXPECT_EQ(keadmLog().find("upgrade"), std::string::npos) << keadmLog();
  EXPECT_TRUE(sim_->connected());
}

TEST_F(NodeTaskE2E, V1alpha1UpgradeToABThatNeverConnectsRollsBackAndAAnswersFailure) {
  stageVersionB(false);
  writeSystemctl(5);
  ASSERT_NO_FATAL_FAILURE(startService());
  std::string state;
  std::string walked = walkV1alpha1("v1-up4", v1alpha1Item("v1-up4"), &state);
  // keadm swaps in B, waits 5 s, puts A back; A answers keadm's failure from its report file.
  ASSERT_EQ(walked, "Init/Success Check/Success Backup/Success Upgrade/Failure ")
      << keadmLog() << serviceLog();
  EXPECT_EQ(state, "Failed");
  const std::string reason = sim_->v1alpha1Answers("v1-up4").back().body["Reason"];
  EXPECT_NE(reason.find("upgrade to v9.9.9 failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("rolled back to " + versionA()), std::string::npos) << reason;
  EXPECT_EQ(runCommand({"/usr/bin/cmp", "-s", installed(), kEdgecore}).exit_code, 0);
  ASSERT_TRUE(waitKeadmDone()) << keadmLog();
  EXPECT_TRUE(alive(servicePid()));
  // No second rollback from the edge (the v1.17.5 cloud never sends RollingBack after Failed).
  EXPECT_EQ(keadmLog().find("restored and started"), std::string::npos) << keadmLog();
  ASSERT_NO_FATAL_FAILURE(reconnect());
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(sim_->v1alpha1Answers("v1-up4").size(), 4u);
}

}  // namespace
}  // namespace edgecore::testing
