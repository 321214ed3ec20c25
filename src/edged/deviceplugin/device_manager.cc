// Device plugin manager (see device_manager.h and docs/deviceplugin.md).

#include "deviceplugin/device_manager.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cri/api.pb.h"
#include "deviceplugin/device_checkpoint.h"
#include "deviceplugin/device_requests.h"
#include "deviceplugin/v1beta1/api.grpc.pb.h"

namespace edgecore::edged::deviceplugin {

namespace api = ::v1beta1;
namespace fs = std::filesystem;
using core::Status;
using json = nlohmann::json;

namespace {

constexpr size_t kMaxPlugins = 64;                // registered resources at once
constexpr size_t kMaxDevicesPerResource = 4096;   // a larger list is cut (and logged)
constexpr size_t kMaxIdBytes = 256;               // longer device ids are ignored
constexpr size_t kMaxEndpointBytes = 200;         // socket file name length
constexpr size_t kMaxCheckpointBytes = 16 << 20;  // a larger checkpoint is not read

std::string strField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void merge(ContainerDevices& into, const api::ContainerAllocateResponse& r) {
  for (const auto& [k, v] : r.envs()) {
    into.envs[k] = v;
  }
  for (const auto& [k, v] : r.annotations()) {
    into.annotations[k] = v;
  }
  for (const auto& m : r.mounts()) {
    into.mounts.push_back({m.container_path(), m.host_path(), m.read_only()});
  }
  for (const auto& d : r.devices()) {
    into.devices.push_back({d.container_path(), d.host_path(), d.permissions()});
  }
  for (const auto& c : r.cdi_devices()) {
    into.cdi_devices.push_back(c.name());
  }
}

std::chrono::system_clock::time_point deadlineAfter(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

bool isSocket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

// One registered plugin.
struct Endpoint {
  std::string resource;
  std::string socket;
  api::DevicePluginOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<api::DevicePlugin::Stub> stub;
  std::atomic<bool> stopped{false};
  std::atomic<bool> done{false};
  std::mutex ctx_mu;
  grpc::ClientContext* stream_ctx = nullptr;  // the ListAndWatch call while it runs
  std::thread reader;

  void cancel() {
    stopped = true;
    std::lock_guard lock(ctx_mu);
    if (stream_ctx) {
      stream_ctx->TryCancel();
    }
  }
};

struct DeviceManager::Impl {
  Options opts;
  std::shared_ptr<spdlog::logger> log;

  class RegistrationService final : public api::Registration::Service {
   public:
    explicit RegistrationService(Impl* impl) : impl_(impl) {}
    grpc::Status Register(grpc::ServerContext*, const api::RegisterRequest* req,
                          api::Empty*) override {
      return impl_->onRegister(*req);
    }

   private:
    Impl* impl_;
  };

  struct ResourceState {
    std::map<std::string, bool> devices;  // id -> healthy
    std::shared_ptr<Endpoint> ep;         // the current plugin; null after a restore
    // Since when the plugin is gone (unset while it serves): the grace period runs from here.
    std::optional<std::chrono::steady_clock::time_point> stopped_at;
    // The grace period is over: not reported any more; kept only while pods hold its devices
    // (they still count as device-plugin resources for admission, as in the kubelet).
    bool expired = false;
  };

  mutable std::mutex mu;  // everything below
  std::map<std::string, ResourceState> resources;
  std::map<std::string, std::map<std::string, ContainerDevices>> pods;  // uid -> container
  std::vector<std::shared_ptr<Endpoint>> retired;                       // to join
  bool stopping = false;
  std::condition_variable stop_cv;

  std::mutex server_mu;  // server lifecycle (start/stop and the watcher's recreate)
  std::unique_ptr<RegistrationService> service;
  std::unique_ptr<grpc::Server> server;
  std::thread watcher;
  std::mutex admit_mu;  // one admission at a time, like the kubelet's admit loop

  std::string socketPath() const { return opts.plugin_dir + "/" + kKubeletSocket; }
  std::string checkpointPath() const { return opts.plugin_dir + "/" + kCheckpointFile; }

  void notify() {
    if (opts.on_change) {
      opts.on_change();
    }
  }

  // ---- registration ----------------------------------------------------------------------

  grpc::Status onRegister(const api::RegisterRequest& req) {
    if (req.version() != kApiVersion) {
      std::string msg = "requested API version \"" + req.version().substr(0, 64) +
                        "\" is not supported by edgecore. Supported version is \"v1beta1\"";
      log->warn("device plugin registration refused resource={} err=\"{}\"",
                req.resource_name().substr(0, 100), msg);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
    }
    if (!isExtendedResourceName(req.resource_name())) {
      std::string msg = "the ResourceName \"" + req.resource_name().substr(0, 300) +
                        "\" is invalid: an extended resource name needs a domain that is not "
                        "kubernetes.io (e.g. example.com/widget)";
      log->warn("device plugin registration refused err=\"{}\"", msg);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
    }
    const std::string& e = req.endpoint();
    if (e.empty() || e.size() > kMaxEndpointBytes || e.find('/') != std::string::npos || e == "." ||
        e == ".." || e == kKubeletSocket || e.find('\0') != std::string::npos) {
      std::string msg = "endpoint \"" + e.substr(0, kMaxEndpointBytes) +
                        "\" must be a socket file name inside " + opts.plugin_dir;
      log->warn("device plugin registration refused resource={} err=\"{}\"", req.resource_name(),
                msg);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
    }
    auto ep = std::make_shared<Endpoint>();
    ep->resource = req.resource_name();
    ep->socket = opts.plugin_dir + "/" + e;
    ep->options = req.options();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(4 << 20);
    ep->channel =
        grpc::CreateCustomChannel("unix:" + ep->socket, grpc::InsecureChannelCredentials(), args);
    ep->stub = api::DevicePlugin::NewStub(ep->channel);
    std::shared_ptr<Endpoint> old;
    {
      std::lock_guard lock(mu);
      if (stopping) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "edgecore is stopping");
      }
      if (!resources.count(ep->resource) && resources.size() >= kMaxPlugins) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "too many device plugin resources");
      }
      joinRetiredLocked();
      ResourceState& rs = resources[ep->resource];
      old = rs.ep;
      rs.ep = ep;
      rs.stopped_at.reset();
      rs.expired = false;
      if (old) {
        retired.push_back(old);
      }
      ep->reader = std::thread([this, ep] { runEndpoint(ep); });
    }
    if (old) {
      old->cancel();
    }
    log->info("device plugin registered resource={} endpoint={} replaced={}", ep->resource,
              ep->socket, old != nullptr);
    return grpc::Status::OK;
  }

  // Joins reader threads that have ended. Holds mu.
  void joinRetiredLocked() {
    for (auto it = retired.begin(); it != retired.end();) {
      if ((*it)->done && (*it)->reader.joinable()) {
        (*it)->reader.join();
        it = retired.erase(it);
      } else {
        ++it;
      }
    }
  }

  bool isCurrent(const std::shared_ptr<Endpoint>& ep) {
    auto it = resources.find(ep->resource);
    return it != resources.end() && it->second.ep == ep;
  }

  void markUnhealthy(const std::shared_ptr<Endpoint>& ep, const char* why) {
    bool changed = false;
    {
      std::lock_guard lock(mu);
      if (!isCurrent(ep)) {
        return;
      }
      ResourceState& rs = resources[ep->resource];
      for (auto& [id, healthy] : rs.devices) {
        changed = changed || healthy;
        healthy = false;
      }
      if (!rs.stopped_at) {
        rs.stopped_at = std::chrono::steady_clock::now();
      }
    }
    log->warn("device plugin gone, its devices are unhealthy resource={} why=\"{}\"", ep->resource,
              why);
    if (changed) {
      notify();
    }
  }

  void runEndpoint(std::shared_ptr<Endpoint> ep) {
    runEndpointInner(ep);
    ep->done = true;
  }

  void runEndpointInner(const std::shared_ptr<Endpoint>& ep) {
    if (!ep->channel->WaitForConnected(deadlineAfter(opts.rpc_timeout))) {
      log->warn("device plugin not reachable resource={} endpoint={} timeout_ms={}", ep->resource,
                ep->socket, opts.rpc_timeout.count());
      markUnhealthy(ep, "endpoint not reachable");
      return;
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(deadlineAfter(opts.rpc_timeout));
      api::DevicePluginOptions o;
      grpc::Status st = ep->stub->GetDevicePluginOptions(&ctx, api::Empty(), &o);
      if (st.ok()) {
        std::lock_guard lock(mu);
        ep->options = o;
      } else {
        log->warn("GetDevicePluginOptions failed, using the registration's resource={} err=\"{}\"",
                  ep->resource, st.error_message());
      }
    }
    grpc::ClientContext ctx;
    {
      std::lock_guard lock(ep->ctx_mu);
      if (ep->stopped) {
        return;
      }
      ep->stream_ctx = &ctx;
    }
    auto reader = ep->stub->ListAndWatch(&ctx, api::Empty());
    api::ListAndWatchResponse resp;
    while (reader->Read(&resp)) {
      std::map<std::string, bool> devices;
      for (const auto& d : resp.devices()) {
        if (devices.size() >= kMaxDevicesPerResource) {
          log->warn("device list cut resource={} max={}", ep->resource, kMaxDevicesPerResource);
          break;
        }
        if (d.id().empty() || d.id().size() > kMaxIdBytes) {
          continue;
        }
        devices[d.id()] = d.health() == "Healthy";
      }
      bool changed = false;
      size_t healthy = 0;
      for (const auto& [id, h] : devices) {
        healthy += h ? 1 : 0;
      }
      {
        std::lock_guard lock(mu);
        if (!isCurrent(ep)) {
          break;
        }
        auto& rs = resources[ep->resource];
        changed = rs.devices != devices;
        rs.devices = std::move(devices);
      }
      log->info("device list resource={} devices={} healthy={}", ep->resource, resp.devices_size(),
                healthy);
      if (changed) {
        notify();
      }
    }
    grpc::Status st = reader->Finish();
    {
      std::lock_guard lock(ep->ctx_mu);
      ep->stream_ctx = nullptr;
    }
    markUnhealthy(ep, st.ok() ? "ListAndWatch ended" : st.error_message().c_str());
  }

  // ---- server -----------------------------------------------------------------------------

  Status serve() {
    std::error_code ec;
    fs::remove(socketPath(), ec);
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + socketPath(), grpc::InsecureServerCredentials());
    b.SetMaxReceiveMessageSize(1 << 20);
    if (!service) {
      service = std::make_unique<RegistrationService>(this);
    }
    b.RegisterService(service.get());
    server = b.BuildAndStart();
    if (!server) {
      return core::internalError("cannot serve " + socketPath());
    }
    return {};
  }

  void watch() {
    std::unique_lock lock(mu);
    while (!stopping) {
      stop_cv.wait_for(lock, opts.watch_period);
      if (stopping) {
        break;
      }
      std::vector<std::shared_ptr<Endpoint>> gone;
      for (auto& [name, rs] : resources) {
        if (rs.ep && !rs.ep->stopped && !isSocket(rs.ep->socket)) {
          gone.push_back(rs.ep);
        }
      }
      joinRetiredLocked();
      bool expired = expireLocked();
      lock.unlock();
      if (expired) {
        notify();
      }
      for (auto& ep : gone) {
        log->info("device plugin socket removed resource={} endpoint={}", ep->resource, ep->socket);
        ep->cancel();
        markUnhealthy(ep, "socket removed");
      }
      if (!isSocket(socketPath())) {
        std::lock_guard sl(server_mu);
        if (server) {
          log->warn("kubelet.sock was removed, serving it again path={}", socketPath());
          server->Shutdown(deadlineAfter(std::chrono::seconds(1)));
          server.reset();
          Status st = serve();
          if (!st.ok()) {
            log->error("device plugin registration socket lost err=\"{}\"", st.message());
          }
        }
      }
      lock.lock();
    }
  }

  // Ends the grace period of resources whose plugin has been gone for stop_grace_period: they
  // leave resources() (so the node drops them from capacity); the entry itself goes too unless
  // pods still hold its devices. True when something was removed. Holds mu.
  bool expireLocked() {
    const auto now = std::chrono::steady_clock::now();
    bool removed = false;
    for (auto it = resources.begin(); it != resources.end();) {
      ResourceState& rs = it->second;
      const bool over = rs.stopped_at && now - *rs.stopped_at >= opts.stop_grace_period &&
                        (!rs.ep || rs.ep->done || rs.ep->stopped);
      if (over && !rs.expired) {
        log->info("device plugin resource removed after its grace period resource={} grace_ms={}",
                  it->first, opts.stop_grace_period.count());
        rs.expired = true;
        rs.devices.clear();
        removed = true;
      }
      if (rs.expired && inUseLocked(it->first, "").empty()) {
        if (rs.ep) {
          retired.push_back(rs.ep);
        }
        it = resources.erase(it);
      } else {
        ++it;
      }
    }
    return removed;
  }

  // ---- checkpoint -------------------------------------------------------------------------

  // Holds mu.
  void writeCheckpointLocked() {
    if (core::Status st = writeFileDurably(checkpointPath(), encodeCheckpoint(pods)); !st.ok()) {
      log->error("device checkpoint not written path={} err=\"{}\"", checkpointPath(),
                 st.message());
    }
  }

  void readCheckpoint() {
    std::error_code ec;
    auto size = fs::file_size(checkpointPath(), ec);
    if (ec) {
      return;
    }
    if (size > kMaxCheckpointBytes) {
      log->warn("device checkpoint too large, ignored path={} bytes={}", checkpointPath(), size);
      return;
    }
    std::ifstream in(checkpointPath());
    std::stringstream ss;
    ss << in.rdbuf();
    auto restored = decodeCheckpoint(ss.str());
    if (!restored.ok()) {
      log->warn("device checkpoint unreadable, ignored path={} err=\"{}\"", checkpointPath(),
                restored.status().message());
      return;
    }
    for (const auto& [uid, cs] : *restored) {
      for (const auto& [name, cd] : cs) {
        for (const auto& [res, ids] : cd.device_ids) {
          // A known resource: its devices come when its plugin registers, within the grace
          // period (the kubelet restores stopped endpoints the same way).
          ResourceState& rs = resources[res];
          if (!rs.stopped_at) {
            rs.stopped_at = std::chrono::steady_clock::now();
          }
        }
      }
    }
    pods = std::move(*restored);
    log->info("device allocations restored pods={} path={}", pods.size(), checkpointPath());
  }

  // ---- admission --------------------------------------------------------------------------

  // Devices of `res` used by pods other than `uid`. Holds mu.
  std::set<std::string> inUseLocked(const std::string& res, const std::string& uid) const {
    std::set<std::string> out;
    for (const auto& [pu, cs] : pods) {
      if (pu == uid) {
        continue;
      }
      for (const auto& [name, d] : cs) {
        auto it = d.device_ids.find(res);
        if (it != d.device_ids.end()) {
          out.insert(it->second.begin(), it->second.end());
        }
      }
    }
    return out;
  }

  static std::string admissionMessage(const std::string& err) {
    // cm/admission/errors.go unexpectedAdmissionError.
    return "Allocate failed due to " + err + ", which is unexpected";
  }

  // An admission refused with `err`; false.
  static bool refuse(Admission& out, const std::string& err) {
    out.admitted = false;
    out.reason = kReasonUnexpectedAdmission;
    out.message = admissionMessage(err);
    return false;
  }

  // Devices of each resource given to the pod's init containers (reusable by later containers)
  // and app containers during one admission.
  struct UsedDevices {
    std::map<std::string, std::set<std::string>> init;
    std::map<std::string, std::set<std::string>> app;
  };

  // Picks `n` devices of `res` for container `w` of pod `uid` (those an init container used
  // first, then free healthy ones) and has the plugin Allocate them into `cd`. False with the
  // refusal in `out` when it cannot.
  bool allocateResource(const std::string& uid, const ContainerDeviceRequest& w,
                        const std::string& res, int64_t n, UsedDevices& used, ContainerDevices& cd,
                        Admission& out) {
    std::vector<std::string> reusable;
    std::vector<std::string> free;
    std::shared_ptr<Endpoint> ep;
    bool offers_preferred = false;
    {
      std::lock_guard lock(mu);
      auto it = resources.find(res);
      ep = it == resources.end() ? nullptr : it->second.ep;
      offers_preferred = ep && ep->options.get_preferred_allocation_available();
      std::set<std::string> busy = inUseLocked(res, uid);
      for (const auto& id : used.init[res]) {
        if (!used.app[res].count(id)) {
          reusable.push_back(id);
        }
      }
      if (it != resources.end()) {
        for (const auto& [id, healthy] : it->second.devices) {
          if (healthy && !busy.count(id) && !used.init[res].count(id) && !used.app[res].count(id)) {
            free.push_back(id);
          }
        }
      }
    }
    size_t available = reusable.size() + free.size();
    if (!ep || ep->stopped || available == 0) {
      return refuse(out,
                    available == 0 && ep && !ep->stopped
                        ? "requested number of devices unavailable for " + res +
                              ". Requested: " + std::to_string(n) + ", Available: 0"
                        : "no healthy devices present; cannot allocate unhealthy devices " + res);
    }
    if (available < static_cast<size_t>(n)) {
      return refuse(out, "requested number of devices unavailable for " + res + ". Requested: " +
                             std::to_string(n) + ", Available: " + std::to_string(available));
    }
    std::vector<std::string> chosen;
    if (reusable.size() >= static_cast<size_t>(n)) {
      chosen.assign(reusable.begin(), reusable.begin() + n);
    } else {
      chosen = reusable;
      size_t rest = static_cast<size_t>(n) - reusable.size();
      std::vector<std::string> pick(free.begin(), free.begin() + rest);
      if (offers_preferred && free.size() > rest) {
        pick = preferredPick(*ep, res, reusable, free, n, std::move(pick));
      }
      chosen.insert(chosen.end(), pick.begin(), pick.end());
    }
    api::AllocateRequest areq;
    auto* cr = areq.add_container_requests();
    for (const auto& id : chosen) {
      cr->add_devices_ids(id);
    }
    api::AllocateResponse aresp;
    grpc::ClientContext ctx;
    ctx.set_deadline(deadlineAfter(opts.rpc_timeout));
    grpc::Status st = ep->stub->Allocate(&ctx, areq, &aresp);
    if (!st.ok() || aresp.container_responses_size() != 1) {
      return refuse(out, "Allocate for " + res + " failed: " +
                             (st.ok() ? std::string("the plugin returned no container response")
                                      : st.error_message()));
    }
    merge(cd, aresp.container_responses(0));
    cd.device_ids[res] = chosen;
    for (const auto& id : chosen) {
      (w.init ? used.init : used.app)[res].insert(id);
    }
    log->info("devices allocated pod_uid={} container={} resource={} ids={}", uid, w.name, res,
              fmt::join(chosen, ","));
    return true;
  }

  // The plugin's GetPreferredAllocation among `free` (must include `reusable`); `pick` when it
  // fails or answers something else than the `pick.size()` free devices asked for.
  std::vector<std::string> preferredPick(Endpoint& ep, const std::string& res,
                                         const std::vector<std::string>& reusable,
                                         const std::vector<std::string>& free, int64_t n,
                                         std::vector<std::string> pick) {
    const size_t rest = pick.size();
    api::PreferredAllocationRequest preq;
    auto* cr = preq.add_container_requests();
    for (const auto& id : reusable) {
      cr->add_available_deviceids(id);
      cr->add_must_include_deviceids(id);
    }
    for (const auto& id : free) {
      cr->add_available_deviceids(id);
    }
    cr->set_allocation_size(static_cast<int32_t>(n));
    api::PreferredAllocationResponse presp;
    grpc::ClientContext ctx;
    ctx.set_deadline(deadlineAfter(opts.rpc_timeout));
    grpc::Status st = ep.stub->GetPreferredAllocation(&ctx, preq, &presp);
    if (st.ok() && presp.container_responses_size() == 1) {
      std::set<std::string> free_set(free.begin(), free.end());
      std::vector<std::string> preferred;
      for (const auto& id : presp.container_responses(0).deviceids()) {
        if (free_set.erase(id)) {
          preferred.push_back(id);
        }
      }
      if (preferred.size() == rest) {
        pick = preferred;
      }
    } else if (!st.ok()) {
      log->warn("GetPreferredAllocation failed, picking in order resource={} err=\"{}\"", res,
                st.error_message());
    }
    return pick;
  }

  Admission admit(const json& pod) {
    Admission out;
    const json empty = json::object();
    const json& md =
        pod.contains("metadata") && pod["metadata"].is_object() ? pod["metadata"] : empty;
    std::string uid = strField(md, "uid");
    if (uid.empty()) {
      return out;  // not a pod edged runs (it checks uids first)
    }
    const json& spec = pod.contains("spec") && pod["spec"].is_object() ? pod["spec"] : empty;
    std::vector<ContainerDeviceRequest> wants;
    {
      std::lock_guard lock(mu);
      if (pods.count(uid)) {
        return out;
      }
      wants = deviceRequests(spec, [this](const std::string& name) {
        auto r = resources.find(name);
        // Not a device plugin resource: the kubelet ignores it here too.
        return r != resources.end() && !(r->second.expired && inUseLocked(name, "").empty());
      });
    }
    if (wants.empty()) {
      return out;
    }
    std::lock_guard admit_lock(admit_mu);
    std::map<std::string, ContainerDevices> result;
    UsedDevices used;
    for (const auto& w : wants) {
      ContainerDevices& cd = result[w.name];
      for (const auto& [res, n] : w.need) {
        if (!allocateResource(uid, w, res, n, used, cd, out)) {
          return out;
        }
      }
    }
    std::lock_guard lock(mu);
    pods[uid] = std::move(result);
    writeCheckpointLocked();
    return out;
  }
};

DeviceManager::DeviceManager(Options options, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(options);
  impl_->log = std::move(log);
}

DeviceManager::~DeviceManager() { stop(); }

std::string DeviceManager::socketPath() const { return impl_->socketPath(); }
std::string DeviceManager::checkpointPath() const { return impl_->checkpointPath(); }

Status DeviceManager::start() {
  std::error_code ec;
  fs::create_directories(impl_->opts.plugin_dir, ec);
  if (ec) {
    return core::internalError("cannot create " + impl_->opts.plugin_dir + ": " + ec.message());
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->readCheckpoint();
  }
  {
    std::lock_guard sl(impl_->server_mu);
    EC_RETURN_IF_ERROR(impl_->serve());
  }
  impl_->watcher = std::thread([impl = impl_.get()] { impl->watch(); });
  impl_->log->info("device plugin registration serving socket={}", impl_->socketPath());
  return {};
}

void DeviceManager::stop() {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) {
      return;
    }
    impl_->stopping = true;
    for (auto& [name, rs] : impl_->resources) {
      if (rs.ep) {
        eps.push_back(rs.ep);
      }
    }
    eps.insert(eps.end(), impl_->retired.begin(), impl_->retired.end());
    impl_->retired.clear();
  }
  impl_->stop_cv.notify_all();
  if (impl_->watcher.joinable()) {
    impl_->watcher.join();
  }
  {
    std::lock_guard sl(impl_->server_mu);
    if (impl_->server) {
      impl_->server->Shutdown(deadlineAfter(std::chrono::seconds(1)));
      impl_->server.reset();
      std::error_code ec;
      fs::remove(impl_->socketPath(), ec);
    }
  }
  for (auto& ep : eps) {
    ep->cancel();
  }
  for (auto& ep : eps) {
    if (ep->reader.joinable()) {
      ep->reader.join();
    }
  }
}

std::map<std::string, ResourceCount> DeviceManager::resources() const {
  std::lock_guard lock(impl_->mu);
  std::map<std::string, ResourceCount> out;
  for (const auto& [name, rs] : impl_->resources) {
    if (rs.expired) {
      continue;
    }
    ResourceCount c;
    c.capacity = static_cast<int64_t>(rs.devices.size());
    for (const auto& [id, healthy] : rs.devices) {
      c.allocatable += healthy ? 1 : 0;
    }
    out[name] = c;
  }
  return out;
}

std::map<std::string, std::vector<std::string>> DeviceManager::allocatableDevices() const {
  std::lock_guard lock(impl_->mu);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, rs] : impl_->resources) {
    if (rs.expired) {
      continue;
    }
    auto& ids = out[name];
    for (const auto& [id, healthy] : rs.devices) {
      if (healthy) {
        ids.push_back(id);
      }
    }
  }
  return out;
}

Admission DeviceManager::admitPod(const nlohmann::json& pod) {
  if (!pod.is_object()) {
    return {};
  }
  return impl_->admit(pod);
}

ContainerDevices DeviceManager::containerDevices(const std::string& uid,
                                                 const std::string& container) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->pods.find(uid);
  if (it == impl_->pods.end()) {
    return {};
  }
  auto c = it->second.find(container);
  return c == it->second.end() ? ContainerDevices{} : c->second;
}

Status DeviceManager::prepareContainer(const std::string& uid, const std::string& container,
                                       runtime::v1::ContainerConfig* config) {
  ContainerDevices cd;
  std::vector<std::pair<std::shared_ptr<Endpoint>, std::vector<std::string>>> pre_start;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->pods.find(uid);
    if (it == impl_->pods.end()) {
      return {};
    }
    auto c = it->second.find(container);
    if (c == it->second.end()) {
      return {};
    }
    cd = c->second;
    for (const auto& [res, ids] : cd.device_ids) {
      auto r = impl_->resources.find(res);
      if (r != impl_->resources.end() && r->second.ep &&
          r->second.ep->options.pre_start_required()) {
        pre_start.emplace_back(r->second.ep, ids);
      }
    }
  }
  for (const auto& [ep, ids] : pre_start) {
    if (!ep->stub) {
      return core::unavailable("device plugin for " + ep->resource + " is not connected");
    }
    api::PreStartContainerRequest req;
    for (const auto& id : ids) {
      req.add_devices_ids(id);
    }
    api::PreStartContainerResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(deadlineAfter(impl_->opts.pre_start_timeout));
    grpc::Status st = ep->stub->PreStartContainer(&ctx, req, &resp);
    if (!st.ok()) {
      return core::unavailable("PreStartContainer for " + ep->resource +
                               " failed: " + st.error_message());
    }
  }
  // Device envs come before the container's own (the kubelet appends the pod's env after the
  // device manager's, so a pod env of the same name wins at the runtime).
  google::protobuf::RepeatedPtrField<runtime::v1::KeyValue> envs;
  for (const auto& [k, v] : cd.envs) {
    auto* kv = envs.Add();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& kv : config->envs()) {
    *envs.Add() = kv;
  }
  config->mutable_envs()->Swap(&envs);
  for (const auto& m : cd.mounts) {
    auto* cm = config->add_mounts();
    cm->set_container_path(m.container_path);
    cm->set_host_path(m.host_path);
    cm->set_readonly(m.read_only);
  }
  for (const auto& d : cd.devices) {
    auto* cdev = config->add_devices();
    cdev->set_container_path(d.container_path);
    cdev->set_host_path(d.host_path);
    cdev->set_permissions(d.permissions);
  }
  for (const auto& [k, v] : cd.annotations) {
    (*config->mutable_annotations())[k] = v;
  }
  for (const auto& name : cd.cdi_devices) {
    config->add_cdi_devices()->set_name(name);
  }
  return {};
}

void DeviceManager::releasePod(const std::string& uid) {
  std::lock_guard lock(impl_->mu);
  if (impl_->pods.erase(uid) > 0) {
    impl_->log->info("devices released pod_uid={}", uid);
    impl_->writeCheckpointLocked();
  }
}

void DeviceManager::retainOnly(const std::set<std::string>& uids) {
  std::lock_guard lock(impl_->mu);
  bool changed = false;
  for (auto it = impl_->pods.begin(); it != impl_->pods.end();) {
    if (!uids.count(it->first)) {
      impl_->log->info("devices released pod_uid={} (pod no longer exists)", it->first);
      it = impl_->pods.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) {
    impl_->writeCheckpointLocked();
  }
}

std::set<std::string> DeviceManager::allocatedPods() const {
  std::lock_guard lock(impl_->mu);
  std::set<std::string> out;
  for (const auto& [uid, cs] : impl_->pods) {
    out.insert(uid);
  }
  return out;
}

}  // namespace edgecore::edged::deviceplugin
