#include "edged/deviceplugin/fake_plugin.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace edgecore::testing {

namespace api = ::v1beta1;

struct FakeDevicePlugin::Impl final : public api::DevicePlugin::Service {
  Options opts;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> healthy;
  uint64_t generation = 0;
  bool stopping = false;
  int lists_sent = 0;
  int allocate_calls = 0;
  int pre_start_calls = 0;
  int preferred_calls = 0;
  std::vector<std::string> last_allocated;
  std::unique_ptr<grpc::Server> server;

  std::string socket() const { return opts.dir + "/" + opts.endpoint; }

  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const api::Empty*,
                                      api::DevicePluginOptions* out) override {
    out->set_pre_start_required(opts.pre_start_required);
    out->set_get_preferred_allocation_available(opts.preferred_allocation);
    return grpc::Status::OK;
  }

  grpc::Status ListAndWatch(grpc::ServerContext* ctx, const api::Empty*,
                            grpc::ServerWriter<api::ListAndWatchResponse>* writer) override {
    uint64_t sent = ~uint64_t{0};
    std::unique_lock lock(mu);
    while (!stopping && !ctx->IsCancelled()) {
      if (sent != generation) {
        api::ListAndWatchResponse resp;
        for (size_t i = 0; i < healthy.size(); ++i) {
          auto* d = resp.add_devices();
          d->set_id("widget-" + std::to_string(i));
          d->set_health(healthy[i] ? "Healthy" : "Unhealthy");
        }
        sent = generation;
        lock.unlock();
        bool ok = writer->Write(resp);
        lock.lock();
        if (!ok) {
          break;
        }
        ++lists_sent;
      }
      cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    return grpc::Status::OK;
  }

  grpc::Status GetPreferredAllocation(grpc::ServerContext*,
                                      const api::PreferredAllocationRequest* req,
                                      api::PreferredAllocationResponse* out) override {
    std::lock_guard lock(mu);
    ++preferred_calls;
    // Prefers the highest ids (the opposite of the manager's own in-order pick).
    for (const auto& cr : req->container_requests()) {
      auto* r = out->add_container_responses();
      std::vector<std::string> ids(cr.available_deviceids().begin(),
                                   cr.available_deviceids().end());
      std::sort(ids.rbegin(), ids.rend());
      for (int i = 0; i < cr.allocation_size() && i < static_cast<int>(ids.size()); ++i) {
        r->add_deviceids(ids[static_cast<size_t>(i)]);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Allocate(grpc::ServerContext*, const api::AllocateRequest* req,
                        api::AllocateResponse* out) override {
    std::lock_guard lock(mu);
    ++allocate_calls;
    for (const auto& cr : req->container_requests()) {
      std::string ids;
      last_allocated.clear();
      for (const auto& id : cr.devices_ids()) {
        ids += (ids.empty() ? "" : ",") + id;
        last_allocated.push_back(id);
      }
      auto* r = out->add_container_responses();
      (*r->mutable_envs())["WIDGET_IDS"] = ids;
      (*r->mutable_envs())["WIDGET_RESOURCE"] = opts.resource;
      (*r->mutable_annotations())["example.com/widget-ids"] = ids;
      if (!opts.host_dir.empty()) {
        auto* m = r->add_mounts();
        m->set_container_path("/widget");
        m->set_host_path(opts.host_dir);
        m->set_read_only(true);
      }
      auto* d = r->add_devices();
      d->set_container_path("/dev/widget");
      d->set_host_path("/dev/null");
      d->set_permissions("rw");
      if (!opts.cdi_kind.empty()) {
        for (const auto& id : cr.devices_ids()) {
          r->add_cdi_devices()->set_name(opts.cdi_kind + "=" + id);
        }
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status PreStartContainer(grpc::ServerContext*, const api::PreStartContainerRequest*,
                                 api::PreStartContainerResponse*) override {
    std::lock_guard lock(mu);
    ++pre_start_calls;
    return grpc::Status::OK;
  }
};

FakeDevicePlugin::FakeDevicePlugin(Options o) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(o);
  impl_->healthy.assign(static_cast<size_t>(impl_->opts.devices), true);
}

FakeDevicePlugin::~FakeDevicePlugin() { stop(); }

bool FakeDevicePlugin::serve() {
  std::error_code ec;
  std::filesystem::remove(impl_->socket(), ec);
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = false;
  }
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + impl_->socket(), grpc::InsecureServerCredentials());
  b.RegisterService(impl_.get());
  impl_->server = b.BuildAndStart();
  return impl_->server != nullptr;
}

std::string FakeDevicePlugin::registerWithKubelet() {
  auto channel = grpc::CreateChannel("unix:" + impl_->opts.dir + "/kubelet.sock",
                                     grpc::InsecureChannelCredentials());
  auto stub = api::Registration::NewStub(channel);
  api::RegisterRequest req;
  req.set_version(impl_->opts.version);
  req.set_endpoint(impl_->opts.endpoint);
  req.set_resource_name(impl_->opts.resource);
  req.mutable_options()->set_pre_start_required(impl_->opts.pre_start_required);
  req.mutable_options()->set_get_preferred_allocation_available(impl_->opts.preferred_allocation);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ctx.set_wait_for_ready(true);
  api::Empty out;
  grpc::Status st = stub->Register(&ctx, req, &out);
  return st.ok() ? "" : (st.error_message().empty() ? "refused" : st.error_message());
}

std::string FakeDevicePlugin::start() {
  if (!serve()) {
    return "cannot serve " + impl_->socket();
  }
  return registerWithKubelet();
}

void FakeDevicePlugin::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    impl_->server.reset();
    std::error_code ec;
    std::filesystem::remove(impl_->socket(), ec);
  }
}

void FakeDevicePlugin::setHealthy(int index, bool healthy) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->healthy.at(static_cast<size_t>(index)) = healthy;
    ++impl_->generation;
  }
  impl_->cv.notify_all();
}

int FakeDevicePlugin::listsSent() const {
  std::lock_guard lock(impl_->mu);
  return impl_->lists_sent;
}
int FakeDevicePlugin::allocateCalls() const {
  std::lock_guard lock(impl_->mu);
  return impl_->allocate_calls;
}
int FakeDevicePlugin::preStartCalls() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pre_start_calls;
}
int FakeDevicePlugin::preferredCalls() const {
  std::lock_guard lock(impl_->mu);
  return impl_->preferred_calls;
}
std::vector<std::string> FakeDevicePlugin::lastAllocated() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_allocated;
}

}  // namespace edgecore::testing
