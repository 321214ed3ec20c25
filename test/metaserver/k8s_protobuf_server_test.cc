// MetaServer over real HTTP (curl) with the Kubernetes protobuf Accept header: the envelope
// for core kinds, protobuf watch framing, JSON (or 406) for CRDs, protobuf request bodies.
// Objects are the ones recorded from a real kube-apiserver (data/metaserver/k8s-proto).

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgecore/metaserver/meta_server.h"
#include "metaserver/test_objects.h"
#include "protobuf/envelope.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using edgecore::testing::runCommand;
using edgecore::testing::TempDir;
using nlohmann::json;

const std::string kFixtures = std::string(EDGECORE_TEST_DATA_DIR) + "/metaserver/k8s-proto/";
const std::string kPb = "application/vnd.kubernetes.protobuf";
const metamanager::Gvr kDevices{"devices.kubeedge.io", "v1beta1", "devices"};

// A cloud that is connected and answers a create with the object it was sent.
class EchoCloud final : public CloudForwarder {
 public:
  std::mutex mu;
  std::vector<Application> seen;
  bool isConnected() const override { return true; }
  void apply(Application app, ApplyCallback done) override {
    ApplicationResult r;
    r.body = app.req_body;
    {
      std::lock_guard lock(mu);
      seen.push_back(std::move(app));
    }
    std::thread([done, r] { done(r); }).detach();
  }
};

struct Reply {
  std::string headers;
  std::string body;
  std::string header(const std::string& name) const {
    auto at = headers.find(name + ": ");
    if (at == std::string::npos) return {};
    auto end = headers.find("\r\n", at);
    return headers.substr(at + name.size() + 2, end - at - name.size() - 2);
  }
  int code() const { return headers.size() > 12 ? std::stoi(headers.substr(9, 3)) : 0; }
};

std::string protocDecode(const std::string& type, const std::string& bytes) {
  TempDir dir;
  dir.write("in.bin", bytes);
  auto r = runCommand({"/bin/sh", "-c",
                       std::string(EDGECORE_PROTOC) + " -I " + EDGECORE_K8S_PROTO_DIR +
                           " --decode=" + type + " k8s.io/api/core/v1/generated.proto < " +
                           dir.file("in.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The object bytes of an envelope, checked to start with the magic.
std::string rawOf(const std::string& envelope) {
  EXPECT_EQ(envelope.substr(0, 4), protobuf::kMagic);
  auto text = protocDecode("k8s.io.apimachinery.pkg.runtime.Unknown", envelope.substr(4));
  EXPECT_NE(text.find("typeMeta {"), std::string::npos) << text;
  auto j = protobuf::decodeObject(envelope);  // our own reader, for the raw bytes
  EXPECT_TRUE(j.ok());
  return text;
}

class K8sProtobufServerTest : public ::testing::Test {
 protected:
  void start(CloudForwarder& cloud) {
    MetaServerOptions options;
    options.port = 0;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, cloud, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  void SetUp() override {
    store_.put(edgecore::testing::kPods, edgecore::testing::readFile(kFixtures + "pod.json"));
    store_.put(edgecore::testing::kConfigMaps,
               edgecore::testing::readFile(kFixtures + "configmap.json"));
    store_.put(kDevices,
               R"({"apiVersion":"devices.kubeedge.io/v1beta1","kind":"Device",)"
               R"("metadata":{"name":"thermo","namespace":"default","resourceVersion":"5"}})");
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    for (auto& t : threads_) t.join();
    server_.reset();
  }
  // A real HTTP client; `extra` are more curl arguments.
  Reply curl(const std::string& path, const std::string& accept,
             std::vector<std::string> extra = {}) {
    TempDir dir;
    std::vector<std::string> argv = {EDGECORE_CURL, "-s", "--max-time",  "10", "-D",
                                     dir.file("h"), "-o", dir.file("b"), "-H", "Accept: " + accept};
    for (auto& e : extra) argv.push_back(std::move(e));
    argv.push_back("http://127.0.0.1:" + std::to_string(server_->port()) + path);
    auto r = runCommand(argv, std::chrono::seconds(20));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Reply{edgecore::testing::readFile(dir.file("h")),
                 edgecore::testing::readFile(dir.file("b"))};
  }

  edgecore::testing::SqliteTestStore store_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  MetaServerPtr server_;
};

TEST_F(K8sProtobufServerTest, GetListAndErrorsAreProtobufEnvelopes) {
  start(offline_);
  // client-go's Accept for core types.
  Reply pod = curl("/api/v1/namespaces/default/pods/demo-pod", kPb + ",application/json");
  EXPECT_EQ(pod.code(), 200) << pod.headers;
  EXPECT_EQ(pod.header("Content-Type"), kPb);
  std::string envelope = rawOf(pod.body);
  EXPECT_NE(envelope.find("apiVersion: \"v1\"\n  kind: \"Pod\""), std::string::npos) << envelope;
  auto decoded = protobuf::decodeObject(pod.body);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)["metadata"]["name"], "demo-pod");
  EXPECT_EQ((*decoded)["spec"]["containers"][0]["resources"]["requests"]["cpu"], "100m");

  Reply list = curl("/api/v1/namespaces/default/pods", kPb);
  EXPECT_EQ(list.header("Content-Type"), kPb);
  auto pods = protobuf::decodeObject(list.body);
  ASSERT_TRUE(pods.ok()) << pods.status().message();
  EXPECT_EQ((*pods)["kind"], "PodList");
  ASSERT_EQ((*pods)["items"].size(), 1u);
  EXPECT_FALSE((*pods)["metadata"]["resourceVersion"].get<std::string>().empty());

  Reply missing = curl("/api/v1/namespaces/default/pods/nope", kPb);
  EXPECT_EQ(missing.code(), 404);
  EXPECT_EQ(missing.header("Content-Type"), kPb);
  auto status = protobuf::decodeObject(missing.body);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["kind"], "Status");
  EXPECT_EQ((*status)["code"], 404);
  EXPECT_EQ((*status)["reason"], "NotFound");

  // JSON clients are unchanged.
  Reply json_pod = curl("/api/v1/namespaces/default/pods/demo-pod", "application/json");
  EXPECT_EQ(json_pod.header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(json_pod.body)["metadata"]["name"], "demo-pod");
}

TEST_F(K8sProtobufServerTest, CrdsFallBackToJsonOr406) {
  start(offline_);
  Reply both = curl("/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices",
                    kPb + ",application/json");
  EXPECT_EQ(both.code(), 200);
  EXPECT_EQ(both.header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(both.body)["items"][0]["metadata"]["name"], "thermo");
  Reply only = curl("/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices", kPb);
  EXPECT_EQ(only.code(), 406);
  auto status = protobuf::decodeObject(only.body);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["reason"], "NotAcceptable");
}

TEST_F(K8sProtobufServerTest, WatchUsesLengthPrefixedWatchEvents) {
  start(offline_);
  Reply watch = curl("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1", kPb);
  EXPECT_EQ(watch.header("Content-Type"), kPb + ";stream=watch");
  // Frames: 4-byte big-endian length + WatchEvent.
  std::vector<std::string> events;
  std::string_view rest = watch.body;
  while (rest.size() >= 4) {
    uint32_t n = (static_cast<uint32_t>(static_cast<uint8_t>(rest[0])) << 24) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(rest[1])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(rest[2])) << 8) |
                 static_cast<uint32_t>(static_cast<uint8_t>(rest[3]));
    ASSERT_LE(4 + n, rest.size());
    events.emplace_back(rest.substr(4, n));
    rest.remove_prefix(4 + n);
  }
  EXPECT_TRUE(rest.empty());
  ASSERT_EQ(events.size(), 1u);
  std::string text = protocDecode("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent", events[0]);
  EXPECT_EQ(text.rfind("type: \"ADDED\"\nobject {\n  raw: \"k8s\\000", 0), 0u) << text;
  EXPECT_NE(text.find("demo-config"), std::string::npos) << text;
}

TEST_F(K8sProtobufServerTest, ProtobufRequestBodiesAreForwardedAsJson) {
  EchoCloud cloud;
  start(cloud);
  std::string body = edgecore::testing::readFile(kFixtures + "configmap.pb");
  TempDir dir;
  dir.write("body.pb", body);
  Reply created = curl(
      "/api/v1/namespaces/default/configmaps", kPb,
      {"-X", "POST", "-H", "Content-Type: " + kPb, "--data-binary", "@" + dir.file("body.pb")});
  EXPECT_EQ(created.code(), 200) << created.headers << created.body;
  EXPECT_EQ(created.header("Content-Type"), kPb);
  {
    std::lock_guard lock(cloud.mu);
    ASSERT_EQ(cloud.seen.size(), 1u);
    json sent = json::parse(cloud.seen[0].req_body);
    EXPECT_EQ(sent["kind"], "ConfigMap");
    EXPECT_EQ(sent["data"]["mode"], "edge");
  }
  // Protobuf is not a patch format; a broken body is refused before the cloud sees it.
  Reply patch = curl(
      "/api/v1/namespaces/default/configmaps/demo-config", "application/json",
      {"-X", "PATCH", "-H", "Content-Type: " + kPb, "--data-binary", "@" + dir.file("body.pb")});
  EXPECT_EQ(patch.code(), 415);
  EXPECT_EQ(json::parse(patch.body)["reason"], "UnsupportedMediaType");
  dir.write("bad.pb", std::string("k8s\0garbage", 11));
  Reply bad =
      curl("/api/v1/namespaces/default/configmaps", "application/json",
           {"-X", "POST", "-H", "Content-Type: " + kPb, "--data-binary", "@" + dir.file("bad.pb")});
  EXPECT_EQ(bad.code(), 415);
  std::lock_guard lock(cloud.mu);
  EXPECT_EQ(cloud.seen.size(), 1u);
}

}  // namespace
}  // namespace edgecore::metaserver
