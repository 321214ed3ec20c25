#include "deviceplugin/pod_resources.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include "podresources/v1/api.grpc.pb.h"

namespace edgecore::edged::deviceplugin {

namespace api = ::v1;
namespace fs = std::filesystem;

struct PodResourcesServer::Impl final : public api::PodResourcesLister::Service {
  Options opts;
  const DeviceManager& devices;
  std::shared_ptr<spdlog::logger> log;
  std::mutex mu;
  std::unique_ptr<grpc::Server> server;

  Impl(Options o, const DeviceManager& d, std::shared_ptr<spdlog::logger> l)
      : opts(std::move(o)), devices(d), log(std::move(l)) {}

  std::string socketPath() const { return opts.dir + "/" + kPodResourcesSocket; }

  void fill(const PodRef& p, api::PodResources* out) const {
    out->set_name(p.name);
    out->set_namespace_(p.ns);
    for (const auto& c : p.containers) {
      api::ContainerResources* cr = out->add_containers();
      cr->set_name(c);
      ContainerDevices d = devices.containerDevices(p.uid, c);
      for (const auto& [resource, ids] : d.device_ids) {
        api::ContainerDevices* cd = cr->add_devices();
        cd->set_resource_name(resource);
        for (const auto& id : ids) {
          cd->add_device_ids(id);
        }
      }
    }
  }

  std::vector<PodRef> pods() const { return opts.pods ? opts.pods() : std::vector<PodRef>{}; }

  grpc::Status List(grpc::ServerContext*, const api::ListPodResourcesRequest*,
                    api::ListPodResourcesResponse* resp) override {
    std::vector<PodRef> all = pods();
    if (all.size() > opts.max_pods) {
      log->warn("PodResources List cut pods={} max={}", all.size(), opts.max_pods);
      all.resize(opts.max_pods);
    }
    for (const auto& p : all) {
      fill(p, resp->add_pod_resources());
    }
    return grpc::Status::OK;
  }

  grpc::Status GetAllocatableResources(grpc::ServerContext*,
                                       const api::AllocatableResourcesRequest*,
                                       api::AllocatableResourcesResponse* resp) override {
    for (const auto& [resource, ids] : devices.allocatableDevices()) {
      api::ContainerDevices* cd = resp->add_devices();
      cd->set_resource_name(resource);
      for (const auto& id : ids) {
        cd->add_device_ids(id);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Get(grpc::ServerContext*, const api::GetPodResourcesRequest* req,
                   api::GetPodResourcesResponse* resp) override {
    for (const auto& p : pods()) {
      if (p.name == req->pod_name() && p.ns == req->pod_namespace()) {
        fill(p, resp->mutable_pod_resources());
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "pod " + req->pod_name().substr(0, 253) + " in namespace " +
                            req->pod_namespace().substr(0, 63) + " not found");
  }
};

PodResourcesServer::PodResourcesServer(Options options, const DeviceManager& devices,
                                       std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>(std::move(options), devices, std::move(log))) {}

PodResourcesServer::~PodResourcesServer() { stop(); }

std::string PodResourcesServer::socketPath() const { return impl_->socketPath(); }

core::Status PodResourcesServer::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->server) {
    return {};
  }
  std::error_code ec;
  fs::create_directories(impl_->opts.dir, ec);
  if (ec) {
    return core::internalError("cannot create " + impl_->opts.dir + ": " + ec.message());
  }
  fs::remove(socketPath(), ec);
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + socketPath(), grpc::InsecureServerCredentials());
  b.SetMaxReceiveMessageSize(64 << 10);  // requests are tiny
  b.RegisterService(impl_.get());
  impl_->server = b.BuildAndStart();
  if (!impl_->server) {
    return core::internalError("cannot serve " + socketPath());
  }
  impl_->log->info("pod resources API serving socket={}", socketPath());
  return {};
}

void PodResourcesServer::stop() {
  std::lock_guard lock(impl_->mu);
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    impl_->server.reset();
  }
}

}  // namespace edgecore::edged::deviceplugin
