// Kubernetes protobuf on MetaServer: negotiation as kube-apiserver does it, and the descriptor
// driven JSON <-> protobuf converter checked against objects recorded from a real kube-apiserver
// (data/metaserver/k8s-proto/README.md) and against protoc --decode with the vendored schema.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api_handler.h"
#include "edgecore/core/time.h"
#include "protobuf/descriptor_pool.h"
#include "protobuf/envelope.h"
#include "protobuf/go_duration.h"
#include "protobuf/json_to_proto.h"
#include "protobuf/media_type.h"
#include "util/process.h"

namespace edgecore::metaserver {
namespace {

using nlohmann::json;
namespace pb = protobuf;

const std::string kFixtures = std::string(EDGECORE_TEST_DATA_DIR) + "/metaserver/k8s-proto/";
constexpr std::string_view kPb = "application/vnd.kubernetes.protobuf";

json fixtureJson(const std::string& name) {
  return json::parse(edgecore::testing::readFile(kFixtures + name + ".json"));
}
std::string fixtureBytes(const std::string& name) {
  return edgecore::testing::readFile(kFixtures + name);
}

// Zero values removed: Go's protobuf writes every non-pointer field (empty strings, 0, false)
// while its JSON omits them, and both decode to the same Go value.
json withoutZeroValues(const json& j) {
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : j.items()) {
      json n = withoutZeroValues(v);
      bool zero = n.is_null() || (n.is_string() && n.get<std::string>().empty()) ||
                  (n.is_number() && n.get<double>() == 0) || (n.is_boolean() && !n.get<bool>()) ||
                  (n.is_object() && n.empty()) || (n.is_array() && n.empty());
      if (!zero) out[k] = std::move(n);
    }
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(withoutZeroValues(v));
    return out;
  }
  return j;
}

// The raw object bytes inside an envelope.
std::string rawOf(std::string_view envelope) {
  auto unknown = pb::newMessage(pb::findMessage("k8s.io.apimachinery.pkg.runtime.Unknown"));
  envelope.remove_prefix(pb::kMagic.size());
  EXPECT_TRUE(unknown->ParseFromArray(envelope.data(), static_cast<int>(envelope.size())));
  return unknown->GetReflection()->GetString(*unknown,
                                             unknown->GetDescriptor()->FindFieldByName("raw"));
}

// protoc --decode=<type> of `bytes`, with the vendored .proto files.
std::string protocDecode(const std::string& type, const std::string& bytes) {
  edgecore::testing::TempDir dir;
  dir.write("in.bin", bytes);
  std::string proto = type.rfind("k8s.io.api.coordination", 0) == 0
                          ? "k8s.io/api/coordination/v1/generated.proto"
                          : "k8s.io/api/core/v1/generated.proto";
  auto r = edgecore::testing::runCommand({"/bin/sh", "-c",
                                          std::string(EDGECORE_PROTOC) + " -I " +
                                              EDGECORE_K8S_PROTO_DIR + " --decode=" + type + " " +
                                              proto + " < " + dir.file("in.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// protoc's text without indentation, so expectations read as "a\nb {\nc: 1".
std::string flat(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && c == ' ') continue;
    out += c;
    line_start = c == '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Negotiation: the answers of the real kube-apiserver in apiserver-negotiation.txt.

TEST(K8sProtobufNegotiation, ProtobufForCoreKindsJsonFallbackForCrds) {
  const std::string only = std::string(kPb);
  const std::string client_go = std::string(kPb) + ",application/json";
  auto core = [](const std::string& accept) { return negotiate(accept, true); };
  auto crd = [](const std::string& accept) { return negotiate(accept, false); };

  ASSERT_TRUE(core(only));
  EXPECT_EQ(core(only)->format, OutputFormat::Protobuf);
  EXPECT_FALSE(crd(only));  // 406, as for a CRD
  ASSERT_TRUE(core(client_go));
  EXPECT_EQ(core(client_go)->format, OutputFormat::Protobuf);
  ASSERT_TRUE(crd(client_go));
  EXPECT_EQ(crd(client_go)->format, OutputFormat::Json);
  // q-values win over order.
  EXPECT_EQ(core("application/json;q=0.5," + only)->format, OutputFormat::Protobuf);
  EXPECT_EQ(core(only + ";q=0.5,application/json")->format, OutputFormat::Json);
  EXPECT_EQ(core(only + ";q=0.9,application/json;q=0.8")->format, OutputFormat::Protobuf);
  EXPECT_EQ(core("*/*")->format, OutputFormat::Json);
  EXPECT_FALSE(core(only + ";q=0"));
  // Tables are not served as protobuf: the next range is used.
  EXPECT_EQ(core(only + ";as=Table;v=v1;g=meta.k8s.io,application/json")->format,
            OutputFormat::Json);
}

TEST(K8sProtobufNegotiation, AcceptParsingIsBounded) {
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "text/x" + std::to_string(i) + ",";
  many += kPb;
  EXPECT_EQ(pb::parseAccept(many).size(), pb::kMaxRanges);
  EXPECT_FALSE(negotiate(many, true));  // the protobuf range is past the bound
}

// ---------------------------------------------------------------------------------------------
// Converter against the real kube-apiserver.

class RecordedObject : public ::testing::TestWithParam<std::string> {};

// Our encoding of the server's JSON holds the same object as the server's own protobuf, and the
// server's protobuf decodes back to its JSON.
TEST_P(RecordedObject, EncodesLikeKubeApiserverAndDecodesBack) {
  json original = fixtureJson(GetParam());
  std::string real = fixtureBytes(GetParam() + ".pb");
  ASSERT_EQ(real.substr(0, 4), pb::kMagic);

  auto ours = pb::encodeObject(original);
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  ASSERT_EQ(ours->substr(0, 4), pb::kMagic);

  auto from_real = pb::decodeObject(real);
  ASSERT_TRUE(from_real.ok()) << from_real.status().message();
  auto from_ours = pb::decodeObject(*ours);
  ASSERT_TRUE(from_ours.ok()) << from_ours.status().message();

  json want = withoutZeroValues(original);
  EXPECT_EQ(withoutZeroValues(*from_real), want) << "the server's protobuf, decoded by us";
  EXPECT_EQ(withoutZeroValues(*from_ours), want) << "our protobuf, decoded by us";
  // Same typeMeta in the envelope.
  EXPECT_EQ(protocDecode("k8s.io.apimachinery.pkg.runtime.Unknown", ours->substr(4)).substr(0, 40),
            protocDecode("k8s.io.apimachinery.pkg.runtime.Unknown", real.substr(4)).substr(0, 40));
}

INSTANTIATE_TEST_SUITE_P(FromRealApiserver, RecordedObject,
                         ::testing::Values("pod", "podlist", "node", "configmap", "secret",
                                           "service", "endpoints", "events", "leases", "notfound"));

// protoc, not our decoder, reads what we wrote: the Kubernetes-specific fields land where
// k8s.io/api's generated types expect them.
TEST(K8sProtobufConverter, ProtocDecodesOurPod) {
  json pod = fixtureJson("pod");
  auto ours = pb::encodeObject(pod);
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  std::string envelope =
      flat(protocDecode("k8s.io.apimachinery.pkg.runtime.Unknown", ours->substr(4)));
  EXPECT_NE(envelope.find("typeMeta {\napiVersion: \"v1\"\nkind: \"Pod\"\n}"), std::string::npos)
      << envelope;
  std::string text = flat(protocDecode("k8s.io.api.core.v1.Pod", rawOf(*ours)));
  auto has = [&text](const std::string& s) { return text.find(s) != std::string::npos; };
  EXPECT_TRUE(has("name: \"demo-pod\"")) << text;
  // metav1.Time: RFC 3339 -> seconds.
  auto created = core::parseRfc3339(pod["metadata"]["creationTimestamp"].get<std::string>());
  ASSERT_TRUE(created.ok());
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(created->time_since_epoch());
  EXPECT_TRUE(has("creationTimestamp {\nseconds: " + std::to_string(secs.count()))) << text;
  // Quantity: {string}.
  EXPECT_TRUE(has("key: \"cpu\"\nvalue {\nstring: \"100m\"")) << text;
  // Inline VolumeSource and LocalObjectReference.
  EXPECT_TRUE(has("volumeSource {\nconfigMap {\nlocalObjectReference {\nname: \"demo-config\""))
      << text;
  // Inline ProbeHandler, IntOrString by name.
  EXPECT_TRUE(has("handler {\nhttpGet {\npath: \"/healthz\"\nport {\ntype: 1\nstrVal: \"http\""))
      << text;
  // managedFields fieldsV1: the JSON text as bytes.
  EXPECT_TRUE(has("fieldsV1 {\nRaw: \"{\\\"f:metadata\\\"")) << text;
}

TEST(K8sProtobufConverter, ProtocDecodesSecretBytesLeaseMicroTimeAndServicePorts) {
  auto secret = pb::encodeObject(fixtureJson("secret"));
  ASSERT_TRUE(secret.ok());
  std::string s = flat(protocDecode("k8s.io.api.core.v1.Secret", rawOf(*secret)));
  // base64 "czNjcjN0" in JSON -> the bytes themselves.
  EXPECT_NE(s.find("key: \"password\"\nvalue: \"s3cr3t\""), std::string::npos) << s;

  json lease = fixtureJson("leases")["items"][0];
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  auto encoded = pb::encodeObject(lease);
  ASSERT_TRUE(encoded.ok());
  std::string l = flat(protocDecode("k8s.io.api.coordination.v1.Lease", rawOf(*encoded)));
  auto renew = core::parseRfc3339Nanos(lease["spec"]["renewTime"].get<std::string>());
  ASSERT_TRUE(renew.ok());
  EXPECT_NE(l.find("renewTime {\nseconds: " + std::to_string(*renew / 1'000'000'000) +
                   "\nnanos: " + std::to_string(*renew % 1'000'000'000)),
            std::string::npos)
      << l;

  auto service = pb::encodeObject(fixtureJson("service"));
  ASSERT_TRUE(service.ok());
  std::string sv = flat(protocDecode("k8s.io.api.core.v1.Service", rawOf(*service)));
  EXPECT_NE(sv.find("targetPort {\ntype: 0\nintVal: 9090"), std::string::npos) << sv;
}

TEST(K8sProtobufConverter, KubernetesJsonSpecialCases) {
  // Duration both ways, Go's spelling.
  EXPECT_EQ(*pb::parseGoDuration("1h2m3.5s"), 3723500000000);
  EXPECT_EQ(*pb::parseGoDuration("300ms"), 300000000);
  EXPECT_FALSE(pb::parseGoDuration("5").ok());
  EXPECT_FALSE(pb::parseGoDuration("1x").ok());
  EXPECT_EQ(pb::formatGoDuration(3723500000000), "1h2m3.5s");
  EXPECT_EQ(pb::formatGoDuration(1500000), "1.5ms");
  // Unknown fields are dropped; a numeric Quantity is read; nulls are absent.
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "x"}, {"noSuchField", 1}, {"deletionTimestamp", nullptr}}},
             {"binaryData", {{"b", "AAEC"}}}};
  auto encoded = pb::encodeObject(cm);
  ASSERT_TRUE(encoded.ok()) << encoded.status().message();
  auto back = pb::decodeObject(*encoded);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["metadata"], json({{"name", "x"}}));
  EXPECT_EQ((*back)["binaryData"]["b"], "AAEC");
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"spec", {{"overhead", {{"cpu", 1}}}}}};
  auto p = pb::decodeObject(*pb::encodeObject(pod));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["spec"]["overhead"]["cpu"], "1");
}

TEST(K8sProtobufConverter, BadInputIsAnErrorNotACrash) {
  auto bad = [](json j) { return pb::encodeObject(j).status().code(); };
  json base = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json wrong_type = base;
  wrong_type["metadata"] = {{"name", 5}};
  EXPECT_EQ(bad(wrong_type), core::StatusCode::InvalidArgument);
  json bad_time = base;
  bad_time["metadata"] = {{"creationTimestamp", "yesterday"}};
  EXPECT_EQ(bad(bad_time), core::StatusCode::InvalidArgument);
  json ancient = base;  // fuzzer find: 1013 overflowed the nanosecond count (UB)
  ancient["metadata"] = {{"creationTimestamp", "1013-12-07T14:05:55Z"}};
  EXPECT_EQ(bad(ancient), core::StatusCode::InvalidArgument);
  json bad_b64 = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"data", {{"k", "***"}}}};
  EXPECT_EQ(bad(bad_b64), core::StatusCode::InvalidArgument);
  json overflow = base;
  overflow["spec"] = {{"terminationGracePeriodSeconds", 1e300}};
  EXPECT_EQ(bad(overflow), core::StatusCode::InvalidArgument);
  json int32_overflow = base;
  int32_overflow["spec"] = {{"priority", 5000000000}};
  EXPECT_EQ(bad(int32_overflow), core::StatusCode::InvalidArgument);
  // CRDs and unknown kinds have no protobuf type.
  EXPECT_EQ(bad({{"apiVersion", "devices.kubeedge.io/v1beta1"}, {"kind", "Device"}}),
            core::StatusCode::NotFound);
  // Garbage envelopes.
  EXPECT_FALSE(pb::decodeObject("nope").ok());
  EXPECT_FALSE(pb::decodeObject(std::string(pb::kMagic) + "\xff\xff\xff").ok());
}

// The real server's watch frames: 4-byte big-endian length + WatchEvent; ours the same.
TEST(K8sProtobufConverter, WatchFramesMatchKubeApiserver) {
  std::string stream = fixtureBytes("configmap-watch.pb");
  ASSERT_GE(stream.size(), 4u);
  auto len = (static_cast<uint32_t>(static_cast<uint8_t>(stream[0])) << 24) |
             (static_cast<uint32_t>(static_cast<uint8_t>(stream[1])) << 16) |
             (static_cast<uint32_t>(static_cast<uint8_t>(stream[2])) << 8) |
             static_cast<uint32_t>(static_cast<uint8_t>(stream[3]));
  ASSERT_EQ(stream.size(), 4 + len);  // one ADDED event, then the stream ended (timeout)
  std::string event = stream.substr(4);
  std::string text = protocDecode("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent", event);
  EXPECT_EQ(text.rfind("type: \"ADDED\"", 0), 0u) << text;

  auto ours = pb::encodeObject(fixtureJson("configmap"));
  ASSERT_TRUE(ours.ok());
  std::string frame = pb::watchFrame("ADDED", *ours);
  auto ours_len = (static_cast<uint32_t>(static_cast<uint8_t>(frame[2])) << 8) |
                  static_cast<uint32_t>(static_cast<uint8_t>(frame[3]));
  EXPECT_EQ(frame.size(), 4 + ours_len);
  EXPECT_EQ(protocDecode("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent", frame.substr(4))
                .rfind("type: \"ADDED\"\nobject {\n  raw: \"k8s\\000", 0),
            0u);
}

}  // namespace
}  // namespace edgecore::metaserver
