// CRI client over gRPC (see include/edgecore/cri/cri_client.h).

#include "edgecore/cri/cri_client.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "cri/api.grpc.pb.h"

namespace edgecore::cri {

using core::Result;
using core::Status;
using core::StatusCode;

struct CriClient::Stubs {
  std::shared_ptr<grpc::Channel> runtime_channel;
  std::shared_ptr<grpc::Channel> image_channel;
  std::unique_ptr<runtimeapi::RuntimeService::Stub> runtime;
  std::unique_ptr<runtimeapi::ImageService::Stub> image;
};

namespace {

constexpr int kMaxMessageBytes = 16 * 1024 * 1024;  // the kubelet's CRI message size limit

Result<std::string> normaliseEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("unix://", 0) == 0 && endpoint.size() > 7) {
    return endpoint;
  }
  if (!endpoint.empty() && endpoint.front() == '/') {
    return "unix://" + endpoint;
  }
  return core::invalidArgument("CRI endpoint must be unix:///path or an absolute path, got \"" +
                               endpoint + "\"");
}

std::shared_ptr<grpc::Channel> makeChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Find a restarted containerd quickly: retry the socket every 0.2 s .. 2 s while it is down.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

void setDeadline(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
}

Status toStatus(const grpc::Status& s, const char* method, const std::string& endpoint) {
  if (s.ok()) {
    return {};
  }
  auto code = static_cast<StatusCode>(static_cast<int>(s.error_code()));
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return {code, std::string("container runtime unreachable at ") + endpoint + " (CRI " + method +
                      "): " + s.error_message()};
  }
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return {code, std::string("CRI ") + method + ": deadline exceeded (" + endpoint + ")"};
  }
  return {code, std::string("CRI ") + method + ": " + s.error_message()};
}

}  // namespace

CriClient::CriClient(CriClientOptions options, std::unique_ptr<Stubs> stubs)
    : options_(std::move(options)), stubs_(std::move(stubs)) {}

CriClient::~CriClient() = default;

Result<std::unique_ptr<CriClient>> CriClient::create(const CriClientOptions& options) {
  EC_ASSIGN_OR_RETURN(std::string runtime_target, normaliseEndpoint(options.runtime_endpoint));
  std::string image_target = runtime_target;
  if (!options.image_endpoint.empty()) {
    EC_ASSIGN_OR_RETURN(image_target, normaliseEndpoint(options.image_endpoint));
  }
  auto stubs = std::make_unique<Stubs>();
  try {
    stubs->runtime_channel = makeChannel(runtime_target);
    stubs->image_channel =
        image_target == runtime_target ? stubs->runtime_channel : makeChannel(image_target);
    stubs->runtime = runtimeapi::RuntimeService::NewStub(stubs->runtime_channel);
    stubs->image = runtimeapi::ImageService::NewStub(stubs->image_channel);
  } catch (const std::exception& e) {
    return core::internalError(std::string("CRI channel setup failed: ") + e.what());
  }
  CriClientOptions normalised = options;
  normalised.runtime_endpoint = runtime_target;
  normalised.image_endpoint = image_target;
  return std::unique_ptr<CriClient>(new CriClient(std::move(normalised), std::move(stubs)));
}

// One unary call: context with deadline, error mapped with the method name.
#define EC_CRI_CALL(stub, method, timeout, endpoint, req, resp)                           \
  do {                                                                                    \
    grpc::ClientContext ctx_;                                                             \
    setDeadline(ctx_, (timeout));                                                         \
    EC_RETURN_IF_ERROR(toStatus(stub->method(&ctx_, (req), &(resp)), #method, endpoint)); \
  } while (0)

#define EC_RT_CALL(method, timeout, req, resp) \
  EC_CRI_CALL(stubs_->runtime, method, timeout, options_.runtime_endpoint, req, resp)
#define EC_IMG_CALL(method, timeout, req, resp) \
  EC_CRI_CALL(stubs_->image, method, timeout, options_.image_endpoint, req, resp)

Result<runtimeapi::VersionResponse> CriClient::version() {
  runtimeapi::VersionRequest req;
  req.set_version("v1");
  runtimeapi::VersionResponse resp;
  EC_RT_CALL(Version, options_.status_timeout, req, resp);
  return resp;
}

Result<std::map<std::string, std::string>> CriClient::statusInfo() {
  runtimeapi::StatusRequest req;
  req.set_verbose(true);
  runtimeapi::StatusResponse resp;
  EC_RT_CALL(Status, options_.status_timeout, req, resp);
  return std::map<std::string, std::string>(resp.info().begin(), resp.info().end());
}

Result<RuntimeReadiness> CriClient::status() {
  runtimeapi::StatusRequest req;
  runtimeapi::StatusResponse resp;
  EC_RT_CALL(Status, options_.status_timeout, req, resp);
  RuntimeReadiness out;
  bool saw_runtime = false;
  bool saw_network = false;
  for (const auto& c : resp.status().conditions()) {
    std::string why = c.reason() + (c.message().empty() ? "" : ": " + c.message());
    if (c.type() == "RuntimeReady") {
      saw_runtime = true;
      out.runtime_ready = c.status();
      out.runtime_reason = c.status() ? "" : why;
    } else if (c.type() == "NetworkReady") {
      saw_network = true;
      out.network_ready = c.status();
      out.network_reason = c.status() ? "" : why;
    }
  }
  if (!saw_runtime) {
    out.runtime_reason = "RuntimeReady condition missing from the runtime's status";
  }
  if (!saw_network) {
    out.network_reason = "NetworkReady condition missing from the runtime's status";
  }
  return out;
}

Result<std::string> CriClient::runPodSandbox(const runtimeapi::PodSandboxConfig& config,
                                             const std::string& runtime_handler) {
  runtimeapi::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  req.set_runtime_handler(runtime_handler);
  runtimeapi::RunPodSandboxResponse resp;
  EC_RT_CALL(RunPodSandbox, options_.request_timeout, req, resp);
  return resp.pod_sandbox_id();
}

Status CriClient::stopPodSandbox(const std::string& sandbox_id) {
  runtimeapi::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(sandbox_id);
  runtimeapi::StopPodSandboxResponse resp;
  EC_RT_CALL(StopPodSandbox, options_.request_timeout, req, resp);
  return {};
}

Status CriClient::removePodSandbox(const std::string& sandbox_id) {
  runtimeapi::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(sandbox_id);
  runtimeapi::RemovePodSandboxResponse resp;
  EC_RT_CALL(RemovePodSandbox, options_.request_timeout, req, resp);
  return {};
}

Result<runtimeapi::PodSandboxStatus> CriClient::podSandboxStatus(const std::string& sandbox_id) {
  runtimeapi::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(sandbox_id);
  runtimeapi::PodSandboxStatusResponse resp;
  EC_RT_CALL(PodSandboxStatus, options_.status_timeout, req, resp);
  return std::move(*resp.mutable_status());
}

Result<std::vector<runtimeapi::PodSandbox>> CriClient::listPodSandbox(
    const runtimeapi::PodSandboxFilter& filter) {
  runtimeapi::ListPodSandboxRequest req;
  *req.mutable_filter() = filter;
  runtimeapi::ListPodSandboxResponse resp;
  EC_RT_CALL(ListPodSandbox, options_.status_timeout, req, resp);
  return std::vector<runtimeapi::PodSandbox>(std::make_move_iterator(resp.mutable_items()->begin()),
                                             std::make_move_iterator(resp.mutable_items()->end()));
}

Result<std::string> CriClient::createContainer(const std::string& sandbox_id,
                                               const runtimeapi::ContainerConfig& config,
                                               const runtimeapi::PodSandboxConfig& sandbox_config) {
  runtimeapi::CreateContainerRequest req;
  req.set_pod_sandbox_id(sandbox_id);
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = sandbox_config;
  runtimeapi::CreateContainerResponse resp;
  EC_RT_CALL(CreateContainer, options_.request_timeout, req, resp);
  return resp.container_id();
}

Status CriClient::startContainer(const std::string& container_id) {
  runtimeapi::StartContainerRequest req;
  req.set_container_id(container_id);
  runtimeapi::StartContainerResponse resp;
  EC_RT_CALL(StartContainer, options_.request_timeout, req, resp);
  return {};
}

Status CriClient::stopContainer(const std::string& container_id, int64_t timeout_seconds) {
  runtimeapi::StopContainerRequest req;
  req.set_container_id(container_id);
  req.set_timeout(std::max<int64_t>(0, timeout_seconds));
  runtimeapi::StopContainerResponse resp;
  EC_RT_CALL(StopContainer, options_.request_timeout + std::chrono::seconds(req.timeout()), req,
             resp);
  return {};
}

Status CriClient::removeContainer(const std::string& container_id) {
  runtimeapi::RemoveContainerRequest req;
  req.set_container_id(container_id);
  runtimeapi::RemoveContainerResponse resp;
  EC_RT_CALL(RemoveContainer, options_.request_timeout, req, resp);
  return {};
}

Result<std::vector<runtimeapi::Container>> CriClient::listContainers(
    const runtimeapi::ContainerFilter& filter) {
  runtimeapi::ListContainersRequest req;
  *req.mutable_filter() = filter;
  runtimeapi::ListContainersResponse resp;
  EC_RT_CALL(ListContainers, options_.status_timeout, req, resp);
  return std::vector<runtimeapi::Container>(
      std::make_move_iterator(resp.mutable_containers()->begin()),
      std::make_move_iterator(resp.mutable_containers()->end()));
}

Result<runtimeapi::ContainerStatus> CriClient::containerStatus(const std::string& container_id) {
  runtimeapi::ContainerStatusRequest req;
  req.set_container_id(container_id);
  runtimeapi::ContainerStatusResponse resp;
  EC_RT_CALL(ContainerStatus, options_.status_timeout, req, resp);
  return std::move(*resp.mutable_status());
}

Result<runtimeapi::ExecSyncResponse> CriClient::execSync(const std::string& container_id,
                                                         const std::vector<std::string>& cmd,
                                                         int64_t timeout_seconds) {
  runtimeapi::ExecSyncRequest req;
  req.set_container_id(container_id);
  for (const auto& c : cmd) {
    req.add_cmd(c);
  }
  req.set_timeout(std::max<int64_t>(0, timeout_seconds));
  runtimeapi::ExecSyncResponse resp;
  auto deadline =
      req.timeout() > 0
          ? std::chrono::milliseconds(std::chrono::seconds(req.timeout())) + options_.status_timeout
          : options_.request_timeout;
  EC_RT_CALL(ExecSync, deadline, req, resp);
  return resp;
}

Result<std::string> CriClient::exec(const runtimeapi::ExecRequest& request) {
  runtimeapi::ExecResponse resp;
  EC_RT_CALL(Exec, options_.request_timeout, request, resp);
  return resp.url();
}

Result<std::string> CriClient::attach(const runtimeapi::AttachRequest& request) {
  runtimeapi::AttachResponse resp;
  EC_RT_CALL(Attach, options_.request_timeout, request, resp);
  return resp.url();
}

Status CriClient::reopenContainerLog(const std::string& container_id) {
  runtimeapi::ReopenContainerLogRequest req;
  req.set_container_id(container_id);
  runtimeapi::ReopenContainerLogResponse resp;
  EC_RT_CALL(ReopenContainerLog, options_.request_timeout, req, resp);
  return {};
}

Result<std::vector<runtimeapi::ContainerStats>> CriClient::listContainerStats(
    const runtimeapi::ContainerStatsFilter& filter) {
  runtimeapi::ListContainerStatsRequest req;
  *req.mutable_filter() = filter;
  runtimeapi::ListContainerStatsResponse resp;
  EC_RT_CALL(ListContainerStats, options_.request_timeout, req, resp);
  return std::vector<runtimeapi::ContainerStats>(
      std::make_move_iterator(resp.mutable_stats()->begin()),
      std::make_move_iterator(resp.mutable_stats()->end()));
}

Result<std::optional<runtimeapi::Image>> CriClient::imageStatus(const std::string& image) {
  runtimeapi::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  runtimeapi::ImageStatusResponse resp;
  EC_IMG_CALL(ImageStatus, options_.status_timeout, req, resp);
  if (!resp.has_image() || resp.image().id().empty()) {
    return std::optional<runtimeapi::Image>();
  }
  return std::optional<runtimeapi::Image>(std::move(*resp.mutable_image()));
}

Result<std::string> CriClient::pullImage(const std::string& image,
                                         const runtimeapi::AuthConfig* auth,
                                         const runtimeapi::PodSandboxConfig* sandbox_config) {
  runtimeapi::PullImageRequest req;
  req.mutable_image()->set_image(image);
  if (auth != nullptr) {
    *req.mutable_auth() = *auth;
  }
  if (sandbox_config != nullptr) {
    *req.mutable_sandbox_config() = *sandbox_config;
  }
  runtimeapi::PullImageResponse resp;
  EC_IMG_CALL(PullImage, options_.pull_timeout, req, resp);
  return resp.image_ref();
}

Result<std::vector<runtimeapi::Image>> CriClient::listImages() {
  runtimeapi::ListImagesRequest req;
  runtimeapi::ListImagesResponse resp;
  EC_IMG_CALL(ListImages, options_.status_timeout, req, resp);
  return std::vector<runtimeapi::Image>(std::make_move_iterator(resp.mutable_images()->begin()),
                                        std::make_move_iterator(resp.mutable_images()->end()));
}

Status CriClient::removeImage(const std::string& image) {
  runtimeapi::RemoveImageRequest req;
  req.mutable_image()->set_image(image);
  runtimeapi::RemoveImageResponse resp;
  EC_IMG_CALL(RemoveImage, options_.request_timeout, req, resp);
  return {};
}

Result<runtimeapi::ImageFsInfoResponse> CriClient::imageFsInfo() {
  runtimeapi::ImageFsInfoRequest req;
  runtimeapi::ImageFsInfoResponse resp;
  EC_IMG_CALL(ImageFsInfo, options_.status_timeout, req, resp);
  return resp;
}

}  // namespace edgecore::cri
