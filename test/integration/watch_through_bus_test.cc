// `kubectl get pods --watch` against the real MetaServer sees a pod the cloud inserts: the insert
// travels the bus to the real metamanager, is written to SQLite, and reaches the watch from the
// store's commit. Everything but the cloud link (a message sent on the bus) is real.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/core/message.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metamanager/module.h"
#include "edgecore/metaserver/cloud_forwarder.h"
#include "edgecore/metaserver/module.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;

bool waitForText(ChildProcess& child, const std::string& text, std::chrono::milliseconds timeout,
                 bool from_stdout) {
  return waitFor(
      [&] {
        std::string out = from_stdout ? child.stdoutSoFar() : child.stderrSoFar();
        return out.find(text) != std::string::npos;
      },
      timeout, 10ms);
}

core::Message podInsert(const std::string& name, int rv, const std::string& phase) {
  nlohmann::json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", "default"},
        {"uid", "uid-" + name},
        {"resourceVersion", std::to_string(rv)},
        {"creationTimestamp", "2026-11-27T10:00:00Z"},
        {"labels", {{"app", "watched"}}}}},
      {"spec", {{"nodeName", "edge-1"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}},
      {"status", {{"phase", phase}}}};
  core::Message msg = core::Message::create("edgecontroller", "resource", core::op::kInsert,
                                            "default/pod/" + name, pod);
  msg.header.resource_version = std::to_string(rv);
  return msg;
}

TEST(WatchThroughBus, KubectlWatchSeesACloudInsert) {
  TempDir dir;
  const int port = freeLoopbackPort();
  core::EdgeCoreConfig config = core::defaultConfig(core::HostInfo{"edge-1", "127.0.0.1"});
  config.database.data_source = dir.file("edgecore.db");
  config.modules.meta_manager.meta_server.enable = true;
  config.modules.meta_manager.meta_server.server = "127.0.0.1:" + std::to_string(port);

  metamanager::SqliteStoreOptions options;
  options.path = config.database.data_source;
  auto store = metamanager::openSqliteMetaStore(options);
  ASSERT_TRUE(store.ok()) << store.status().toString();
  metaserver::NullCloudForwarder offline;
  core::LoggerFactory loggers(spdlog::level::warn);
  core::DaemonOptions daemon_options;
  daemon_options.handle_signals = false;
  core::Daemon daemon(config, loggers, daemon_options);
  std::vector<core::ModuleSpec> specs(2);
  specs[0].name = "metamanager";
  specs[0].enabled = true;
  specs[0].factory = [&](core::ModuleContext ctx) { return metamanager::create(ctx, **store); };
  specs[1].name = "metaserver";
  specs[1].enabled = true;
  specs[1].factory = [&](core::ModuleContext ctx) {
    return metaserver::createModule(ctx, **store, offline);
  };
  core::Status run_status;
  std::thread runner([&] { run_status = daemon.run(std::move(specs)); });

  // kubectl retries discovery until the server is up, so it may start right away.
  ChildProcess watch({"/usr/bin/env", "HOME=" + dir.path(), "/usr/bin/kubectl", "--server",
                      "http://127.0.0.1:" + std::to_string(port), "get", "pods", "--watch",
                      "--request-timeout=0"});
  // Wait until the watch stream is open (the server's own gauge says so).
  std::string metrics;
  ASSERT_TRUE(waitFor(
      [&] {
        metrics =
            runCommand({"/usr/bin/env", "HOME=" + dir.path(), "/usr/bin/kubectl", "--server",
                        "http://127.0.0.1:" + std::to_string(port), "get", "--raw", "/metrics"})
                .out;
        return metrics.find("metaserver_watchers 1") != std::string::npos;
      },
      30s, 50ms))
      << "watch never opened; kubectl stderr:\n"
      << watch.stderrSoFar() << "\n"
      << metrics;

  ASSERT_TRUE(daemon.bus().send("metamanager", podInsert("cloud-pod", 5001, "Pending")).ok());
  EXPECT_TRUE(waitForText(watch, "cloud-pod", 10s, /*from_stdout=*/true))
      << "stdout:\n"
      << watch.stdoutSoFar() << "\nstderr:\n"
      << watch.stderrSoFar();
  EXPECT_TRUE(waitForText(watch, "Pending", 1s, true)) << watch.stdoutSoFar();

  // An update of the same pod arrives as a new row of the watch.
  core::Message update = podInsert("cloud-pod", 5002, "Running");
  update.route.operation = std::string(core::op::kUpdate);
  ASSERT_TRUE(daemon.bus().send("metamanager", std::move(update)).ok());
  EXPECT_TRUE(waitForText(watch, "Running", 10s, true)) << watch.stdoutSoFar();

  std::printf("kubectl --watch printed:\n%s", watch.stdoutSoFar().c_str());
  watch.signal(SIGTERM);
  (void)watch.wait(5s);
  daemon.requestStop();
  runner.join();
  EXPECT_TRUE(run_status.ok()) << run_status.toString();
}

}  // namespace
}  // namespace edgecore::testing
