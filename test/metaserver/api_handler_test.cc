#include "api_handler.h"

#include <gtest/gtest.h>

#include <deque>
#include <nlohmann/json.hpp>

#include "edgecore/metaserver/bus_cloud_forwarder.h"
#include "metaserver/test_objects.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metaserver {
namespace {

using edgecore::testing::kConfigMaps;
using edgecore::testing::kNodes;
using edgecore::testing::kPods;
using edgecore::testing::makePod;
using edgecore::testing::PodSpec;
using edgecore::testing::SqliteTestStore;
using nlohmann::json;

// Plays back canned cloud answers and records what was asked.
class ScriptedForwarder final : public CloudForwarder {
 public:
  bool connected = true;
  std::deque<ApplicationResult> answers;
  std::vector<Application> seen;
  bool isConnected() const override { return connected; }
  void apply(Application app, ApplyCallback done) override {
    seen.push_back(app);
    ApplicationResult r = answers.front();
    answers.pop_front();
    done(std::move(r));
  }
};

class ApiHandlerTest : public ::testing::Test {
 protected:
  ApiHandlerTest()
      : clock_(std::chrono::system_clock::time_point(std::chrono::seconds(1714557600 + 3600))),
        handler_(options_, *store_, null_, clock_) {
    for (int i = 0; i < 5; ++i) {
      PodSpec p;
      p.name = "pod-" + std::to_string(i);
      p.ns = i < 3 ? "default" : "kube-system";
      p.app = i % 2 ? "db" : "web";
      p.node = i == 4 ? "edge-2" : "edge-1";
      p.rv = 100 + i;
      store_.put(kPods, makePod(p));
    }
    store_.put(kNodes, edgecore::testing::makeNode("edge-1", true));
    store_.put(kConfigMaps, edgecore::testing::makeConfigMap("default", "cfg"));
  }
  HttpResponse call(std::string_view method, std::string_view target,
                    std::string_view accept = "application/json", bool ready = true) {
    Routed r = handler_.route(
        HttpRequest{std::string(method), std::string(target), std::string(accept), "", ""}, ready);
    EXPECT_EQ(r.kind, Routed::Kind::Respond);
    return r.response;
  }
  static json body(const HttpResponse& r) { return json::parse(r.body); }
  static std::vector<std::string> names(const json& list) {
    std::vector<std::string> out;
    for (const auto& i : list["items"]) out.push_back(i["metadata"]["name"]);
    return out;
  }

  MetaServerOptions options_;
  SqliteTestStore store_;
  NullCloudForwarder null_;
  core::ManualClock clock_;
  ApiHandler handler_;
};

TEST_F(ApiHandlerTest, GetReturnsStoredBytes) {
  auto r = call("GET", "/api/v1/namespaces/default/pods/pod-0");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, store_->getObject({kPods, "default", "pod-0"})->json);
}

// The fixture's objects sit in the store as metamanager leaves a cloud insert: a v1 `meta` row
// under the message's resource and type, and the meta_v2 object MetaServer serves.
TEST_F(ApiHandlerTest, StoreHoldsWhatMetamanagerWrites) {
  auto row = store_->getMeta("kube-system/pod/pod-3");
  ASSERT_TRUE(row.ok());
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ(json::parse(**row),
            json::parse(store_->getObject({kPods, "kube-system", "pod-3"})->json));
  auto pods = store_->listMetaByType("pod");
  ASSERT_TRUE(pods.ok());
  EXPECT_EQ(pods->size(), 5u);
  auto nodes = store_->listMetaByType("node");
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ(nodes->size(), 1u);
  EXPECT_TRUE(store_->getMeta("default/configmap/cfg")->has_value());
}

TEST_F(ApiHandlerTest, NotFoundStatus) {
  auto r = call("GET", "/api/v1/namespaces/default/pods/x");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.body, R"({"apiVersion":"v1","code":404,"details":{"kind":"pods","name":"x"},)"
                    R"("kind":"Status","message":"pods \"x\" not found","metadata":{},)"
                    R"("reason":"NotFound","status":"Failure"})");
}

TEST_F(ApiHandlerTest, ListEnvelopeAndSelectors) {
  auto all = body(call("GET", "/api/v1/pods"));
  EXPECT_EQ(all["apiVersion"], "v1");
  EXPECT_EQ(all["kind"], "PodList");
  EXPECT_EQ(all["metadata"]["resourceVersion"], std::to_string(store_->revision()));
  EXPECT_EQ(names(all), (std::vector<std::string>{"pod-0", "pod-1", "pod-2", "pod-3", "pod-4"}));
  EXPECT_EQ(names(body(call("GET", "/api/v1/namespaces/kube-system/pods"))),
            (std::vector<std::string>{"pod-3", "pod-4"}));
  EXPECT_EQ(names(body(call("GET", "/api/v1/pods?labelSelector=app%3Ddb"))),
            (std::vector<std::string>{"pod-1", "pod-3"}));
  EXPECT_EQ(names(body(call("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2"))),
            (std::vector<std::string>{"pod-4"}));
  EXPECT_EQ(names(body(call("GET",
                            "/api/v1/pods?labelSelector=app+notin+(db)"
                            "&fieldSelector=metadata.namespace!%3Ddefault"))),
            (std::vector<std::string>{"pod-4"}));
  auto nodes = body(call("GET", "/api/v1/nodes"));
  EXPECT_EQ(nodes["kind"], "NodeList");
  auto empty = body(call("GET", "/apis/apps/v1/namespaces/default/deployments"));
  EXPECT_EQ(empty["kind"], "DeploymentList");
  EXPECT_EQ(empty["apiVersion"], "apps/v1");
  EXPECT_TRUE(empty["items"].empty());
}

TEST_F(ApiHandlerTest, BadSelectorIs400) {
  auto r = call("GET", "/api/v1/pods?labelSelector=app+in+(");
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(body(r)["reason"], "BadRequest");
  EXPECT_EQ(call("GET", "/api/v1/pods?fieldSelector=spec.foo%3D1").code, 400);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/%2e%2e/pods").code, 400);
}

TEST_F(ApiHandlerTest, PagingWithContinue) {
  std::vector<std::string> seen;
  std::string target = "/api/v1/pods?limit=2";
  int pages = 0;
  while (true) {
    auto page = body(call("GET", target));
    ++pages;
    for (auto& n : names(page)) seen.push_back(n);
    if (!page["metadata"].contains("continue")) break;
    EXPECT_EQ(page["metadata"]["remainingItemCount"], 5 - static_cast<int>(seen.size()));
    target = "/api/v1/pods?limit=2&continue=" + page["metadata"]["continue"].get<std::string>();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"pod-0", "pod-1", "pod-2", "pod-3", "pod-4"}));
  EXPECT_EQ(call("GET", "/api/v1/pods?limit=2&continue=%21%21").code, 400);
  EXPECT_EQ(call("GET", "/api/v1/pods?limit=2&continue=e30").code, 400);  // "{}"
}

TEST_F(ApiHandlerTest, YamlOutput) {
  auto r = call("GET", "/api/v1/namespaces/default/configmaps/cfg", "application/yaml");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.content_type, "application/yaml");
  EXPECT_EQ(r.body,
            "apiVersion: v1\n"
            "data:\n"
            "  app.conf: |\n"
            "    listen 80;\n"
            "  mode: edge\n"
            "kind: ConfigMap\n"
            "metadata:\n"
            "  creationTimestamp: \"2024-04-30T10:00:00Z\"\n"
            "  name: cfg\n"
            "  namespace: default\n"
            "  resourceVersion: \"20\"\n"
            "  uid: c0ffee00-0000-4000-8000-000000000001\n");
  auto y = jsonToYaml(R"({"a":["x","true",1,true,null],"b":{}})");
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(*y, "a:\n  - x\n  - \"true\"\n  - 1\n  - true\n  - ~\nb: {}\n");
}

TEST_F(ApiHandlerTest, TableOutput) {
  auto r = call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  auto t = body(r);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["apiVersion"], "meta.k8s.io/v1");
  ASSERT_EQ(t["rows"].size(), 2u);
  EXPECT_EQ(t["rows"][0]["cells"][0], "pod-0");
  EXPECT_EQ(t["rows"][0]["cells"][4], "60m");
  EXPECT_EQ(t["rows"][0]["object"]["metadata"]["namespace"], "default");
  EXPECT_EQ(t["columnDefinitions"][1]["name"], "Ready");
  auto one = body(
      call("GET", "/api/v1/nodes/edge-1", "application/json;as=Table;v=v1beta1;g=meta.k8s.io"));
  EXPECT_EQ(one["apiVersion"], "meta.k8s.io/v1beta1");
  EXPECT_EQ(one["rows"][0]["cells"][1], "Ready");
}

TEST_F(ApiHandlerTest, ContentNegotiation) {
  // Core kinds have protobuf (k8s_protobuf_test.cc checks the bytes); a CRD does not: 406 when
  // only protobuf is accepted, JSON when JSON is too (kube-apiserver answers the same).
  auto pb = call("GET", "/api/v1/pods", "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(pb.code, 200);
  EXPECT_EQ(pb.content_type, "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(pb.body.substr(0, 4), std::string("k8s\0", 4));
  EXPECT_EQ(call("GET", "/api/v1/pods", "application/vnd.kubernetes.protobuf,*/*").content_type,
            "application/vnd.kubernetes.protobuf");
  auto crd = call("GET", "/apis/devices.kubeedge.io/v1beta1/devices",
                  "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(crd.code, 406);
  EXPECT_EQ(crd.content_type, "application/vnd.kubernetes.protobuf");  // a protobuf Status
  EXPECT_EQ(call("GET", "/apis/devices.kubeedge.io/v1beta1/devices",
                 "application/vnd.kubernetes.protobuf,application/json")
                .content_type,
            "application/json");
  EXPECT_EQ(call("GET", "/api/v1/pods", "text/html").code, 406);
  EXPECT_EQ(call("GET", "/api/v1/pods", "").code, 200);
  ASSERT_TRUE(
      negotiate("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
                "application/yaml"));
  EXPECT_EQ(negotiate("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
                      "application/yaml")
                ->format,
            OutputFormat::Yaml);
}

TEST_F(ApiHandlerTest, WritesOfflineAndUnsupportedVerbs) {
  auto r = call("POST", "/api/v1/namespaces/default/pods");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(body(r)["message"], "connection lost between EdgeCore and CloudCore");
  EXPECT_EQ(call("DELETE", "/api/v1/namespaces/default/pods/pod-0").code, 500);
  EXPECT_EQ(call("PATCH", "/api/v1/namespaces/default/pods/pod-0").code, 500);
  auto dc = call("DELETE", "/api/v1/namespaces/default/pods");
  EXPECT_EQ(dc.code, 405);
  EXPECT_EQ(body(dc)["reason"], "MethodNotAllowed");
  EXPECT_EQ(call("OPTIONS", "/api/v1/pods").code, 405);
  EXPECT_EQ(call("POST", "/version").code, 405);
}

TEST_F(ApiHandlerTest, HealthReadyVersion) {
  EXPECT_EQ(call("GET", "/healthz").body, "ok");
  EXPECT_EQ(call("GET", "/livez").code, 200);
  EXPECT_EQ(call("GET", "/readyz", "", false).code, 503);
  EXPECT_EQ(call("GET", "/readyz", "", true).code, 200);
  auto v = body(call("GET", "/version"));
  EXPECT_EQ(v["gitVersion"], "v1.30.7-kubeedge-edgecore-cpp");
  EXPECT_EQ(v["major"], "1");
  EXPECT_EQ(v["minor"], "30");
  store_.putRaw("/version", R"({"major":"1","minor":"29","gitVersion":"v1.29.0"})");
  EXPECT_EQ(body(call("GET", "/version"))["minor"], "29");
  EXPECT_EQ(call("GET", "/openapi/v2").code, 404);
}

TEST_F(ApiHandlerTest, Discovery) {
  auto api = body(call("GET", "/api"));
  EXPECT_EQ(api["kind"], "APIVersions");
  EXPECT_EQ(api["versions"][0], "v1");
  auto v1 = body(call("GET", "/api/v1"));
  EXPECT_EQ(v1["kind"], "APIResourceList");
  EXPECT_EQ(v1["groupVersion"], "v1");
  bool saw_pods = false;
  for (const auto& r : v1["resources"]) {
    if (r["name"] == "pods") {
      saw_pods = true;
      EXPECT_EQ(r["kind"], "Pod");
      EXPECT_EQ(r["namespaced"], true);
      EXPECT_EQ(r["shortNames"][0], "po");
      EXPECT_EQ(r["verbs"].dump(), R"(["get","list","watch"])");
    }
    if (r["name"] == "nodes") {
      EXPECT_EQ(r["namespaced"], false);
    }
  }
  EXPECT_TRUE(saw_pods);
  // A group only the store knows appears with the kind of its objects.
  store_.put(
      {"apps", "v1", "deployments"},
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"x"}})");
  auto apis = body(call("GET", "/apis"));
  EXPECT_EQ(apis["kind"], "APIGroupList");
  std::vector<std::string> groups;
  for (const auto& g : apis["groups"]) groups.push_back(g["name"]);
  EXPECT_EQ(groups,
            (std::vector<std::string>{"apps", "coordination.k8s.io", "devices.kubeedge.io"}));
  auto apps = body(call("GET", "/apis/apps/v1"));
  EXPECT_EQ(apps["resources"][0]["kind"], "Deployment");
  EXPECT_EQ(apps["resources"][0]["namespaced"], true);
  auto dev = body(call("GET", "/apis/devices.kubeedge.io/v1beta1"));
  EXPECT_EQ(dev["resources"].size(), 2u);
  EXPECT_EQ(body(call("GET", "/apis/coordination.k8s.io"))["kind"], "APIGroup");
  EXPECT_EQ(call("GET", "/apis/nope/v1").code, 404);
}

TEST(ApiHandlerForwardTest, OnlineGetIsCachedAndListReturnedAsIs) {
  MetaServerOptions options;
  SqliteTestStore store;
  ScriptedForwarder cloud;
  core::ManualClock clock;
  ApiHandler handler(options, *store, cloud, clock);

  std::string fresh = makePod(edgecore::testing::podNamed("fresh", 500));
  cloud.answers.push_back({core::Status(), 200, fresh});
  Routed r = handler.route({"GET", "/api/v1/namespaces/default/pods/fresh", "", "", ""}, true);
  ASSERT_EQ(r.kind, Routed::Kind::Forward);
  EXPECT_EQ(r.application.verb, "get");
  EXPECT_EQ(r.application.key, "/core/v1/pods/default/fresh");
  auto resp = handler.finishForward(r, cloud.answers.front());
  cloud.answers.pop_front();
  EXPECT_EQ(resp.code, 200);
  store.flush();  // the cache write is submitted before the answer, not awaited
  ASSERT_NE(store->getObject({kPods, "default", "fresh"}), nullptr);  // cached

  std::string cloud_list = R"({"apiVersion":"v1","kind":"PodList","metadata":{},"items":[]})";
  Routed l = handler.route({"GET", "/api/v1/pods?labelSelector=a%3Db", "", "", ""}, true);
  ASSERT_EQ(l.kind, Routed::Kind::Forward);
  EXPECT_EQ(json::parse(l.application.option_json)["labelSelector"], "a=b");
  auto lr = handler.finishForward(l, {core::Status(), 200, cloud_list});
  EXPECT_EQ(lr.body, cloud_list);

  // Cloud failure: fall back to the cache.
  auto fb = handler.finishForward(r, {core::unavailable("timeout"), 500, ""});
  EXPECT_EQ(fb.code, 200);
  // Cloud rejection keeps the cloud's Status and code.
  Routed w = handler.route({"DELETE", "/api/v1/namespaces/default/pods/fresh", "", "", ""}, true);
  ASSERT_EQ(w.kind, Routed::Kind::Forward);
  std::string forbidden = statusBody(403, "Forbidden", "no");
  auto wr = handler.finishForward(w, {core::failedPrecondition("rejected"), 403, forbidden});
  EXPECT_EQ(wr.code, 403);
  EXPECT_EQ(wr.body, forbidden);
  auto wf = handler.finishForward(w, {core::deadlineExceeded("timeout"), 500, ""});
  EXPECT_EQ(wf.code, 500);
}

// Found by test/fuzz/metaserver_request_fuzzer: a cloud answer nesting ~100k levels deep
// overflowed the stack in the YAML printer (and, for a get, in the store's re-encoding). Such a
// body is refused with an error and the handler keeps serving.
TEST(ApiHandlerForwardTest, DeeplyNestedCloudAnswerIsRefusedAndServingGoesOn) {
  MetaServerOptions options;
  SqliteTestStore store;
  ScriptedForwarder cloud;
  core::ManualClock clock;
  ApiHandler handler(options, *store, cloud, clock);
  store.put(kPods, makePod(edgecore::testing::podNamed("web", 100)));

  const std::string deep = R"({"apiVersion":"v1","kind":"PodList","items":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}";
  Routed l = handler.route({"GET", "/api/v1/pods", "application/yaml", "", ""}, true);
  ASSERT_EQ(l.kind, Routed::Kind::Forward);
  auto resp = handler.finishForward(l, {core::Status(), 200, deep});
  EXPECT_EQ(resp.code, 500);
  EXPECT_NE(resp.body.find("nests deeper than"), std::string::npos);
  EXPECT_FALSE(jsonToYaml(deep).ok());

  auto next = handler.route({"GET", "/api/v1/namespaces/default/pods/web", "", "", ""}, true);
  ASSERT_EQ(next.kind, Routed::Kind::Forward);  // still online, still answering
  auto fallback = handler.finishForward(next, {core::unavailable("timeout"), 500, ""});
  EXPECT_EQ(fallback.code, 200);
}

// Found by test/fuzz/metaserver_request_fuzzer: a selector (or name) that percent-decodes to
// invalid UTF-8 made the Status body's json::dump throw out of the handler.
TEST_F(ApiHandlerTest, InvalidUtf8InSelectorIs400NotAnException) {
  auto r = call("GET", "/api/v1/pods?labelSelector=a%FF%3D%FE");
  EXPECT_EQ(r.code, 400);
  EXPECT_TRUE(json::accept(r.body)) << r.body;
  // The list envelope is built by hand: a resource with a quote or invalid UTF-8 stays JSON.
  auto odd = call("GET", "/api/v1/P%AC%22x");
  EXPECT_EQ(odd.code, 200);
  EXPECT_TRUE(json::accept(odd.body)) << odd.body;
  auto nf = call("GET", "/api/v1/namespaces/default/pods/%FFx");
  EXPECT_EQ(nf.code, 404);
  EXPECT_TRUE(json::accept(nf.body)) << nf.body;
}

TEST(DecodeApplicationAnswerTest, DeeplyNestedAnswerIsAnError) {
  const std::string deep = R"({"Status":"Rejected","Error":{"ErrStatus":{"code":403,"x":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}}}";
  auto r = decodeApplicationAnswer(deep);
  EXPECT_EQ(r.status.code(), core::StatusCode::Internal);
  EXPECT_EQ(r.http_code, 500);
}

}  // namespace
}  // namespace edgecore::metaserver

namespace edgecore::metaserver {
namespace {

// Hostile targets never crash the handler and always get a Status-shaped answer.
TEST_F(ApiHandlerTest, RandomTargetsNeverCrash) {
  const std::string pieces[] = {"/",
                                "api",
                                "apis",
                                "v1",
                                "namespaces",
                                "pods",
                                "..",
                                ".",
                                "%2e",
                                "%2F",
                                "%",
                                "%zz",
                                "?",
                                "&",
                                "=",
                                "watch",
                                "x",
                                "%00",
                                "#",
                                ";",
                                "//",
                                "\xff",
                                "labelSelector=",
                                "limit=9"};
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string target = "/";
    int n = static_cast<int>(next() % 12);
    for (int k = 0; k < n; ++k) target += pieces[next() % std::size(pieces)];
    for (const char* method : {"GET", "DELETE"}) {
      Routed r = handler_.route(HttpRequest{method, target, "application/json", "", ""}, true);
      if (r.kind != Routed::Kind::Respond) continue;  // watch plans are fine too
      int code = r.response.code;
      EXPECT_TRUE(code == 200 || code == 400 || code == 404 || code == 405 || code == 500)
          << method << " " << target << " -> " << code;
    }
  }
}

}  // namespace
}  // namespace edgecore::metaserver
