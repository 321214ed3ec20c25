#pragma once

// A small synchronous client for the Kubernetes CRI (runtime.v1, our subset in proto/cri/api.proto)
// over a unix socket: containerd's RuntimeService and ImageService.
//
// Every method blocks on one gRPC call with a deadline (runtimeRequestTimeout for work, a short one
// for status-like calls), so call it from a blocking pool, never from a strand or an I/O thread.
// The object is thread-safe: gRPC stubs and channels may be used from many threads at once.
//
// gRPC channels reconnect by themselves when the runtime restarts; while it is down every call
// fails fast with Unavailable ("container runtime unreachable at <endpoint>: ..."). Other gRPC
// errors keep their code (the numbering is gRPC's, as core::StatusCode's is) and get a message
// "CRI <Method>: <runtime's message>". NotFound from the runtime stays NotFound, so callers can
// treat "already gone" as success.
//
// Users: edged (pod lifecycle), MetaServer (logs/exec/restart through ListContainers, ExecSync,
// Exec, StopContainer). Link the `edgecore_cri` library.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cri/api.pb.h"
#include "edgecore/core/status.h"

namespace edgecore {
// The CRI protobuf types (runtime.v1), under the name the kubelet gives them.
namespace runtimeapi = ::runtime::v1;
}  // namespace edgecore

namespace edgecore::cri {

struct CriClientOptions {
  // "unix:///run/containerd/containerd.sock"; a bare absolute path is taken as unix:// too.
  std::string runtime_endpoint = "unix:///run/containerd/containerd.sock";
  std::string image_endpoint;  // empty: runtime_endpoint
  // tailoredKubeletConfig.runtimeRequestTimeout: the deadline of calls that do work.
  std::chrono::milliseconds request_timeout{std::chrono::minutes(2)};
  // Deadline of Version, Status, List*, *Status and other quick reads.
  std::chrono::milliseconds status_timeout{std::chrono::seconds(10)};
  // PullImage may take long on slow links.
  std::chrono::milliseconds pull_timeout{std::chrono::minutes(10)};
};

// The two runtime conditions the kubelet looks at (CRI Status).
struct RuntimeReadiness {
  bool runtime_ready = false;
  bool network_ready = false;
  std::string runtime_reason;  // "reason: message" of a false condition, else empty
  std::string network_reason;
};

class CriClient {
 public:
  // Creates channels to the endpoints; does not connect yet (the first call does). InvalidArgument
  // for an endpoint that is not unix:// or an absolute path. Never blocks.
  static core::Result<std::unique_ptr<CriClient>> create(const CriClientOptions& options);
  ~CriClient();
  CriClient(const CriClient&) = delete;
  CriClient& operator=(const CriClient&) = delete;

  const CriClientOptions& options() const { return options_; }

  // ---- RuntimeService ----
  core::Result<runtimeapi::VersionResponse> version();
  core::Result<RuntimeReadiness> status();
  // CRI Status with verbose=true: the runtime's info map (containerd puts its effective CRI
  // plugin configuration as JSON under "config"; keadm join reads the cgroup driver from it).
  core::Result<std::map<std::string, std::string>> statusInfo();
  // Returns the sandbox id.
  core::Result<std::string> runPodSandbox(const runtimeapi::PodSandboxConfig& config,
                                          const std::string& runtime_handler = "");
  core::Status stopPodSandbox(const std::string& sandbox_id);
  core::Status removePodSandbox(const std::string& sandbox_id);
  core::Result<runtimeapi::PodSandboxStatus> podSandboxStatus(const std::string& sandbox_id);
  core::Result<std::vector<runtimeapi::PodSandbox>> listPodSandbox(
      const runtimeapi::PodSandboxFilter& filter = {});
  // Returns the container id.
  core::Result<std::string> createContainer(const std::string& sandbox_id,
                                            const runtimeapi::ContainerConfig& config,
                                            const runtimeapi::PodSandboxConfig& sandbox_config);
  core::Status startContainer(const std::string& container_id);
  // SIGTERM, then SIGKILL after `timeout` (seconds, 0 = kill at once). The call's deadline is
  // request_timeout + timeout, as the kubelet's.
  core::Status stopContainer(const std::string& container_id, int64_t timeout_seconds);
  core::Status removeContainer(const std::string& container_id);
  core::Result<std::vector<runtimeapi::Container>> listContainers(
      const runtimeapi::ContainerFilter& filter = {});
  core::Result<runtimeapi::ContainerStatus> containerStatus(const std::string& container_id);
  // Runs `cmd` in the container and waits for it (timeout seconds, 0 = request_timeout).
  core::Result<runtimeapi::ExecSyncResponse> execSync(const std::string& container_id,
                                                      const std::vector<std::string>& cmd,
                                                      int64_t timeout_seconds);
  // Streaming exec/attach: returns the runtime's stream URL.
  core::Result<std::string> exec(const runtimeapi::ExecRequest& request);
  core::Result<std::string> attach(const runtimeapi::AttachRequest& request);
  core::Status reopenContainerLog(const std::string& container_id);
  core::Result<std::vector<runtimeapi::ContainerStats>> listContainerStats(
      const runtimeapi::ContainerStatsFilter& filter = {});

  // ---- ImageService ----
  // nullopt when the runtime does not have the image.
  core::Result<std::optional<runtimeapi::Image>> imageStatus(const std::string& image);
  // Returns the image reference (digest) the runtime pulled.
  core::Result<std::string> pullImage(const std::string& image, const runtimeapi::AuthConfig* auth,
                                      const runtimeapi::PodSandboxConfig* sandbox_config);
  core::Result<std::vector<runtimeapi::Image>> listImages();
  core::Status removeImage(const std::string& image);
  core::Result<runtimeapi::ImageFsInfoResponse> imageFsInfo();

 private:
  struct Stubs;
  CriClient(CriClientOptions options, std::unique_ptr<Stubs> stubs);

  CriClientOptions options_;
  std::unique_ptr<Stubs> stubs_;
};

using CriClientPtr = std::unique_ptr<CriClient>;

}  // namespace edgecore::cri
