#pragma once

// What the actions do on the host: the resource check items, running keadm with an argument
// vector (never a shell), keadm's report file, and image pulls through CRI. All of it blocks:
// call it from a task's worker thread.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgecore/core/status.h"
#include "task_spec.h"

namespace spdlog {
class logger;
}
namespace edgecore::cri {
class CriClient;
}

namespace edgecore::taskmanager {

// cpu (100 ms sample), mem, disk ("/"): more than 80 % used fails; an unknown item fails with
// "check item <x> not support". Items run in order; the first failure is returned.
core::Status runCheckItems(const std::vector<std::string>& items);

// Where keadm is, per the contract: $EDGECORE_KEADM, else keadm next to /proc/self/exe if it
// exists, else /usr/bin/keadm.
std::string resolveKeadm();
// keadm's output log ($EDGECORE_KEADM_LOG or /tmp/keadm.log) and report file
// ($EDGECORE_UPGRADE_REPORT or /etc/kubeedge/upgrade_report.json).
std::string keadmLogPath();
std::string upgradeReportPath();

// Runs argv (argv[0] a path) without a shell, stdin /dev/null, stdout+stderr appended to
// `log_path` (created 0600) or, when `output` is given, captured into it (up to 64 KiB).
// Waits for it. Returns its exit status; Unavailable if it cannot be started.
core::Result<int> runProgram(const std::vector<std::string>& argv, const std::string& log_path,
                             std::string* output = nullptr);

// Reads the report file (its first 64 KiB). NotFound if absent.
core::Result<std::string> readUpgradeReport(const std::string& path);
// Reads and deletes the report file. NotFound if absent.
core::Result<UpgradeReportFile> takeUpgradeReport(const std::string& path);

// The auth of a pull secret's .dockerconfigjson. Accepts the CRI AuthConfig shape KubeEdge
// decodes (username/password/auth/server_address/identity_token/registry_token, keys matched
// case-insensitively) and the usual docker {"auths":{host:{...}}} shape (the entry whose host
// matches the image's registry, else the only entry).
struct RegistryAuth {
  std::string username, password, auth, server_address, identity_token, registry_token;
};
core::Result<RegistryAuth> authFromDockerConfig(std::string_view dockerconfigjson,
                                                std::string_view image);

struct PullOptions {
  std::shared_ptr<cri::CriClient> cri;
  // Reads the Secret JSON "<ns>/secret/<name>" from the local store (nullopt: not there).
  std::function<core::Result<std::optional<std::string>>(const std::string& key)> read_secret;
  size_t concurrency = 2;  // images pulled at once
  std::shared_ptr<spdlog::logger> log;
};
// retryTimes+1 attempts of the whole list (500 ms apart), each image pulled once per attempt,
// at most `concurrency` at a time. Returns the last attempt's per-image results; the Status is
// "there were some failures when pulling images" if any image failed, or the secret's error.
core::Status pullImages(const ImagePrePullSpec& spec, const PullOptions& options,
                        std::vector<ImageResult>* results);

}  // namespace edgecore::taskmanager
