// `keadm backup|upgrade|rollback edge` and `keadm config-update` end to end: the real keadm on
// real files in a temp root (EDGECORE_KUBEEDGE_DIR, EDGECORE_INSTALLED_BINARY,
// EDGECORE_UPGRADE_REPORT, --config), a real SQLite database, and a fake systemctl
// (EDGECORE_SYSTEMCTL) that records its arguments and really starts and stops the installed
// binary. "Version A" is the real edgecore; "version B" is a shell script that answers
// `--version` with 9.9.9 and otherwise serves a /metrics file saying edgehub is connected on the
// MetaServer port of the config (python3 -m http.server), which is what keadm waits for.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgecore/cri/cri_client.h"
#include "edgecore/sqlite/sqlite_db.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKeadm = KEADM_BINARY;
const std::string kEdgecore = EDGECORE_BINARY;

unsigned modeOf(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0 ? (sb.st_mode & 0777) : 0;
}

// "v<x.y.z>" of the real edgecore ("version A").
std::string versionA() {
  auto r = runCommand({kEdgecore, "--version"});
  std::string v = r.out.substr(std::string("edgecore-cpp ").size());
  return "v" + v.substr(0, v.find(' '));
}

bool sameBytes(const std::string& a, const std::string& b) {
  return runCommand({"/usr/bin/cmp", "-s", a, b}, 60s).exit_code == 0;
}

class KeadmNodeTasks : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path();
    for (const char* d : {"usr/bin", "etc", "var", "certs", "kubeedge", "new", "www",
                          "sysroot/run/systemd/system"}) {
      fs::create_directories(root_ + "/" + d);
    }
    port_ = freeLoopbackPort();
    dir_.write("certs/server.crt", "not checked by keadm, only its presence\n");
    dir_.write("www/metrics",
               "# TYPE edgecore_edgehub_connected gauge\nedgecore_edgehub_connected 1\n");
    config_text_ = configText(port_);
    dir_.write("etc/edgecore.yaml", config_text_);
    fs::permissions(config(), fs::perms::owner_read | fs::perms::owner_write);
    // A real database in WAL mode with a row.
    auto conn = sqlite::Connection::open(db(), true, 1000);
    ASSERT_TRUE(conn.ok()) << conn.status().toString();
    ASSERT_TRUE((*conn)
                    ->exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x TEXT);"
                           "INSERT INTO t VALUES('before');",
                           "seed")
                    .ok());
    writeScript("new/edgecore-b", goodB("9.9.9"));
    writeSystemctl();
  }

  void TearDown() override {
    std::string pid = fs::exists(pidfile()) ? readFile(pidfile()) : "";
    if (!pid.empty()) {
      ::kill(std::stoi(pid), SIGKILL);
    }
  }

  std::string configText(int port) const {
    return "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
           "kind: EdgeCore\n"
           "database:\n"
           "  dataSource: " +
           db() +
           "\n"
           "modules:\n"
           "  edged:\n"
           "    enable: false\n"
           "    hostnameOverride: edge-1\n"
           "  edgeHub:\n"
           "    heartbeat: 15\n"
           "    tlsCertFile: " +
           root_ +
           "/certs/server.crt\n"
           "  metaManager:\n"
           "    metaServer:\n"
           "      enable: true\n"
           "      server: 127.0.0.1:" +
           std::to_string(port) + "\n";
  }

  std::string config() const { return root_ + "/etc/edgecore.yaml"; }
  std::string db() const { return root_ + "/var/edgecore.db"; }
  std::string installed() const { return root_ + "/usr/bin/edgecore"; }
  std::string pidfile() const { return root_ + "/edgecore.pid"; }
  std::string report() const { return root_ + "/upgrade_report.json"; }
  std::string backups() const { return root_ + "/kubeedge/backup"; }
  std::string systemctlLog() const {
    return fs::exists(root_ + "/systemctl.log") ? readFile(root_ + "/systemctl.log") : "";
  }

  // Version B: `--version` says `version`; otherwise serves www/ (so /metrics) on the port.
  std::string goodB(const std::string& version) const {
    return "#!/bin/sh\n"
           "if [ \"$1\" = --version ]; then echo 'edgecore-cpp " +
           version +
           " (KubeEdge v1.23 compatible)'; exit 0; fi\n"
           "cd " +
           root_ + "/www && exec python3 -m http.server " + std::to_string(port_) +
           " --bind 127.0.0.1\n";
  }
  // Runs, but never connects.
  static std::string silentB(const std::string& version) {
    return "#!/bin/sh\n"
           "if [ \"$1\" = --version ]; then echo 'edgecore-cpp " +
           version + "'; exit 0; fi\nexec sleep 600\n";
  }

  void writeScript(const std::string& rel, const std::string& text) const {
    dir_.write(rel, text);
    fs::permissions(root_ + "/" + rel, fs::perms::owner_all);
  }

  void installA() const { fs::copy_file(kEdgecore, installed()); }
  void installScript(const std::string& text) const {
    dir_.write("usr/bin/edgecore", text);
    fs::permissions(installed(), fs::perms::owner_all);
  }

  // systemctl that logs "$*" and runs <installed> --config <config> as the service.
  void writeSystemctl() const {
    const std::string pid = pidfile();
    writeScript("systemctl",
                "#!/bin/sh\n"
                "echo \"$*\" >> " +
                    root_ +
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
                    "/service.log 2>&1 & echo $! > " + pid +
                    "; }\n"
                    "case \"$1\" in\n"
                    "  start) start;;\n"
                    "  stop) stop;;\n"
                    "  restart) stop; start;;\n"
                    "  is-active) alive || exit 3;;\n"
                    "esac\n"
                    "exit 0\n");
  }

  ProcessResult keadm(std::vector<std::string> args) const {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "EDGECORE_KUBEEDGE_DIR=" + root_ + "/kubeedge",
                                  "EDGECORE_INSTALLED_BINARY=" + installed(),
                                  "EDGECORE_UPGRADE_REPORT=" + report(),
                                  "EDGECORE_SYSTEMCTL=" + root_ + "/systemctl",
                                  "EDGECORE_SYSTEMD_ROOT=" + root_ + "/sysroot",
                                  kKeadm};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, 120s);
  }

  json readReport() const {
    EXPECT_TRUE(fs::exists(report()));
    return fs::exists(report()) ? json::parse(readFile(report())) : json();
  }

  std::string dbValue(const std::string& path) const {
    auto conn = sqlite::Connection::open(path, false, 1000);
    if (!conn.ok()) return "open failed: " + conn.status().toString();
    auto st = (*conn)->prepare("SELECT x FROM t");
    if (!st.ok() || (*st)->step() != SQLITE_ROW) return "no row";
    return std::string((*st)->columnText(0));
  }

  void setDbValue(const std::string& value) const {
    auto conn = sqlite::Connection::open(db(), false, 1000);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->exec("UPDATE t SET x='" + value + "'", "update").ok());
  }

  std::vector<std::string> upgradeArgs(const std::string& version, const std::string& tarball,
                                       int wait_s) const {
    return {"upgrade",
            "edge",
            "--force",
            "--toVersion",
            version,
            "--tarballpath",
            tarball,
            "--config",
            config(),
            "--wait-timeout",
            std::to_string(wait_s)};
  }

  TempDir dir_;
  std::string root_;
  std::string config_text_;
  int port_ = 0;
};

TEST_F(KeadmNodeTasks, BackupCopiesBinaryConfigAndAConsistentDatabase) {
  installA();
  // A writer holding the database open in WAL mode: the backup must still see committed rows.
  auto writer = sqlite::Connection::open(db(), false, 1000);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->exec("PRAGMA wal_autocheckpoint=0; UPDATE t SET x='in-wal'", "w").ok());
  auto r = keadm({"backup", "edge", "--config", config()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string dir = backups() + "/" + versionA() + "";
  EXPECT_EQ(modeOf(dir), 0750u);
  EXPECT_TRUE(sameBytes(dir + "/edgecore", kEdgecore));
  EXPECT_EQ(readFile(dir + "/edgecore.yaml"), config_text_);
  EXPECT_EQ(modeOf(dir + "/edgecore.yaml"), 0600u);
  EXPECT_EQ(modeOf(dir + "/edgecore.db"), 0600u);
  EXPECT_EQ(dbValue(dir + "/edgecore.db"), "in-wal");
  EXPECT_FALSE(fs::exists(dir + "/edgecore.db-wal"));
  EXPECT_EQ(
      readReport(),
      (json{
          {"event", "Backup"}, {"success", true}, {"fromVersion", ""}, {"toVersion", versionA()}}));
  EXPECT_EQ(modeOf(report()), 0600u);
}

TEST_F(KeadmNodeTasks, UpgradeSwapsTheBinaryRestartsAndWaitsForTheConnection) {
  installA();
  auto r = keadm(upgradeArgs("v9.9.9", root_ + "/new/edgecore-b", 30));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << readFile(root_ + "/service.log");
  EXPECT_TRUE(sameBytes(installed(), root_ + "/new/edgecore-b"));
  EXPECT_EQ(modeOf(installed()), 0755u);
  EXPECT_TRUE(sameBytes(backups() + "/" + versionA() + "/edgecore", kEdgecore));
  EXPECT_EQ(systemctlLog().rfind("restart edgecore.service\n", 0), 0u) << systemctlLog();
  EXPECT_EQ(readReport(), (json{{"event", "Upgrade"},
                                {"success", true},
                                {"fromVersion", versionA()},
                                {"toVersion", "v9.9.9"}}));
  EXPECT_NE(r.out.find("is running and connected"), std::string::npos) << r.out;
}

TEST_F(KeadmNodeTasks, UpgradeFromAnEdgecoreCppDebianPackageInEdgeUpgradeOrder) {
  installScript(silentB("9.9.8"));
  const std::string pkg = root_ + "/pkg";
  fs::create_directories(pkg + "/DEBIAN");
  fs::create_directories(pkg + "/usr/bin");
  dir_.write("pkg/DEBIAN/control",
             "Package: edgecore-cpp\nVersion: 9.9.9\nArchitecture: all\n"
             "Maintainer: test <t@example.com>\nDescription: test package\n");
  writeScript("pkg/usr/bin/edgecore", goodB("9.9.9"));
  auto built =
      runCommand({"/usr/bin/dpkg-deb", "--build", "--root-owner-group", pkg, root_ + "/e.deb"});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  auto args = upgradeArgs("v9.9.9", root_ + "/e.deb", 30);
  std::swap(args[0], args[1]);  // keadm edge upgrade ...
  auto r = keadm(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(sameBytes(installed(), pkg + "/usr/bin/edgecore"));
  EXPECT_TRUE(fs::exists(backups() + "/v9.9.8/edgecore"));
  EXPECT_EQ(readReport()["fromVersion"], "v9.9.8");
}

TEST_F(KeadmNodeTasks, UpgradeRefusesABinaryThatIsNotTheRequestedVersion) {
  installA();
  writeScript("new/wrong", goodB("9.9.7"));
  writeScript("new/broken", "#!/bin/sh\necho segfault >&2\nexit 139\n");
  for (const char* bin : {"wrong", "broken"}) {
    auto r = keadm(upgradeArgs("v9.9.9", root_ + "/new/" + bin, 5));
    EXPECT_NE(r.exit_code, 0) << bin;
    EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
    json rep = readReport();
    EXPECT_EQ(rep["success"], false);
    EXPECT_EQ(rep["event"], "Upgrade");
    EXPECT_NE(rep.value("errorMessage", "").find("nothing was changed"), std::string::npos);
  }
  EXPECT_TRUE(sameBytes(installed(), kEdgecore));
  EXPECT_FALSE(fs::exists(backups()));
  EXPECT_EQ(systemctlLog(), "");
}

TEST_F(KeadmNodeTasks, UpgradeToTheRunningVersionChangesNothing) {
  installScript(goodB("9.9.9"));
  auto r = keadm(upgradeArgs("v9.9.9", root_ + "/new/edgecore-b", 5));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("already v9.9.9"), std::string::npos) << r.out;
  EXPECT_EQ(systemctlLog(), "");
  EXPECT_FALSE(fs::exists(backups()));
  EXPECT_EQ(readReport(), (json{{"event", "Upgrade"},
                                {"success", true},
                                {"fromVersion", "v9.9.9"},
                                {"toVersion", "v9.9.9"}}));
}

TEST_F(KeadmNodeTasks, UpgradeThatNeverConnectsRollsBackByItself) {
  installA();
  writeScript("new/silent", silentB("9.9.9"));
  auto r = keadm(upgradeArgs("v9.9.9", root_ + "/new/silent", 3));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("rolling back to " + versionA()), std::string::npos) << r.err;
  EXPECT_TRUE(sameBytes(installed(), kEdgecore));
  EXPECT_EQ(readFile(config()).find("dataSource: " + db()) != std::string::npos, true);
  json rep = readReport();
  EXPECT_EQ(rep["success"], false);
  EXPECT_EQ(rep["fromVersion"], versionA());
  EXPECT_EQ(rep["toVersion"], "v9.9.9");
  EXPECT_NE(rep.value("errorMessage", "").find("rolled back to " + versionA()), std::string::npos)
      << rep.dump();
  EXPECT_EQ(systemctlLog().rfind("restart edgecore.service\n", 0), 0u) << systemctlLog();
  EXPECT_NE(systemctlLog().find("stop edgecore.service\nstart edgecore.service\n"),
            std::string::npos)
      << systemctlLog();
}

TEST_F(KeadmNodeTasks, RollbackRestoresBinaryConfigAndDatabaseOfTheNewestBackup) {
  installScript(goodB("9.9.9"));
  auto r = keadm({"backup", "edge", "--config", config()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // What a failed update leaves: another binary, another config, changed data.
  installScript(silentB("9.9.10"));
  dir_.write("etc/edgecore.yaml", configText(port_ + 1));
  setDbValue("after");
  r = keadm({"rollback", "edge", "--config", config()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(sameBytes(installed(), root_ + "/new/edgecore-b"));
  EXPECT_EQ(readFile(config()), config_text_);
  EXPECT_EQ(modeOf(config()), 0600u);
  EXPECT_EQ(dbValue(db()), "before");
  EXPECT_EQ(systemctlLog().rfind("stop edgecore.service\nstart edgecore.service\n", 0), 0u)
      << systemctlLog();
  EXPECT_EQ(readReport(), json::parse(R"({"event":"Rollback","success":true,
                                          "fromVersion":"v9.9.10","toVersion":"v9.9.9"})"));
  // A named backup that does not exist, or is not a plain name.
  r = keadm({"rollback", "edge", "--history", "v1.0.0", "--config", config()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no backup of v1.0.0"), std::string::npos) << r.err;
  r = keadm({"rollback", "edge", "--history", "../etc", "--config", config()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a backup name"), std::string::npos) << r.err;
}

TEST_F(KeadmNodeTasks, ConfigUpdateAppliesTheKeysKeepsABackupAndRestarts) {
  installScript(goodB("9.9.9"));
  auto r = keadm({"config-update", "--set",
                  "modules.edgeHub.heartbeat=20,modules.edged.tailoredKubeletConfig.maxPods=50",
                  "--config", config(), "--wait-timeout", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string text = readFile(config());
  EXPECT_NE(text.find("heartbeat: 20"), std::string::npos) << text;
  EXPECT_NE(text.find("maxPods: 50"), std::string::npos) << text;
  EXPECT_EQ(text.find("heartbeat: 15"), std::string::npos) << text;
  EXPECT_EQ(modeOf(config()), 0600u);
  EXPECT_EQ(readFile(config() + ".bak"), config_text_);
  EXPECT_EQ(systemctlLog().rfind("restart edgecore.service\n", 0), 0u) << systemctlLog();
  EXPECT_EQ(readReport(), json::parse(R"({"event":"ConfigUpdate","success":true,
                                          "fromVersion":"","toVersion":"v9.9.9"})"));
}

TEST_F(KeadmNodeTasks, ConfigUpdateRefusesUnknownKeysAndBadValuesNamingTheKey) {
  installScript(goodB("9.9.9"));
  struct Case {
    std::string set, expected;
  };
  for (const Case& c :
       std::vector<Case>{{"modules.edgeHub.heartbeatt=20", "modules.edgeHub.heartbeatt"},
                         {"modules.edgeHub.heartbeat=fast", "modules.edgeHub.heartbeat"},
                         {"modules.edgeHub.heartbeat.x=1", "not a mapping"},
                         {"modules..edgeHub=1", "modules..edgeHub"},
                         {"modules.edgeHub.heartbeat", "expected key=value"}}) {
    auto r = keadm({"config-update", "--set", c.set, "--config", config()});
    EXPECT_NE(r.exit_code, 0) << c.set;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.set << ": " << r.err;
    EXPECT_EQ(readFile(config()), config_text_) << c.set;
    EXPECT_EQ(readReport()["success"], false);
  }
  EXPECT_FALSE(fs::exists(config() + ".bak"));
  EXPECT_EQ(systemctlLog(), "");
}

TEST_F(KeadmNodeTasks, ConfigUpdatePutsTheOldFileBackWhenEdgecoreDoesNotConnect) {
  installScript(goodB("9.9.9"));
  // Valid, but keadm then looks for /metrics where nothing serves it.
  auto r = keadm(
      {"config-update", "--set",
       "modules.metaManager.metaServer.server=127.0.0.1:" + std::to_string(freeLoopbackPort()),
       "--config", config(), "--wait-timeout", "3"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the old configuration is back"), std::string::npos) << r.err;
  EXPECT_EQ(readFile(config()), config_text_);
  // restart, is-active while waiting, then the restart with the old file.
  const std::string log = systemctlLog();
  EXPECT_EQ(log.rfind("restart edgecore.service\n", 0), 0u) << log;
  EXPECT_EQ(log.substr(log.size() - 25), "restart edgecore.service\n") << log;
  EXPECT_EQ(readReport()["success"], false);
}

TEST_F(KeadmNodeTasks, ArgumentsAreValidatedBeforeAnythingIsTouched) {
  installScript(goodB("9.9.9"));
  auto r = keadm(upgradeArgs("v1; rm -rf /", root_ + "/new/edgecore-b", 5));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--toVersion \"v1; rm -rf /\""), std::string::npos) << r.err;
  r = keadm({"upgrade", "edge", "--force", "--toVersion", "v9.9.9", "--image", "-x;y"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not an image reference"), std::string::npos) << r.err;
  r = keadm({"upgrade", "edge", "--force", "--toVersion", "v9.9.9", "--config", config()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no new edgecore: pass --tarballpath"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(backups()));
  EXPECT_EQ(systemctlLog(), "");
  EXPECT_EQ(readFile(installed()), goodB("9.9.9"));
}

TEST_F(KeadmNodeTasks, OnlyOneCommandAtATime) {
  installScript(goodB("9.9.9"));
  fs::create_directories(root_ + "/kubeedge");
  const std::string lock = root_ + "/kubeedge/keadm.lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto r = keadm({"backup", "edge", "--config", config()});
  ::close(fd);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the mutually exclusive command is being executed"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(backups()));
  r = keadm({"backup", "edge", "--config", config()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// --image through the real containerd (label containerd): an installation image built here from
// busybox with version B at /usr/local/bin/edgecore, imported with ctr (no registry needed).
class KeadmNodeTasksContainerd : public KeadmNodeTasks {
 protected:
  static constexpr const char* kImage = "docker.io/library/edgecore-cpp-install-test";

  void TearDown() override {
    runCommand({"/usr/bin/ctr", "-n", "k8s.io", "images", "rm", std::string(kImage) + ":v9.9.9"});
    KeadmNodeTasks::TearDown();
  }

  void buildImage() const {
    const std::string rootfs = root_ + "/img";
    fs::create_directories(rootfs + "/bin");
    fs::create_directories(rootfs + "/usr/local/bin");
    fs::create_directories(rootfs + "/tmp");
    fs::copy_file("/usr/bin/busybox", rootfs + "/bin/busybox");
    for (const char* applet : {"sh", "cp", "sleep", "["}) {
      fs::create_symlink("busybox", rootfs + "/bin/" + applet);
    }
    writeScript("img/usr/local/bin/edgecore", goodB("9.9.9"));
    auto made = runCommand({"/bin/sh", MAKE_IMAGE_SCRIPT, root_ + "/image.tar",
                            std::string(kImage) + ":v9.9.9", rootfs, R"(["/bin/sh"])", "null"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto imported = runCommand(
        {"/usr/bin/ctr", "-n", "k8s.io", "images", "import", root_ + "/image.tar"}, 120s);
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  // Sandboxes keadm left behind (namespace kubeedge).
  int leftoverSandboxes() const {
    auto client = cri::CriClient::create({});
    EXPECT_TRUE(client.ok());
    if (!client.ok()) return -1;
    auto list = (*client)->listPodSandbox({});
    EXPECT_TRUE(list.ok());
    int n = 0;
    for (const auto& sb : list.ok() ? *list : std::vector<runtimeapi::PodSandbox>{}) {
      n += sb.metadata().namespace_() == "kubeedge" ? 1 : 0;
    }
    return n;
  }
};

TEST_F(KeadmNodeTasksContainerd, UpgradeTakesEdgecoreOutOfTheImage) {
  ASSERT_NO_FATAL_FAILURE(buildImage());
  installScript(silentB("9.9.8"));
  auto r = keadm({"upgrade", "edge", "--force", "--toVersion", "v9.9.9", "--image", kImage,
                  "--config", config(), "--wait-timeout", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(readFile(installed()), goodB("9.9.9"));
  EXPECT_EQ(readReport()["success"], true);
  EXPECT_EQ(leftoverSandboxes(), 0);
}

TEST_F(KeadmNodeTasksContainerd, AnImageWithoutEdgecoreChangesNothing) {
  installScript(silentB("9.9.8"));
  auto r = keadm({"upgrade", "edge", "--force", "--toVersion", "v9.9.9", "--image",
                  "docker.io/library/busybox:local", "--config", config()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("has no /usr/local/bin/edgecore or /usr/bin/edgecore"), std::string::npos)
      << r.err;
  EXPECT_EQ(readFile(installed()), silentB("9.9.8"));
  EXPECT_EQ(systemctlLog(), "");
  EXPECT_EQ(leftoverSandboxes(), 0);
}

}  // namespace
}  // namespace edgecore::testing
