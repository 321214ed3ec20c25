// A real Kubernetes client speaking protobuf to MetaServer: kube-scheduler v1.26 (from
// ../shared/realcloud/bin; its client-go sends `Accept: application/vnd.kubernetes.protobuf,
// */*` and protobuf request bodies by default). kubectl 1.32 has no switch to ask for protobuf,
// so this is the real-client check: the scheduler lists and watches our Pods and Nodes as
// protobuf, decodes them well enough to fit the pod's requests onto the node's allocatable, and
// POSTs a protobuf Binding that MetaServer decodes and forwards to the cloud as JSON. Other
// groups it watches (storage, policy, apps) are answered as JSON, the CRD-style fallback.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgecore/metaserver/meta_server.h"
#include "metaserver/test_objects.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"
#include "util/wait.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using edgecore::testing::runCommand;
using edgecore::testing::TempDir;
using nlohmann::json;

// Connected to a "cloud" that fails every read (MetaServer then serves its cache) and records
// every write, answering with the object it was sent.
class RecordingCloud final : public CloudForwarder {
 public:
  std::mutex mu;
  std::vector<Application> writes;
  bool isConnected() const override { return true; }
  void apply(Application app, ApplyCallback done) override {
    ApplicationResult r;
    if (app.verb == "get" || app.verb == "list") {
      r.status = core::unavailable("reads come from the cache in this test");
    } else {
      r.body = app.req_body.empty() ? "{}" : app.req_body;
      std::lock_guard lock(mu);
      writes.push_back(std::move(app));
    }
    std::thread([done, r] { done(r); }).detach();
  }
  std::optional<Application> binding() {
    std::lock_guard lock(mu);
    for (const auto& w : writes) {
      if (w.subresource == "binding") return w;
    }
    return std::nullopt;
  }
};

const char* kNode = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1",
  "resourceVersion":"10","creationTimestamp":"2024-04-01T08:00:00Z",
  "labels":{"kubernetes.io/hostname":"edge-1","kubernetes.io/os":"linux"}},
  "spec":{},"status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"110"},
  "allocatable":{"cpu":"2","memory":"4Gi","pods":"110"},
  "conditions":[{"type":"Ready","status":"True","reason":"EdgeReady",
  "lastHeartbeatTime":"2024-04-01T08:00:00Z","lastTransitionTime":"2024-04-01T08:00:00Z"}],
  "addresses":[{"type":"InternalIP","address":"192.168.1.20"}]}})";
// Too big for a second node that is full (so the scheduler must read quantities right).
const char* kSmallNode = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-0",
  "resourceVersion":"11","creationTimestamp":"2024-04-01T08:00:00Z"},
  "spec":{},"status":{"allocatable":{"cpu":"100m","memory":"64Mi","pods":"110"},
  "conditions":[{"type":"Ready","status":"True","reason":"EdgeReady"}]}})";
const char* kPod =
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default",
  "uid":"0b7f3c7e-2f0c-4c1a-9d55-1d1f0c7e2a11","resourceVersion":"12",
  "creationTimestamp":"2024-04-01T08:01:00Z"},
  "spec":{"schedulerName":"default-scheduler","restartPolicy":"Always",
  "containers":[{"name":"app","image":"busybox:1.36","resources":{"requests":{"cpu":"500m","memory":"256Mi"}}}]},
  "status":{"phase":"Pending"}})";

TEST(KubeSchedulerProtobuf, SchedulesAPodFromProtobufListsAndBindsWithAProtobufBody) {
  TempDir dir;
  const std::string xz = std::string(EDGECORE_SHARED_DIR) + "/realcloud/bin/kube-scheduler.xz";
  auto unpack = runCommand({"/bin/sh", "-c",
                            "xz -dc " + xz + " > " + dir.file("kube-scheduler") + " && chmod +x " +
                                dir.file("kube-scheduler")},
                           std::chrono::seconds(120));
  ASSERT_EQ(unpack.exit_code, 0) << "kube-scheduler from " << xz << ": " << unpack.err;

  edgecore::testing::SqliteTestStore store;
  store.put(edgecore::testing::kNodes, kNode);
  store.put(edgecore::testing::kNodes, kSmallNode);
  store.put(edgecore::testing::kPods, kPod);
  RecordingCloud cloud;
  core::SystemClock clock;
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  MetaServerOptions options;
  options.port = 0;
  auto server = createMetaServer(ioc.get_executor(), options, *store, cloud, clock, nullptr);
  ASSERT_TRUE(server->start().ok());
  server->setReady(true);
  std::thread io([&] { ioc.run(); });

  dir.write("kubeconfig",
            "apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster:\n"
            "    server: http://127.0.0.1:" +
                std::to_string(server->port()) +
                "\ncontexts:\n- name: edge\n  context: {cluster: edge, user: u}\n"
                "current-context: edge\nusers:\n- name: u\n  user: {}\n");
  edgecore::testing::ChildProcess scheduler({dir.file("kube-scheduler"),
                                             "--kubeconfig=" + dir.file("kubeconfig"),
                                             "--leader-elect=false", "--secure-port=0", "-v=8"});
  bool bound = edgecore::testing::waitFor([&] { return cloud.binding().has_value(); },
                                          std::chrono::seconds(60));
  scheduler.signal(SIGTERM);
  (void)scheduler.wait(std::chrono::seconds(10));
  server->stop();
  work.reset();
  io.join();

  std::string log = scheduler.stderrSoFar();
  ASSERT_TRUE(bound) << log.substr(0, 20000);
  auto binding = *cloud.binding();
  json body = json::parse(binding.req_body);
  EXPECT_EQ(body["kind"], "Binding");
  EXPECT_EQ(body["metadata"]["name"], "web");
  EXPECT_EQ(body["target"]["kind"], "Node");
  EXPECT_EQ(body["target"]["name"], "edge-1");  // edge-0 is too small: quantities were decoded
  // client-go's own trace (-v=8): it asked for protobuf and got it for the core kinds.
  EXPECT_NE(log.find("Accept: application/vnd.kubernetes.protobuf, */*"), std::string::npos);
  EXPECT_NE(log.find("Content-Type: application/vnd.kubernetes.protobuf"), std::string::npos);
}

}  // namespace
}  // namespace edgecore::metaserver
