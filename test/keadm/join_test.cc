// `keadm join` / `keadm reset` / `keadm version` end to end: the real keadm and edgecore binaries
// against the cloud simulator, every path redirected into a temp dir (--config, --cert-path,
// --set database.dataSource=...). Each pre-flight failure prints its one line, exits non-zero and
// writes nothing. systemd is not PID 1 here: the systemd path runs against a fake systemctl
// (EDGECORE_SYSTEMCTL) that records its arguments and starts edgecore from the unit keadm wrote.
// KeadmJoinContainerd.* use the real containerd (label containerd).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cloudsim/cloudsim.h"
#include "cloudsim/pki.h"
#include "edgecore/cri/cri_client.h"
#include "util/cloudsim_start.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kKeadm = KEADM_BINARY;
const std::string kEdgecore = EDGECORE_BINARY;

std::set<std::string> filesUnder(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    out.insert(fs::relative(it->path(), dir).string() + (it->is_directory() ? "/" : ""));
  }
  return out;
}

int errorLines(const std::string& err) {
  int n = 0;
  for (size_t pos = 0; (pos = err.find("error: ", pos)) != std::string::npos; ++pos) {
    n += (pos == 0 || err[pos - 1] == '\n') ? 1 : 0;
  }
  return n;
}

// A listening TCP socket on 127.0.0.1 (port read back), closed on destruction.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class KeadmJoin : public ::testing::Test {
 protected:
  void SetUp() override {
    cloudsim::Options o;
    o.node_name = "edge-1";
    ASSERT_NO_FATAL_FAILURE(startCloudSim(o, sim_));
    root_ = dir_.path() + "/node";
    fs::create_directories(root_);
  }

  std::string config() const { return root_ + "/etc/config/edgecore.yaml"; }
  std::string certs() const { return root_ + "/etc/certs"; }

  // Paths edgecore would use under / moved below root_, edged off (no containerd needed).
  std::string sets(const std::string& extra = "") const {
    return "modules.edged.enable=false,database.dataSource=" + root_ +
           "/var/edgecore.db,modules.deviceTwin.dmiSockPath=" + root_ + "/etc/dmi.sock" +
           (extra.empty() ? "" : "," + extra);
  }

  std::vector<std::string> joinArgs(const std::string& token, const std::string& extra_sets = "",
                                    int ws_port = -1) const {
    return {"join",
            "--init-system=none",
            "--config",
            config(),
            "--cert-path",
            certs(),
            "--cloudcore-ipport",
            "127.0.0.1:" + std::to_string(ws_port < 0 ? sim_->wsPort() : ws_port),
            "--certport",
            std::to_string(sim_->httpsPort()),
            "--token",
            token,
            "--edgenode-name",
            "edge-1",
            "--set",
            sets(extra_sets)};
  }

  ProcessResult keadm(std::vector<std::string> args, std::vector<std::string> env = {}) const {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "EDGECORE_METASERVER_PKI_DIR=" + root_ + "/etc/pki/metaserver"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(kKeadm);
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, 60s);
  }

  // A pre-flight failure: non-zero, exactly one "error:" line naming `what`, nothing written.
  void expectPreflightFailure(const ProcessResult& r, const std::string& what) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(errorLines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing was written"), std::string::npos) << r.err;
    EXPECT_TRUE(filesUnder(root_).empty()) << r.out;
  }

  TempDir dir_;
  std::string root_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
};

TEST_F(KeadmJoin, WrittenConfigConnectsAndResetRemovesExactlyWhatJoinWrote) {
  const auto before = filesUnder(root_);
  auto r = keadm(joinArgs(sim_->token()));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(kEdgecore + " --config " + config()), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(config().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(fs::path(config()).parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // The config as written starts edgecore, which bootstraps its certificate and connects.
  {
    ChildProcess daemon({kEdgecore, "--config", config()});
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected("edge-1"); }, 30s))
        << daemon.stderrSoFar();
    EXPECT_TRUE(fs::exists(certs() + "/server.crt"));
    EXPECT_TRUE(fs::exists(certs() + "/server.key"));
    EXPECT_TRUE(fs::exists(certs() + "/rootCA.crt"));
    daemon.signal(SIGTERM);
    ASSERT_TRUE(daemon.wait(15s).has_value());
  }
  const auto joined = filesUnder(root_);
  EXPECT_GT(joined.size(), before.size());

  // A second join refuses to overwrite.
  r = keadm(joinArgs(sim_->token()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pass --force"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("keadm reset"), std::string::npos) << r.err;

  // Without a terminal and without --force, reset refuses and deletes nothing.
  r = keadm({"reset", "--config", config(), "--init-system=none"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pass --force"), std::string::npos) << r.err;
  EXPECT_EQ(filesUnder(root_), joined);

  r = keadm({"reset", "edge", "--force", "--config", config(), "--init-system=none"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(filesUnder(root_), before) << r.out;
}

TEST_F(KeadmJoin, ResetRefusesAConfigNamingFilesOutsideTheKubeEdgePaths) {
  // A file directly in /var/lib named as the CA: reset must refuse and delete nothing at all.
  const std::string canary = "/var/lib/keadm-reset-canary-" + std::to_string(::getpid());
  { std::ofstream(canary) << "keep me\n"; }
  // The suite runs as root (scripts/run-tests.sh, .ci/run); without root this check cannot run.
  ASSERT_TRUE(fs::exists(canary)) << "cannot create " << canary << ": run the tests as root";
  auto r = keadm(joinArgs(sim_->token(), "modules.edgeHub.tlsCaFile=" + canary));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto joined = filesUnder(root_);
  r = keadm({"reset", "--force", "--config", config(), "--init-system=none"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("refusing to delete " + canary), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was deleted"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(canary));
  EXPECT_EQ(filesUnder(root_), joined);
  fs::remove(canary);
}

TEST_F(KeadmJoin, CloudUnreachable) {
  int port = freeLoopbackPort();  // free a moment ago: nothing listens there
  auto r = keadm(joinArgs(sim_->token(), "", port));
  expectPreflightFailure(r,
                         "cannot connect to the CloudHub port 127.0.0.1:" + std::to_string(port));
}

TEST_F(KeadmJoin, TokenForAnotherCloud) {
  std::string token = sim_->token();
  token.replace(0, 64, std::string(64, '0'));
  auto r = keadm(joinArgs(token));
  expectPreflightFailure(r, "--token: its CA hash does not match");
}

TEST_F(KeadmJoin, MalformedToken) {
  auto r = keadm(joinArgs("abc.def"));
  expectPreflightFailure(r, "--token: malformed");
}

TEST_F(KeadmJoin, NoTokenAndNoCertificate) {
  auto r = keadm(joinArgs(""));
  expectPreflightFailure(r, "--token is required for a new node");
}

TEST_F(KeadmJoin, PreAndPostRunScripts) {
  dir_.write("pre-fail.sh", "echo pre >> " + dir_.file("ran") + "; exit 4\n");
  dir_.write("post.sh", "echo post >> " + dir_.file("ran") + "\n");
  auto args = joinArgs(sim_->token());
  args.insert(args.end(), {"--pre-run", dir_.file("pre-fail.sh")});
  auto r = keadm(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pre-fail.sh failed (exit 4)"), std::string::npos) << r.err;
  EXPECT_TRUE(filesUnder(root_).empty());
  args = joinArgs(sim_->token());
  args.insert(args.end(), {"--post-run", dir_.file("post.sh")});
  r = keadm(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(readFile(dir_.file("ran")), "pre\npost\n");
}

TEST_F(KeadmJoin, PortTaken) {
  Listener taken;
  auto r = keadm(joinArgs(sim_->token(),
                          "modules.metaManager.metaServer.enable=true,"
                          "modules.metaManager.metaServer.server=127.0.0.1:" +
                              std::to_string(taken.port())));
  expectPreflightFailure(r, "port " + std::to_string(taken.port()) + " (MetaServer");
}

TEST_F(KeadmJoin, NoContainerRuntime) {
  Listener free_port;
  int port = free_port.port();
  auto args = joinArgs(sim_->token());
  // edged on, a runtime socket nobody serves, edged's port one that is free.
  args.back() =
      "database.dataSource=" + root_ + "/var/edgecore.db,modules.deviceTwin.dmiSockPath=" + root_ +
      "/etc/dmi.sock,modules.edged.tailoredKubeletConfig.readOnlyPort=" + std::to_string(port + 1);
  args.push_back("--remote-runtime-endpoint");
  args.push_back("unix://" + dir_.path() + "/missing.sock");
  auto r = keadm(args);
  expectPreflightFailure(r, "container runtime: no CRI runtime answers at unix://" + dir_.path());
}

TEST_F(KeadmJoin, QuicIsRefusedClearly) {
  auto args = joinArgs(sim_->token());
  args.push_back("--hub-protocol");
  args.push_back("quic");
  auto r = keadm(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(errorLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("websocket transport only"), std::string::npos) << r.err;
  EXPECT_TRUE(filesUnder(root_).empty());
}

TEST_F(KeadmJoin, NoOpFlagsAreExplained) {
  auto args = joinArgs(sim_->token());
  for (const char* a : {"--kubeedge-version", "v1.20.0", "--tarballpath", "/tmp/x"}) {
    args.push_back(a);
  }
  auto r = keadm(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--kubeedge-version: not needed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--tarballpath: not needed"), std::string::npos) << r.out;
}

TEST_F(KeadmJoin, SystemdPathWithFakeSystemctl) {
  // A systemd root with /run/systemd/system, and a systemctl that logs its arguments and, on
  // `enable --now`, starts ExecStart from the unit keadm wrote.
  const std::string sysroot = dir_.path() + "/sysroot";
  fs::create_directories(sysroot + "/run/systemd/system");
  const std::string log = dir_.path() + "/systemctl.log";
  const std::string pidfile = dir_.path() + "/edgecore.pid";
  dir_.write("systemctl",
             "#!/bin/sh\n"
             "echo \"$*\" >> " +
                 log +
                 "\n"
                 "unit=" +
                 sysroot +
                 "/etc/systemd/system/edgecore.service\n"
                 "alive() { [ -f " +
                 pidfile + " ] && kill -0 $(cat " + pidfile +
                 ") 2>/dev/null; }\n"
                 "case \"$1\" in\n"
                 "  enable) exec=$(sed -n 's/^ExecStart=//p' \"$unit\");\n"
                 "          $exec >" +
                 dir_.path() + "/edgecore.log 2>&1 & echo $! > " + pidfile +
                 ";;\n"
                 "  is-active) alive || exit 3;;\n"
                 "  is-enabled) [ -f " +
                 pidfile +
                 " ] || exit 1;;\n"
                 "  stop) alive && kill $(cat " +
                 pidfile +
                 ");\n"
                 "        while alive; do sleep 0.1; done;;\n"
                 "  disable) rm -f " +
                 pidfile +
                 ";;\n"
                 "esac\n"
                 "exit 0\n");
  fs::permissions(dir_.file("systemctl"), fs::perms::owner_all);
  std::vector<std::string> env{"EDGECORE_SYSTEMCTL=" + dir_.file("systemctl"),
                               "EDGECORE_SYSTEMD_ROOT=" + sysroot};
  // edged stays off (no runtime needed here), so MetaServer's /metrics is where keadm sees
  // edgehub connected.
  auto args = joinArgs(sim_->token(),
                       "modules.metaManager.metaServer.enable=true,"
                       "modules.metaManager.metaServer.server=127.0.0.1:" +
                           std::to_string(freeLoopbackPort()));
  args[1] = "--init-system=systemd";
  args.push_back("--wait-timeout");
  args.push_back("60");
  struct KillLeftover {  // if an assertion stops the test before reset stops edgecore
    std::string pidfile;
    ~KillLeftover() {
      if (fs::exists(pidfile)) {
        ::kill(std::stoi(readFile(pidfile)), SIGKILL);
      }
    }
  } leftover{pidfile};
  auto r = keadm(args, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << readFile(dir_.path() + "/edgecore.log");
  EXPECT_TRUE(sim_->connected("edge-1"));
  EXPECT_NE(r.out.find("journalctl -u edgecore -f"), std::string::npos) << r.out;
  const std::string unit = readFile(sysroot + "/etc/systemd/system/edgecore.service");
  EXPECT_NE(unit.find("ExecStart=" + kEdgecore + " --config " + config()), std::string::npos)
      << unit;
  EXPECT_NE(unit.find("KillMode=process"), std::string::npos);
  EXPECT_EQ(readFile(log),
            "is-active --quiet edgecore.service\ndaemon-reload\n"
            "enable --now edgecore.service\n");

  // A running edgecore.service is never joined over, not even with --force.
  args.push_back("--force");
  r = keadm(args, env);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("edgecore.service is running; run `keadm reset`"), std::string::npos)
      << r.err;

  r = keadm({"reset", "--force", "--config", config()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(sysroot + "/etc/systemd/system/edgecore.service"));
  EXPECT_FALSE(fs::exists(config()));
  EXPECT_FALSE(fs::exists(certs() + "/server.crt"));
  EXPECT_EQ(readFile(log),
            "is-active --quiet edgecore.service\ndaemon-reload\nenable --now edgecore.service\n"
            "is-active --quiet edgecore.service\n"
            "is-active --quiet edgecore.service\nstop edgecore.service\n"
            "is-enabled --quiet edgecore.service\ndisable edgecore.service\ndaemon-reload\n");
}

TEST_F(KeadmJoin, ForeignUnitIsNeverOverwritten) {
  const std::string sysroot = dir_.path() + "/sysroot";
  fs::create_directories(sysroot + "/run/systemd/system");
  fs::create_directories(sysroot + "/etc/systemd/system");
  dir_.write("sysroot/etc/systemd/system/edgecore.service", "[Service]\nExecStart=/opt/mine\n");
  dir_.write("systemctl", "#!/bin/sh\nexit 3\n");  // is-active: inactive
  fs::permissions(dir_.file("systemctl"), fs::perms::owner_all);
  auto args = joinArgs(sim_->token());
  args[1] = "--init-system=systemd";
  auto r = keadm(
      args, {"EDGECORE_SYSTEMCTL=" + dir_.file("systemctl"), "EDGECORE_SYSTEMD_ROOT=" + sysroot});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(errorLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("exists and was not written by keadm"), std::string::npos) << r.err;
  EXPECT_TRUE(filesUnder(root_).empty());
  EXPECT_EQ(readFile(sysroot + "/etc/systemd/system/edgecore.service"),
            "[Service]\nExecStart=/opt/mine\n");
}

TEST(KeadmVersion, PrintsTheEdgecoreVersion) {
  auto keadm = runCommand({kKeadm, "version"});
  auto edgecore = runCommand({kEdgecore, "--version"});
  ASSERT_EQ(keadm.exit_code, 0) << keadm.err;
  EXPECT_EQ(keadm.out, edgecore.out);
  EXPECT_EQ(keadm.out.rfind("edgecore-cpp ", 0), 0u) << keadm.out;
}

// The real containerd (scripts/test-services.sh: SystemdCgroup = false).
class KeadmJoinContainerd : public KeadmJoin {};

TEST_F(KeadmJoinContainerd, RuntimeChecksPassWithTheRightDriver) {
  auto args = joinArgs(sim_->token());
  args.back() = "database.dataSource=" + root_ +
                "/var/edgecore.db,modules.deviceTwin.dmiSockPath=" + root_ +
                "/etc/dmi.sock,modules.edged.tailoredKubeletConfig.readOnlyPort=" +
                std::to_string(freeLoopbackPort());
  auto r = keadm(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("cgroup driver"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(config()));
}

TEST_F(KeadmJoinContainerd, WrongCgroupDriver) {
  auto args = joinArgs(sim_->token());
  args.back() = "database.dataSource=" + root_ +
                "/var/edgecore.db,modules.deviceTwin.dmiSockPath=" + root_ +
                "/etc/dmi.sock,modules.edged.tailoredKubeletConfig.readOnlyPort=" +
                std::to_string(freeLoopbackPort());
  args.push_back("--cgroupdriver");
  args.push_back("systemd");
  auto r = keadm(args);
  expectPreflightFailure(r, "cgroup driver: containerd uses cgroupfs");
}

TEST_F(KeadmJoinContainerd, ResetRemovesOnlyThisNodesPodsAndOnlyWhenAsked) {
  // A node name no other test uses: --cleanup-containers selects edged's sandboxes by it.
  const std::string node = "keadm-reset-" + std::to_string(::getpid());
  auto args = joinArgs(sim_->token());
  args.back() = "database.dataSource=" + root_ +
                "/var/edgecore.db,modules.deviceTwin.dmiSockPath=" + root_ +
                "/etc/dmi.sock,modules.edged.tailoredKubeletConfig.readOnlyPort=" +
                std::to_string(freeLoopbackPort());
  *std::find(args.begin(), args.end(), "edge-1") = node;
  ASSERT_EQ(keadm(args).exit_code, 0);
  auto cri = cri::CriClient::create(cri::CriClientOptions{});
  ASSERT_TRUE(cri.ok()) << cri.status().toString();
  // Two host-network sandboxes: one as edged labels its pods for `node`, one of somebody else.
  auto run = [&](const std::string& name, const std::string& label_node) {
    runtimeapi::PodSandboxConfig sb;
    sb.mutable_metadata()->set_name(name);
    sb.mutable_metadata()->set_uid(name + "-uid");
    sb.mutable_metadata()->set_namespace_("keadm-test");
    sb.set_log_directory(dir_.path() + "/logs");
    (*sb.mutable_labels())["edgecore.kubeedge.io/node"] = label_node;
    sb.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        runtimeapi::NODE);
    auto id = (*cri)->runPodSandbox(sb);
    EXPECT_TRUE(id.ok()) << id.status().toString();
    return id.ok() ? *id : std::string();
  };
  const std::string ours = run(node, node);
  const std::string theirs = run(node + "-other", node + "-other");
  struct Cleanup {  // the other node's sandbox, and ours if the test fails
    cri::CriClient& cri;
    std::vector<std::string> ids;
    ~Cleanup() {
      for (const auto& id : ids) {
        (void)cri.stopPodSandbox(id);
        (void)cri.removePodSandbox(id);
      }
    }
  } cleanup{**cri, {ours, theirs}};
  auto exists = [&](const std::string& id) {
    auto pods = (*cri)->listPodSandbox();
    for (const auto& p : pods.ok() ? *pods : std::vector<runtimeapi::PodSandbox>{}) {
      if (p.id() == id) {
        return true;
      }
    }
    return false;
  };
  // Without --cleanup-containers the pods stay; the files go.
  auto r = keadm({"reset", "--force", "--config", config(), "--init-system=none"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(exists(ours));
  EXPECT_FALSE(fs::exists(config()));
  // Joined again (a reset without a config would clean the real default paths), then reset with
  // --cleanup-containers: this node's pod goes, the other node's stays.
  ASSERT_EQ(keadm(args).exit_code, 0);
  r = keadm(
      {"reset", "--force", "--cleanup-containers", "--config", config(), "--init-system=none"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("removed pod keadm-test/" + node + "\n"), std::string::npos) << r.out;
  EXPECT_FALSE(exists(ours));
  EXPECT_TRUE(exists(theirs));
}

}  // namespace
}  // namespace edgecore::testing
