#include "util/local_registry.h"

#include <crypt.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgecore/core/digest.h"
#include "edgecore/cri/cri_client.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const char* kRegistryBinary = "/usr/bin/docker-registry";
// containerd refuses a single-manifest image whose config names another platform.
#if defined(__aarch64__)
const char* kArchitecture = "arm64";
#else
const char* kArchitecture = "amd64";
#endif

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

}  // namespace

core::Result<std::string> htpasswdLine(const std::string& user, const std::string& password) {
  // NULL random bytes: libcrypt reads them from the OS. Cost 5 keeps the registry's
  // per-request bcrypt check cheap.
  const char* salt = crypt_gensalt("$2b$", 5, nullptr, 0);
  if (salt == nullptr) return core::internalError("crypt_gensalt($2b$) failed");
  struct crypt_data data = {};
  const char* hash = crypt_r(password.c_str(), salt, &data);
  if (hash == nullptr || hash[0] == '*') return core::internalError("crypt_r(bcrypt) failed");
  return user + ":" + hash;
}

core::Status containerdReadsHostsDir(const std::string& certs_d) {
  cri::CriClientOptions o;
  auto client = cri::CriClient::create(o);
  if (!client.ok()) return client.status();
  auto info = (*client)->statusInfo();
  if (!info.ok()) return core::unavailable("containerd CRI Status: " + info.status().message());
  auto it = info->find("config");
  nlohmann::json config =
      it == info->end() ? nlohmann::json() : nlohmann::json::parse(it->second, nullptr, false);
  std::string path;
  if (config.is_object() && config.contains("registry") && config["registry"].is_object()) {
    path = config["registry"].value("configPath", "");
  }
  if (path != certs_d) {
    return core::failedPrecondition(
        "containerd's CRI registry config_path is \"" + path + "\", not \"" + certs_d +
        "\": restart it with the current config (scripts/test-services.sh stop && "
        "scripts/test-services.sh start)");
  }
  return {};
}

core::Result<std::unique_ptr<LocalRegistry>> LocalRegistry::start(
    const LocalRegistryOptions& options) {
  if (!fs::exists(kRegistryBinary)) {
    return core::failedPrecondition(std::string(kRegistryBinary) +
                                    " is missing: apt-get install docker-registry "
                                    "(scripts/install-deps.sh)");
  }
  std::unique_ptr<LocalRegistry> r(new LocalRegistry(options));
  const bool tls = !options.user.empty();
  const int port = freeLoopbackPort();
  r->host_ = "127.0.0.1:" + std::to_string(port);
  std::string yaml =
      "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
      "    rootdirectory: " +
      r->dir_.file("storage") + "\nhttp:\n  addr: " + r->host_ + "\n";
  if (tls) {
    EC_ASSIGN_OR_RETURN(std::string line, htpasswdLine(options.user, options.password));
    r->dir_.write("htpasswd", line + "\n");
    yaml +=
        "  tls:\n    certificate: " + options.cert_file + "\n    key: " + options.key_file +
        "\nauth:\n  htpasswd:\n    realm: edgecore-test\n    path: " + r->dir_.file("htpasswd") +
        "\n";
  }
  r->dir_.write("config.yml", yaml);
  r->process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kRegistryBinary, "serve", r->dir_.file("config.yml")});

  // Up when /v2/ answers: 200 without auth, 401 with it.
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    auto cmd = r->curl();
    cmd.insert(cmd.end(), {"-o", "/dev/null", "-w", "%{http_code}", r->url("/v2/")});
    auto res = runCommand(cmd, 5s);
    up = res.out == "200";
    if (!up) {
      if (r->process_->wait(0ms)) {
        return core::unavailable("docker-registry exited: " + r->logSoFar());
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  if (!up) return core::unavailable("docker-registry does not answer: " + r->logSoFar());

  // containerd reads certs.d/<host>/hosts.toml at each pull.
  r->hosts_dir_ = options.certs_d + "/" + r->host_;
  std::error_code ec;
  fs::create_directories(r->hosts_dir_, ec);
  if (ec) return core::unavailable("cannot create " + r->hosts_dir_ + ": " + ec.message());
  const std::string server = (tls ? "https://" : "http://") + r->host_;
  std::string toml = "server = \"" + server + "\"\n\n[host.\"" + server +
                     "\"]\n  capabilities = [\"pull\", \"resolve\"]\n";
  if (tls) toml += "  ca = \"" + options.ca_file + "\"\n";
  writeFile(r->hosts_dir_ + "/hosts.toml", toml);
  return r;
}

LocalRegistry::~LocalRegistry() {
  if (!hosts_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(hosts_dir_, ec);
  }
  if (process_) {
    process_->signal(SIGTERM);
    if (!process_->wait(5s)) process_->signal(SIGKILL);
  }
}

std::string LocalRegistry::url(const std::string& path) const {
  return (options_.user.empty() ? "http://" : "https://") + host_ + path;
}

std::vector<std::string> LocalRegistry::curl() const {
  std::vector<std::string> cmd{"/usr/bin/curl", "-sS"};
  if (!options_.user.empty()) {
    cmd.insert(cmd.end(),
               {"--cacert", options_.ca_file, "-u", options_.user + ":" + options_.password});
  }
  return cmd;
}

core::Status LocalRegistry::pushBlob(const std::string& repo, const std::string& file,
                                     const std::string& digest) {
  auto cmd = curl();
  cmd.insert(cmd.end(), {"-X", "POST", "-o", "/dev/null", "-w", "%{http_code} %header{location}",
                         url("/v2/" + repo + "/blobs/uploads/")});
  auto started = runCommand(cmd);
  if (started.out.rfind("202 ", 0) != 0) {
    return core::unavailable("blob upload start: " + started.out + " " + started.err);
  }
  std::string location = started.out.substr(4);
  if (location.rfind("http", 0) != 0) location = url(location);
  location +=
      (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + digest;
  cmd = curl();
  cmd.insert(cmd.end(),
             {"-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}", "-H",
              "Content-Type: application/octet-stream", "--data-binary", "@" + file, location});
  auto put = runCommand(cmd);
  if (put.out != "201") return core::unavailable("blob upload: " + put.out + " " + put.err);
  return {};
}

core::Result<std::string> LocalRegistry::pushImage(const std::string& repo, const std::string& tag,
                                                   const std::string& content) {
  // The layer: an uncompressed tar holding /hello.
  const std::string root = dir_.file("layer-" + tag);
  fs::create_directories(root);
  writeFile(root + "/hello", content);
  const std::string layer = dir_.file("layer-" + tag + ".tar");
  auto tar = runCommand(
      {"/bin/tar", "--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", layer, "hello"});
  if (tar.exit_code != 0) return core::internalError("tar: " + tar.err);
  const std::string layer_bytes = readFile(layer);
  const std::string layer_digest = "sha256:" + core::sha256Hex(layer_bytes);

  nlohmann::json config = {{"architecture", kArchitecture},
                           {"os", "linux"},
                           {"config", {{"Cmd", {"/hello"}}}},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_digest}}}}};
  const std::string config_text = config.dump();
  const std::string config_digest = "sha256:" + core::sha256Hex(config_text);
  const std::string config_file = dir_.file("config-" + tag + ".json");
  writeFile(config_file, config_text);

  EC_RETURN_IF_ERROR(pushBlob(repo, layer, layer_digest));
  EC_RETURN_IF_ERROR(pushBlob(repo, config_file, config_digest));

  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"config",
                              {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                               {"digest", config_digest},
                               {"size", config_text.size()}}},
                             {"layers",
                              {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                {"digest", layer_digest},
                                {"size", layer_bytes.size()}}}}};
  const std::string manifest_file = dir_.file("manifest-" + tag + ".json");
  writeFile(manifest_file, manifest.dump());
  auto cmd = curl();
  cmd.insert(cmd.end(),
             {"-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}", "-H",
              "Content-Type: application/vnd.oci.image.manifest.v1+json", "--data-binary",
              "@" + manifest_file, url("/v2/" + repo + "/manifests/" + tag)});
  auto put = runCommand(cmd);
  if (put.out != "201") return core::unavailable("manifest upload: " + put.out + " " + put.err);
  return host_ + "/" + repo + ":" + tag;
}

}  // namespace edgecore::testing
