// The edged module, a coordinator over named parts: it owns the pod table (pod_entry.h), the
// lifecycle (start/stop, timers, the strand, edged's CRI pool) and the loops (main, relist,
// status re-check, static manifests), and wires the parts: pod_intake (what a pod message asks),
// pod_worker (a pod's sync steps), pod_status_reporter (status patches, mirror pods),
// node_reporter (registration, node status, lease), probe_runner, event_sender, pod_snapshot +
// server_routes (the HTTP server), log_rotation, deviceplugin/ (spec/local-apis.md 6.2-6.6).
//
// Threading: all state lives on the module strand. CRI calls run on edged's own small thread
// pool (pool_) through onPool(); a pod is never synced by two threads at once (PodEntry::syncing).

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <list>
#include <map>
#include <optional>
#include <set>

#include "cgroup_policy.h"
#include "deviceplugin/pod_resources.h"
#include "edgecore/core/async/offload.h"
#include "edgecore/core/config.h"
#include "edgecore/core/message.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/edged/module.h"
#include "event_sender.h"
#include "hold_upgrade.h"
#include "log_rotation.h"
#include "node_reporter.h"
#include "pod_entry.h"
#include "pod_intake.h"
#include "pod_runtime.h"
#include "pod_snapshot.h"
#include "pod_status_reporter.h"
#include "pod_worker.h"
#include "probe_runner.h"
#include "server_routes.h"
#include "static_pods.h"
#include "token/token_manager.h"

namespace edgecore::edged {

namespace asio = boost::asio;
using core::Message;
using core::Result;
using core::Status;
using json = nlohmann::json;
using json_read::str;
using json_read::sub;

namespace {

constexpr size_t kMaxPods = 1000;  // bound on pods edged keeps (maxPods is 110 by default)

}  // namespace

class EdgedModule final : public Edged, public std::enable_shared_from_this<EdgedModule> {
 public:
  EdgedModule(core::ModuleContext ctx, EdgedOptions options, cri::CriClientPtr cri)
      : ctx_(std::move(ctx)),
        options_(std::move(options)),
        cfg_(ctx_.config.modules.edged),
        node_name_(cfg_.hostname_override),
        events_(node_name_, cfg_.report_event, ctx_.bus, ctx_.log),
        cri_(std::move(cri)),
        backoff_(restartBackoffLimits(options_.backoff_base, cfg_)),
        pool_(std::make_shared<asio::thread_pool>(
            static_cast<size_t>(std::max(1, options_.cri_threads)))),
        relist_timer_(ctx_.strand),
        status_timer_(ctx_.strand),
        static_timer_(ctx_.strand) {
    if (options_.read_stored_object) {
      objects_ = makeStoredObjectSource(options_.read_stored_object);
    }
    if (auto p = makeLogRotationPolicy(cfg_.container_log_max_size, cfg_.container_log_max_files);
        p.ok()) {
      log_policy_ = *p;
    } else {
      ctx_.log->error("container log rotation off err=\"{}\"", p.status().message());
    }
    // Host facts once at creation (small /proc reads): node capacity for QoS and env defaults.
    SyncSettings s =
        syncSettingsOf(cfg_, hostIp(), readHostFacts(cfg_.root_directory), objects_.get());
    devices_ = makeDeviceManager();
    s.devices = devices_.get();
    runtime_ = std::make_unique<PodRuntimeManager>(*cri_, std::move(s), backoff_, ctx_.log);
    tokens_ = std::make_unique<ServiceAccountTokenManager>(
        ctx_.bus, ctx_.log,
        std::min<std::chrono::milliseconds>(options_.bus_timeout, std::chrono::seconds(15)));
  }

  ~EdgedModule() override {
    pool_->stop();
    pool_->join();
  }

  // core::Module
  std::string_view name() const override { return core::names::kEdgedModule; }
  std::string_view group() const override { return core::names::kEdgedGroup; }

  Status start() override {
    auto weak = weak_from_this();
    EC_RETURN_IF_ERROR(ctx_.bus.subscribe(name(), group(), ctx_.strand, [weak](Message m) {
      if (auto self = weak.lock()) {
        self->handle(std::move(m));
      }
    }));
    if (Status dev = devices_->start(); !dev.ok()) {
      ctx_.log->warn("device plugin registration not served err=\"{}\"", dev.message());
    }
    startPodResources();
    ctx_.log->info(
        "edged starting node={} runtime={} root={} pod_logs={} static_pods={} backoff_base_ms={}",
        node_name_, cri_->options().runtime_endpoint, cfg_.root_directory, cfg_.pod_logs_dir,
        cfg_.static_pod_path, options_.backoff_base.count());
    node_ = makeNodeReporter();
    status_ = makeStatusReporter();
    probes_ = makeProbeRunner();
    startServer();
    spawn(mainLoop(shared_from_this()), "edged main loop");
    return {};
  }

  // On the module strand. Cancels every edged coroutine so none keeps the io_context busy past
  // the stop (an in-flight CRI call finishes on its own deadline).
  void stop() override {
    if (pod_resources_) {
      pod_resources_->stop();
    }
    devices_->stop();  // thread-safe; plugins see kubelet.sock go away
    if (!stopping_) {
      stopping_ = true;
      if (node_) {
        node_->stop();
      }
      for (auto& [uid, e] : pods_) {
        ProbeRunner::stop(e);
      }
      relist_timer_.cancel();
      status_timer_.cancel();
      static_timer_.cancel();
      for (auto& sig : signals_) {
        sig.emit(asio::cancellation_type::terminal);
      }
      if (server_) {
        server_->stop();
      }
    }
    ctx_.bus.unsubscribe(name());
    // Containers keep running across an edgecore restart (KillMode=process): nothing is killed.
  }

  uint16_t serverPort() const override { return server_port_.load(); }

  std::vector<PodSummary> pods() const override { return snapshot_->pods(); }

 private:
  // The kubelet device-plugin API (src/edged/deviceplugin) on <root>/device-plugins.
  deviceplugin::DeviceManagerPtr makeDeviceManager() {
    deviceplugin::DeviceManager::Options o;
    o.plugin_dir = cfg_.root_directory + "/device-plugins";
    o.stop_grace_period = options_.device_plugin_stop_grace;
    return std::make_unique<deviceplugin::DeviceManager>(std::move(o), ctx_.log);
  }

  // The PodResources API on <root>/pod-resources/kubelet.sock (deviceplugin/pod_resources.h):
  // the pods edged knows, with the devices of their containers.
  void startPodResources() {
    deviceplugin::PodResourcesServer::Options o;
    o.dir = cfg_.root_directory + "/pod-resources";
    std::weak_ptr<EdgedModule> weak = weak_from_this();
    o.pods = [weak] {
      auto self = weak.lock();
      return self ? podResourceRefs(self->pods()) : std::vector<deviceplugin::PodRef>{};
    };
    pod_resources_ =
        std::make_unique<deviceplugin::PodResourcesServer>(std::move(o), *devices_, ctx_.log);
    if (Status st = pod_resources_->start(); !st.ok()) {
      ctx_.log->warn("pod resources API not served err=\"{}\"", st.message());
    }
  }

  std::string hostIp() const { return cfg_.node_ip.empty() ? options_.host_ip : cfg_.node_ip; }

  // Runs `f` on the CRI pool; resumes on the strand.
  template <typename F>
  asio::awaitable<std::invoke_result_t<F&>> onPool(F f) {
    return core::offload(pool_, std::move(f));
  }

  // Starts a coroutine on the strand with a cancellation signal that stop() emits. Strand only.
  template <typename Coro>
  void spawn(Coro coro, const char* what) {
    if (stopping_) {
      return;
    }
    auto it = signals_.emplace(signals_.end());
    std::weak_ptr<EdgedModule> weak = weak_from_this();
    asio::co_spawn(ctx_.strand, std::move(coro),
                   asio::bind_cancellation_slot(
                       it->slot(), [weak, it, log = ctx_.log, what](std::exception_ptr e) {
                         if (auto self = weak.lock()) {
                           self->signals_.erase(it);
                         }
                         if (!e) {
                           return;
                         }
                         try {
                           std::rethrow_exception(e);
                         } catch (const boost::system::system_error& ex) {
                           if (ex.code() != asio::error::operation_aborted) {
                             log->error("{} ended with an exception err=\"{}\"", what, ex.what());
                           }
                         } catch (const std::exception& ex) {
                           log->error("{} ended with an exception err=\"{}\"", what, ex.what());
                         }
                       }));
  }

  asio::awaitable<void> sleepFor(asio::steady_timer& timer, std::chrono::milliseconds d) {
    timer.expires_after(d);
    auto op = timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_await std::move(op);
  }

  // ---- main loop --------------------------------------------------------------------------

  static asio::awaitable<void> mainLoop(std::shared_ptr<EdgedModule> self) {
    // 1. The runtime: wait until it answers (it may start after us).
    bool warned = false;
    while (!self->stopping_) {
      auto version_op = self->onPool([cri = self->cri_.get()] { return cri->version(); });
      auto v = co_await std::move(version_op);
      if (v.ok()) {
        self->ctx_.log->info("container runtime ready name={} version={} api={}", v->runtime_name(),
                             v->runtime_version(), v->runtime_api_version());
        self->runtime_version_ = v->runtime_name() + "://" + v->runtime_version();
        break;
      }
      if (!warned) {
        self->ctx_.log->warn("container runtime not answering, retrying err=\"{}\"",
                             v.status().message());
        warned = true;
      }
      co_await self->sleepFor(self->relist_timer_, std::chrono::seconds(1));
    }
    if (self->stopping_) {
      co_return;
    }
    // 2. What already runs (adopted by uid, never started twice).
    co_await self->relistOnce();
    // 3. Static pods, then the stored pods as a full set.
    co_await self->scanStatic();
    co_await self->queryPods();
    // The status re-check: what the cloud refused (offline) goes out again.
    self->spawn(every(self, self->status_timer_, self->options_.status_period,
                      [self]() -> asio::awaitable<void> {
                        for (auto& [uid, e] : self->pods_) {
                          self->status_->send(e);
                        }
                        co_return;
                      }),
                "edged status loop");
    if (self->cfg_.register_node) {
      self->spawn(keepAlive(self, self->node_->reportStatus()), "edged node status loop");
      self->spawn(keepAlive(self, self->node_->renewLease()), "edged lease loop");
    }
    self->spawn(
        every(self, self->static_timer_,
              staticScanPeriod(self->options_.static_pod_period, self->cfg_.file_check_frequency),
              [self] { return self->scanStatic(); }),
        "edged static pod loop");
    // 4. The relist loop.
    while (!self->stopping_) {
      co_await self->sleepFor(self->relist_timer_, self->options_.relist_period);
      if (self->stopping_) {
        break;
      }
      co_await self->relistOnce();
      self->runProbes();
    }
  }

  asio::awaitable<void> relistOnce() {
    auto relist_op = onPool([rt = runtime_.get()] { return rt->relist(); });
    auto snap = co_await std::move(relist_op);
    if (!snap.ok()) {
      relist_failures_++;
      if (relist_failures_ == 1 || relist_failures_ % 60 == 0) {
        ctx_.log->warn("relist failed failures={} err=\"{}\"", relist_failures_,
                       snap.status().message());
      }
      co_return;
    }
    if (relist_failures_ > 0) {
      ctx_.log->info("relist works again after failures={}", relist_failures_);
      relist_failures_ = 0;
    }
    const auto now = std::chrono::system_clock::now();
    for (auto& [uid, e] : pods_) {
      if (e.syncing) {
        continue;
      }
      auto it = snap->find(uid);
      RelistVerdict v =
          afterRelist(e, it == snap->end() ? PodRuntime{} : it->second, backoff_, now,
                      std::chrono::steady_clock::now(), cfg_.max_per_pod_container_count);
      if (v.sync) {
        triggerSync(e);
      } else if (v.back_off) {
        recordBackOffs(e, *v.back_off);
        e.waiting = std::move(*v.back_off);
      }
      if (v.update_status) {
        status_->update(e);
      }
    }
    maybeRotateLogs();
    if (pods_loaded_) {
      for (const auto& uid :
           orphanPods(*snap, pods_, holds_.notOrphans(orphans_in_flight_), node_name_)) {
        removeOrphan(uid);
      }
    }
    publishSummaries();
  }

  void removeOrphan(const std::string& uid) {
    orphans_in_flight_.insert(uid);
    ctx_.log->info("removing pod no longer wanted uid={}", uid);
    auto self = shared_from_this();
    spawn(
        [](std::shared_ptr<EdgedModule> self, std::string uid) -> asio::awaitable<void> {
          auto remove_op =
              self->onPool([rt = self->runtime_.get(), uid] { return rt->removePod(uid, 0); });
          auto st = co_await std::move(remove_op);
          if (!st.ok()) {
            self->ctx_.log->warn("orphan removal failed uid={} err=\"{}\"", uid, st.message());
          } else {
            (void)removePodDir(self->cfg_.root_directory, uid);
            self->ctx_.log->info("orphan pod removed from the runtime uid={}", uid);
          }
          self->orphans_in_flight_.erase(uid);
        }(self, uid),
        "orphan removal");
  }

  // ---- intake -----------------------------------------------------------------------------

  void handle(Message msg) {
    PodMessage m = classifyPodMessage(msg);
    switch (m.kind) {
      case PodMessage::Kind::Ignore:
        ctx_.log->debug("message ignored op={} resource={}", msg.route.operation,
                        msg.route.resource);
        break;
      case PodMessage::Kind::Malformed:
        ctx_.log->warn("pod message without a pod object op={} resource={}", msg.route.operation,
                       msg.route.resource);
        break;
      case PodMessage::Kind::Upsert:
      case PodMessage::Kind::Unhold:  // what is not held (any more) is applied
        for (auto& pod : holds_.admit(std::move(m))) {
          addOrUpdate(std::move(pod), false);
        }
        break;
      case PodMessage::Kind::Requery:
        // Deleted while we were offline (forced): the full set tells what is left.
        ctx_.log->info("pod delete without a spec: re-querying all pods resource={}",
                       msg.route.resource);
        spawn(requery(shared_from_this()), "pod re-query");
        break;
      case PodMessage::Kind::Delete:
        holds_.forget(m.pod);
        removePod(m.pod);
        break;
      case PodMessage::Kind::FullSet:
        applySet(m.pods);
        break;
    }
  }

  static asio::awaitable<void> requery(std::shared_ptr<EdgedModule> self) {
    co_await self->queryPods();
  }

  asio::awaitable<void> queryPods() {
    const std::string ns =
        cfg_.register_node_namespace.empty() ? "default" : cfg_.register_node_namespace;
    for (int attempt = 0; !stopping_; ++attempt) {
      Message q = Message::create(core::names::kEdgedModule, core::names::kMetaGroup,
                                  core::op::kQuery, ns + "/pod");
      auto op =
          ctx_.bus.request(core::names::kMetaManagerModule, std::move(q), options_.bus_timeout);
      Result<Message> resp = co_await std::move(op);
      if (resp.ok() && resp->content.is_array()) {
        applySet(resp->content);
        co_return;
      }
      if (!resp.ok() && resp.status().code() == core::StatusCode::NotFound) {
        ctx_.log->info("metamanager not running: only static pods");
        applySet(json::array());
        co_return;
      }
      ctx_.log->warn("pod query failed attempt={} err=\"{}\"", attempt + 1,
                     resp.ok() ? "unexpected content " + resp->contentData().substr(0, 200)
                               : resp.status().message());
      co_await sleepFor(relist_timer_, std::chrono::seconds(2));
    }
  }

  // A full set of the cloud's pods (static pods are not part of it).
  void applySet(const json& list) {
    std::set<std::string> wanted;
    size_t used = 0;
    for (auto& pod : holds_.filterSet(podsOfNode(list, node_name_), wanted)) {
      wanted.insert(str(sub(pod, "metadata"), "uid"));
      addOrUpdate(std::move(pod), false);
      ++used;
    }
    removeMissing(false, wanted);
    if (!pods_loaded_) {
      std::set<std::string> known;
      for (const auto& [uid, e] : pods_) {
        known.insert(uid);
      }
      devices_->retainOnly(known);  // allocations of pods deleted while we were down
      ctx_.log->info("pods loaded from the store pods={} static={}", used, staticPodCount(pods_));
    }
    pods_loaded_ = true;
  }

  // Removes the pods of one source (static manifests or the cloud) that are not in `wanted`.
  void removeMissing(bool is_static, const std::set<std::string>& wanted) {
    for (auto& p : missingPods(pods_, is_static, wanted)) {
      removePod(p);
    }
  }

  void addOrUpdate(json pod, bool is_static) {
    const PodKey k = podKey(pod);
    if (!is_static && isMirrorPod(pod)) {
      // The API server's copy of one of our static pods: never run, only its uid matters
      // (the kubelet's pod manager keeps mirror pods apart the same way).
      status_->noteMirror(findStaticPod(pods_, k.ns, k.name), k.ns, k.name, k.uid,
                          str(sub(sub(pod, "metadata"), "annotations"), kMirrorAnnotation));
      return;
    }
    if (k.uid.empty() || k.name.empty()) {
      ctx_.log->warn("pod without uid or name ignored ns={} name={}", k.ns, k.name);
      return;
    }
    if (!is_static && str(sub(pod, "spec"), "nodeName") != node_name_) {
      ctx_.log->debug("pod for another node ignored pod={}/{}", k.ns, k.name);
      return;
    }
    auto it = pods_.find(k.uid);
    if (it == pods_.end()) {
      if (pods_.size() >= kMaxPods) {
        ctx_.log->warn("pod refused: edged keeps at most {} pods pod={}/{}", kMaxPods, k.ns,
                       k.name);
        return;
      }
      PodEntry e = newPodEntry(k, std::move(pod), is_static, std::chrono::system_clock::now());
      it = pods_.emplace(k.uid, std::move(e)).first;
      ctx_.log->info("pod added pod={}/{} uid={} static={}", k.ns, k.name, k.uid, is_static);
    } else if (updatePodEntry(it->second, std::move(pod))) {
      ctx_.log->info("pod spec changed pod={}/{} uid={}", k.ns, k.name, k.uid);
    }
    PodEntry& e = it->second;
    if (startApiDeletion(e)) {
      ctx_.log->info("pod deletion started pod={}/{} grace_s={}", k.ns, k.name, e.grace_seconds);
    }
    triggerSync(e);
  }

  void removePod(const json& pod) {
    std::string uid = str(sub(pod, "metadata"), "uid");
    if (isMirrorPod(pod)) {
      PodStatusReporter::forgetMirror(pods_, uid);
      return;
    }
    auto it = pods_.find(uid);
    if (it == pods_.end()) {
      PodStatusReporter::forgetMirror(pods_,
                                      uid);  // a mirror pod whose delete carried no annotations
      ctx_.log->debug("delete for a pod edged does not run uid={}", uid);
      return;
    }
    PodEntry& e = it->second;
    if (e.is_static && !e.mirror_uid.empty() && !e.deleting) {
      status_->deleteMirror(e.ns, e.name, e.mirror_uid);
      e.mirror_uid.clear();
    }
    if (e.terminated) {
      // The cloud's final delete after our confirmation.
      forget(uid);
      return;
    }
    if (!e.deleting) {
      e.deleting = true;
      e.api_delete = false;
      e.grace_seconds = gracePeriodOf(pod);
      ctx_.log->info("pod removal started pod={}/{} grace_s={}", e.ns, e.name, e.grace_seconds);
    }
    e.api_delete = false;
    triggerSync(e);
  }

  void forget(const std::string& uid) {
    auto it = pods_.find(uid);
    if (it == pods_.end()) {
      return;
    }
    ctx_.log->info("pod removed pod={}/{} uid={}", it->second.ns, it->second.name, uid);
    tokens_->forgetPod(uid);
    ProbeRunner::stop(it->second);
    devices_->releasePod(uid);
    backoff_.forget(uid + "/");
    pods_.erase(it);
    publishSummaries();
  }

  // ---- static pods ------------------------------------------------------------------------

  // Runs `step` every `period` on `timer` until the module stops.
  template <typename Step>
  static asio::awaitable<void> every(std::shared_ptr<EdgedModule> self, asio::steady_timer& timer,
                                     std::chrono::milliseconds period, Step step) {
    while (!self->stopping_) {
      co_await self->sleepFor(timer, period);
      if (self->stopping_) {
        break;
      }
      auto step_op = step();
      co_await std::move(step_op);
    }
  }

  asio::awaitable<void> scanStatic() {
    if (cfg_.static_pod_path.empty()) {
      co_return;
    }
    auto scan_op = onPool(
        [dir = cfg_.static_pod_path, node = node_name_] { return scanStaticPods(dir, node); });
    auto scan = co_await std::move(scan_op);
    if (!scan.ok()) {
      ctx_.log->warn("static pod scan failed dir={} err=\"{}\"", cfg_.static_pod_path,
                     scan.status().message());
      co_return;
    }
    logNewStaticPodErrors(scan->errors, static_errors_, *ctx_.log);
    std::set<std::string> wanted;
    for (auto& pod : scan->pods) {
      std::string uid = str(sub(pod, "metadata"), "uid");
      wanted.insert(uid);
      if (!pods_.count(uid)) {
        addOrUpdate(std::move(pod), true);
      }
    }
    removeMissing(true, wanted);
  }

  // ---- pod workers ------------------------------------------------------------------------

  void triggerSync(PodEntry& e) {
    auto sync = beginSync(e, std::chrono::steady_clock::now(), cfg_.sync_frequency);
    if (sync) {
      spawn(syncWorker(shared_from_this(), e.uid, std::move(sync->request), sync->fetch_objects),
            "pod sync");
    }
  }

  static asio::awaitable<void> syncWorker(std::shared_ptr<EdgedModule> self, std::string uid,
                                          SyncRequest req, bool fetch) {
    auto t0 = std::chrono::steady_clock::now();
    if (fetch && self->objects_ != nullptr) {
      auto refs = referencedObjects(req.pod);
      if (!refs.empty()) {
        std::string ns = str(sub(req.pod, "metadata"), "namespace");
        auto fetch_op = fetchReferencedObjects(self->ctx_.bus, self->options_.bus_timeout,
                                               ns.empty() ? "default" : ns, std::move(refs));
        FetchedObjects fetched = co_await std::move(fetch_op);
        req.objects = makeFetchedObjectSource(std::move(fetched), self->objects_.get());
      }
      if (self->stopping_) {
        co_return;
      }
    }
    if (fetch) {
      // Projected serviceAccountToken sources (token/token_manager.h): fetched with the objects,
      // and the pod syncs again when one is due for a refresh.
      auto token_op = self->tokens_->fetch(req.pod);
      TokenFetch tokens = co_await std::move(token_op);
      if (self->stopping_) {
        co_return;
      }
      if (!tokens.tokens.empty()) {
        req.tokens = makeFetchedTokenSource(std::move(tokens.tokens));
      }
      if (auto it = self->pods_.find(uid); it != self->pods_.end()) {
        it->second.token_refresh_at = tokens.next_refresh;
      }
    }
    auto sync_op = self->onPool(
        [rt = self->runtime_.get(), req = std::move(req)] { return rt->syncPod(req); });
    SyncResult r = co_await std::move(sync_op);
    auto it = self->pods_.find(uid);
    if (it == self->pods_.end()) {
      co_return;
    }
    PodEntry& e = it->second;
    SyncOutcome out = finishSync(e, r, *self->ctx_.log, std::chrono::steady_clock::now());
    for (auto& ev : out.events) {
      self->recordEvent(e, std::move(ev));
    }
    if (r.terminal) {
      self->devices_->releasePod(uid);  // a finished pod gives its devices back
    }
    self->ctx_.log->debug(
        "pod synced pod={}/{} ms={} started={}", e.ns, e.name,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count(),
        r.started.size());
    if (out.terminated) {
      self->finishDeletion(e);
      co_return;
    }
    self->status_->update(e);
    self->publishSummaries();
    if (e.dirty) {
      self->triggerSync(e);
    }
  }

  void finishDeletion(PodEntry& e) {
    if (!e.api_delete) {
      forget(e.uid);
      return;
    }
    spawn(confirmDelete(shared_from_this(), e.uid), "pod delete confirmation");
  }

  // Tells the cloud the pod is gone, every 10 s until it accepts (or deletes it first).
  static asio::awaitable<void> confirmDelete(std::shared_ptr<EdgedModule> self, std::string uid) {
    for (int attempt = 0; !self->stopping_; ++attempt) {
      auto it = self->pods_.find(uid);
      if (it == self->pods_.end()) {
        co_return;  // the cloud's delete came first
      }
      auto confirm_op = confirmPodDeleted(self->ctx_.bus, self->options_.bus_timeout, it->second.ns,
                                          it->second.name, uid);
      Status st = co_await std::move(confirm_op);
      if (st.ok()) {
        self->ctx_.log->info("pod deletion confirmed to the cloud uid={}", uid);
        self->forget(uid);
        co_return;
      }
      if (attempt == 0) {
        self->ctx_.log->warn("pod deletion not confirmed yet, will retry uid={} err=\"{}\"", uid,
                             st.message());
      }
      asio::steady_timer t(self->ctx_.strand);
      co_await self->sleepFor(t, std::chrono::seconds(10));
    }
  }

  // ---- probes (probe_runner.h) ------------------------------------------------------------

  void runProbes() {
    for (auto& [uid, e] : pods_) {
      probes_->sync(e);
    }
  }

  void onProbeResult(const std::string& uid, const std::string& container, const std::string& id,
                     ProbeType type, ProbeResult result, const std::string& output) {
    auto it = pods_.find(uid);
    if (it == pods_.end()) {
      return;
    }
    PodEntry& e = it->second;
    ProbeState& ps = e.probes[container];
    if (ps.container_id != id || result == ProbeResult::Unknown) {
      return;
    }
    const bool restart = applyProbeResult(ps, type, result);
    if (result == ProbeResult::Failure) {  // kubelet prober: Unhealthy
      recordEvent(e, unhealthyEvent(eventPod(e), container, type, output));
    }
    if (restart) {
      ctx_.log->info("{} probe failed, restarting pod={}/{} container={} output=\"{}\"",
                     probeTypeName(type), e.ns, e.name, container, output.substr(0, 200));
      triggerSync(e);
    }
    status_->update(e);
    publishSummaries();
  }

  // ---- node registration, status, lease (spec 6.6) ----------------------------------------

  std::unique_ptr<NodeReporter> makeNodeReporter() {
    std::weak_ptr<EdgedModule> weak = weak_from_this();
    NodeReporter::Deps d{ctx_.strand,         ctx_.bus, ctx_.log, cfg_, options_.bus_timeout,
                         options_.cloud_link, nullptr,  nullptr};
    d.node_config = [weak] {
      auto self = weak.lock();
      return self ? nodeConfigOf(self->cfg_, self->hostIp(), self->runtime_version_) : NodeConfig{};
    };
    d.probe = [weak]() -> asio::awaitable<NodeProbe> {
      auto self = weak.lock();
      if (!self) {
        co_return NodeProbe{};
      }
      auto facts_op = self->onPool(
          [cri = self->cri_.get(), root = self->cfg_.root_directory,
           devices = self->devices_.get()] { return probeNode(*cri, root, *devices); });
      co_return co_await std::move(facts_op);
    };
    return std::make_unique<NodeReporter>(std::move(d));
  }

  std::unique_ptr<PodStatusReporter> makeStatusReporter() {
    std::weak_ptr<EdgedModule> weak = weak_from_this();
    PodStatusReporter::Deps d{ctx_.bus,
                              ctx_.log,
                              options_.bus_timeout,
                              options_.status_period,
                              hostIp(),
                              node_name_,
                              nullptr,
                              nullptr,
                              nullptr};
    d.node_uid = [weak] {
      auto self = weak.lock();
      return self ? self->node_->nodeUid() : std::string();
    };
    d.find = [weak](const std::string& uid) -> PodEntry* {
      auto self = weak.lock();
      if (!self) {
        return nullptr;
      }
      auto it = self->pods_.find(uid);
      return it == self->pods_.end() ? nullptr : &it->second;
    };
    d.spawn = [weak](asio::awaitable<void> coro, const char* what) {
      if (auto self = weak.lock()) {
        self->spawn(keepAlive(self, std::move(coro)), what);
      }
    };
    return std::make_unique<PodStatusReporter>(std::move(d));
  }

  std::unique_ptr<ProbeRunner> makeProbeRunner() {
    std::weak_ptr<EdgedModule> weak = weak_from_this();
    ProbeRunner::Deps d{ctx_.strand, cri_.get(), pool_, hostIp(), nullptr};
    d.on_result = [weak](const std::string& uid, const std::string& container,
                         const std::string& id, ProbeType t, ProbeResult r,
                         const std::string& output) {
      if (auto self = weak.lock()) {
        self->onProbeResult(uid, container, id, t, r, output);
      }
    };
    return std::make_unique<ProbeRunner>(std::move(d));
  }

  // Runs a part's coroutine while keeping the module alive.
  static asio::awaitable<void> keepAlive(std::shared_ptr<EdgedModule> self,
                                         asio::awaitable<void> part) {
    co_await std::move(part);
    (void)self;
  }

  // ---- the HTTP server on address:readOnlyPort (src/edged/server/) ------------------------

  void startServer() {
    EdgedServerCallbacks cb = makeServerRoutes(snapshot_, cri_.get(), pool_, ctx_.metrics);
    server_ = startEdgedServer(ctx_.strand.get_inner_executor().context(), cfg_, std::move(cb),
                               *ctx_.log);
    server_port_ = server_ ? server_->port() : 0;
  }

  // ---- container log rotation (kubelet container log manager) ------------------------------

  void maybeRotateLogs() {
    const auto now = std::chrono::steady_clock::now();
    if (!log_policy_ || log_rotation_running_ || now < next_log_rotation_) {
      return;
    }
    next_log_rotation_ = now + options_.log_rotation_period;
    std::vector<LiveLog> live_logs = liveContainerLogs(pods_);
    if (live_logs.empty()) {
      return;
    }
    log_rotation_running_ = true;
    spawn(rotateLogs(shared_from_this(), std::move(live_logs)), "container log rotation");
  }

  static asio::awaitable<void> rotateLogs(std::shared_ptr<EdgedModule> self,
                                          std::vector<LiveLog> live_logs) {
    auto rotate_op = self->onPool([cri = self->cri_.get(), policy = *self->log_policy_,
                                   live_logs = std::move(live_logs), log = self->ctx_.log] {
      rotateContainerLogs(*cri, live_logs, policy, *log);
      return 0;
    });
    co_await std::move(rotate_op);
    self->log_rotation_running_ = false;
  }

  // ---- events (reportEvent) ----------------------------------------------------------------

  static EventPod eventPod(const PodEntry& e) {
    return {e.ns, e.name, e.uid, str(sub(e.pod, "metadata"), "resourceVersion")};
  }

  void recordEvent(const PodEntry& e, PodEvent ev) { events_.send(eventPod(e), std::move(ev)); }

  // A container that entered CrashLoopBackOff between two syncs: the kubelet's BackOff event.
  void recordBackOffs(const PodEntry& e, const std::map<std::string, WaitingReason>& now) {
    if (!events_.enabled() || !e.plan) {
      return;
    }
    for (auto& ev : backOffEvents(eventPod(e), *e.plan, e.waiting, now)) {
      recordEvent(e, std::move(ev));
    }
  }

  void publishSummaries() { publishPods(*snapshot_, pods_); }

  core::ModuleContext ctx_;
  EdgedOptions options_;
  const core::EdgedConfig& cfg_;
  std::string node_name_;
  PodEventSender events_;
  std::optional<LogRotationPolicy> log_policy_;  // unset: rotation off (bad configuration)
  std::chrono::steady_clock::time_point next_log_rotation_{};
  bool log_rotation_running_ = false;
  cri::CriClientPtr cri_;
  RestartBackoff backoff_;
  std::unique_ptr<ObjectSource> objects_;
  deviceplugin::DeviceManagerPtr devices_;
  std::unique_ptr<deviceplugin::PodResourcesServer> pod_resources_;  // uses devices_
  std::unique_ptr<PodRuntimeManager> runtime_;
  std::unique_ptr<ServiceAccountTokenManager> tokens_;
  std::shared_ptr<asio::thread_pool> pool_;
  asio::steady_timer relist_timer_;
  asio::steady_timer status_timer_;
  asio::steady_timer static_timer_;
  bool stopping_ = false;
  bool pods_loaded_ = false;
  uint64_t relist_failures_ = 0;
  std::string runtime_version_;
  std::map<std::string, PodEntry> pods_;
  std::set<std::string> orphans_in_flight_;
  std::list<asio::cancellation_signal> signals_;  // one per running coroutine
  std::set<std::string> static_errors_;
  std::shared_ptr<PodSnapshot> snapshot_ = std::make_shared<PodSnapshot>();
  std::unique_ptr<NodeReporter> node_;
  std::unique_ptr<PodStatusReporter> status_;
  std::unique_ptr<ProbeRunner> probes_;
  std::unique_ptr<EdgedServer> server_;
  std::atomic<uint16_t> server_port_{0};
  HeldUpgrades holds_{ctx_.bus, ctx_.log};  // hold_upgrade.h
};

Result<core::ModulePtr> create(core::ModuleContext ctx, EdgedOptions options) {
  const auto& cfg = ctx.config.modules.edged;
  EC_RETURN_IF_ERROR(checkCgroupPolicy(cfg, detectCgroupVersion()));
  EC_ASSIGN_OR_RETURN(cri::CriClientPtr cri, cri::CriClient::create(criClientOptions(cfg)));
  if (cfg.hostname_override.empty()) {
    return core::invalidArgument("modules.edged.hostnameOverride (the node name) is empty");
  }
  auto module = std::make_shared<EdgedModule>(std::move(ctx), std::move(options), std::move(cri));
  // The daemon owns modules as unique_ptr; coroutines hold shared_ptrs. A small holder forwards
  // the calls and keeps the shared object alive until both are done.
  class Holder final : public Edged {
   public:
    explicit Holder(std::shared_ptr<EdgedModule> m) : m_(std::move(m)) {}
    std::string_view name() const override { return m_->name(); }
    std::string_view group() const override { return m_->group(); }
    Status start() override { return m_->start(); }
    void stop() override { m_->stop(); }
    std::vector<PodSummary> pods() const override { return m_->pods(); }
    uint16_t serverPort() const override { return m_->serverPort(); }

   private:
    std::shared_ptr<EdgedModule> m_;
  };
  return core::ModulePtr(std::make_unique<Holder>(std::move(module)));
}

}  // namespace edgecore::edged
