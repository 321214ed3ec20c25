#pragma once

// A real image registry on loopback for pull tests: Debian's `docker-registry` (the CNCF
// distribution registry 2.8) serving a temp dir, plain HTTP or TLS with htpasswd basic auth.
// Images are pushed with the registry's HTTP API (curl), and containerd is told about the
// registry with a certs.d/<host>/hosts.toml, removed again on destruction.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgecore/core/status.h"
#include "util/process.h"

namespace edgecore::testing {

struct LocalRegistryOptions {
  // Both set: TLS with this certificate/key and basic auth for user:password (bcrypt htpasswd).
  // The CA file goes into containerd's hosts.toml. Empty user: plain HTTP, no auth.
  std::string user;
  std::string password;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // containerd's registry config_path (scripts/test-services.sh).
  std::string certs_d = "/etc/containerd/certs.d";
};

class LocalRegistry {
 public:
  // Starts the registry on a free loopback port, waits until /v2/ answers and writes the
  // hosts.toml. An error names what is missing (the binary, a bad config).
  static core::Result<std::unique_ptr<LocalRegistry>> start(const LocalRegistryOptions& options);
  ~LocalRegistry();  // stops the registry, removes the hosts.toml dir
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // "127.0.0.1:PORT", the registry part of image references.
  const std::string& host() const { return host_; }
  // Pushes a one-layer OCI image (uncompressed layer holding /hello with `content`) as
  // <host>/<repo>:<tag>. Returns the full reference.
  core::Result<std::string> pushImage(const std::string& repo, const std::string& tag,
                                      const std::string& content);
  std::string logSoFar() const { return process_ ? process_->stderrSoFar() : ""; }

 private:
  explicit LocalRegistry(LocalRegistryOptions options) : options_(std::move(options)) {}
  std::string url(const std::string& path) const;
  std::vector<std::string> curl() const;  // curl with the CA and credentials set
  core::Status pushBlob(const std::string& repo, const std::string& file,
                        const std::string& digest);

  LocalRegistryOptions options_;
  TempDir dir_;
  std::string host_;
  std::string hosts_dir_;
  std::unique_ptr<ChildProcess> process_;
};

// A bcrypt ($2b$) htpasswd line "user:hash" made with libcrypt.
core::Result<std::string> htpasswdLine(const std::string& user, const std::string& password);

// Asks containerd (CRI Status, verbose) whether its CRI registry config_path is `certs_d`;
// an error with the fix (restart through scripts/test-services.sh) otherwise.
core::Status containerdReadsHostsDir(const std::string& certs_d = "/etc/containerd/certs.d");

}  // namespace edgecore::testing
