// The node MetaServer serves shows the device-plugin resources edged reports: the real edged and
// metamanager (real SQLite, real containerd for the runtime status), a MetaServer on the same
// store, the fake-device-plugin program as a separate process, and real kubectl reading
// `get node -o json` and `describe node` from MetaServer. Online (status patches go to the stand-in
// cloud) and offline (the patches fail, the local node still follows), a device turning
// unhealthy, the plugin killed (allocatable 0, capacity kept) and, after the grace period, the
// resource gone.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "edgecore/core/clock.h"
#include "edgecore/metaserver/cloud_forwarder.h"
#include "edgecore/metaserver/meta_server.h"
#include "edged/edged_harness.h"

namespace edgecore::testing {
namespace {

constexpr const char* kWidget = "example.com/widget";

class DevicePluginNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EC_SKIP_WITHOUT_CONTAINERD();
    setenv("HOME", home_.path().c_str(), 1);  // kubectl's discovery cache
    unsetenv("KUBECONFIG");
    node_ = "node-dp-" + uniqueSuffix();
    plugin_dir_ = dir_.path() + "/root/device-plugins";
    edged::EdgedOptions o;
    o.device_plugin_stop_grace = std::chrono::seconds(4);
    harness_ = std::make_unique<EdgedHarness>(dir_.path(), node_, o, /*cloud_connected=*/true, 1,
                                              /*report_event=*/false, [](core::EdgeCoreConfig& c) {
                                                c.modules.edged.node_status_update_frequency =
                                                    std::chrono::milliseconds(300);
                                              });
    ASSERT_TRUE(waitFor(
        [&] {
          struct stat st {};
          return ::stat((plugin_dir_ + "/kubelet.sock").c_str(), &st) == 0;
        },
        10s));
    metaserver::MetaServerOptions mo;
    mo.port = 0;
    server_ = metaserver::createMetaServer(ioc_.get_executor(), mo, harness_->store(), offline_,
                                           clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    server_->setReady(true);
    thread_ = std::thread([this] { ioc_.run(); });
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    plugin_.reset();
    if (fifo_fd_ >= 0) {
      ::close(fifo_fd_);
    }
    if (server_) {
      server_->stop();
    }
    work_.reset();
    if (thread_.joinable()) {
      thread_.join();
    }
    server_.reset();
    harness_.reset();
  }

  // The fake-device-plugin program, its stdin a FIFO the test writes commands to.
  void startPlugin() {
    std::string fifo = dir_.path() + "/plugin-stdin";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    fifo_fd_ = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // RDWR: does not wait for a reader
    ASSERT_GE(fifo_fd_, 0);
    plugin_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c",
                                 std::string("exec ") + FAKE_DEVICE_PLUGIN + " --dir " +
                                     plugin_dir_ + " --devices 2 < " + fifo});
    ASSERT_TRUE(waitFor(
        [&] { return plugin_->stdoutSoFar().find("registered") != std::string::npos; }, 10s))
        << plugin_->stderrSoFar();
  }
  void pluginCommand(const std::string& line) {
    std::string l = line + "\n";
    ASSERT_EQ(::write(fifo_fd_, l.data(), l.size()), static_cast<ssize_t>(l.size()));
  }

  ProcessResult kubectl(std::vector<std::string> extra) {
    std::vector<std::string> a = {KUBECTL, "--server", url_, "--request-timeout", "10s"};
    a.insert(a.end(), extra.begin(), extra.end());
    return runCommand(a, std::chrono::seconds(30));
  }

  // capacity/allocatable of the widget in the node kubectl gets ("" when absent, "?" on error).
  std::pair<std::string, std::string> widgetOnNode() {
    auto r = kubectl({"get", "node", node_, "-o", "json"});
    if (r.exit_code != 0) {
      return {"?", "?"};
    }
    json n = json::parse(r.out, nullptr, false);
    if (!n.is_object() || !n.contains("status")) {
      return {"?", "?"};
    }
    const json& s = n["status"];
    auto get = [&](const char* m) -> std::string {
      return s.contains(m) && s[m].contains(kWidget) ? s[m][kWidget].get<std::string>() : "";
    };
    return {get("capacity"), get("allocatable")};
  }
  bool widgetIs(const std::string& cap, const std::string& alloc) {
    std::pair<std::string, std::string> last;
    bool ok = waitFor(
        [&] {
          last = widgetOnNode();
          return last == std::make_pair(cap, alloc);
        },
        20s);
    EXPECT_TRUE(ok) << "capacity=" << last.first << " allocatable=" << last.second;
    return ok;
  }

  TempDir dir_;
  TempDir home_;
  std::string node_;
  std::string plugin_dir_;
  std::unique_ptr<EdgedHarness> harness_;
  std::unique_ptr<ChildProcess> plugin_;
  int fifo_fd_ = -1;
  metaserver::NullCloudForwarder offline_;
  core::SystemClock clock_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::thread thread_;
  metaserver::MetaServerPtr server_;
  std::string url_;
};

TEST_F(DevicePluginNodeTest, KubectlSeesCapacityAllocatableAndTheirChanges) {
  startPlugin();
  // Online: the status patches also go to the cloud.
  ASSERT_TRUE(widgetIs("2", "2"));
  bool patched_upstream = false;
  for (const auto& m : harness_->upstream()) {
    patched_upstream =
        patched_upstream || (m.route.operation == "patch" &&
                             m.route.resource.find("/nodepatch/" + node_) != std::string::npos);
  }
  EXPECT_TRUE(patched_upstream);
  auto d = kubectl({"describe", "node", node_});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  size_t cap = d.out.find("Capacity:");
  size_t alloc = d.out.find("Allocatable:");
  ASSERT_NE(cap, std::string::npos) << d.out;
  ASSERT_NE(alloc, std::string::npos) << d.out;
  EXPECT_NE(d.out.find("example.com/widget:", cap), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("example.com/widget:", alloc), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("KubeletReady"), std::string::npos) << d.out;

  pluginCommand("unhealthy 0");
  ASSERT_TRUE(widgetIs("2", "1"));

  // Offline: the patches cannot reach the cloud, the node MetaServer serves follows anyway.
  ASSERT_TRUE(harness_->setCloudConnected(false).ok());
  pluginCommand("healthy 0");
  ASSERT_TRUE(widgetIs("2", "2"));

  // The plugin is killed: capacity kept, nothing allocatable; after the grace period it is gone.
  plugin_->signal(SIGKILL);
  ASSERT_TRUE(plugin_->wait(5s).has_value());
  ASSERT_TRUE(widgetIs("2", "0"));
  ASSERT_TRUE(widgetIs("", ""));
  auto after = kubectl({"describe", "node", node_});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out.find("example.com/widget"), std::string::npos) << after.out;
  // The table view comes from the same node.
  auto table = kubectl({"get", "node", node_});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(node_), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Ready"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace edgecore::testing
