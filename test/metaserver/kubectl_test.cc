// Real kubectl against a real MetaServer over the real SQLite store (a temp file):
// discovery, server-side printing, selectors, YAML, short names and watch, asserted on kubectl's
// own printed output.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <regex>
#include <thread>

#include "edgecore/metaserver/meta_server.h"
#include "metaserver/test_objects.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"
#include "util/wait.h"

namespace edgecore::metaserver {
namespace {

using edgecore::testing::kConfigMaps;
using edgecore::testing::kNodes;
using edgecore::testing::kPods;
using edgecore::testing::makePod;
using edgecore::testing::PodSpec;
using edgecore::testing::runCommand;
using edgecore::testing::SqliteTestStore;
using ::testing::HasSubstr;
using ::testing::Not;

std::string now3339(std::chrono::seconds ago) {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - ago);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // kubectl keeps its discovery cache under $HOME/.kube: give each test a private one.
    setenv("HOME", home_.path().c_str(), 1);
    unsetenv("KUBECONFIG");
    PodSpec web;
    web.name = "web-0";
    web.created = now3339(std::chrono::minutes(5));
    store_.put(kPods, makePod(web));
    PodSpec crash;
    crash.name = "crashy";
    crash.app = "db";
    crash.node = "edge-2";
    crash.ready = false;
    crash.restarts = 3;
    crash.waiting_reason = "CrashLoopBackOff";
    crash.created = now3339(std::chrono::hours(5));
    store_.put(kPods, makePod(crash));
    PodSpec sys;
    sys.ns = "kube-system";
    sys.name = "edgemesh-agent";
    sys.app = "edgemesh";
    sys.created = now3339(std::chrono::hours(50));
    store_.put(kPods, makePod(sys));
    store_.put(kNodes, edgecore::testing::makeNode("edge-1", true));
    store_.put(kConfigMaps, edgecore::testing::makeConfigMap("kube-system", "kube-root-ca.crt"));

    MetaServerOptions options;
    options.port = 0;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, offline_, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    server_->setReady(true);
    thread_ = std::thread([this] { ioc_.run(); });
    server_url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    thread_.join();
    server_.reset();
  }
  std::vector<std::string> args(std::initializer_list<std::string> extra) {
    std::vector<std::string> a = {KUBECTL, "--server", server_url_, "--request-timeout", "10s"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string kubectl(std::initializer_list<std::string> extra) {
    auto r = runCommand(args(extra), std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err << "\nstdout: " << r.out;
    return r.out;
  }

  edgecore::testing::TempDir home_;
  SqliteTestStore store_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::thread thread_;
  MetaServerPtr server_;
  std::string server_url_;
};

TEST_F(KubectlTest, GetPodsAllNamespaces) {
  std::string out = kubectl({"get", "pods", "-A"});
  EXPECT_THAT(
      out, HasSubstr("NAMESPACE     NAME             READY   STATUS             RESTARTS   AGE"));
  EXPECT_THAT(out,
              HasSubstr("default       crashy           0/1     CrashLoopBackOff   3          5h"));
  EXPECT_THAT(out,
              HasSubstr("default       web-0            1/1     Running            0          5m"));
  EXPECT_THAT(
      out, HasSubstr("kube-system   edgemesh-agent   1/1     Running            0          2d2h"));
}

TEST_F(KubectlTest, GetPodsShortNameWideAndSelectors) {
  std::string out = kubectl({"get", "po"});
  EXPECT_THAT(out, HasSubstr("NAME     READY   STATUS             RESTARTS   AGE"));
  EXPECT_THAT(out, HasSubstr("web-0    1/1     Running            0          5m"));
  EXPECT_THAT(out, Not(HasSubstr("edgemesh")));

  std::string wide = kubectl({"get", "pods", "-o", "wide"});
  EXPECT_THAT(wide, HasSubstr("IP            NODE     NOMINATED NODE   READINESS GATES"));
  EXPECT_THAT(wide, HasSubstr("10.244.1.17   edge-2   <none>           <none>"));

  std::string by_label = kubectl({"get", "pods", "-l", "app=db"});
  EXPECT_THAT(by_label, HasSubstr("crashy"));
  EXPECT_THAT(by_label, Not(HasSubstr("web-0")));

  std::string by_field = kubectl({"get", "pods", "--field-selector", "spec.nodeName=edge-1"});
  EXPECT_THAT(by_field, HasSubstr("web-0"));
  EXPECT_THAT(by_field, Not(HasSubstr("crashy")));
}

TEST_F(KubectlTest, GetPodYaml) {
  std::string out = kubectl({"get", "pod", "web-0", "-o", "yaml"});
  EXPECT_THAT(out, HasSubstr("apiVersion: v1\nkind: Pod\nmetadata:\n"));
  EXPECT_THAT(out, HasSubstr("  name: web-0\n  namespace: default\n"));
  EXPECT_THAT(out, HasSubstr("nodeName: edge-1"));
}

TEST_F(KubectlTest, NodesConfigMapsAndNotFound) {
  std::string nodes = kubectl({"get", "nodes"});
  EXPECT_THAT(nodes, HasSubstr("NAME     STATUS   ROLES        AGE"));
  EXPECT_THAT(nodes, HasSubstr("edge-1   Ready    agent,edge"));
  EXPECT_THAT(nodes, HasSubstr("v1.30.7-kubeedge-v1.20.0"));

  std::string cms = kubectl({"get", "configmaps", "-n", "kube-system"});
  EXPECT_THAT(cms, HasSubstr("NAME               AGE"));
  EXPECT_THAT(cms, HasSubstr("kube-root-ca.crt"));

  auto r = runCommand(args({"get", "pod", "nope"}), std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("pods \"nope\" not found"));
}

TEST_F(KubectlTest, ApiResources) {
  std::string out = kubectl({"api-resources"});
  EXPECT_THAT(out, HasSubstr("NAME"));
  EXPECT_THAT(out, HasSubstr("SHORTNAMES"));
  EXPECT_THAT(out, ::testing::ContainsRegex("pods +po +v1 +true +Pod"));
  EXPECT_THAT(out, ::testing::ContainsRegex("nodes +no +v1 +false +Node"));
  EXPECT_THAT(out, ::testing::ContainsRegex("leases +coordination.k8s.io/v1 +true +Lease"));
  EXPECT_THAT(out, ::testing::ContainsRegex("devices +devices.kubeedge.io/v1beta1 +true +Device"));
}

TEST_F(KubectlTest, WatchSeesNewAndModifiedPods) {
  edgecore::testing::ChildProcess watch(args({"get", "pods", "--watch"}));
  // Wait until kubectl's watch is registered with the server.
  (void)edgecore::testing::waitFor([&] { return server_->watcherCount() != 0; },
                                   std::chrono::seconds(20), std::chrono::milliseconds(50));
  ASSERT_EQ(server_->watcherCount(), 1u) << watch.stderrSoFar();
  PodSpec fresh;
  fresh.name = "fresh-pod";
  fresh.phase = "Pending";
  fresh.ready = false;
  fresh.waiting_reason = "ContainerCreating";
  fresh.created = now3339(std::chrono::seconds(3));
  store_.put(kPods, makePod(fresh));
  fresh.waiting_reason = "";
  fresh.phase = "Running";
  fresh.ready = true;
  store_.put(kPods, makePod(fresh));
  // Stop kubectl once it has printed the second event (the output is checked below).
  const std::regex running("fresh-pod +1/1 +Running");
  (void)edgecore::testing::waitFor([&] { return std::regex_search(watch.stdoutSoFar(), running); },
                                   std::chrono::seconds(10));
  watch.signal(SIGTERM);
  auto result = watch.wait(std::chrono::seconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_THAT(result->out, HasSubstr("NAME     READY   STATUS             RESTARTS   AGE"));
  EXPECT_THAT(result->out,
              ::testing::ContainsRegex("fresh-pod +0/1 +ContainerCreating +0 +[0-9]+s"));
  EXPECT_THAT(result->out, ::testing::ContainsRegex("fresh-pod +1/1 +Running +0 +[0-9]+s"));
}

}  // namespace
}  // namespace edgecore::metaserver
