// Device plugins end to end: edged (real metamanager, real containerd) with the fake device plugin
// registered on <rootDirectory>/device-plugins/kubelet.sock. A pod asking for example.com/widget
// gets the Allocate answer (env, mount, device node, annotation) in its container; a pod asking
// for more than is free fails admission like the kubelet; allocations survive an edgecore restart
// without double use and are freed when the pod is deleted.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "edged/deviceplugin/fake_plugin.h"
#include "edged/edged_harness.h"
#include "podresources/v1/api.grpc.pb.h"

namespace edgecore::testing {
namespace {

constexpr const char* kWidget = "example.com/widget";

json widgetPod(const std::string& ns, const std::string& name, const std::string& node, int n) {
  json c = busyboxContainer("main", "sleep 3600");
  c["resources"] = {{"limits", {{kWidget, std::to_string(n)}}},
                    {"requests", {{kWidget, std::to_string(n)}}}};
  json pod = makePod(ns, name, node, json::array({c}));
  pod["spec"]["terminationGracePeriodSeconds"] = 0;
  return pod;
}

bool isSocket(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

class DevicePluginPodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EC_SKIP_WITHOUT_CONTAINERD();
    cri::CriClientOptions o;
    auto c = cri::CriClient::create(o);
    ASSERT_TRUE(c.ok());
    cri_ = std::move(c).value();
    removeLeftoversOfDeadTestRuns(*cri_);
    ns_ = "edged-test-" + uniqueSuffix();
    node_ = "node-" + ns_;
    plugin_dir_ = dir_.path() + "/root/device-plugins";
    host_.write("hello", "widget-data\n");
    FakeDevicePlugin::Options po;
    po.dir = plugin_dir_;
    po.host_dir = host_.path();
    po.pre_start_required = true;
    plugin_ = std::make_unique<FakeDevicePlugin>(po);
  }
  void TearDown() override {
    if (plugin_) {
      plugin_->stop();
    }
    harness_.reset();
    if (cri_) {
      removeNamespacePods(*cri_, ns_);
    }
  }

  EdgedHarness& start(bool connected = true) {
    harness_ = std::make_unique<EdgedHarness>(dir_.path(), node_, edged::EdgedOptions{}, connected);
    EXPECT_TRUE(waitFor([&] { return isSocket(plugin_dir_ + "/kubelet.sock"); }, 10s));
    return *harness_;
  }

  std::vector<runtimeapi::Container> running(const std::string& name) {
    runtimeapi::ContainerFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    (*f.mutable_label_selector())["io.kubernetes.pod.name"] = name;
    auto list = cri_->listContainers(f);
    std::vector<runtimeapi::Container> out;
    if (list.ok()) {
      for (const auto& c : *list) {
        if (c.state() == runtimeapi::CONTAINER_RUNNING) {
          out.push_back(c);
        }
      }
    }
    return out;
  }

  std::string exec(const std::string& id, const std::string& script) {
    auto r = cri_->execSync(id, {"sh", "-c", script}, 10);
    EXPECT_TRUE(r.ok()) << r.status().toString();
    return r.ok() ? r->stdout() : "";
  }

  std::string phaseOf(const std::string& name) {
    return harness_->localStatus(ns_, name).value("phase", "");
  }

  TempDir dir_;
  TempDir host_;
  std::string plugin_dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<EdgedHarness> harness_;
  std::unique_ptr<FakeDevicePlugin> plugin_;
  std::string ns_;
  std::string node_;
};

TEST_F(DevicePluginPodTest, AllocateAdmitRestartRelease) {
  auto& h = start();
  ASSERT_EQ(plugin_->start(), "");
  ASSERT_TRUE(waitFor([&] { return plugin_->listsSent() >= 1; }, 10s));
  // 1. One device: the container sees what Allocate returned.
  ASSERT_TRUE(h.insert(widgetPod(ns_, "one", node_, 1)).ok());
  ASSERT_TRUE(waitFor([&] { return running("one").size() == 1; }, 30s))
      << h.localStatus(ns_, "one").dump();
  auto c = running("one")[0];
  std::string out = exec(c.id(), "echo ids=$WIDGET_IDS; cat /widget/hello; ls /dev/widget");
  ASSERT_EQ(plugin_->lastAllocated().size(), 1u);
  const std::string first = plugin_->lastAllocated()[0];
  EXPECT_NE(out.find("ids=" + first + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("widget-data"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/widget"), std::string::npos) << out;
  EXPECT_EQ(c.annotations().at("example.com/widget-ids"), first);
  EXPECT_EQ(plugin_->preStartCalls(), 1);

  // The PodResources API (what monitoring agents read) names the pod's device.
  {
    auto stub = ::v1::PodResourcesLister::NewStub(
        grpc::CreateChannel("unix:" + dir_.path() + "/root/pod-resources/kubelet.sock",
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ::v1::ListPodResourcesResponse list;
    ASSERT_TRUE(stub->List(&ctx, ::v1::ListPodResourcesRequest(), &list).ok());
    bool found = false;
    for (const auto& p : list.pod_resources()) {
      if (p.name() == "one" && p.namespace_() == ns_) {
        ASSERT_EQ(p.containers_size(), 1);
        ASSERT_EQ(p.containers(0).devices_size(), 1);
        EXPECT_EQ(p.containers(0).devices(0).resource_name(), kWidget);
        ASSERT_EQ(p.containers(0).devices(0).device_ids_size(), 1);
        EXPECT_EQ(p.containers(0).devices(0).device_ids(0), first);
        found = true;
      }
    }
    EXPECT_TRUE(found) << list.DebugString();
  }

  // The node status sent upstream carries the resource (capacity 2, allocatable 2).
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& m : h.upstream()) {
          if (m.route.operation == "patch" &&
              m.route.resource.find("/nodepatch/" + node_) != std::string::npos &&
              m.content.is_string()) {
            json p = json::parse(m.content.get<std::string>(), nullptr, false);
            if (p.is_object() && p["status"]["capacity"].value(kWidget, "") == "2" &&
                p["status"]["allocatable"].value(kWidget, "") == "2") {
              return true;
            }
          }
        }
        return false;
      },
      30s));

  // 2. Two more than the one left: Failed with the kubelet's reason, nothing started.
  ASSERT_TRUE(h.insert(widgetPod(ns_, "greedy", node_, 2)).ok());
  ASSERT_TRUE(waitFor([&] { return phaseOf("greedy") == "Failed"; }, 20s))
      << h.localStatus(ns_, "greedy").dump();
  json st = h.localStatus(ns_, "greedy");
  EXPECT_EQ(st["reason"], "UnexpectedAdmissionError");
  EXPECT_NE(st["message"].get<std::string>().find("Requested: 2, Available: 1"), std::string::npos)
      << st.dump();
  EXPECT_TRUE(running("greedy").empty());

  // 3. edgecore restarts; the plugin registers again when kubelet.sock comes back.
  const std::string id_before = c.id();
  harness_.reset();
  auto& h2 = start(/*connected=*/false);
  int lists = plugin_->listsSent();
  ASSERT_EQ(plugin_->registerWithKubelet(), "");
  ASSERT_TRUE(waitFor([&] { return plugin_->listsSent() > lists; }, 10s));
  ASSERT_TRUE(waitFor([&] { return phaseOf("one") == "Running"; }, 20s));
  ASSERT_EQ(running("one").size(), 1u);
  EXPECT_EQ(running("one")[0].id(), id_before);  // adopted, not restarted
  std::string cp = readFile(plugin_dir_ + "/edgecore_device_checkpoint.json");
  EXPECT_NE(cp.find("uid-" + ns_ + "-one"), std::string::npos);
  // The restored allocation counts: the next pod gets the other device, the one after none.
  ASSERT_TRUE(h2.insert(widgetPod(ns_, "two", node_, 1)).ok());
  ASSERT_TRUE(waitFor([&] { return running("two").size() == 1; }, 30s))
      << h2.localStatus(ns_, "two").dump();
  std::string ids2 = exec(running("two")[0].id(), "echo $WIDGET_IDS");
  EXPECT_NE(ids2, first + "\n");
  EXPECT_EQ(ids2.rfind("widget-", 0), 0u) << ids2;
  ASSERT_TRUE(h2.insert(widgetPod(ns_, "three", node_, 1)).ok());
  ASSERT_TRUE(waitFor([&] { return phaseOf("three") == "Failed"; }, 20s));

  // 4. Deleting "one" frees its device for a new pod.
  ASSERT_TRUE(h2.send("delete", widgetPod(ns_, "one", node_, 1)).ok());
  ASSERT_TRUE(waitFor([&] { return running("one").empty(); }, 30s));
  ASSERT_TRUE(waitFor(
      [&] {
        return readFile(plugin_dir_ + "/edgecore_device_checkpoint.json")
                   .find("uid-" + ns_ + "-one") == std::string::npos;
      },
      10s));
  ASSERT_TRUE(h2.insert(widgetPod(ns_, "four", node_, 1)).ok());
  ASSERT_TRUE(waitFor([&] { return running("four").size() == 1; }, 30s))
      << h2.localStatus(ns_, "four").dump();
  EXPECT_EQ(exec(running("four")[0].id(), "echo $WIDGET_IDS"), first + "\n");
}

}  // namespace
}  // namespace edgecore::testing
