// The metamanager module against a real SQLite store in a temp dir and a real Bus on a real
// io_context. Stand-in modules "websocket" (a scripted cloud at bus level), "edged" and "twin"
// record what they receive.

#include "metamanager/meta_manager.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/test_util.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/core/time.h"
#include "edgecore/metamanager/module.h"
#include "metamanager/imitator.h"
#include "metamanager/sqlite_meta_store.h"
#include "metaserver/test_objects.h"
#include "util/plain_db.h"
#include "util/sqlite_test_store.h"

namespace edgecore::metamanager {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::Message;
using nlohmann::json;
using testing::runUntil;

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Message frame(const std::string& file) {
  auto m = core::decodeMessage(readFile(fs::path(EDGECORE_TEST_DATA_DIR) / "metamanager" / file));
  EXPECT_TRUE(m.ok()) << m.status().toString();
  return *m;
}

// A second, plain connection to the database file, as an operator's sqlite3 shell would have.
class PlainDb : public edgecore::testing::PlainDb {
 public:
  using edgecore::testing::PlainDb::PlainDb;
  std::optional<std::string> metaValue(const std::string& key) {
    return text("SELECT value FROM meta WHERE key = ?", key);
  }
  std::optional<std::string> metaType(const std::string& key) {
    return text("SELECT type FROM meta WHERE key = ?", key);
  }
  std::optional<std::string> v2Value(const std::string& key) {
    return text("SELECT value FROM meta_v2 WHERE key = ?", key);
  }
  std::optional<std::string> v2Gvr(const std::string& key) {
    return text("SELECT groupversionresource FROM meta_v2 WHERE key = ?", key);
  }

 private:
  // NULL reads as "" here (the store's columns are NOT NULL or checked for presence only).
  std::optional<std::string> text(const std::string& sql, const std::string& arg) {
    if (query(sql, {arg}).empty()) {
      return std::nullopt;
    }
    return value(sql, {arg}).value_or("");
  }
};

// A module on the bus that records what it gets and may answer requests.
struct StandIn {
  std::vector<Message> got;
  std::function<std::optional<Message>(const Message&)> answer;
};

class MetaManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mm_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_path_ = (dir_ / "edgecore.db").string();
    SqliteStoreOptions opts;
    opts.path = db_path_;
    auto store = SqliteMetaStore::open(opts);
    ASSERT_TRUE(store.ok()) << store.status().toString();
    store_ = std::move(*store);
    config_.modules.meta_manager.enable = true;
    config_.modules.meta_manager.context_send_group = "hub";
    config_.modules.meta_manager.context_send_module = "websocket";
    config_.modules.meta_manager.remote_query_timeout = std::chrono::seconds(60);
    plain_ = std::make_unique<PlainDb>(db_path_);
  }

  void TearDown() override {
    if (module_) {
      module_->stop();
    }
    module_.reset();
    blocking_.join();
    for (const char* m : {"websocket", "edged", "twin"}) {
      bus_.unsubscribe(m);
    }
    plain_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void startModule(MetaManagerOptions options = {}) {
    core::ModuleContext ctx{asio::make_strand(ioc_),      bus_,   config_,
                            loggers_.make("metamanager"), clock_, blocking_};
    auto mm = createMetaManager(ctx, *store_, options);
    ASSERT_TRUE(mm.ok());
    module_ = std::move(*mm);
    ASSERT_TRUE(module_->start().ok());
    ASSERT_TRUE(subscribe("websocket", "hub", &cloud_).ok());
    ASSERT_TRUE(subscribe("edged", "edged", &edged_).ok());
    ASSERT_TRUE(subscribe("twin", "twin", &twin_).ok());
  }

  core::Status subscribe(const std::string& name, const std::string& group, StandIn* s) {
    return bus_.subscribe(name, group, asio::make_strand(ioc_), [this, s](Message m) {
      if (s == &cloud_ && on_cloud_) {
        on_cloud_(m);
      }
      s->got.push_back(m);
      if (m.header.sync && s->answer) {
        if (auto r = s->answer(m)) {
          (void)bus_.reply(m, std::move(*r));
        }
      }
    });
  }

  void send(Message m) { ASSERT_TRUE(bus_.send("metamanager", std::move(m)).ok()); }

  void setConnected(bool up) {
    Message m = Message::create("edgehub", "meta", "connect", "node/connection",
                                up ? "cloud_connected" : "cloud_disconnected");
    ASSERT_TRUE(bus_.broadcast("meta", m).ok());
    uint64_t before = module_->counters().connects;
    ASSERT_TRUE(runUntil(ioc_, [&] { return module_->counters().connects > before; }));
  }

  // A request to metamanager as edged's meta client would make; the answer lands in *out.
  std::shared_ptr<std::optional<core::Result<Message>>> request(Message m,
                                                                std::chrono::milliseconds t) {
    auto out = std::make_shared<std::optional<core::Result<Message>>>();
    asio::co_spawn(ioc_, askMetaManager(&bus_, std::move(m), t, out), asio::detached);
    return out;
  }
  static asio::awaitable<void> askMetaManager(
      core::Bus* bus, Message m, std::chrono::milliseconds t,
      std::shared_ptr<std::optional<core::Result<Message>>> out) {
    auto op = bus->request("metamanager", std::move(m), t);
    auto r = co_await std::move(op);
    out->emplace(std::move(r));
  }

  std::vector<Message> acks() const {
    std::vector<Message> out;
    for (const Message& m : cloud_.got) {
      if (m.route.operation == "response" && m.content == json("OK")) {
        out.push_back(m);
      }
    }
    return out;
  }

  fs::path dir_;
  std::string db_path_;
  std::unique_ptr<SqliteMetaStore> store_;
  asio::io_context ioc_;
  core::Bus bus_{ioc_};
  asio::thread_pool blocking_{2};
  core::SystemClock clock_;
  core::LoggerFactory loggers_{spdlog::level::warn};
  core::EdgeCoreConfig config_;
  std::unique_ptr<MetaManager> module_;
  std::unique_ptr<PlainDb> plain_;
  StandIn cloud_, edged_, twin_;
  std::function<void(const Message&)> on_cloud_;
};

Message cloudMsg(const std::string& op, const std::string& resource, json content,
                 const std::string& source = "edgecontroller") {
  Message m = Message::create(source, "resource", op, resource, std::move(content));
  m.header.resource_version = "7";
  return m;
}

json pod(const std::string& name, const std::string& uid) {
  return json{{"metadata",
               {{"name", name}, {"namespace", "default"}, {"uid", uid}, {"resourceVersion", "7"}}},
              {"spec", {{"nodeName", "edge-1"}}}};
}

// --- cloud -> edge ------------------------------------------------------------------------

TEST_F(MetaManagerTest, PodInsertFromCloudIsDurableBeforeAckAndHandedToEdged) {
  startModule();
  Message ins = frame("b-pod-insert-frame.json");
  // At the moment the ACK reaches the cloud, the rows must already be visible to another
  // connection: the ACK is sent only after COMMIT.
  std::optional<std::string> meta_at_ack, v2_at_ack;
  on_cloud_ = [&](const Message& m) {
    if (m.route.operation == "response") {
      meta_at_ack = plain_->metaValue("default/pod/bb-1");
      v2_at_ack = plain_->v2Value("/core/v1/pods/default/bb-1");
    }
  };
  send(ins);
  ASSERT_TRUE(runUntil(ioc_, [&] { return !acks().empty() && !edged_.got.empty(); }));
  ASSERT_TRUE(meta_at_ack.has_value());
  ASSERT_TRUE(v2_at_ack.has_value());
  EXPECT_EQ(json::parse(*meta_at_ack), ins.content);
  EXPECT_EQ(json::parse(*v2_at_ack)["metadata"]["uid"], "6a0b1f3e-6c1e-4f57-9a55-0d3c2f6f0b01");
  // Encoded once: meta_v2 holds the meta bytes plus the newline of Go's json.Encoder.
  EXPECT_EQ(*v2_at_ack, *meta_at_ack + "\n");
  // edged got the message as sent, content and all.
  ASSERT_EQ(edged_.got.size(), 1u);
  EXPECT_EQ(edged_.got[0].content, ins.content);
  EXPECT_EQ(plain_->metaType("default/pod/bb-1"), "pod");
  EXPECT_EQ(plain_->v2Gvr("/core/v1/pods/default/bb-1"), "/v1, Resource=pods");

  // The ACK shape of spec cloud-protocol 4.1.
  ASSERT_EQ(acks().size(), 1u);
  const std::vector<Message> all_acks = acks();
  const Message& ack = all_acks[0];
  EXPECT_EQ(ack.header.parent_id, ins.header.id);
  EXPECT_NE(ack.header.id, ins.header.id);
  EXPECT_EQ(ack.header.id.size(), 36u);
  EXPECT_EQ(ack.route.source, "edgecontroller");
  EXPECT_EQ(ack.route.group, "resource");
  EXPECT_EQ(ack.route.operation, "response");
  EXPECT_EQ(ack.route.resource, "default/pod/bb-1");
  EXPECT_EQ(ack.header.resource_version, "");
  std::string wire = core::encodeMessage(ack);
  EXPECT_NE(wire.find("\"content\":\"OK\""), std::string::npos) << wire;

  ASSERT_EQ(edged_.got.size(), 1u);
  EXPECT_EQ(edged_.got[0].header.id, ins.header.id);
  EXPECT_EQ(edged_.got[0].route.operation, "insert");
  EXPECT_EQ(module_->counters().acks_sent, 1u);
  EXPECT_EQ(module_->counters().inserts, 1u);
  EXPECT_NE(store_->getObject({{"", "v1", "pods"}, "default", "bb-1"}), nullptr);
}

TEST_F(MetaManagerTest, PodWithoutTypeMetaGetsApiVersionAndKindInMetaV2) {
  startModule();
  send(cloudMsg("insert", "default/pod/p1", pod("p1", "u1")));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  auto v2 = plain_->v2Value("/core/v1/pods/default/p1");
  ASSERT_TRUE(v2.has_value());
  json obj = json::parse(*v2);
  EXPECT_EQ(obj["apiVersion"], "v1");
  EXPECT_EQ(obj["kind"], "Pod");
  // meta keeps the content exactly as the cloud sent it.
  EXPECT_EQ(json::parse(*plain_->metaValue("default/pod/p1")), pod("p1", "u1"));
}

TEST_F(MetaManagerTest, UpdateUpsertsAndAcks) {
  startModule();
  send(cloudMsg("insert", "default/pod/p1", pod("p1", "u1")));
  json updated = pod("p1", "u1");
  updated["metadata"]["resourceVersion"] = "9";
  updated["metadata"]["labels"] = {{"a", "b"}};
  Message upd = cloudMsg("update", "default/pod/p1", updated);
  send(upd);
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 2 && edged_.got.size() == 2; }));
  EXPECT_EQ(acks()[1].header.parent_id, upd.header.id);
  EXPECT_EQ(json::parse(*plain_->metaValue("default/pod/p1")), updated);
  auto obj = store_->getObject({{"", "v1", "pods"}, "default", "p1"});
  ASSERT_NE(obj, nullptr);
  EXPECT_EQ(obj->resource_version, 9u);
  EXPECT_EQ(edged_.got[1].route.operation, "update");
}

TEST_F(MetaManagerTest, PatchFromEdgedIsStoredAsTextAndForwardedWhenConnected) {
  startModule();
  setConnected(true);
  std::string patch = R"({"metadata":{"uid":"u1"},"status":{"phase":"Running"}})";
  Message p = Message::create("edged", "meta", "patch", "default/podpatch/p1", patch);
  send(p);
  ASSERT_TRUE(runUntil(ioc_, [&] { return !cloud_.got.empty(); }));
  EXPECT_EQ(plain_->metaValue("default/podpatch/p1"), patch);
  EXPECT_EQ(plain_->metaType("default/podpatch/p1"), "podpatch");
  // Forwarded unchanged, same msg_id, so the cloud's answer reaches edged's waiting request.
  EXPECT_EQ(cloud_.got[0], p);
  EXPECT_TRUE(acks().empty());
  // No meta_v2 row for a patch.
  EXPECT_EQ(store_->stats().objects, 0u);
}

// Events from edged go to the cloud untouched (as in Go) and, our addition, are kept in meta_v2
// (newest state) for MetaServer, at most 1000 and none older than an hour.
TEST_F(MetaManagerTest, EdgedEventsGoToTheCloudAndAreKeptBounded) {
  startModule();
  auto event = [](const std::string& name, int count, const std::string& last) {
    return json{{"metadata", {{"name", name}, {"namespace", "ns1"}}},
                {"involvedObject", {{"kind", "Pod"}, {"name", "web"}, {"namespace", "ns1"}}},
                {"reason", "Started"},
                {"count", count},
                {"lastTimestamp", last}};
  };
  auto stamp = [](std::chrono::system_clock::time_point t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  const auto now = std::chrono::system_clock::now();
  Gvr gvr;
  gvr.version = "v1";
  gvr.resource = "events";
  Message ins =
      Message::create("edged", "meta", "insert", "ns1/event/web.1", event("web.1", 1, stamp(now)));
  send(ins);
  json patched = {{"event", event("web.1", 2, stamp(now))},
                  {"patchData", R"({"count":2,"lastTimestamp":"x","message":""})"}};
  send(Message::create("edged", "meta", "patch", "ns1/event/web.1", patched));
  ASSERT_TRUE(runUntil(ioc_, [&] { return cloud_.got.size() == 2; }));
  EXPECT_EQ(cloud_.got[0], ins);  // forwarded as sent, even while disconnected
  EXPECT_EQ(cloud_.got[1].route.operation, "patch");
  ASSERT_TRUE(runUntil(ioc_, [&] {
    ObjectKey k;
    k.gvr = gvr;
    k.ns = "ns1";
    k.name = "web.1";
    auto o = store_->getObject(k);
    return o && json::parse(o->json).value("count", 0) == 2;
  }));
  EXPECT_FALSE(plain_->metaValue("ns1/event/web.1").has_value());  // not a meta row

  // One expired event, then enough new ones to go over the bound and trigger pruning.
  send(Message::create("edged", "meta", "insert", "ns1/event/old.1",
                       event("old.1", 1, stamp(now - std::chrono::hours(2)))));
  // In batches (the bus mailbox holds 1024), each committed before the next.
  for (int i = 0; i < 1100; ++i) {
    std::string n = "e." + std::to_string(100000 + i);
    send(Message::create("edged", "meta", "insert", "ns1/event/" + n,
                         event(n, 1, stamp(now + std::chrono::seconds(i)))));
    if (i % 16 == 15 || i == 1099) {
      ObjectKey k;
      k.gvr = gvr;
      k.ns = "ns1";
      k.name = n;
      ASSERT_TRUE(runUntil(ioc_, [&] {
        return cloud_.got.size() == static_cast<size_t>(i) + 4 && store_->getObject(k) != nullptr;
      }));
    }
  }
  ASSERT_TRUE(runUntil(
      ioc_,
      [&] {
        auto all = store_->listObjects(gvr, "ns1");
        return all.size() <= 1000 + 32 && std::none_of(all.begin(), all.end(), [](const auto& o) {
                 return o->key.name == "old.1" || o->key.name == "e.100000";
               });
      },
      std::chrono::seconds(30)));
  // The newest are kept.
  ObjectKey last;
  last.gvr = gvr;
  last.ns = "ns1";
  last.name = "e.101099";
  EXPECT_TRUE(runUntil(ioc_, [&] { return store_->getObject(last) != nullptr; }));
}

TEST_F(MetaManagerTest, PatchWhileDisconnectedAnswersConnectionLost) {
  startModule();
  Message p = Message::create("edged", "meta", "patch", "default/podpatch/p1", "{}");
  auto answer = request(p, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
  ASSERT_TRUE((*answer)->ok());
  const Message& err = ***answer;
  EXPECT_EQ(err.route.operation, "error");
  EXPECT_EQ(err.content, "connection lost between EdgeCore and CloudCore");
  EXPECT_EQ(err.header.parent_id, p.header.id);
  EXPECT_EQ(plain_->metaValue("default/podpatch/p1"), "{}");  // stored all the same
  EXPECT_TRUE(cloud_.got.empty());
}

TEST_F(MetaManagerTest, PodDeleteIsGuardedByUid) {
  startModule();
  send(cloudMsg("insert", "default/pod/bb-1", frame("b-pod-insert-frame.json").content));
  send(Message::create("edged", "meta", "patch", "default/podpatch/bb-1", "{}"));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  ASSERT_TRUE(
      runUntil(ioc_, [&] { return plain_->metaValue("default/podpatch/bb-1").has_value(); }));

  // A delete for an older pod of the same name (another uid) must not remove the new one.
  Message wrong = cloudMsg("delete", "default/pod/bb-1", pod("bb-1", "other-uid"));
  send(wrong);
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 2; }));
  EXPECT_EQ(acks()[1].header.parent_id, wrong.header.id);  // still ACKed, as Go does
  EXPECT_TRUE(plain_->metaValue("default/pod/bb-1").has_value());
  EXPECT_TRUE(plain_->metaValue("default/podpatch/bb-1").has_value());

  // The real delete frame (uid matches): pod row, podpatch row and meta_v2 object go.
  Message del = frame("c-pod-delete-frame.json");
  send(del);
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 3; }));
  EXPECT_EQ(acks()[2].header.parent_id, del.header.id);
  EXPECT_FALSE(plain_->metaValue("default/pod/bb-1").has_value());
  EXPECT_FALSE(plain_->metaValue("default/podpatch/bb-1").has_value());
  EXPECT_FALSE(plain_->v2Value("/core/v1/pods/default/bb-1").has_value());
  EXPECT_EQ(edged_.got.back().route.operation, "delete");
}

TEST_F(MetaManagerTest, EdgedPodDeleteGoesToTheCloudOnly) {
  startModule();
  send(cloudMsg("insert", "default/pod/p1", pod("p1", "u1")));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  Message del =
      Message::create("edged", "meta", "delete", "default/pod/p1",
                      json{{"gracePeriodSeconds", 0}, {"preconditions", {{"uid", "u1"}}}});
  send(del);
  ASSERT_TRUE(runUntil(ioc_, [&] { return cloud_.got.size() == 2; }));
  EXPECT_EQ(cloud_.got[1], del);
  EXPECT_TRUE(plain_->metaValue("default/pod/p1").has_value());
}

TEST_F(MetaManagerTest, ConfigMapInsertAndDelete) {
  startModule();
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "cm-1"}, {"namespace", "default"}, {"resourceVersion", "3"}}},
             {"data", {{"k", "v"}}}};
  send(cloudMsg("insert", "default/configmap/cm-1", cm));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  EXPECT_EQ(plain_->metaType("default/configmap/cm-1"), "configmap");
  EXPECT_TRUE(plain_->v2Value("/core/v1/configmaps/default/cm-1").has_value());
  send(cloudMsg("delete", "default/configmap/cm-1", cm));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 2; }));
  EXPECT_FALSE(plain_->metaValue("default/configmap/cm-1").has_value());
  EXPECT_FALSE(plain_->v2Value("/core/v1/configmaps/default/cm-1").has_value());
}

TEST_F(MetaManagerTest, DeviceFromDeviceControllerGoesToTwinNotEdged) {
  startModule();
  json dev = {{"apiVersion", "devices.kubeedge.io/v1beta1"},
              {"kind", "Device"},
              {"metadata", {{"name", "dev1"}, {"namespace", "default"}, {"resourceVersion", "4"}}}};
  Message ins = cloudMsg("insert", "default/device/dev1", dev, "devicecontroller");
  send(ins);
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1 && twin_.got.size() == 1; }));
  EXPECT_TRUE(edged_.got.empty());
  // process.go SetRoute(MetaGroup, DeviceTwinModuleName): source "meta", group "twin".
  EXPECT_EQ(twin_.got[0].route.source, "meta");
  EXPECT_EQ(twin_.got[0].route.group, "twin");
  EXPECT_EQ(twin_.got[0].header.id, ins.header.id);
  EXPECT_EQ(acks()[0].route.source, "devicecontroller");
  EXPECT_TRUE(plain_->v2Value("/devices.kubeedge.io/v1beta1/devices/default/dev1").has_value());
  send(cloudMsg("update", "default/device/dev1", dev, "devicecontroller"));
  send(cloudMsg("delete", "default/device/dev1", dev, "devicecontroller"));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 3 && twin_.got.size() == 3; }));
  EXPECT_FALSE(plain_->metaValue("default/device/dev1").has_value());
}

TEST_F(MetaManagerTest, NoAckForNoAckRequiredMessages) {
  startModule();
  // Task-manager traffic is not tracked by the cloud.
  send(cloudMsg("insert", "default/pod/p1", pod("p1", "u1"), "taskmanager"));
  send(cloudMsg("insert", "default/pod/p2", pod("p2", "u2")));
  ASSERT_TRUE(runUntil(ioc_, [&] { return edged_.got.size() == 2; }));
  ASSERT_EQ(acks().size(), 1u);
  EXPECT_EQ(acks()[0].route.resource, "default/pod/p2");
}

// --- durability failures ----------------------------------------------------------------

TEST_F(MetaManagerTest, FailedWriteIsNotAckedAndTheResendIs) {
  startModule();
  send(cloudMsg("insert", "default/pod/p0", pod("p0", "u0")));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  ASSERT_TRUE(store_->setMaxPageCountForTest(1).ok());  // full disk from now on
  json big = pod("p1", "u1");
  big["spec"]["blob"] = std::string(1024 * 1024, 'x');
  Message ins = cloudMsg("insert", "default/pod/p1", big);
  send(ins);
  ASSERT_TRUE(runUntil(ioc_, [&] { return module_->counters().write_failures >= 1; }));
  // Go answers a failed store with an `error` message (the cloud only logs it); it is sent
  // from the same continuation that would have sent the ACK, so once it is here, nothing else
  // for p1 is coming.
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return !cloud_.got.empty() && cloud_.got.back().route.operation == "error"; }));
  EXPECT_EQ(cloud_.got.back().header.parent_id, ins.header.id);
  EXPECT_EQ(acks().size(), 1u);
  EXPECT_EQ(edged_.got.size(), 1u);
  EXPECT_FALSE(plain_->metaValue("default/pod/p1").has_value());

  // Space again; the cloud resends the same message 5 s later: stored, then ACKed once.
  ASSERT_TRUE(store_->setMaxPageCountForTest(1u << 30).ok());
  send(ins);
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 2; }));
  EXPECT_EQ(acks()[1].header.parent_id, ins.header.id);
  EXPECT_TRUE(plain_->metaValue("default/pod/p1").has_value());
}

// --- queries --------------------------------------------------------------------------------

Message cloudConfigMapAnswer(const Message& req) {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "cfg"}, {"namespace", "default"}, {"resourceVersion", "12"}}},
             {"data", {{"k", "v"}}}};
  Message resp = Message::create("edgecontroller", "resource", "response", req.route.resource,
                                 json{{"Object", cm}, {"Err", nullptr}});
  resp.header.resource_version = "12";
  return resp;
}

TEST_F(MetaManagerTest, RemoteQueryCachesAnswersRequesterAndAcksTheCloud) {
  startModule();
  setConnected(true);
  cloud_.answer = [](const Message& req) { return cloudConfigMapAnswer(req); };
  Message q = Message::create("edged", "meta", "query", "default/configmap/cfg", nullptr);
  auto answer = request(q, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
  ASSERT_TRUE((*answer)->ok()) << (*answer)->status().toString();
  const Message& resp = ***answer;
  EXPECT_EQ(resp.header.parent_id, q.header.id);
  EXPECT_EQ(resp.content["Object"]["data"]["k"], "v");

  // What went to the cloud: the query under a fresh id, then the ACK of the cloud's answer.
  ASSERT_TRUE(runUntil(ioc_, [&] { return cloud_.got.size() == 2; }));
  const Message& sent = cloud_.got[0];
  EXPECT_NE(sent.header.id, q.header.id);
  EXPECT_EQ(sent.route, q.route);
  const Message& ack = cloud_.got[1];
  EXPECT_EQ(ack.route.operation, "response");
  EXPECT_EQ(ack.content, "OK");
  EXPECT_EQ(ack.header.parent_id, resp.header.id);
  EXPECT_EQ(ack.route.source, "edgecontroller");
  EXPECT_EQ(ack.route.group, "resource");
  EXPECT_EQ(ack.route.resource, "default/configmap/cfg");

  // Cached: the Object (not the wrapper) in meta, and in meta_v2.
  auto cached = plain_->metaValue("default/configmap/cfg");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(json::parse(*cached)["data"]["k"], "v");
  EXPECT_TRUE(plain_->v2Value("/core/v1/configmaps/default/cfg").has_value());
  EXPECT_EQ(module_->counters().remote_ok, 1u);

  // Offline: the same query is answered from the cache, nothing goes to the cloud.
  setConnected(false);
  Message q2 = Message::create("edged", "meta", "query", "default/configmap/cfg", nullptr);
  auto answer2 = request(q2, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer2->has_value(); }));
  ASSERT_TRUE((*answer2)->ok());
  const Message& local = ***answer2;
  EXPECT_EQ(local.header.parent_id, q2.header.id);
  EXPECT_EQ(local.route.source, "metamanager");
  ASSERT_TRUE(local.content.is_array());
  ASSERT_EQ(local.content.size(), 1u);
  EXPECT_EQ(json::parse(local.content[0].get<std::string>())["data"]["k"], "v");
  EXPECT_EQ(cloud_.got.size(), 2u);
}

// CloudHub keys its queue of answers by object: two concurrent answers for one object to one
// node collapse into the newer, and the older query never hears back. So two queries of the
// same object in flight are one query to the cloud, and both requesters get its answer.
TEST_F(MetaManagerTest, ConcurrentQueriesOfOneObjectShareOneCloudQuery) {
  startModule();
  setConnected(true);
  cloud_.answer = [](const Message& req) { return cloudConfigMapAnswer(req); };
  Message q1 = Message::create("edged", "meta", "query", "default/configmap/cfg", nullptr);
  Message q2 = Message::create("edged", "meta", "query", "default/configmap/cfg", nullptr);
  Message other = Message::create("edged", "meta", "query", "default/configmap/other", nullptr);
  auto a1 = request(q1, std::chrono::seconds(5));
  auto a2 = request(q2, std::chrono::seconds(5));
  auto a3 = request(other, std::chrono::seconds(5));
  ASSERT_TRUE(
      runUntil(ioc_, [&] { return a1->has_value() && a2->has_value() && a3->has_value(); }));
  ASSERT_TRUE((*a1)->ok() && (*a2)->ok() && (*a3)->ok());
  EXPECT_EQ((***a1).header.parent_id, q1.header.id);
  EXPECT_EQ((***a2).header.parent_id, q2.header.id);
  EXPECT_EQ((***a2).content["Object"]["data"]["k"], "v");
  int queries = 0, acks = 0;
  for (const Message& m : cloud_.got) {
    queries += m.route.operation == "query" && m.route.resource == "default/configmap/cfg";
    acks += m.route.operation == "response" && m.route.resource == "default/configmap/cfg";
  }
  EXPECT_EQ(queries, 1);
  EXPECT_EQ(acks, 1);
  // The next query, after the answer, goes to the cloud again.
  auto a4 = request(Message::create("edged", "meta", "query", "default/configmap/cfg", nullptr),
                    std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return a4->has_value(); }));
  queries = 0;
  for (const Message& m : cloud_.got) {
    queries += m.route.operation == "query" && m.route.resource == "default/configmap/cfg";
  }
  EXPECT_EQ(queries, 2);
}

TEST_F(MetaManagerTest, RemoteErrorAnswerIsPassedThroughUncachedAndAcked) {
  startModule();
  setConnected(true);
  cloud_.answer = [](const Message& req) {
    return Message::create(
        "edgecontroller", "resource", "response", req.route.resource,
        json{{"ErrStatus", {{"status", "Failure"}, {"reason", "NotFound"}, {"code", 404}}}});
  };
  Message q = Message::create("edged", "meta", "query", "default/secret/s", nullptr);
  auto answer = request(q, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value() && cloud_.got.size() == 2; }));
  ASSERT_TRUE((*answer)->ok());
  EXPECT_EQ((***answer).content["ErrStatus"]["code"], 404);
  EXPECT_EQ(cloud_.got[1].content, "OK");
  EXPECT_FALSE(plain_->metaValue("default/secret/s").has_value());
}

TEST_F(MetaManagerTest, RemoteTimeoutFallsBackToTheCache) {
  MetaManagerOptions options;
  options.remote_query_timeout = std::chrono::milliseconds(200);
  startModule(options);
  // Cache something first (as a previous answer would have).
  send(cloudMsg("insert", "default/configmap/cfg",
                json{{"metadata", {{"name", "cfg"}, {"namespace", "default"}}}}));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  setConnected(true);
  Message q = Message::create("edged", "meta", "query", "default/configmap/cfg", nullptr);
  auto answer = request(q, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
  ASSERT_TRUE((*answer)->ok());
  const Message& local = ***answer;
  EXPECT_EQ(local.header.parent_id, q.header.id);
  ASSERT_TRUE(local.content.is_array());
  EXPECT_EQ(local.content.size(), 1u);
  EXPECT_EQ(module_->counters().remote_timeout, 1u);
  // The query did go to the cloud first.
  EXPECT_EQ(cloud_.got.back().route.operation, "query");
}

TEST_F(MetaManagerTest, LocalQueryByTypeAcrossNamespacesAndByKey) {
  startModule();
  send(cloudMsg("insert", "default/pod/a", pod("a", "ua")));
  send(cloudMsg("insert", "other/pod/b", pod("b", "ub")));
  send(cloudMsg("insert", "default/configmap/c", json{{"metadata", {{"name", "c"}}}}));
  // No wait for the ACKs: a query sees every write submitted before it.
  auto all = request(Message::create("edged", "meta", "query", "default/pod", nullptr),
                     std::chrono::seconds(5));
  auto one = request(Message::create("edged", "meta", "query", "other/pod/b", nullptr),
                     std::chrono::seconds(5));
  auto none = request(Message::create("edged", "meta", "query", "other/pod/zz", nullptr),
                      std::chrono::seconds(5));
  ASSERT_TRUE(
      runUntil(ioc_, [&] { return all->has_value() && one->has_value() && none->has_value(); }));
  ASSERT_TRUE((*all)->ok());
  EXPECT_EQ((***all).content.size(), 2u);  // every namespace, as Go's QueryMeta("type")
  ASSERT_TRUE((*one)->ok());
  ASSERT_EQ((***one).content.size(), 1u);
  EXPECT_EQ(json::parse((***one).content[0].get<std::string>())["metadata"]["uid"], "ub");
  ASSERT_TRUE((*none)->ok());
  EXPECT_EQ((***none).content, json::array());
  EXPECT_EQ(module_->counters().local_queries, 3u);
}

TEST_F(MetaManagerTest, EdgedInsertWhileDisconnectedIsRefused) {
  startModule();
  json node = {{"metadata", {{"name", "edge-1"}}}};
  Message ins = Message::create("edged", "meta", "insert", "default/node/edge-1", node);
  auto answer = request(ins, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
  ASSERT_TRUE((*answer)->ok());
  const Message& err = ***answer;
  EXPECT_EQ(err.route.operation, "error");
  EXPECT_EQ(err.route.source, "metamanager");
  EXPECT_EQ(err.route.group, "meta");
  EXPECT_EQ(err.content, "failed to process remote: not connected");
  EXPECT_EQ(err.header.parent_id, ins.header.id);
  EXPECT_TRUE(cloud_.got.empty());
  EXPECT_FALSE(plain_->metaValue("default/node/edge-1").has_value());
}

TEST_F(MetaManagerTest, EdgedNodeInsertWhileConnectedGoesRemoteAndCachesTheObject) {
  startModule();
  setConnected(true);
  json node = {{"metadata", {{"name", "edge-1"}}}};
  cloud_.answer = [&](const Message& req) {
    json created = node;
    created["metadata"]["resourceVersion"] = "55";
    return Message::create("edgecontroller", "resource", "response", req.route.resource,
                           json{{"Object", created}, {"Err", nullptr}});
  };
  Message ins = Message::create("edged", "meta", "insert", "default/node/edge-1", node);
  auto answer = request(ins, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value() && cloud_.got.size() == 2; }));
  ASSERT_TRUE((*answer)->ok());
  EXPECT_EQ((***answer).header.parent_id, ins.header.id);
  EXPECT_EQ(json::parse(*plain_->metaValue("default/node/edge-1"))["metadata"]["resourceVersion"],
            "55");
  EXPECT_TRUE(plain_->v2Value("/core/v1/nodes/null/edge-1").has_value());
}

TEST_F(MetaManagerTest, NodePatchFromEdgedUpdatesTheServedNodeOnlineAndOffline) {
  startModule();
  json node = {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", "edge-1"}, {"labels", {{"a", "b"}}}}},
      {"status",
       {{"capacity", {{"cpu", "2"}, {"example.com/widget", "2"}}},
        {"allocatable", {{"cpu", "2"}, {"example.com/widget", "2"}}},
        {"conditions",
         json::array({{{"type", "MemoryPressure"}, {"status", "False"}},
                      {{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}})}}}};
  // Offline: edged's insert is refused but the node lands in meta_v2 all the same.
  auto ins = request(Message::create("edged", "meta", "insert", "default/node/edge-1", node),
                     std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return ins->has_value(); }));
  const ObjectKey key{{"", "v1", "nodes"}, "", "edge-1"};
  ASSERT_TRUE(runUntil(ioc_, [&] { return store_->getObject(key) != nullptr; }));
  auto served = [&] { return json::parse(store_->getObject(key)->json); };

  // The kubelet's patch shape: capacity key removed with null, allocatable lowered, Ready
  // flipped, conditions re-ordered, a condition added.
  std::string patch =
      json{{"status",
            {{"$setElementOrder/conditions",
              json::array(
                  {{{"type", "Ready"}}, {{"type", "MemoryPressure"}}, {{"type", "DiskPressure"}}})},
             {"capacity", {{"example.com/widget", nullptr}}},
             {"allocatable", {{"example.com/widget", "0"}}},
             {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}},
                                         {{"type", "DiskPressure"}, {"status", "False"}}})}}}}
          .dump();
  auto offline =
      request(Message::create("edged", "meta", "patch", "default/nodepatch/edge-1", patch),
              std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return offline->has_value(); }));
  EXPECT_EQ((***offline).route.operation, "error");  // connection lost, as before
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return !served()["status"]["capacity"].contains("example.com/widget"); }));
  json s = served();
  EXPECT_EQ(s["status"]["capacity"]["cpu"], "2");
  EXPECT_EQ(s["status"]["allocatable"]["example.com/widget"], "0");
  EXPECT_EQ(s["metadata"]["labels"]["a"], "b");
  ASSERT_EQ(s["status"]["conditions"].size(), 3u);
  EXPECT_EQ(s["status"]["conditions"][0]["type"], "Ready");
  EXPECT_EQ(s["status"]["conditions"][0]["status"], "False");
  EXPECT_EQ(s["status"]["conditions"][0]["reason"], "KubeletReady");  // merged, not replaced
  EXPECT_EQ(s["status"]["conditions"][1]["type"], "MemoryPressure");
  EXPECT_EQ(s["status"]["conditions"][2]["type"], "DiskPressure");

  // Online: applied as well, and still forwarded unchanged.
  setConnected(true);
  std::string patch2 = R"({"status":{"allocatable":{"example.com/widget":"1"}}})";
  Message p2 = Message::create("edged", "meta", "patch", "default/nodepatch/edge-1", patch2);
  send(p2);
  ASSERT_TRUE(runUntil(ioc_, [&] {
    return !cloud_.got.empty() && served()["status"]["allocatable"]["example.com/widget"] == "1";
  }));
  EXPECT_EQ(cloud_.got.back(), p2);

  // Junk patches and patches for unknown nodes change nothing.
  send(Message::create("edged", "meta", "patch", "default/nodepatch/edge-1", "[1,2"));
  send(Message::create("edged", "meta", "patch", "default/nodepatch/ghost", patch2));
  Message p3 = Message::create("edged", "meta", "patch", "default/nodepatch/edge-1",
                               R"({"status":{"allocatable":{"example.com/widget":"2"}}})");
  send(p3);
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return served()["status"]["allocatable"]["example.com/widget"] == "2"; }));
  EXPECT_EQ(store_->getObject({{"", "v1", "nodes"}, "", "ghost"}), nullptr);
}

// Offline, edged's pod status (podpatch) lands on the pod MetaServer serves, so keadm ctl and
// kubectl on the node see pods as they run (a static pod's local mirror included); only when
// the uid matches; online the cloud's pod update carries the status, so nothing is applied.
TEST_F(MetaManagerTest, PodStatusPatchUpdatesTheServedPodOnlyWhileOffline) {
  startModule();
  json mirror = pod("hello-edge-n1", "static-uid");
  auto ins =
      request(Message::create("edged", "meta", "insert", "default/pod/hello-edge-n1", mirror),
              std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return ins->has_value(); }));
  const ObjectKey key{{"", "v1", "pods"}, "default", "hello-edge-n1"};
  ASSERT_TRUE(runUntil(ioc_, [&] { return store_->getObject(key) != nullptr; }));
  auto served = [&] { return json::parse(store_->getObject(key)->json); };

  auto statusPatch = [](const std::string& uid, const std::string& phase) {
    return json{{"metadata", {{"uid", uid}}},
                {"status",
                 {{"phase", phase},
                  {"$setElementOrder/conditions", json::array({{{"type", "Ready"}}})},
                  {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}}
        .dump();
  };
  auto offline = request(Message::create("edged", "meta", "patch", "default/podpatch/hello-edge-n1",
                                         statusPatch("static-uid", "Running")),
                         std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return offline->has_value(); }));
  EXPECT_EQ((***offline).route.operation, "error");  // connection lost, as before
  ASSERT_TRUE(runUntil(ioc_, [&] { return served()["status"].value("phase", "") == "Running"; }));
  EXPECT_EQ(served()["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(served()["spec"]["nodeName"], "edge-1");

  // Another uid (the pod was replaced meanwhile): not applied.
  auto other = request(Message::create("edged", "meta", "patch", "default/podpatch/hello-edge-n1",
                                       statusPatch("other-uid", "Failed")),
                       std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return other->has_value(); }));
  // Online: forwarded, not applied locally (the cloud echoes its own pod).
  setConnected(true);
  Message online = Message::create("edged", "meta", "patch", "default/podpatch/hello-edge-n1",
                                   statusPatch("static-uid", "Succeeded"));
  send(online);
  ASSERT_TRUE(runUntil(ioc_, [&] {
    return std::find(cloud_.got.begin(), cloud_.got.end(), online) != cloud_.got.end();
  }));
  EXPECT_EQ(served()["status"]["phase"], "Running");
}

// --- bad input --------------------------------------------------------------------------------

TEST_F(MetaManagerTest, BadInputIsCountedAndNeverCrashes) {
  startModule();
  send(cloudMsg("frobnicate", "default/pod/p", nullptr));                // unknown operation
  send(cloudMsg("insert", "", pod("p", "u")));                           // empty resource
  send(cloudMsg("insert", std::string(5000, 'a'), pod("p", "u")));       // too long
  send(cloudMsg("delete", "default/pod/p", "not json at all"));          // pod delete, garbage
  send(cloudMsg("delete", "default/pod/p", json::array({1, 2})));        // wrong shape
  send(cloudMsg("insert", "default/pod/s", "just a string"));            // meta only
  send(cloudMsg("insert", "default/pod/n", json{{"spec", 1}}));          // no name
  send(cloudMsg("insert", "a/b/c/d/e", json{{"x", 1}}));                 // odd token count
  send(cloudMsg("update", "default/pod/p", pod("p", "u"), "stranger"));  // unknown source
  Message conn = Message::create("edgehub", "meta", "connect", "node/connection", 42);
  send(conn);
  // The module still works afterwards.
  send(cloudMsg("insert", "default/pod/ok", pod("ok", "u")));
  ASSERT_TRUE(runUntil(ioc_, [&] {
    for (const Message& a : acks()) {
      if (a.route.resource == "default/pod/ok") {
        return true;
      }
    }
    return false;
  }));
  MetaManagerCounters c = module_->counters();
  EXPECT_GE(c.dropped, 4u);  // unknown op, empty, too long, unknown source
  EXPECT_GE(c.malformed, 3u);
  EXPECT_GE(c.v2_skipped, 2u);
  // Content of a shape meta_v2 cannot use is still kept in meta and ACKed (Go stores what it
  // got), so the cloud does not resend it forever.
  EXPECT_EQ(plain_->metaValue("default/pod/s"), "just a string");
  EXPECT_TRUE(plain_->metaValue("a/b/c/d/e").has_value());
  EXPECT_EQ(plain_->metaType("a/b/c/d/e"), "");
}

// --- pure parts ---------------------------------------------------------------------------

TEST(AckRulesTest, NoAckRequiredTable) {
  struct Case {
    std::string source, group, operation, resource;
    json content;
    bool no_ack;
  };
  const json kPod = {{"metadata", {{"name", "p"}}}};
  const json kErr = {{"ErrStatus", {{"code", 404}}}};
  std::vector<Case> cases = {
      {"edgecontroller", "resource", "insert", "default/pod/p", kPod, false},
      {"edgecontroller", "resource", "update", "default/pod/p", kPod, false},
      {"edgecontroller", "resource", "delete", "default/pod/p", kPod, false},
      {"edgecontroller", "resource", "update", "default/configmap/c", kPod, false},
      {"edgecontroller", "resource", "update", "default/secret/s", kPod, false},
      {"devicecontroller", "resource", "insert", "default/device/d", kPod, false},
      {"policycontroller", "resource", "insert", "default/serviceaccountaccess/x", kPod, false},
      {"edgecontroller", "resource", "insert", "rule/r1", kPod, false},
      {"edgecontroller", "resource", "insert", "rule/node", kPod, false},
      {"edgecontroller", "resource", "insert", "default/podlist/x", kPod, true},
      {"devicecontroller", "twin", "update", "membership", kPod, true},
      {"devicecontroller", "twin", "update", "device/d/twin/cloud_updated", kPod, true},
      {"edgecontroller", "resource", "response", "default/serviceaccounttoken/t", kPod, true},
      {"cloudhub", "resource", "response", "k8s/ca.crt", "PEM", true},
      {"edgecontroller", "resource", "createvolume", "default/volume/v", kPod, true},
      {"dynamiccontroller", "resource", "applicationResponse", "ignore/Application/ignore", kPod,
       true},
      {"router_eventbus", "user", "publish", "a/b", kPod, true},
      {"taskmanager", "taskmanager", "upgrade", "upgrade/t/node/n", kPod, true},
      {"nodeupgradejobcontroller", "x", "upgrade", "upgrade/t/node/n", kPod, true},
      {"edgecontroller", "resource", "response", "default/configmap/c", "OK", true},
      {"edgecontroller", "resource", "response", "default/configmap/c", kErr, true},
      {"edgecontroller", "resource", "response", "default/configmap/c", kPod, false},
      {"edgecontroller", "resource", "update", "default/node/n", kPod, true},
      {"edgecontroller", "resource", "response", "kube-node-lease/lease/n", kPod, true},
      {"edgecontroller", "resource", "response", "default/nodepatch/n", kPod, true},
      {"edgecontroller", "resource", "response", "default/podpatch/p", kPod, true},
      {"edgecontroller", "resource", "update", "default/podstatus/p", kPod, true},
      {"edgecontroller", "resource", "response", "default/certificatesigningrequest/c", kPod, true},
      {"edgecontroller", "resource", "response", "default/pod/p", kPod, true},
      {"devicecontroller", "resource", "update", "default/node/n", kPod, false},
  };
  for (const Case& c : cases) {
    Message m = Message::create(c.source, c.group, c.operation, c.resource, c.content);
    EXPECT_EQ(noAckRequired(m), c.no_ack)
        << c.source << " " << c.group << " " << c.operation << " " << c.resource;
  }
}

TEST(AckRulesTest, SplitMetaResourceLikeGo) {
  auto r = splitMetaResource("default/pod/nginx");
  EXPECT_EQ(r.type, "pod");
  EXPECT_EQ(r.id, "nginx");
  r = splitMetaResource("default/pod");
  EXPECT_EQ(r.type, "pod");
  EXPECT_EQ(r.id, "");
  r = splitMetaResource("pod");
  EXPECT_EQ(r.type, "");
  r = splitMetaResource("a/b/c/d");
  EXPECT_EQ(r.type, "");
  EXPECT_EQ(r.key, "a/b/c/d");
  r = splitMetaResource("k8s/ca.crt");
  EXPECT_EQ(r.type, "k8s/ca.crt");
  EXPECT_TRUE(requiresRemoteQuery("k8s/ca.crt"));
  EXPECT_TRUE(requiresRemoteQuery("configmap"));
  EXPECT_FALSE(requiresRemoteQuery("pod"));
}

TEST(ImitatorTest, ListIsSplitAndStatusAndEdgedLeaseSkipped) {
  json list = {{"apiVersion", "v1"},
               {"kind", "PodList"},
               {"items",
                {{{"metadata", {{"name", "a"}, {"namespace", "x"}}}},
                 {{"metadata", {{"name", "b"}, {"namespace", "x"}}}}}}};
  Message m = Message::create("edgecontroller", "resource", "insert", "x/pod", list);
  ImitatorOps ops = imitatorOps(m, "insert", "pod");
  ASSERT_EQ(ops.ops.size(), 2u);
  EXPECT_EQ((*ops.ops[0].doc)["kind"], "Pod");
  EXPECT_EQ((*ops.ops[1].doc)["apiVersion"], "v1");

  EXPECT_TRUE(imitatorOps(m, "insert", "podstatus").ops.empty());
  Message lease = Message::create("edged", "meta", "update", "kube-node-lease/lease/n",
                                  json{{"metadata", {{"name", "n"}}}});
  EXPECT_TRUE(imitatorOps(lease, "update", "lease").ops.empty());
  lease.route.source = "edgecontroller";
  auto lease_ops = imitatorOps(lease, "update", "lease");
  ASSERT_EQ(lease_ops.ops.size(), 1u);
  EXPECT_EQ((*lease_ops.ops[0].doc)["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_TRUE(imitatorOps(m, "patch", "pod").ops.empty());

  Message del = Message::create("edgecontroller", "resource", "delete", "default/device/d",
                                json{{"metadata", {{"name", "d"}, {"namespace", "default"}}}});
  auto del_ops = imitatorOps(del, "delete", "device");
  ASSERT_EQ(del_ops.ops.size(), 1u);
  EXPECT_EQ(del_ops.ops[0].kind, WriteOp::Kind::DeleteObject);
  EXPECT_EQ(del_ops.ops[0].object_key.storageKey(),
            "/devices.kubeedge.io/v1beta1/devices/default/d");

  Message unknown = Message::create("edgecontroller", "resource", "insert", "default/widget/w",
                                    json{{"metadata", {{"name", "w"}}}});
  auto unknown_ops = imitatorOps(unknown, "insert", "widget");
  EXPECT_TRUE(unknown_ops.ops.empty());
  EXPECT_EQ(unknown_ops.skipped, 1);
}

TEST(ImitatorTest, SharedContentIsNotCopiedAndKeepsTheMetaEncoding) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u1"}}},
              {"spec", {{"nodeName", "edge-1"}}}};
  auto msg = std::make_shared<const Message>(
      Message::create("edgecontroller", "resource", "insert", "ns/pod/p", pod));
  const std::string text = msg->contentData();
  ImitatorOps ops = imitatorOps(msg, &text, "insert", "pod");
  ASSERT_EQ(ops.ops.size(), 1u);
  EXPECT_EQ(ops.ops[0].doc.get(), &msg->content);  // a pointer into the message, no copy
  EXPECT_EQ(ops.ops[0].value, text);
  EXPECT_EQ(ops.ops[0].value, core::encodeJsonValue(*ops.ops[0].doc));

  // Type fields to fill in: a copy that carries them, encoded by the store, not the meta text.
  json bare = {{"metadata", {{"name", "q"}, {"namespace", "ns"}}}};
  auto bare_msg = std::make_shared<const Message>(
      Message::create("edgecontroller", "resource", "insert", "ns/pod/q", bare));
  const std::string bare_text = bare_msg->contentData();
  ImitatorOps filled = imitatorOps(bare_msg, &bare_text, "insert", "pod");
  ASSERT_EQ(filled.ops.size(), 1u);
  EXPECT_NE(filled.ops[0].doc.get(), &bare_msg->content);
  EXPECT_EQ((*filled.ops[0].doc)["kind"], "Pod");
  EXPECT_TRUE(filled.ops[0].value.empty());
}

// test/util/sqlite_test_store.h stands for metamanager in the MetaServer tests: what it
// writes for a cloud insert/delete must be exactly what this module writes for the same message.
TEST_F(MetaManagerTest, TestStoreHelperWritesWhatTheModuleWrites) {
  startModule();
  edgecore::testing::SqliteTestStore helper;
  const std::string pod_json = edgecore::testing::makePod(edgecore::testing::podNamed("web", 42));
  const std::string node_json = edgecore::testing::makeNode("edge-1", true);
  send(cloudMsg("insert", "default/pod/web", json::parse(pod_json)));
  send(cloudMsg("insert", "default/node/edge-1", json::parse(node_json)));
  // Both are handed to edged once durable (the node insert needs no ACK).
  ASSERT_TRUE(runUntil(ioc_, [&] { return edged_.got.size() == 2; }));
  helper.put(edgecore::testing::kPods, pod_json);
  helper.put(edgecore::testing::kNodes, node_json);
  PlainDb helper_db(helper.dbPath());

  for (const auto& [key, type] : {std::pair<std::string, std::string>{"default/pod/web", "pod"},
                                  {"default/node/edge-1", "node"}}) {
    auto mine = helper->getMeta(key);
    ASSERT_TRUE(mine.ok());
    ASSERT_TRUE(mine->has_value()) << key;
    EXPECT_EQ(**mine, plain_->metaValue(key)) << key;
    EXPECT_EQ(plain_->metaType(key), type);
    EXPECT_EQ(helper_db.metaType(key), type);
    auto by_type = helper->listMetaByType(type);
    ASSERT_TRUE(by_type.ok());
    EXPECT_EQ(by_type->size(), 1u) << type;
  }
  for (const ObjectKey& key : {ObjectKey{edgecore::testing::kPods, "default", "web"},
                               ObjectKey{edgecore::testing::kNodes, "", "edge-1"}}) {
    auto theirs = store_->getObject(key);
    auto mine = helper->getObject(key);
    ASSERT_NE(theirs, nullptr) << key.storageKey();
    ASSERT_NE(mine, nullptr) << key.storageKey();
    EXPECT_EQ(mine->json, theirs->json);
    EXPECT_EQ(mine->resource_version, theirs->resource_version);
    EXPECT_EQ(helper_db.v2Value(key.storageKey()), plain_->v2Value(key.storageKey()));
    EXPECT_EQ(helper_db.v2Gvr(key.storageKey()), plain_->v2Gvr(key.storageKey()));
  }

  send(cloudMsg("delete", "default/pod/web", json::parse(pod_json)));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 2; }));  // pod insert + delete
  helper.remove({edgecore::testing::kPods, "default", "web"});
  EXPECT_FALSE(plain_->metaValue("default/pod/web").has_value());
  EXPECT_FALSE(helper->getMeta("default/pod/web")->has_value());
  EXPECT_EQ(store_->getObject({edgecore::testing::kPods, "default", "web"}), nullptr);
  EXPECT_EQ(helper->getObject({edgecore::testing::kPods, "default", "web"}), nullptr);
}

// --- ServiceAccount tokens (spec cloud-protocol 4.6, local-apis 2.3) ------------------------

json tokenRequest(const std::string& pod_name, const std::string& uid) {
  return {{"apiVersion", "authentication.k8s.io/v1"},
          {"kind", "TokenRequest"},
          {"spec",
           {{"expirationSeconds", 3607},
            {"boundObjectRef",
             {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", pod_name}, {"uid", uid}}}}}};
}

// The cloud's answer: the TokenRequest with a status expiring `ttl` from now (negative: past).
Message cloudTokenAnswer(const Message& req, std::chrono::seconds ttl) {
  json tr = req.content;
  tr["status"] = {
      {"token", "header.claims.signature"},
      {"expirationTimestamp", core::formatRfc3339(std::chrono::system_clock::now() + ttl)}};
  return Message::create("edgecontroller", "resource", "response", req.route.resource, tr);
}

constexpr char kTokenKey[] =
    R"("default"/"default"/[]string(nil)/3607/)"
    R"(v1.BoundObjectReference{Kind:"Pod", APIVersion:"v1", Name:"web", UID:"u-1"})";

TEST_F(MetaManagerTest, TokenAnswerIsCachedUnderTheRequestKeyAndServedOfflineWhileValid) {
  startModule();
  setConnected(true);
  cloud_.answer = [](const Message& req) { return cloudTokenAnswer(req, std::chrono::hours(1)); };
  Message q = Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                              tokenRequest("web", "u-1"));
  auto answer = request(q, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
  ASSERT_TRUE((*answer)->ok());
  EXPECT_EQ((***answer).content["status"]["token"], "header.claims.signature");
  // The query went to the cloud with its TokenRequest content.
  ASSERT_FALSE(cloud_.got.empty());
  EXPECT_EQ(cloud_.got[0].route.resource, "default/serviceaccounttoken/default");
  EXPECT_EQ(cloud_.got[0].content["spec"]["boundObjectRef"]["uid"], "u-1");

  // Cached in meta under Go's key, type serviceaccounttoken; never in meta_v2 (MetaServer
  // would list it).
  ASSERT_TRUE(runUntil(ioc_, [&] { return plain_->metaValue(kTokenKey).has_value(); }));
  EXPECT_EQ(plain_->metaType(kTokenKey), "serviceaccounttoken");
  EXPECT_EQ(json::parse(*plain_->metaValue(kTokenKey))["status"]["token"],
            "header.claims.signature");
  EXPECT_FALSE(plain_->metaValue("default/serviceaccounttoken/default").has_value());
  EXPECT_EQ(plain_->query("SELECT key FROM meta_v2 WHERE value LIKE '%header.claims%'", {}).size(),
            0u);

  // Offline: answered from the cache (Go's local shape: one row text in an array).
  setConnected(false);
  size_t sent = cloud_.got.size();
  Message q2 = Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                               tokenRequest("web", "u-1"));
  auto answer2 = request(q2, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer2->has_value(); }));
  ASSERT_TRUE((*answer2)->ok());
  const Message& local = ***answer2;
  EXPECT_EQ(local.route.operation, "response");
  EXPECT_EQ(local.route.source, "metamanager");
  ASSERT_TRUE(local.content.is_array());
  ASSERT_EQ(local.content.size(), 1u);
  EXPECT_EQ(json::parse(local.content[0].get<std::string>())["status"]["token"],
            "header.claims.signature");
  EXPECT_EQ(cloud_.got.size(), sent);

  // Another pod's request (another key) finds nothing: an error, not someone else's token.
  Message other = Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                                  tokenRequest("web", "u-2"));
  auto answer3 = request(other, std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer3->has_value(); }));
  ASSERT_TRUE((*answer3)->ok());
  EXPECT_EQ((***answer3).route.operation, "error");
  EXPECT_NE((***answer3).contentData().find("no cached service account token"), std::string::npos);
}

TEST_F(MetaManagerTest, ExpiredCachedTokenIsNotServedOffline) {
  MetaManagerOptions options;
  options.remote_query_timeout = std::chrono::milliseconds(300);
  startModule(options);
  setConnected(true);
  cloud_.answer = [](const Message& req) {
    return cloudTokenAnswer(req, std::chrono::seconds(-30));
  };
  auto first =
      request(Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                              tokenRequest("web", "u-1")),
              std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return first->has_value(); }));
  ASSERT_TRUE(runUntil(ioc_, [&] { return plain_->metaValue(kTokenKey).has_value(); }));

  // Offline, and when the cloud does not answer in time (the remote call falls back to the
  // cache): an error naming the expiry.
  for (bool connected : {false, true}) {
    setConnected(connected);
    cloud_.answer = nullptr;
    auto answer =
        request(Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                                tokenRequest("web", "u-1")),
                std::chrono::seconds(5));
    ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
    ASSERT_TRUE((*answer)->ok());
    EXPECT_EQ((***answer).route.operation, "error") << connected;
    const std::string text = (***answer).contentData();
    EXPECT_NE(text.find("expired at "), std::string::npos) << text;
    EXPECT_NE(text.find("cloud is unreachable"), std::string::npos) << text;
  }
}

// Go's DeleteServiceAccountToken: the pod's cached tokens go with the pod; others stay.
TEST_F(MetaManagerTest, PodDeleteRemovesItsCachedTokens) {
  startModule();
  send(cloudMsg("insert", "default/pod/web", pod("web", "u-1")));
  ASSERT_TRUE(runUntil(ioc_, [&] { return acks().size() == 1; }));
  setConnected(true);
  cloud_.answer = [](const Message& req) { return cloudTokenAnswer(req, std::chrono::hours(1)); };
  for (const char* uid : {"u-1", "u-2"}) {
    auto a =
        request(Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                                tokenRequest("web", uid)),
                std::chrono::seconds(5));
    ASSERT_TRUE(runUntil(ioc_, [&] { return a->has_value(); }));
  }
  auto tokens = [&] {
    return plain_->query("SELECT key FROM meta WHERE type = 'serviceaccounttoken'", {}).size();
  };
  ASSERT_TRUE(runUntil(ioc_, [&] { return tokens() == 2; }));
  send(cloudMsg("delete", "default/pod/web", pod("web", "u-1")));
  // Waits for the row itself: the ack count can grow by a late answer of the token requests
  // above (a flake under load), and the ack's ordering after the write is tested elsewhere.
  ASSERT_TRUE(runUntil(ioc_, [&] { return !plain_->metaValue("default/pod/web").has_value(); }));
  ASSERT_TRUE(runUntil(ioc_, [&] { return tokens() == 1; }));
  EXPECT_FALSE(plain_->metaValue(kTokenKey).has_value());  // u-1's
}

TEST_F(MetaManagerTest, MalformedTokenQueryIsRefused) {
  startModule();
  setConnected(true);
  auto answer =
      request(Message::create("edged", "meta", "query", "default/serviceaccounttoken/default",
                              json{{"spec", {{"audiences", "not-a-list"}}}}),
              std::chrono::seconds(5));
  ASSERT_TRUE(runUntil(ioc_, [&] { return answer->has_value(); }));
  ASSERT_TRUE((*answer)->ok());
  EXPECT_EQ((***answer).route.operation, "error");
  EXPECT_TRUE(cloud_.got.empty());
}

}  // namespace
}  // namespace edgecore::metamanager
