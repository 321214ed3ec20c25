#include "node_tasks.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>

#include "image_extract.h"
#include "init_system.h"
#include "join_config.h"
#include "node_files.h"
#include "process.h"

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;

struct BaseFlags {
  std::string config_path = kDefaultJoinConfigPath;
  std::string pre_run, post_run;
};

struct UpgradeFlags {
  BaseFlags base;
  std::string to_version, image, tarball, image_digest;
  // What a v1alpha1 edge passes (docs/node-tasks.md 2.4): logged only. The result goes to the
  // report file as always; edgecore answers the cloud from it.
  std::string upgrade_id, history_id, from_version, task_type;
  bool force = false;
  int wait_timeout_s = 120;
};

struct RollbackFlags {
  BaseFlags base;
  std::string history;
};

// `st` with a note after its message.
core::Status withNote(const core::Status& st, const std::string& note) {
  return core::Status(st.code(), st.message() + "; " + note);
}

int fail(const std::string& line) {
  std::cerr << "error: " << line << "\n";
  return 1;
}

// Writes the report; a report that cannot be written turns success into failure (taskmanager
// reads it to learn the outcome).
int finish(Report report, const core::Status& st) {
  report.success = st.ok();
  report.error_message = st.ok() ? "" : st.message();
  core::Status written = writeReport(report);
  if (!st.ok()) {
    return fail(st.message());
  }
  if (!written.ok()) {
    return fail("cannot write the report " + reportPath() + ": " + written.message());
  }
  return 0;
}

// An image reference as the contract allows it: no whitespace, no shell metacharacters, no
// leading '-'.
bool isImageRef(const std::string& s) {
  static const std::regex re(R"(^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$)");
  return std::regex_match(s, re);
}

// Empty when the user said yes, else why not.
std::string confirmUpgrade() {
  if (::isatty(0) == 0) {
    return "keadm upgrade asks for confirmation but stdin is not a terminal; pass --force to "
           "upgrade without asking";
  }
  std::cout << "Are you sure you want to proceed? [y/N]: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" ? "" : "aborted upgrade operation";
}

core::Status runPre(const BaseFlags& b) {
  if (b.pre_run.empty()) {
    return core::Status();
  }
  std::cout << "executing pre-run script: " << b.pre_run << std::endl;
  return runScript(b.pre_run);
}

void runPost(const BaseFlags& b) {
  if (b.post_run.empty()) {
    return;
  }
  std::cout << "executing post-run script: " << b.post_run << std::endl;
  core::Status st = runScript(b.post_run);
  if (!st.ok()) {
    std::cerr << "warning: " << st.message() << "\n";
  }
}

core::Status requireSystemd() {
  if (detectInitSystem() != "systemd") {
    return core::failedPrecondition(
        "systemd is not running on this machine; keadm restarts edgecore through "
        "edgecore.service only");
  }
  return core::Status();
}

int runBackup(const BaseFlags& b) {
  surviveEdgecoreRestart();
  Report report{"Backup", false, "", "", ""};
  auto lock = CommandLock::acquire();
  if (!lock.ok()) {
    return fail(lock.status().message());  // another command owns the report now
  }
  core::Status st = runPre(b);
  if (!st.ok()) {
    return finish(report, st);
  }
  auto files = nodeFiles(b.config_path);
  if (!files.ok()) {
    return finish(report, files.status());
  }
  auto version = binaryVersion(files->binary);
  if (!version.ok()) {
    return finish(report, core::unavailable("cannot get the required current version: " +
                                            version.status().message()));
  }
  report.to_version = *version;
  st = backupNode(*files, *version);
  if (st.ok()) {
    std::cout << "[backup] " << files->binary << ", " << files->config << " and " << files->database
              << " saved in " << backupRoot() << "/" << *version << "\n";
    runPost(b);
  }
  return finish(report, st);
}

// A temp dir removed with its contents on destruction.
struct TempDirHolder {
  std::string path;
  ~TempDirHolder() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

bool isDebianPackage(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string magic = "!<arch>\ndebian-binary";  // ar archive, first member
  std::string head(magic.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  return in.gcount() == static_cast<std::streamsize>(magic.size()) && head == magic;
}

core::Result<std::string> makeTempDir(TempDirHolder& tmp) {
  std::string templ = (fs::temp_directory_path() / "keadm-upgrade-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return core::unavailable("cannot create a temporary directory");
  }
  tmp.path = templ;
  return templ;
}

// <image>:<version> unless the image names a tag or digest itself (upstream always appends).
std::string imageWithTag(const std::string& image, const std::string& version) {
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  return tagged || image.find('@') != std::string::npos ? image : image + ":" + version;
}

// The new edgecore binary: --tarballpath (a binary or a .deb of edgecore-cpp), else one staged
// in <kubeedgeDir>/upgrade/<version>/edgecore, else copied out of --image through CRI.
core::Result<std::string> newBinary(const UpgradeFlags& f, const core::EdgeCoreConfig& config,
                                    TempDirHolder& tmp) {
  std::string source = f.tarball;
  if (source.empty()) {
    std::string staged = kubeedgeDir() + "/upgrade/" + f.to_version + "/edgecore";
    if (fs::exists(staged)) {
      std::cout << "[upgrade] using the staged binary " << staged << "\n";
      source = staged;
    } else if (!f.image.empty()) {
      auto dir = makeTempDir(tmp);
      if (!dir.ok()) return dir.status();
      return edgecoreFromImage(config, imageWithTag(f.image, f.to_version), *dir);
    } else {
      return core::invalidArgument(
          "no new edgecore: pass --tarballpath (an edgecore binary or an "
          "edgecore-cpp .deb) or --image, or place the binary at " +
          staged);
    }
  }
  if (!fs::is_regular_file(source)) {
    return core::notFound("--tarballpath " + source + ": no such file");
  }
  source = fs::absolute(source).string();  // never read as an option by dpkg-deb
  if (!isDebianPackage(source)) {
    return source;
  }
  if (auto dir = makeTempDir(tmp); !dir.ok()) return dir.status();
  // dpkg-deb as an argv: the path is never seen by a shell. Minutes for a large package on a
  // slow disk; the bound only keeps a wedged dpkg-deb from hanging the upgrade.
  auto run = runProcess({"dpkg-deb", "-x", source, tmp.path}, std::chrono::minutes(5));
  if (!run.ok()) {
    return run.status();
  }
  if (!run->succeeded()) {
    return core::unavailable("dpkg-deb -x " + source + " failed (" + run->describe() +
                             "): " + run->output.substr(0, 500));
  }
  for (const char* rel : {"/usr/bin/edgecore", "/usr/local/bin/edgecore"}) {
    // A symlink in the package could point anywhere on this host: only a file counts.
    if (fs::is_regular_file(fs::symlink_status(tmp.path + rel))) {
      return tmp.path + rel;
    }
  }
  return core::notFound(source + " has no usr/bin/edgecore or usr/local/bin/edgecore");
}

int runUpgrade(const UpgradeFlags& f) {
  if (!isReleaseVersion(f.to_version)) {
    return fail("--toVersion \"" + f.to_version +
                "\": expected a release version like v1.23.1 or v1.23.1-rc.1");
  }
  if (!f.image.empty() && !isImageRef(f.image)) {
    return fail("--image \"" + f.image + "\": not an image reference");
  }
  if (!f.image_digest.empty()) {
    return fail("--image-digest: not supported yet (the new binary's --version is checked)");
  }
  if (f.wait_timeout_s < 1 || f.wait_timeout_s > 3600) {
    return fail("--wait-timeout: expected 1..3600 seconds");
  }
  if (std::string no = f.force ? "" : confirmUpgrade(); !no.empty()) {
    return fail(no);
  }
  if (!f.upgrade_id.empty()) {
    std::cout << "[upgrade] node task " << f.upgrade_id << " (history " << f.history_id << ", type "
              << f.task_type << ", from " << f.from_version << ")\n";
  }
  surviveEdgecoreRestart();
  auto lock = CommandLock::acquire();
  if (!lock.ok()) {
    return fail(lock.status().message());
  }
  Report report{"Upgrade", false, "", f.to_version, ""};
  core::Status st = runPre(f.base);
  if (!st.ok()) return finish(report, st);
  auto files = nodeFiles(f.base.config_path);
  if (!files.ok()) return finish(report, files.status());
  auto from = binaryVersion(files->binary);
  if (!from.ok()) {
    return finish(report, core::unavailable("cannot get the required current version: " +
                                            from.status().message()));
  }
  report.from_version = *from;
  auto config = core::loadConfigFile(files->config, core::detectHostInfo());
  if (!config.ok()) return finish(report, config.status());
  TempDirHolder tmp;
  auto candidate = newBinary(f, *config, tmp);
  if (!candidate.ok()) return finish(report, candidate.status());
  auto new_version = binaryVersion(*candidate);
  if (!new_version.ok()) {
    return finish(report,
                  core::invalidArgument("the new edgecore does not run: " +
                                        new_version.status().message() + "; nothing was changed"));
  }
  if (*new_version != f.to_version) {
    return finish(report, core::invalidArgument("the new edgecore is " + *new_version + ", not " +
                                                f.to_version + "; nothing was changed"));
  }
  st = requireSystemd();
  if (!st.ok()) return finish(report, withNote(st, "nothing was changed"));
  if (*from == f.to_version) {
    std::cout << "[upgrade] edgecore is already " << f.to_version << "; nothing to do\n";
    return finish(report, core::Status());
  }
  std::cout << "[upgrade] backing up " << *from << " to " << backupRoot() << "/" << *from << "\n";
  st = backupNode(*files, *from);
  if (!st.ok()) return finish(report, withNote(st, "backup failed, nothing was changed"));
  // The report goes to disk before the restart: the new edgecore reads it when it connects
  // (docs/node-tasks.md 3.3) and may do so before our wait below sees the connection.
  report.success = true;
  st = writeReport(report);
  if (!st.ok()) return finish(report, withNote(st, "nothing was changed"));
  std::cout << "[upgrade] installing " << f.to_version << " as " << files->binary << "\n";
  st = installFile(*candidate, files->binary, 0755);
  if (!st.ok()) return finish(report, withNote(st, "nothing was changed"));
  st = systemctl({"restart", "edgecore.service"});
  if (st.ok()) {
    std::cout << "[upgrade] edgecore.service restarted; waiting up to " << f.wait_timeout_s
              << " s for it to connect\n";
    st = waitHealthy(*config, std::chrono::seconds(f.wait_timeout_s));
  }
  if (st.ok()) {
    std::cout << "[upgrade] edgecore " << f.to_version << " is running and connected\n";
    runPost(f.base);
    return 0;
  }
  std::cerr << "error: " << f.to_version << " did not come up: " << st.message()
            << "; rolling back to " << *from << "\n";
  const std::string failure = "upgrade to " + f.to_version + " failed: " + st.message();
  // As above, the failure report is written before the old edgecore starts and reads it.
  core::Status back = restoreNode(*files, backupRoot() + "/" + *from, [&](const core::Status& r) {
    report.success = false;
    report.error_message =
        failure + (r.ok() ? "; rolled back to " + *from : "; ROLLBACK FAILED: " + r.message());
    core::Status written = writeReport(report);
    if (!written.ok()) std::cerr << "error: cannot write the report: " << written.message() << "\n";
  });
  if (!back.ok()) {  // edgecore may not run: nothing reads the report, rewriting it is safe
    return finish(report, core::unavailable(failure + "; ROLLBACK FAILED: " + back.message()));
  }
  return fail(report.error_message);
}

int runRollback(const RollbackFlags& f) {
  surviveEdgecoreRestart();
  auto lock = CommandLock::acquire();
  if (!lock.ok()) {
    return fail(lock.status().message());
  }
  Report report{"Rollback", false, "", "", ""};
  core::Status st = requireSystemd();
  if (st.ok()) st = runPre(f.base);
  if (!st.ok()) return finish(report, st);
  auto dir = findBackup(f.history);
  if (!dir.ok()) return finish(report, dir.status());
  report.to_version = fs::path(*dir).filename().string();
  // The database path comes from the backed-up config: the current one may be what broke.
  auto files = nodeFiles(*dir + "/edgecore.yaml");
  if (!files.ok()) return finish(report, files.status().withContext("backup " + *dir));
  files->config = f.base.config_path;
  auto from = binaryVersion(files->binary);
  report.from_version = from.ok() ? *from : "";
  st = restoreNode(*files, *dir, [&](const core::Status& r) {
    report.success = r.ok();
    report.error_message = r.ok() ? "" : r.message();
    core::Status written = writeReport(report);
    if (!written.ok()) std::cerr << "error: cannot write the report: " << written.message() << "\n";
  });
  for (int i = 0; st.ok() && i < 50 && !systemctlSays("is-active"); ++i) {
    ::usleep(200 * 1000);
  }
  if (st.ok() && !systemctlSays("is-active")) {
    st = core::unavailable("edgecore.service is not active after the rollback");
  }
  if (!st.ok()) {
    return finish(report, st);  // edgecore is not up: nothing reads the report meanwhile
  }
  std::cout << "[rollback] edgecore " << report.to_version << " restored and started\n";
  runPost(f.base);
  return 0;
}

void addBaseFlags(CLI::App* c, BaseFlags& b) {
  c->add_option("--config", b.config_path, "edgecore.yaml of this node")->capture_default_str();
  c->add_option("--pre-run", b.pre_run, "Script run with bash before the command");
  c->add_option("--post-run", b.post_run, "Script run with bash after a success");
}

}  // namespace

void addNodeTaskCommands(CLI::App& app, int& rc) {
  CLI::App* upgrade = app.add_subcommand("upgrade", "Upgrade components (keadm upgrade edge)");
  upgrade->require_subcommand(1);
  auto u = std::make_shared<UpgradeFlags>();
  // Test-only (docs/keadm.md): taskmanager passes no --wait-timeout, and 120 s is long for a
  // test that waits for a rollback.
  if (const char* v = std::getenv("EDGECORE_KEADM_WAIT_TIMEOUT"); v != nullptr && *v != '\0') {
    u->wait_timeout_s = std::atoi(v);  // checked with the flag: 1..3600
  }
  CLI::App* ue = upgrade->add_subcommand(
      "edge",
      "Replace edgecore with --toVersion: check the new binary, back up binary, config and "
      "database, swap, restart, wait for the cloud connection, roll back by itself on failure");
  ue->add_option("--toVersion", u->to_version, "The version to upgrade to, e.g. v1.23.1")
      ->required();
  ue->add_option("--tarballpath", u->tarball,
                 "The new edgecore: a binary or an edgecore-cpp .deb on this host");
  ue->add_option(
      "--image", u->image,
      "Installation image holding /usr/local/bin/edgecore (tag: --toVersion unless given); "
      "needs /bin/sh and cp in the image");
  ue->add_option("--image-digest", u->image_digest, "Not supported yet");
  ue->add_flag("--force", u->force, "Upgrade without asking for confirmation");
  ue->add_option("--wait-timeout", u->wait_timeout_s,
                 "Seconds to wait for the new edgecore to connect before rolling back")
      ->capture_default_str();
  // Hidden, as in KubeEdge: only the v1alpha1 taskmanager passes them.
  ue->add_option("--upgradeID", u->upgrade_id, "v1alpha1 upgrade ID (logged)")->group("");
  ue->add_option("--historyID", u->history_id, "v1alpha1 history ID (logged)")->group("");
  ue->add_option("--fromVersion", u->from_version, "Version before the upgrade (logged)")
      ->group("");
  ue->add_option("--type", u->task_type, "Task type (logged)")->default_val("upgrade")->group("");
  addBaseFlags(ue, u->base);
  ue->callback([u, &rc] { rc = runUpgrade(*u); });

  CLI::App* backup = app.add_subcommand("backup", "Back up components (keadm backup edge)");
  backup->require_subcommand(1);
  auto b = std::make_shared<BaseFlags>();
  CLI::App* be =
      backup->add_subcommand("edge",
                             "Save the edgecore binary, edgecore.yaml and the database in "
                             "/etc/kubeedge/backup/<running version>/");
  addBaseFlags(be, *b);
  be->callback([b, &rc] { rc = runBackup(*b); });

  CLI::App* rollback = app.add_subcommand("rollback", "Roll back components (keadm rollback edge)");
  rollback->require_subcommand(1);
  auto r = std::make_shared<RollbackFlags>();
  CLI::App* re = rollback->add_subcommand(
      "edge",
      "Restore binary, edgecore.yaml and database from the newest (or --history) backup "
      "and restart edgecore");
  re->add_option("--history,--historical-version", r->history,
                 "The backup to restore (a version under /etc/kubeedge/backup)");
  addBaseFlags(re, r->base);
  re->callback([r, &rc] { rc = runRollback(*r); });
}

}  // namespace edgecore::keadm
