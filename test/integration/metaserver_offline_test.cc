// A database written in KubeEdge v1.20's format, served by the real edgecore binary to the real
// kubectl, offline (no cloud).

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/sqlite_shell.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;

const std::string kEdgecore = EDGECORE_BINARY;
const std::string kFixture =
    std::string(EDGECORE_TEST_DATA_DIR) + "/metamanager/kubeedge-v1.20.sql";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class MetaServerOffline : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessResult load = sqliteRead(db(), kFixture);
    ASSERT_EQ(load.exit_code, 0) << load.err;
    port_ = freeLoopbackPort();
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
               "kind: EdgeCore\n"
               "database:\n"
               "  dataSource: " +
                   db() +
                   "\n"
                   "modules:\n"
                   "  deviceTwin: {enable: false}\n"
                   "  edgeHub: {enable: false}\n"
                   "  edged: {enable: false, hostnameOverride: edge-1}\n"
                   "  eventBus: {enable: false}\n"
                   "  metaManager:\n"
                   "    metaServer:\n"
                   "      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kEdgecore, "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(waitUntilRunning(*daemon_, 10s)) << daemon_->stderrSoFar();
  }

  void TearDown() override {
    auto result = terminate(*daemon_, 5s);
    ASSERT_TRUE(result.has_value()) << daemon_->stderrSoFar();
    EXPECT_EQ(result->exit_code, 0) << result->err;
  }

  std::string db() const { return dir_.file("edgecore.db"); }

  ProcessResult kubectl(std::vector<std::string> args) {
    return runCommand(kubectlArgv("/usr/bin/kubectl", dir_.path(), port_, args), 60s);
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(MetaServerOffline, KubectlReadsTheOriginalsDatabase) {
  ProcessResult pods = kubectl({"get", "pods", "-A"});
  ASSERT_EQ(pods.exit_code, 0) << pods.err;
  EXPECT_TRUE(contains(pods.out, "NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE"))
      << pods.out;
  EXPECT_TRUE(contains(pods.out, "default     nginx   0/1     Running   0")) << pods.out;

  ProcessResult yaml = kubectl({"get", "pod", "nginx", "-n", "default", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_TRUE(contains(yaml.out, "uid: 0f6c1a2e-9b1d-4c47-8f0e-3d2b9a7c5e11")) << yaml.out;
  EXPECT_TRUE(contains(yaml.out, "resourceVersion: \"4711\"")) << yaml.out;

  ProcessResult nodes = kubectl({"get", "nodes"});
  ASSERT_EQ(nodes.exit_code, 0) << nodes.err;
  EXPECT_TRUE(contains(nodes.out, "edge-1")) << nodes.out;

  ProcessResult cms = kubectl({"get", "configmaps", "-n", "default"});
  ASSERT_EQ(cms.exit_code, 0) << cms.err;
  EXPECT_TRUE(contains(cms.out, "app-config")) << cms.out;

  ProcessResult missing = kubectl({"get", "pod", "nope", "-n", "default"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(contains(missing.err, "pods \"nope\" not found")) << missing.err;
}

TEST_F(MetaServerOffline, HealthAndMetrics) {
  ProcessResult ready = kubectl({"get", "--raw", "/readyz"});
  ASSERT_EQ(ready.exit_code, 0) << ready.err;
  EXPECT_EQ(ready.out, "ok");
  ProcessResult metrics = kubectl({"get", "--raw", "/metrics"});
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_TRUE(contains(metrics.out, "edgecore_store_objects 3")) << metrics.out;
  EXPECT_TRUE(contains(metrics.out, "edgecore_uptime_seconds")) << metrics.out;
}

TEST_F(MetaServerOffline, DatabaseStaysReadableByPlainSql) {
  // What the Go edgecore reads back: the same keys and GVR strings, and a sound file.
  ProcessResult rows =
      runCommand({"/usr/bin/sqlite3", db(),
                  "select key || '|' || groupversionresource from meta_v2 order by key"});
  ASSERT_EQ(rows.exit_code, 0) << rows.err;
  EXPECT_TRUE(contains(rows.out, "/core/v1/pods/default/nginx|/v1, Resource=pods")) << rows.out;
  EXPECT_TRUE(contains(rows.out, "/core/v1/nodes/null/edge-1|/v1, Resource=nodes")) << rows.out;
  ProcessResult check = runCommand({"/usr/bin/sqlite3", db(), "PRAGMA integrity_check"});
  EXPECT_EQ(check.out, "ok\n") << check.err;
}

}  // namespace
}  // namespace edgecore::testing
