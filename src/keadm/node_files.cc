#include "node_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "edgecore/core/file.h"
#include "edgecore/sqlite/sqlite_db.h"
#include "init_system.h"
#include "process.h"

namespace edgecore::keadm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string errnoText() { return std::strerror(errno); }

core::Status fsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return core::unavailable("cannot open " + dir + ": " + errnoText());
  }
  ::fsync(fd);
  ::close(fd);
  return core::Status();
}

// Streams src into an already created, empty dst fd; fsyncs it.
core::Status copyInto(const std::string& src, int out, const std::string& dst) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return core::unavailable("cannot read " + src + ": " + errnoText());
  }
  std::vector<char> buf(1 << 20);
  core::Status st;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      st = core::unavailable("cannot read " + src + ": " + errnoText());
      break;
    }
    if (n == 0) {
      break;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w < 0) {
        st = core::unavailable("cannot write " + dst + ": " + errnoText());
        break;
      }
      off += w;
    }
    if (!st.ok()) {
      break;
    }
  }
  ::close(in);
  if (st.ok() && ::fsync(out) != 0) {
    st = core::unavailable("cannot fsync " + dst + ": " + errnoText());
  }
  return st;
}

// VACUUM INTO a fresh 0600 file: a consistent snapshot even while edgecore writes (WAL).
core::Status snapshotDatabase(const std::string& db, const std::string& dst) {
  int fd = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return core::unavailable("cannot create " + dst + ": " + errnoText());
  }
  ::close(fd);
  auto conn = sqlite::Connection::open(db, false, 5000);
  if (!conn.ok()) {
    return conn.status();
  }
  auto stmt = (*conn)->prepare("VACUUM INTO ?");
  if (!stmt.ok()) {
    return stmt.status();
  }
  (*stmt)->bind(1, dst);
  return (*stmt)->run("backing up the database to " + dst);
}

// Puts `src` (a database snapshot) in place of `db` with edgecore stopped; the old -wal/-shm
// belong to the replaced file and must go with it.
core::Status restoreDatabase(const std::string& src, const std::string& db) {
  EC_RETURN_IF_ERROR(installFile(src, db, 0600));
  std::error_code ec;
  fs::remove(db + "-wal", ec);
  fs::remove(db + "-shm", ec);
  return core::Status();
}

bool plainName(const std::string& s) {
  static const std::regex re("^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$");
  return std::regex_match(s, re);
}

}  // namespace

void surviveEdgecoreRestart() {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
}

std::string kubeedgeDir() { return envOr("EDGECORE_KUBEEDGE_DIR", "/etc/kubeedge"); }
std::string backupRoot() { return kubeedgeDir() + "/backup"; }
std::string reportPath() {
  return envOr("EDGECORE_UPGRADE_REPORT", kubeedgeDir() + "/upgrade_report.json");
}
std::string installedBinary() { return envOr("EDGECORE_INSTALLED_BINARY", edgecoreBinary()); }

bool isReleaseVersion(const std::string& v) {
  static const std::regex re(R"(^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$)");
  return v.size() <= 128 && std::regex_match(v, re);
}

core::Result<std::string> binaryVersion(const std::string& binary) {
  if (::access(binary.c_str(), X_OK) != 0) {
    return core::notFound(binary + " is not an executable file");
  }
  auto run = runProcess({binary, "--version"}, 10s);
  if (!run.ok()) {
    return run.status();
  }
  const std::string& out = run->output;
  if (!run->succeeded()) {
    return core::unavailable("`" + binary + " --version` failed (" + run->describe() +
                             "): " + out.substr(0, 200));
  }
  std::istringstream first(out.substr(0, out.find('\n')));
  std::string name, version;
  first >> name >> version;
  if (name != "edgecore-cpp" || version.empty()) {
    return core::invalidArgument("`" + binary + " --version` does not name an edgecore-cpp " +
                                 "version: " + out.substr(0, 200));
  }
  return version[0] == 'v' ? version : "v" + version;
}

core::Status writeReport(const Report& r) {
  nlohmann::json j{{"event", r.event},
                   {"success", r.success},
                   {"fromVersion", r.from_version},
                   {"toVersion", r.to_version}};
  if (!r.error_message.empty()) {
    j["errorMessage"] = r.error_message;
  }
  std::string path = reportPath();
  EC_RETURN_IF_ERROR(core::createDirectories(fs::path(path).parent_path().string(), 0700).status());
  return core::writeFileAtomic(path, j.dump() + "\n", 0600);
}

core::Result<std::unique_ptr<CommandLock>> CommandLock::acquire() {
  EC_RETURN_IF_ERROR(core::createDirectories(kubeedgeDir(), 0755).status());
  std::string path = kubeedgeDir() + "/keadm.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return core::unavailable("cannot open " + path + ": " + errnoText());
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return core::failedPrecondition("the mutually exclusive command is being executed (" + path +
                                    " is locked by another keadm)");
  }
  return std::unique_ptr<CommandLock>(new CommandLock(fd));
}

CommandLock::~CommandLock() { ::close(fd_); }

core::Result<NodeFiles> nodeFiles(const std::string& config_path) {
  auto config = core::loadConfigFile(config_path, core::detectHostInfo());
  if (!config.ok()) {
    return config.status();
  }
  return NodeFiles{installedBinary(), config_path, config->database.data_source};
}

core::Status installFile(const std::string& src, const std::string& dst, unsigned mode) {
  fs::path target(dst);
  std::string tmp =
      (target.parent_path() / ("." + target.filename().string() + ".keadm-new")).string();
  std::error_code ec;
  fs::remove(tmp, ec);
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (out < 0) {
    return core::unavailable("cannot create " + tmp + ": " + errnoText());
  }
  core::Status st = copyInto(src, out, tmp);
  if (st.ok() && ::fchmod(out, mode) != 0) {
    st = core::unavailable("cannot chmod " + tmp + ": " + errnoText());
  }
  ::close(out);
  if (st.ok() && ::rename(tmp.c_str(), dst.c_str()) != 0) {
    st = core::unavailable("cannot rename " + tmp + " to " + dst + ": " + errnoText());
  }
  if (!st.ok()) {
    fs::remove(tmp, ec);
    return st;
  }
  return fsyncDir(target.parent_path().string());
}

core::Status backupNode(const NodeFiles& files, const std::string& version) {
  if (!plainName(version)) {
    return core::invalidArgument("cannot get the required current version (got \"" + version +
                                 "\")");
  }
  EC_RETURN_IF_ERROR(core::createDirectories(backupRoot(), 0750).status());
  const std::string final_dir = backupRoot() + "/" + version;
  const std::string partial = backupRoot() + "/." + version + ".partial";
  std::error_code ec;
  fs::remove_all(partial, ec);
  if (::mkdir(partial.c_str(), 0750) != 0 || ::chmod(partial.c_str(), 0750) != 0) {
    return core::unavailable("cannot create " + partial + ": " + errnoText());
  }
  core::Status st = installFile(files.binary, partial + "/edgecore", 0755);
  if (st.ok()) {
    st = installFile(files.config, partial + "/edgecore.yaml", 0600);
  }
  if (st.ok()) {
    if (fs::exists(files.database, ec)) {
      st = snapshotDatabase(files.database, partial + "/edgecore.db");
    } else {
      std::cout << "[backup] no database at " << files.database << " yet, not backed up\n";
    }
  }
  if (st.ok()) {
    fs::remove_all(final_dir, ec);
    if (::rename(partial.c_str(), final_dir.c_str()) != 0) {
      st = core::unavailable("cannot rename " + partial + " to " + final_dir + ": " + errnoText());
    }
  }
  if (!st.ok()) {
    fs::remove_all(partial, ec);
    return st;
  }
  return fsyncDir(backupRoot());
}

core::Result<std::string> findBackup(const std::string& version) {
  if (!version.empty()) {
    if (!plainName(version)) {
      return core::invalidArgument("--history " + version + ": not a backup name");
    }
    std::string dir = backupRoot() + "/" + version;
    if (!fs::is_directory(dir)) {
      return core::notFound("no backup of " + version + " in " + backupRoot());
    }
    return dir;
  }
  std::error_code ec;
  std::string best;
  fs::file_time_type best_time{};
  for (auto it = fs::directory_iterator(backupRoot(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!it->is_directory() || !plainName(name)) {
      continue;  // skips .<v>.partial
    }
    auto t = it->last_write_time();
    if (best.empty() || t > best_time) {
      best = it->path().string();
      best_time = t;
    }
  }
  if (best.empty()) {
    return core::notFound("no backup in " + backupRoot() + "; run `keadm backup edge` first");
  }
  return best;
}

core::Status restoreNode(const NodeFiles& files, const std::string& backup_dir,
                         const std::function<void(const core::Status&)>& before_start) {
  for (const char* name : {"edgecore", "edgecore.yaml"}) {
    if (!fs::exists(backup_dir + "/" + name)) {
      return core::notFound(backup_dir + "/" + name + " is missing; nothing was restored");
    }
  }
  std::cout << "[rollback] stopping edgecore.service\n";
  core::Status st = systemctl({"stop", "edgecore.service"});
  if (!st.ok()) {
    std::cerr << "warning: " << st.message() << "\n";
  }
  std::cout << "[rollback] restoring edgecore, edgecore.yaml"
            << (fs::exists(backup_dir + "/edgecore.db") ? " and edgecore.db" : "") << " from "
            << backup_dir << "\n";
  st = installFile(backup_dir + "/edgecore", files.binary, 0755);
  if (st.ok()) {
    st = installFile(backup_dir + "/edgecore.yaml", files.config, 0600);
  }
  if (st.ok() && fs::exists(backup_dir + "/edgecore.db")) {
    st = restoreDatabase(backup_dir + "/edgecore.db", files.database);
  }
  before_start(st);
  // Started even after a failed step: a half-restored node still runs better than none.
  core::Status started = systemctl({"start", "edgecore.service"});
  if (!st.ok()) {
    return st;
  }
  return started;
}

core::Status waitHealthy(const core::EdgeCoreConfig& config, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // systemd marks a crashing Type=simple unit active for a moment; the connection is the proof.
  while (!systemctlSays("is-active")) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return core::deadlineExceeded("edgecore.service is not active");
    }
    std::this_thread::sleep_for(200ms);
  }
  auto left =
      std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
  return waitUntilConnected(config, std::max(left, std::chrono::seconds(1)));
}

}  // namespace edgecore::keadm
