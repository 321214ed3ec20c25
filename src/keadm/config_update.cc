// `keadm config-update --set k1=v1,k2=v2` (KubeEdge v1.23.1 configupdate.go, docs/node-tasks.md
// 2.3): unlike upstream, the result is checked with edgecore's own loader before anything is
// written, the old file is kept as <config>.bak, and when the restarted edgecore does not come
// back the old file is put back.

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <regex>
#include <sstream>

#include "edgecore/core/file.h"
#include "init_system.h"
#include "join_config.h"
#include "node_files.h"
#include "node_tasks.h"

namespace edgecore::keadm {
namespace {

struct ConfigUpdateFlags {
  std::string config_path = kDefaultJoinConfigPath;
  std::vector<std::string> sets;
  int wait_timeout_s = 120;
};

// `st` with a note after its message.
core::Status withNote(const core::Status& st, const std::string& note) {
  return core::Status(st.code(), st.message() + "; " + note);
}

// Every key must be a dotted path of json names: no empty part, nothing YAML would read as
// syntax.
core::Status checkKeys(const std::vector<std::string>& sets) {
  static const std::regex key_re(R"(^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$)");
  for (const auto& set : sets) {
    std::stringstream ss(set);
    for (std::string item; std::getline(ss, item, ',');) {
      std::string key = item.substr(0, item.find('='));
      if (!std::regex_match(key, key_re)) {
        return core::invalidArgument("--set " + item + ": \"" + key +
                                     "\" is not a dotted key like modules.edgeHub.heartbeat");
      }
    }
  }
  return core::Status();
}

// The edited file text, checked by edgecore's loader; InvalidArgument naming the key otherwise.
core::Result<std::string> editedConfig(const std::string& path, const std::string& old_text,
                                       const std::vector<std::string>& sets) {
  EC_RETURN_IF_ERROR(checkKeys(sets));
  const core::HostInfo host = core::detectHostInfo();
  auto before = core::parseConfig(old_text, path, host);
  if (!before.ok()) {
    return core::failedPrecondition("the current file does not load, fix it first: " +
                                    before.status().message());
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(old_text);
    if (!doc.IsMap()) {
      return core::failedPrecondition(path + " is not a YAML mapping");
    }
    EC_RETURN_IF_ERROR(applySets(doc, sets));
  } catch (const YAML::Exception& e) {
    return core::invalidArgument("--set: a key goes below a value that is not a mapping (" +
                                 std::string(e.what()) + ")");
  }
  YAML::Emitter out;
  out << doc;
  std::string text = std::string(out.c_str()) + "\n";
  auto after = core::parseConfig(text, "--set", host);
  if (!after.ok()) {
    return core::invalidArgument(after.status().message());
  }
  for (const auto& key : after->unknown_keys) {
    if (std::find(before->unknown_keys.begin(), before->unknown_keys.end(), key) ==
        before->unknown_keys.end()) {
      return core::invalidArgument(
          "--set " + key + ": edgecore.yaml has no such key (see edgecore --defaultconfig)");
    }
  }
  return text;
}

int runConfigUpdate(const ConfigUpdateFlags& f) {
  surviveEdgecoreRestart();
  auto lock = CommandLock::acquire();
  if (!lock.ok()) {
    std::cerr << "error: " << lock.status().message() << "\n";
    return 1;
  }
  Report report{"ConfigUpdate", false, "", "", ""};
  auto version = binaryVersion(installedBinary());
  report.to_version = version.ok() ? *version : "";
  auto done = [&](const core::Status& st) {
    report.success = st.ok();
    report.error_message = st.ok() ? "" : st.message();
    core::Status written = writeReport(report);
    if (!st.ok()) {
      std::cerr << "error: " << st.message() << "\n";
      return 1;
    }
    if (!written.ok()) {
      std::cerr << "error: cannot write the report: " << written.message() << "\n";
      return 1;
    }
    return 0;
  };
  if (f.sets.empty()) {
    return done(core::invalidArgument("--set: nothing to change"));
  }
  const std::string& path = f.config_path;
  auto old_text = core::readFile(path);
  if (!old_text.ok()) return done(old_text.status());
  if (old_text->size() > core::kMaxConfigFileBytes) {
    return done(core::invalidArgument(path + " is too large"));
  }
  auto text = editedConfig(path, *old_text, f.sets);
  if (!text.ok()) return done(withNote(text.status(), "nothing was changed"));
  struct stat sb {};
  unsigned mode = ::stat(path.c_str(), &sb) == 0 ? (sb.st_mode & 0777) : 0600;
  core::Status st = core::writeFileAtomic(path + ".bak", *old_text, 0600);
  if (!st.ok()) return done(withNote(st, "nothing was changed"));
  st = core::writeFileAtomic(path, *text, mode);
  if (!st.ok()) return done(st);
  std::cout << "[config-update] wrote " << path << " (the old file is " << path << ".bak)\n";
  if (detectInitSystem() != "systemd") {
    std::cout << "[config-update] systemd is not running: restart edgecore yourself\n";
    return done(core::Status());
  }
  auto config = core::parseConfig(*text, path, core::detectHostInfo());
  st = config.status();
  if (st.ok()) {
    // Written before the restart: the restarted edgecore reads the report when it connects
    // (docs/node-tasks.md 3.3), which is before our wait below sees the connection.
    report.success = true;
    st = writeReport(report);
  }
  if (st.ok()) st = systemctl({"restart", "edgecore.service"});
  if (st.ok()) {
    std::cout << "[config-update] edgecore.service restarted; waiting up to " << f.wait_timeout_s
              << " s for it to connect\n";
    st = waitHealthy(*config, std::chrono::seconds(f.wait_timeout_s));
  }
  if (st.ok()) {
    // Not rewritten: the restarted edgecore may have taken and reported it already.
    std::cout << "[config-update] edgecore is running and connected with the new configuration\n";
    return 0;
  }
  std::cerr << "error: edgecore did not come back with the new configuration: " << st.message()
            << "; restoring the old file\n";
  core::Status back = core::writeFileAtomic(path, *old_text, mode);
  const std::string failure = "the new configuration did not start: " + st.message();
  if (back.ok()) {
    // As above, the failure report goes to disk before the edgecore that reads it starts.
    report.success = false;
    report.error_message = failure + "; the old configuration is back";
    core::Status written = writeReport(report);
    if (!written.ok()) std::cerr << "error: cannot write the report: " << written.message() << "\n";
    back = systemctl({"restart", "edgecore.service"});
    if (back.ok()) {
      std::cerr << "error: " << report.error_message << "\n";
      return 1;
    }
  }
  return done(core::unavailable(failure + "; RESTORING FAILED: " + back.message()));
}

}  // namespace

void addConfigUpdateCommand(CLI::App& app, int& rc) {
  auto f = std::make_shared<ConfigUpdateFlags>();
  // Test-only, as for `upgrade edge` (docs/keadm.md); a value outside 1..3600 is ignored.
  if (const char* v = std::getenv("EDGECORE_KEADM_WAIT_TIMEOUT"); v != nullptr && *v != '\0') {
    int s = std::atoi(v);
    if (s >= 1 && s <= 3600) f->wait_timeout_s = s;
  }
  CLI::App* cmd = app.add_subcommand(
      "config-update",
      "Change edgecore.yaml keys (--set modules.edgeHub.heartbeat=20,...), checked by edgecore's "
      "loader first; restarts edgecore and puts the old file back if it does not connect");
  cmd->add_option("--set", f->sets, "key1=value1,key2=value2 (dotted json names)")->required();
  cmd->add_option("--config", f->config_path, "edgecore.yaml to change")->capture_default_str();
  cmd->add_option("--wait-timeout", f->wait_timeout_s,
                  "Seconds to wait for edgecore to connect with the new configuration")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->callback([f, &rc] { rc = runConfigUpdate(*f); });
}

}  // namespace edgecore::keadm
