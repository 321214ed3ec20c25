#include "host_actions.h"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "edgecore/core/base64.h"
#include "edgecore/core/message.h"
#include "edgecore/cri/cri_client.h"

extern char** environ;

namespace edgecore::taskmanager {
namespace {

constexpr double kMaxUsagePercent = 80;
constexpr size_t kMaxCapturedOutput = 64 * 1024;
constexpr size_t kMaxReportBytes = 64 * 1024;  // keadm's report is a few hundred bytes

std::string percentError(const char* what, double usage) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "current %s usage is %.2f, which exceeds the maximum allowed usage %.2f", what,
                usage, kMaxUsagePercent);
  return buf;
}

struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};

core::Result<CpuTimes> readCpuTimes() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t v[8] = {};
  if (!(in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7]) ||
      cpu != "cpu") {
    return core::unavailable("failed to get cpu usage, err: cannot read /proc/stat");
  }
  CpuTimes t;
  for (uint64_t x : v) t.total += x;
  t.busy = t.total - v[3] - v[4];  // idle + iowait
  return t;
}

core::Status checkCpu() {
  EC_ASSIGN_OR_RETURN(CpuTimes a, readCpuTimes());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EC_ASSIGN_OR_RETURN(CpuTimes b, readCpuTimes());
  if (b.total <= a.total) return {};
  double usage =
      100.0 * static_cast<double>(b.busy - a.busy) / static_cast<double>(b.total - a.total);
  if (usage > kMaxUsagePercent) return core::failedPrecondition(percentError("cpu", usage));
  return {};
}

core::Status checkMem() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  uint64_t total = 0, available = 0;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemTotal:") total = value;
    if (key == "MemAvailable:") available = value;
  }
  if (total == 0) return core::unavailable("failed to get virtual memory stat, err: no MemTotal");
  double usage =
      100.0 * static_cast<double>(total - std::min(available, total)) / static_cast<double>(total);
  if (usage > kMaxUsagePercent) return core::failedPrecondition(percentError("mem", usage));
  return {};
}

core::Status checkDisk() {
  struct statvfs s {};
  if (::statvfs("/", &s) != 0) {
    return core::unavailable(std::string("failed to get disk usage, err: ") + std::strerror(errno));
  }
  double used = static_cast<double>(s.f_blocks - s.f_bfree);
  double denom = used + static_cast<double>(s.f_bavail);
  if (denom <= 0) return {};
  double usage = 100.0 * used / denom;
  if (usage > kMaxUsagePercent) return core::failedPrecondition(percentError("disk", usage));
  return {};
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The registry host of an image reference, as docker's config keys name it.
std::string registryOf(std::string_view image) {
  size_t slash = image.find('/');
  if (slash == std::string_view::npos) return "docker.io";
  std::string_view first = image.substr(0, slash);
  if (first.find('.') == std::string_view::npos && first.find(':') == std::string_view::npos &&
      first != "localhost") {
    return "docker.io";
  }
  return std::string(first);
}

std::string hostOfKey(std::string_view key) {
  if (auto p = key.find("://"); p != std::string_view::npos) key = key.substr(p + 3);
  if (auto p = key.find('/'); p != std::string_view::npos) key = key.substr(0, p);
  if (key == "index.docker.io" || key == "registry-1.docker.io") return "docker.io";
  return std::string(key);
}

// Go's encoding/json: keys matched case-insensitively.
void readAuthFields(const nlohmann::json& obj, RegistryAuth* a) {
  for (const auto& [k, v] : obj.items()) {
    if (!v.is_string()) continue;
    std::string key = lower(k);
    std::string val = v.get<std::string>();
    if (key == "username") a->username = val;
    if (key == "password") a->password = val;
    if (key == "auth") a->auth = val;
    if (key == "server_address" || key == "serveraddress") a->server_address = val;
    if (key == "identity_token" || key == "identitytoken") a->identity_token = val;
    if (key == "registry_token" || key == "registrytoken") a->registry_token = val;
  }
}

}  // namespace

core::Status runCheckItems(const std::vector<std::string>& items) {
  for (const std::string& item : items) {
    if (item == "cpu") {
      EC_RETURN_IF_ERROR(checkCpu());
    } else if (item == "mem") {
      EC_RETURN_IF_ERROR(checkMem());
    } else if (item == "disk") {
      EC_RETURN_IF_ERROR(checkDisk());
    } else {
      return core::invalidArgument("check item " + item + " not support");
    }
  }
  return {};
}

std::string resolveKeadm() {
  if (const char* v = std::getenv("EDGECORE_KEADM"); v != nullptr && *v != '\0') return v;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto next = self.parent_path() / "keadm";
    if (std::filesystem::exists(next, ec)) return next.string();
  }
  return "/usr/bin/keadm";
}

std::string keadmLogPath() { return envOr("EDGECORE_KEADM_LOG", "/tmp/keadm.log"); }

std::string upgradeReportPath() {
  return envOr("EDGECORE_UPGRADE_REPORT", "/etc/kubeedge/upgrade_report.json");
}

core::Result<int> runProgram(const std::vector<std::string>& argv, const std::string& log_path,
                             std::string* output) {
  if (argv.empty()) return core::invalidArgument("empty argv");
  int pipefd[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (output != nullptr) {
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      posix_spawn_file_actions_destroy(&fa);
      return core::unavailable(std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
  }
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  // Asio's sockets are not close-on-exec: a keadm that outlives this edgecore (it restarts the
  // service) would keep MetaServer's listening port, and the new edgecore could not bind it.
  posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (output != nullptr) ::close(pipefd[1]);
  if (rc != 0) {
    if (output != nullptr) ::close(pipefd[0]);
    return core::unavailable("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  if (output != nullptr) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (output->size() < kMaxCapturedOutput) {
        output->append(
            buf, std::min<size_t>(static_cast<size_t>(n), kMaxCapturedOutput - output->size()));
      }
    }
    ::close(pipefd[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return core::internalError(std::string("waitpid: ") + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

core::Result<std::string> readUpgradeReport(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::notFound("no upgrade report at " + path);
  std::string text(kMaxReportBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

core::Result<UpgradeReportFile> takeUpgradeReport(const std::string& path) {
  EC_ASSIGN_OR_RETURN(std::string text, readUpgradeReport(path));
  std::error_code ec;
  std::filesystem::remove(path, ec);
  return parseUpgradeReportFile(text);
}

core::Result<RegistryAuth> authFromDockerConfig(std::string_view text, std::string_view image) {
  nlohmann::json doc = core::parseJsonBounded(text);
  if (doc.is_discarded() || !doc.is_object()) {
    return core::invalidArgument(".dockerconfigjson is not a JSON object");
  }
  RegistryAuth a;
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) {
    readAuthFields(doc, &a);  // KubeEdge's shape: the document is one AuthConfig
    return a;
  }
  const nlohmann::json* entry = nullptr;
  std::string want = registryOf(image);
  for (const auto& [host, v] : auths->items()) {
    if (v.is_object() && hostOfKey(host) == want) entry = &v;
  }
  if (entry == nullptr && auths->size() == 1 && auths->begin()->is_object())
    entry = &*auths->begin();
  if (entry == nullptr) return a;  // no credentials for this registry: pull anonymously
  readAuthFields(*entry, &a);
  if (a.username.empty() && !a.auth.empty()) {
    if (auto decoded = core::base64Decode(a.auth)) {
      if (auto colon = decoded->find(':'); colon != std::string::npos) {
        a.username = decoded->substr(0, colon);
        a.password = decoded->substr(colon + 1);
      }
    }
  }
  return a;
}

core::Status pullImages(const ImagePrePullSpec& spec, const PullOptions& o,
                        std::vector<ImageResult>* results) {
  if (!o.cri) return core::unavailable("container runtime client not configured");
  std::optional<std::string> docker_config;
  if (!spec.image_secrets.empty()) {
    auto slash = spec.image_secrets.find('/');
    if (slash == std::string::npos ||
        spec.image_secrets.find('/', slash + 1) != std::string::npos) {
      return core::invalidArgument("pull secret format is not correct");
    }
    std::string ns = spec.image_secrets.substr(0, slash);
    std::string name = spec.image_secrets.substr(slash + 1);
    auto fail = [&](const std::string& why) {
      return core::unavailable("failed to get secret " + ns + "/" + name + ", err: " + why);
    };
    if (!o.read_secret) return fail("no local store");
    auto stored = o.read_secret(ns + "/secret/" + name);
    if (!stored.ok()) return fail(stored.status().message());
    if (!stored->has_value()) return fail("not found");
    nlohmann::json secret = core::parseJsonBounded(**stored);
    const nlohmann::json* data = nullptr;
    if (secret.is_object() && secret.contains("data") && secret["data"].is_object()) {
      data = &secret["data"];
    }
    if (data == nullptr || !data->contains(".dockerconfigjson") ||
        !(*data)[".dockerconfigjson"].is_string()) {
      return fail("no .dockerconfigjson in the secret");
    }
    auto decoded = core::base64Decode((*data)[".dockerconfigjson"].get<std::string>());
    if (!decoded) return fail(".dockerconfigjson is not base64");
    docker_config = std::move(*decoded);
  }
  const size_t workers = std::clamp<size_t>(o.concurrency, 1, 8);
  bool any_failed = true;
  for (int attempt = 0; attempt <= spec.retry_times && any_failed; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::vector<ImageResult> out(spec.images.size());
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
    auto work = [&] {
      for (size_t i = next++; i < spec.images.size(); i = next++) {
        const std::string& image = spec.images[i];
        out[i].image = image;
        runtimeapi::AuthConfig auth;
        bool use_auth = false;
        if (docker_config) {
          auto a = authFromDockerConfig(*docker_config, image);
          if (!a.ok()) {
            out[i].reason = a.status().message();
            ++done;
            continue;
          }
          auth.set_username(a->username);
          auth.set_password(a->password);
          auth.set_auth(a->auth);
          auth.set_server_address(a->server_address);
          auth.set_identity_token(a->identity_token);
          auth.set_registry_token(a->registry_token);
          use_auth = true;
        }
        auto pulled = o.cri->pullImage(image, use_auth ? &auth : nullptr, nullptr);
        out[i].ok = pulled.ok();
        if (!pulled.ok()) {
          out[i].reason = pulled.status().message();
          // Beyond KubeEdge: an image the runtime already holds counts as pulled when the
          // registry cannot be reached (an offline edge node keeps what it has).
          auto present = o.cri->imageStatus(image);
          if (present.ok() && present->has_value()) {
            if (o.log) {
              o.log->warn("image pull failed, the image is present locally image={} err=\"{}\"",
                          image, out[i].reason);
            }
            out[i].ok = true;
            out[i].reason.clear();
          }
        }
        size_t n = ++done;
        if (o.log) {
          o.log->info("image pull {}/{} attempt={} image={} ok={}{}", n, spec.images.size(),
                      attempt + 1, image, out[i].ok,
                      out[i].ok ? "" : " err=\"" + out[i].reason + "\"");
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t w = 1; w < std::min(workers, spec.images.size()); ++w) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    any_failed = std::any_of(out.begin(), out.end(), [](const ImageResult& r) { return !r.ok; });
    *results = std::move(out);
  }
  if (any_failed) return core::unavailable("there were some failures when pulling images");
  return {};
}

}  // namespace edgecore::taskmanager
