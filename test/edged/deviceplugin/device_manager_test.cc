// DeviceManager against the fake device plugin over real gRPC on unix sockets in a temp dir.

#include "deviceplugin/device_manager.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "cri/api.pb.h"
#include "deviceplugin/pod_resources.h"
#include "edged/deviceplugin/fake_plugin.h"
#include "node/node_status.h"
#include "podresources/v1/api.grpc.pb.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::edged::deviceplugin {
namespace {

using edgecore::testing::FakeDevicePlugin;
using edgecore::testing::TempDir;
using nlohmann::json;

constexpr const char* kWidget = "example.com/widget";

// Conditions another thread makes true (gRPC streams, the socket watcher): 10 s by default.
bool waitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return edgecore::testing::waitFor(pred, timeout, std::chrono::milliseconds(10));
}

bool isSocket(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::shared_ptr<spdlog::logger> testLog() {
  auto log = spdlog::get("deviceplugin-test");
  if (!log) {
    log = spdlog::stderr_color_mt("deviceplugin-test");
    log->set_level(spdlog::level::warn);
  }
  return log;
}

json podRequesting(const std::string& uid, int64_t n, const std::string& container = "app") {
  return json{
      {"metadata", {{"uid", uid}, {"name", "p-" + uid}, {"namespace", "default"}}},
      {"spec",
       {{"containers", json::array({{{"name", container},
                                     {"image", "busybox"},
                                     {"resources",
                                      {{"limits", {{kWidget, std::to_string(n)}}},
                                       {"requests", {{kWidget, std::to_string(n)}}}}}}})}}}};
}

class DeviceManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() + "/device-plugins";
    startManager();
  }
  void TearDown() override {
    plugins_.clear();
    if (mgr_) {
      mgr_->stop();
    }
  }

  void startManager(std::chrono::milliseconds grace = std::chrono::minutes(5)) {
    DeviceManager::Options o;
    o.plugin_dir = dir_;
    o.stop_grace_period = grace;
    o.rpc_timeout = std::chrono::milliseconds(1500);
    o.watch_period = std::chrono::milliseconds(50);
    o.on_change = [this] { changes_++; };
    mgr_ = std::make_unique<DeviceManager>(o, testLog());
    ASSERT_TRUE(mgr_->start().ok());
  }

  FakeDevicePlugin& addPlugin(FakeDevicePlugin::Options o) {
    o.dir = dir_;
    plugins_.push_back(std::make_unique<FakeDevicePlugin>(o));
    return *plugins_.back();
  }

  ResourceCount count(const std::string& name = kWidget) {
    auto r = mgr_->resources();
    auto it = r.find(name);
    return it == r.end() ? ResourceCount{-1, -1} : it->second;
  }

  bool countIs(int64_t cap, int64_t alloc) {
    return waitFor([&] { return count() == ResourceCount{cap, alloc}; });
  }

  TempDir tmp_;
  std::string dir_;
  std::unique_ptr<DeviceManager> mgr_;
  std::vector<std::unique_ptr<FakeDevicePlugin>> plugins_;
  std::atomic<int> changes_{0};
};

TEST(ExtendedResourceName, KubeletRules) {
  EXPECT_TRUE(isExtendedResourceName("nvidia.com/gpu"));
  EXPECT_TRUE(isExtendedResourceName("example.com/widget"));
  EXPECT_FALSE(isExtendedResourceName("widget"));
  EXPECT_FALSE(isExtendedResourceName("kubernetes.io/widget"));
  EXPECT_FALSE(isExtendedResourceName("foo.kubernetes.io/widget"));
  EXPECT_FALSE(isExtendedResourceName("requests.example.com/widget"));
  EXPECT_FALSE(isExtendedResourceName("Example.com/widget"));
  EXPECT_FALSE(isExtendedResourceName("example.com/"));
  EXPECT_FALSE(isExtendedResourceName("example.com/a/b"));
}

TEST_F(DeviceManagerTest, RegistrationAndListAndWatchFeedNodeStatus) {
  EXPECT_TRUE(isSocket(mgr_->socketPath()));
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  EXPECT_GT(changes_.load(), 0);

  HostFacts facts;
  facts.cpu_milli = 2000;
  facts.memory_bytes = 1 << 30;
  for (const auto& [name, c] : mgr_->resources()) {
    facts.extended_resources[name] = {c.capacity, c.allocatable};
  }
  NodeConfig cfg;
  cfg.node_name = "edge-1";
  json status = buildNodeStatus(cfg, facts, RuntimeHealth{}, std::chrono::system_clock::now());
  EXPECT_EQ(status["capacity"][kWidget], "2");
  EXPECT_EQ(status["allocatable"][kWidget], "2");
  EXPECT_EQ(status["capacity"]["cpu"], "2");

  p.setHealthy(0, false);
  ASSERT_TRUE(countIs(2, 1));
  facts.extended_resources[kWidget] = {count().capacity, count().allocatable};
  status = buildNodeStatus(cfg, facts, RuntimeHealth{}, std::chrono::system_clock::now());
  EXPECT_EQ(status["capacity"][kWidget], "2");
  EXPECT_EQ(status["allocatable"][kWidget], "1");
  p.setHealthy(0, true);
  EXPECT_TRUE(countIs(2, 2));
}

TEST_F(DeviceManagerTest, PluginExitDropsAllocatableToZero) {
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  p.stop();
  EXPECT_TRUE(countIs(2, 0));  // capacity kept, nothing allocatable (the kubelet's behaviour)
  // The plugin comes back and registers again: devices healthy again.
  ASSERT_EQ(p.start(), "");
  EXPECT_TRUE(countIs(2, 2));
}

TEST_F(DeviceManagerTest, GoneResourceLeavesCapacityAfterTheGracePeriod) {
  mgr_->stop();
  startManager(std::chrono::milliseconds(600));
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  // A pod holds one device while the plugin goes away.
  ASSERT_TRUE(mgr_->admitPod(podRequesting("uid-held", 1)).admitted);
  p.stop();
  ASSERT_TRUE(countIs(2, 0));  // within the grace period: capacity kept, nothing allocatable
  int before = changes_.load();
  ASSERT_TRUE(waitFor([&] { return count().capacity == -1; }));  // then gone from the node
  EXPECT_GT(changes_.load(), before);                            // and edged told so
  // Still a device-plugin resource while a pod holds its devices: no silent admission.
  Admission a = mgr_->admitPod(podRequesting("uid-new", 1));
  EXPECT_FALSE(a.admitted);
  EXPECT_NE(a.message.find("no healthy devices present"), std::string::npos) << a.message;
  // Once nobody holds it, it is an unknown resource, ignored like the kubelet does.
  mgr_->releasePod("uid-held");
  ASSERT_TRUE(waitFor([&] { return mgr_->admitPod(podRequesting("uid-new", 1)).admitted; }));
  EXPECT_TRUE(mgr_->containerDevices("uid-new", "app").device_ids.empty());
  // The plugin comes back: reported again.
  ASSERT_EQ(p.start(), "");
  EXPECT_TRUE(countIs(2, 2));
}

TEST_F(DeviceManagerTest, ReRegistrationWithinTheGracePeriodKeepsTheResource) {
  mgr_->stop();
  startManager(std::chrono::milliseconds(500));
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  p.stop();
  ASSERT_TRUE(countIs(2, 0));
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  // Well past the first stop's grace period: the new registration reset it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(count(), (ResourceCount{2, 2}));
}

TEST_F(DeviceManagerTest, RestoredResourceWithoutPluginExpires) {
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  ASSERT_TRUE(mgr_->admitPod(podRequesting("uid-1", 1)).admitted);
  mgr_->stop();
  p.stop();
  startManager(std::chrono::milliseconds(400));
  // Known from the checkpoint, no plugin yet: listed with nothing allocatable...
  EXPECT_EQ(count(), (ResourceCount{0, 0}));
  // ...and dropped from the node when no plugin came within the grace period.
  ASSERT_TRUE(waitFor([&] { return count().capacity == -1; }));
  EXPECT_EQ(mgr_->allocatedPods(), std::set<std::string>{"uid-1"});  // the pod keeps its device
}

TEST_F(DeviceManagerTest, PluginSocketRemovedDropsAllocatableToZero) {
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  std::filesystem::remove(dir_ + "/widget.sock");
  EXPECT_TRUE(countIs(2, 0));
}

TEST_F(DeviceManagerTest, ReRegistrationReplacesThePlugin) {
  auto& a = addPlugin({});
  ASSERT_EQ(a.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  FakeDevicePlugin::Options o;
  o.endpoint = "widget-v2.sock";
  o.devices = 3;
  auto& b = addPlugin(o);
  ASSERT_EQ(b.start(), "");
  ASSERT_TRUE(countIs(3, 3));
  a.stop();  // the replaced plugin going away does not touch the new one
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // give a wrong update a chance
  EXPECT_EQ(count(), (ResourceCount{3, 3}));
}

TEST_F(DeviceManagerTest, BadRegistrationsAreRefused) {
  FakeDevicePlugin::Options o;
  o.version = "v1alpha";
  EXPECT_NE(addPlugin(o).start().find("not supported"), std::string::npos);
  o = {};
  o.resource = "widget";
  o.endpoint = "w2.sock";
  EXPECT_NE(addPlugin(o).start().find("invalid"), std::string::npos);
  o.resource = "kubernetes.io/widget";
  o.endpoint = "w3.sock";
  EXPECT_NE(addPlugin(o).start().find("invalid"), std::string::npos);
  o.resource = kWidget;
  o.endpoint = "w4.sock";
  auto& outside = addPlugin(o);
  ASSERT_TRUE(outside.serve());
  // Re-register the same plugin naming a socket outside the directory.
  FakeDevicePlugin::Options escape;
  escape.endpoint = "../w4.sock";
  auto& esc = addPlugin(escape);
  EXPECT_NE(esc.registerWithKubelet().find("must be a socket file name"), std::string::npos);
  EXPECT_TRUE(mgr_->resources().empty());
  // The manager still works.
  auto& good = addPlugin({});
  ASSERT_EQ(good.start(), "");
  EXPECT_TRUE(countIs(2, 2));
}

TEST_F(DeviceManagerTest, SilentPluginTimesOutAndManagerCarriesOn) {
  // A unix socket that accepts connections and never speaks gRPC.
  std::string path = dir_ + "/silent.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  FakeDevicePlugin::Options o;
  o.endpoint = "silent.sock";
  o.resource = "example.com/silent";
  EXPECT_EQ(addPlugin(o).registerWithKubelet(), "");
  EXPECT_TRUE(waitFor([&] {
    auto r = mgr_->resources();
    return r.count("example.com/silent") && r["example.com/silent"].allocatable == 0;
  }));
  auto& good = addPlugin({});
  ASSERT_EQ(good.start(), "");
  EXPECT_TRUE(countIs(2, 2));
  ::close(fd);
}

TEST_F(DeviceManagerTest, KubeletSocketIsRecreatedWhenDeleted) {
  std::filesystem::remove(mgr_->socketPath());
  ASSERT_TRUE(waitFor([&] { return isSocket(mgr_->socketPath()); }));
  auto& p = addPlugin({});
  EXPECT_EQ(p.start(), "");
  EXPECT_TRUE(countIs(2, 2));
}

TEST_F(DeviceManagerTest, AdmissionAllocatesAppliesAndSurvivesRestart) {
  TempDir host;
  FakeDevicePlugin::Options o;
  o.host_dir = host.path();
  o.pre_start_required = true;
  o.cdi_kind = "example.com/widget";
  auto& p = addPlugin(o);
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));

  Admission a = mgr_->admitPod(podRequesting("uid-1", 1));
  ASSERT_TRUE(a.admitted) << a.message;
  EXPECT_EQ(p.allocateCalls(), 1);
  ContainerDevices d = mgr_->containerDevices("uid-1", "app");
  ASSERT_EQ(d.device_ids[kWidget].size(), 1u);
  const std::string id = d.device_ids[kWidget][0];
  EXPECT_EQ(d.envs["WIDGET_IDS"], id);
  // Idempotent: a second admission of the same pod does not allocate again.
  EXPECT_TRUE(mgr_->admitPod(podRequesting("uid-1", 1)).admitted);
  EXPECT_EQ(p.allocateCalls(), 1);

  runtime::v1::ContainerConfig cfg;
  auto* own = cfg.add_envs();
  own->set_key("OWN");
  own->set_value("1");
  ASSERT_TRUE(mgr_->prepareContainer("uid-1", "app", &cfg).ok());
  EXPECT_EQ(p.preStartCalls(), 1);
  ASSERT_EQ(cfg.envs_size(), 3);
  EXPECT_EQ(cfg.envs(0).key(), "WIDGET_IDS");
  EXPECT_EQ(cfg.envs(2).key(), "OWN");
  ASSERT_EQ(cfg.mounts_size(), 1);
  EXPECT_EQ(cfg.mounts(0).host_path(), host.path());
  EXPECT_EQ(cfg.mounts(0).container_path(), "/widget");
  EXPECT_TRUE(cfg.mounts(0).readonly());
  ASSERT_EQ(cfg.devices_size(), 1);
  EXPECT_EQ(cfg.devices(0).container_path(), "/dev/widget");
  EXPECT_EQ(cfg.devices(0).permissions(), "rw");
  EXPECT_EQ(cfg.annotations().at("example.com/widget-ids"), id);
  ASSERT_EQ(cfg.cdi_devices_size(), 1);
  EXPECT_EQ(cfg.cdi_devices(0).name(), "example.com/widget=" + id);

  // More than what is left: refused the kubelet's way.
  Admission refused = mgr_->admitPod(podRequesting("uid-2", 2));
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, "UnexpectedAdmissionError");
  EXPECT_NE(refused.message.find("Requested: 2, Available: 1"), std::string::npos)
      << refused.message;
  EXPECT_TRUE(mgr_->containerDevices("uid-2", "app").device_ids.empty());

  // Restart: the allocation comes back from the checkpoint; the plugin registers again.
  ASSERT_TRUE(std::filesystem::exists(mgr_->checkpointPath()));
  mgr_->stop();
  p.stop();
  startManager();
  EXPECT_EQ(mgr_->allocatedPods(), std::set<std::string>{"uid-1"});
  EXPECT_EQ(mgr_->containerDevices("uid-1", "app").device_ids[kWidget],
            std::vector<std::string>{id});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  // No double use: the other device is the only one left.
  Admission second = mgr_->admitPod(podRequesting("uid-3", 1));
  ASSERT_TRUE(second.admitted) << second.message;
  auto other = mgr_->containerDevices("uid-3", "app").device_ids[kWidget];
  ASSERT_EQ(other.size(), 1u);
  EXPECT_NE(other[0], id);
  EXPECT_FALSE(mgr_->admitPod(podRequesting("uid-4", 1)).admitted);

  // Release frees the devices (and the checkpoint forgets them).
  mgr_->releasePod("uid-1");
  EXPECT_TRUE(mgr_->admitPod(podRequesting("uid-4", 1)).admitted);
  mgr_->retainOnly({"uid-4"});
  EXPECT_EQ(mgr_->allocatedPods(), std::set<std::string>{"uid-4"});
  std::string cp = edgecore::testing::readFile(mgr_->checkpointPath());
  EXPECT_EQ(cp.find("uid-1"), std::string::npos);
  EXPECT_NE(cp.find("uid-4"), std::string::npos);
}

TEST_F(DeviceManagerTest, PreferredAllocationIsAskedAndUsed) {
  FakeDevicePlugin::Options o;
  o.devices = 3;
  o.preferred_allocation = true;
  auto& p = addPlugin(o);
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(3, 3));
  ASSERT_TRUE(mgr_->admitPod(podRequesting("uid-1", 1)).admitted);
  EXPECT_EQ(p.preferredCalls(), 1);
  // The fake prefers the highest id; in-order picking would give widget-0.
  EXPECT_EQ(p.lastAllocated(), std::vector<std::string>{"widget-2"});
}

TEST_F(DeviceManagerTest, PodsWithoutDeviceResourcesAreAdmittedUntouched) {
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  json pod = podRequesting("uid-1", 1);
  pod["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "1"}, {"other.io/thing", "3"}}}};
  EXPECT_TRUE(mgr_->admitPod(pod).admitted);
  EXPECT_EQ(p.allocateCalls(), 0);
  EXPECT_TRUE(mgr_->allocatedPods().empty());
  EXPECT_TRUE(mgr_->admitPod(json{{"metadata", 3}, {"spec", "x"}}).admitted);  // junk input
}

TEST_F(DeviceManagerTest, InitContainerDevicesAreReusedByAppContainers) {
  FakeDevicePlugin::Options o;
  o.devices = 1;
  auto& p = addPlugin(o);
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(1, 1));
  json pod = podRequesting("uid-1", 1);
  pod["spec"]["initContainers"] = json::array({pod["spec"]["containers"][0]});
  pod["spec"]["initContainers"][0]["name"] = "init";
  Admission a = mgr_->admitPod(pod);
  ASSERT_TRUE(a.admitted) << a.message;
  EXPECT_EQ(mgr_->containerDevices("uid-1", "init").device_ids[kWidget],
            std::vector<std::string>{"widget-0"});
  EXPECT_EQ(mgr_->containerDevices("uid-1", "app").device_ids[kWidget],
            std::vector<std::string>{"widget-0"});
  EXPECT_EQ(p.allocateCalls(), 2);
}

TEST_F(DeviceManagerTest, CorruptCheckpointIsIgnored) {
  mgr_->stop();
  {
    std::FILE* f = std::fopen((dir_ + "/" + kCheckpointFile).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("{\"version\":1,\"pods\":{\"u\":{\"c\":{\"deviceIDs\":7}}}", f);
    std::fclose(f);
  }
  startManager();
  EXPECT_TRUE(mgr_->allocatedPods().empty());
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  EXPECT_TRUE(mgr_->admitPod(podRequesting("uid-1", 2)).admitted);
}

}  // namespace
}  // namespace edgecore::edged::deviceplugin

namespace edgecore::edged::deviceplugin {
namespace {

// A small PodResources client, as a monitoring agent would use it.
class PodResourcesClient {
 public:
  explicit PodResourcesClient(const std::string& socket)
      : stub_(::v1::PodResourcesLister::NewStub(
            grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()))) {}
  grpc::Status list(::v1::ListPodResourcesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub_->List(&ctx, ::v1::ListPodResourcesRequest(), out);
  }
  grpc::Status allocatable(::v1::AllocatableResourcesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub_->GetAllocatableResources(&ctx, ::v1::AllocatableResourcesRequest(), out);
  }
  grpc::Status get(const std::string& ns, const std::string& name,
                   ::v1::GetPodResourcesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ::v1::GetPodResourcesRequest req;
    req.set_pod_name(name);
    req.set_pod_namespace(ns);
    return stub_->Get(&ctx, req, out);
  }

 private:
  std::unique_ptr<::v1::PodResourcesLister::Stub> stub_;
};

TEST_F(DeviceManagerTest, PodResourcesApiListsDevicesPerContainer) {
  auto& p = addPlugin({});
  ASSERT_EQ(p.start(), "");
  ASSERT_TRUE(countIs(2, 2));
  ASSERT_TRUE(mgr_->admitPod(podRequesting("uid-1", 1)).admitted);
  const std::string id = mgr_->containerDevices("uid-1", "app").device_ids[kWidget].at(0);

  PodResourcesServer::Options o;
  o.dir = tmp_.path() + "/pod-resources";
  o.pods = [] {
    return std::vector<PodRef>{{"default", "p-uid-1", "uid-1", {"app", "sidecar"}},
                               {"kube-system", "plain", "uid-9", {"main"}}};
  };
  PodResourcesServer server(o, *mgr_, testLog());
  ASSERT_TRUE(server.start().ok());
  EXPECT_TRUE(isSocket(o.dir + "/kubelet.sock"));
  PodResourcesClient client(server.socketPath());

  ::v1::ListPodResourcesResponse list;
  ASSERT_TRUE(client.list(&list).ok());
  ASSERT_EQ(list.pod_resources_size(), 2);
  const auto& pod = list.pod_resources(0);
  EXPECT_EQ(pod.name(), "p-uid-1");
  EXPECT_EQ(pod.namespace_(), "default");
  ASSERT_EQ(pod.containers_size(), 2);
  EXPECT_EQ(pod.containers(0).name(), "app");
  ASSERT_EQ(pod.containers(0).devices_size(), 1);
  EXPECT_EQ(pod.containers(0).devices(0).resource_name(), kWidget);
  ASSERT_EQ(pod.containers(0).devices(0).device_ids_size(), 1);
  EXPECT_EQ(pod.containers(0).devices(0).device_ids(0), id);
  EXPECT_EQ(pod.containers(1).devices_size(), 0);
  EXPECT_EQ(list.pod_resources(1).containers(0).devices_size(), 0);

  // Allocatable: every healthy device (allocated ones included, as the kubelet reports them).
  ::v1::AllocatableResourcesResponse alloc;
  ASSERT_TRUE(client.allocatable(&alloc).ok());
  ASSERT_EQ(alloc.devices_size(), 1);
  EXPECT_EQ(alloc.devices(0).resource_name(), kWidget);
  EXPECT_EQ(alloc.devices(0).device_ids_size(), 2);
  p.setHealthy(0, false);
  ASSERT_TRUE(countIs(2, 1));
  alloc.Clear();
  ASSERT_TRUE(client.allocatable(&alloc).ok());
  EXPECT_EQ(alloc.devices(0).device_ids_size(), 1);

  ::v1::GetPodResourcesResponse one;
  ASSERT_TRUE(client.get("default", "p-uid-1", &one).ok());
  EXPECT_EQ(one.pod_resources().containers(0).devices(0).device_ids(0), id);
  grpc::Status missing = client.get("default", "nope", &one);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(missing.error_message().find("nope"), std::string::npos);

  server.stop();
  server.stop();  // idempotent
}

}  // namespace
}  // namespace edgecore::edged::deviceplugin
