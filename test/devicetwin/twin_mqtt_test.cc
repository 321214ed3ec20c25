// devicetwin + eventbus against a real mosquitto (127.0.0.1:1883, or a private one for the
// restart test) and a real SQLite file. The cloud is a stand-in "websocket" bus module.
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <spdlog/sinks/ostream_sink.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "edgecore/core/clock.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/devicetwin/module.h"
#include "edgecore/eventbus/module.h"
#include "edgecore/metamanager/meta_store.h"
#include "util/plain_db.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore {
namespace {

namespace asio = boost::asio;
using core::Message;
using nlohmann::json;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

std::string uniqueName(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + std::to_string(rng() % 1000000000);
}

// The waits here are for work on other threads (modules, the broker); 10 s unless told.
bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  return testing::waitFor(pred, timeout);
}

// A plain MQTT client on libmosquitto's own thread: what an app or mapper would be.
class Observer {
 public:
  explicit Observer(int port = 1883) {
    mosquitto_lib_init();
    m_ = mosquitto_new(uniqueName("observer-").c_str(), true, this);
    mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
      auto* o = static_cast<Observer*>(self);
      std::lock_guard lock(o->mu_);
      o->got_.emplace_back(msg->topic, std::string(static_cast<const char*>(msg->payload),
                                                   static_cast<size_t>(msg->payloadlen)));
    });
    mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* self, int, int, const int*) {
      auto* o = static_cast<Observer*>(self);
      ++o->subacks_;
    });
    EXPECT_EQ(mosquitto_connect(m_, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
    mosquitto_loop_start(m_);
  }
  ~Observer() {
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, true);
    mosquitto_destroy(m_);
  }
  void subscribe(const std::string& filter) {
    int before = subacks_;
    ASSERT_EQ(mosquitto_subscribe(m_, nullptr, filter.c_str(), 1), MOSQ_ERR_SUCCESS);
    ASSERT_TRUE(waitFor([&] { return subacks_ > before; }));
  }
  void publish(const std::string& topic, const std::string& payload) {
    ASSERT_EQ(mosquitto_publish(m_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                payload.data(), 1, false),
              MOSQ_ERR_SUCCESS);
  }
  // The first payload seen on `topic` (waits).
  std::optional<std::string> waitTopic(const std::string& topic, size_t nth = 0,
                                       std::chrono::milliseconds timeout = 10s) {
    std::optional<std::string> out;
    waitFor(
        [&] {
          std::lock_guard lock(mu_);
          size_t seen = 0;
          for (const auto& [t, p] : got_) {
            if (t == topic && seen++ == nth) {
              out = p;
              return true;
            }
          }
          return false;
        },
        timeout);
    return out;
  }
  size_t count(const std::string& topic) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [t, p] : got_) {
      n += t == topic;
    }
    return n;
  }

 private:
  mosquitto* m_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> got_;
  std::atomic<int> subacks_{0};
};

class Rig {
 public:
  explicit Rig(const TempDir& dir, int port = 1883, devicetwin::DeviceTwinOptions twin_opts = {})
      : work_(asio::make_work_guard(ioc_)),
        bus_(ioc_),
        sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(logs_)),
        loggers_(spdlog::level::debug, sink_),
        twin_strand_(asio::make_strand(ioc_)),
        bus_strand_(asio::make_strand(ioc_)),
        cloud_strand_(asio::make_strand(ioc_)) {
    node_ = uniqueName("node-");
    cfg_ = core::defaultConfig(core::HostInfo{node_, "127.0.0.1"});
    cfg_.modules.event_bus.mqtt_server_external = "tcp://127.0.0.1:" + std::to_string(port);
    cfg_.modules.event_bus.mqtt_sub_client_id = uniqueName("edgecore-test-");
    metamanager::SqliteStoreOptions so;
    so.path = dir.file("edgecore.db");
    db_path_ = so.path;
    auto store = metamanager::openSqliteMetaStore(so);
    EXPECT_TRUE(store.ok()) << store.status().toString();
    store_ = std::move(store).value();
    // What edgehub would put on the cloud link: the encoded text, and the message as the cloud
    // decodes it.
    (void)bus_.subscribe("websocket", "hub", cloud_strand_, [this](Message m) {
      std::string wire = core::encodeMessage(m);
      auto decoded = core::decodeMessage(wire);
      std::lock_guard lock(mu_);
      cloud_wire_.push_back(wire);
      cloud_.push_back(decoded.ok() ? std::move(decoded).value() : std::move(m));
    });
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    core::ModuleContext tctx{twin_strand_, bus_, cfg_, loggers_.make("twin"), clock_, blocking_};
    if (twin_opts.dmi_sock_path.empty()) {
      twin_opts.dmi_sock_path = "-";  // no DMI socket in these tests
    }
    auto twin = devicetwin::createDeviceTwin(tctx, *store_, twin_opts);
    EXPECT_TRUE(twin.ok());
    twin_ = std::move(twin).value();
    core::ModuleContext bctx{bus_strand_, bus_, cfg_, loggers_.make("eventbus"), clock_, blocking_};
    auto eb = eventbus::createEventBus(bctx, store_.get());
    EXPECT_TRUE(eb.ok()) << eb.status().toString();
    eventbus_ = std::move(eb).value();
    onStrand(twin_strand_, [&] { EXPECT_TRUE(twin_->start().ok()); });
    onStrand(bus_strand_, [&] { EXPECT_TRUE(eventbus_->start().ok()); });
  }
  ~Rig() {
    onStrand(bus_strand_, [&] { eventbus_->stop(); });
    onStrand(twin_strand_, [&] { twin_->stop(); });
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
    blocking_.join();
    bus_.unsubscribe("websocket");
  }

  void onStrand(core::Strand& s, const std::function<void()>& f) {
    std::promise<void> done;
    asio::post(s, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  // The cloud adds a device (devicecontroller membership update, spec cloud-protocol 5.5).
  void addDevice(const std::string& id, json twins = json::object()) {
    json dev = {{"id", id}, {"name", id.substr(id.find('/') + 1)}, {"state", "unknown"}};
    if (!twins.empty()) {
      dev["twin"] = twins;
    }
    json content = {{"event_id", core::newUuidV4()},
                    {"timestamp", core::nowUnixMillis()},
                    {"added_devices", json::array({dev})},
                    {"removed_devices", json::array()}};
    ASSERT_TRUE(bus_.send("twin", Message::create("devicecontroller", "twin", "update",
                                                  "membership", content))
                    .ok());
    ASSERT_TRUE(waitFor([&] { return deviceRows(id) == 1; }));
  }
  int64_t deviceRows(const std::string& id) {
    auto n = db().value("SELECT COUNT(*) FROM device WHERE id = ?", {id});
    return n ? std::stoll(*n) : -1;
  }
  std::optional<std::string> column(const std::string& sql, const std::string& id,
                                    const std::string& name) {
    return db().value(sql, {id, name});
  }
  // A plain connection to the store's file (the store has no SQL pass-through).
  edgecore::testing::PlainDb db() const { return edgecore::testing::PlainDb(db_path_); }
  std::vector<std::string> cloudWire() {
    std::lock_guard lock(mu_);
    return cloud_wire_;
  }
  std::vector<Message> cloud() {
    std::lock_guard lock(mu_);
    return cloud_;
  }
  bool connected() { return eventbus_->stats().connected; }
  eventbus::EventBusStats busStats() { return eventbus_->stats(); }
  devicetwin::DeviceTwinStats twinStats() { return twin_->stats(); }
  std::string logs() {
    sink_->flush();
    return logs_.str();
  }
  const std::string& node() const { return node_; }
  core::Bus& bus() { return bus_; }
  metamanager::MetaStore& store() { return *store_; }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  core::Bus bus_;
  asio::thread_pool blocking_{2};
  core::SystemClock clock_;
  std::ostringstream logs_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  core::LoggerFactory loggers_;
  core::Strand twin_strand_, bus_strand_, cloud_strand_;
  std::string node_;
  core::EdgeCoreConfig cfg_;
  std::unique_ptr<metamanager::MetaStore> store_;
  std::string db_path_;
  std::unique_ptr<devicetwin::DeviceTwinModule> twin_;
  std::unique_ptr<eventbus::EventBusModule> eventbus_;
  std::mutex mu_;
  std::vector<Message> cloud_;
  std::vector<std::string> cloud_wire_;
  std::vector<std::thread> threads_;
};

TEST(TwinMqtt, UpdateFromMosquittoPubIsStoredAnsweredAndReported) {
  TempDir dir;
  Rig rig(dir);
  ASSERT_TRUE(waitFor([&] { return rig.connected(); })) << rig.logs();
  std::string id = "default/" + uniqueName("thermo-");
  rig.addDevice(id);
  Observer obs;
  std::string prefix = "$hw/events/device/" + id;
  obs.subscribe(prefix + "/twin/update/#");

  std::string payload =
      R"({"event_id":"e-1","timestamp":0,"twin":{"temperature":{"expected":{"value":"30"},)"
      R"("actual":{"value":"23.5"},"metadata":{"type":"string"}}}})";
  auto pub = testing::runCommand({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", "1883", "-q",
                                  "1", "-t", prefix + "/twin/update", "-m", payload});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;

  auto result = obs.waitTopic(prefix + "/twin/update/result");
  ASSERT_TRUE(result) << rig.logs();
  json r = json::parse(*result);
  EXPECT_EQ(r["event_id"], "e-1");
  EXPECT_EQ(r["twin"]["temperature"]["actual"]["value"], "23.5");
  EXPECT_EQ(r["twin"]["temperature"]["expected"]["value"], "30");
  EXPECT_FALSE(r["twin"]["temperature"].contains("actual_version"));  // stripped on results

  auto delta = obs.waitTopic(prefix + "/twin/update/delta");
  ASSERT_TRUE(delta);
  EXPECT_EQ(json::parse(*delta)["delta"]["temperature"], "30");
  auto document = obs.waitTopic(prefix + "/twin/update/document");
  ASSERT_TRUE(document);
  json d = json::parse(*document);
  EXPECT_TRUE(d["twin"]["temperature"]["last"].is_null());
  EXPECT_EQ(d["twin"]["temperature"]["current"]["actual"]["value"], "23.5");

  // Durable before answered: the rows are there.
  EXPECT_EQ(rig.column("SELECT actual FROM device_twin WHERE deviceid = ? AND name = ?", id,
                       "temperature"),
            "23.5");
  EXPECT_EQ(rig.column("SELECT actual_version FROM device_twin WHERE deviceid = ? AND name = ?", id,
                       "temperature"),
            R"({"cloud":0,"edge":1})");

  // And the report went to the cloud with versions.
  ASSERT_TRUE(waitFor([&] {
    for (const auto& m : rig.cloud()) {
      if (m.route.resource == "device/" + id + "/twin/edge_updated") {
        return true;
      }
    }
    return false;
  }));
  for (const auto& m : rig.cloud()) {
    if (m.route.resource == "device/" + id + "/twin/edge_updated") {
      EXPECT_EQ(m.route.source, "twin");
      EXPECT_EQ(m.route.group, "resource");
      EXPECT_EQ(m.route.operation, "update");
      EXPECT_EQ(m.content["twin"]["temperature"]["actual_version"]["edge"], 1);
    }
  }

  // A second update bumps the edge version; get returns the stored twin.
  obs.publish(
      prefix + "/twin/update",
      R"({"event_id":"e-2","timestamp":0,"twin":{"temperature":{"actual":{"value":"30"}}}})");
  auto second = obs.waitTopic(prefix + "/twin/update/result", 1);
  ASSERT_TRUE(second);
  EXPECT_EQ(rig.column("SELECT actual_version FROM device_twin WHERE deviceid = ? AND name = ?", id,
                       "temperature"),
            R"({"cloud":0,"edge":2})");
  obs.subscribe(prefix + "/twin/get/result");
  obs.publish(prefix + "/twin/get", R"({"event_id":"g-1","timestamp":0})");
  auto got = obs.waitTopic(prefix + "/twin/get/result");
  ASSERT_TRUE(got);
  json g = json::parse(*got);
  EXPECT_EQ(g["event_id"], "g-1");
  EXPECT_EQ(g["twin"]["temperature"]["actual"]["value"], "30");
}

TEST(TwinMqtt, MembershipWithoutVersionsReportsEmptyTwinLikeGo) {
  // e-query-device.jsonl: a membership add whose twin has no versions yields an edge_updated
  // report with `"twin":{"temperature":{}}` and no stored twin.
  TempDir dir;
  Rig rig(dir);
  std::string id = uniqueName("dev-e");
  rig.addDevice(id, json{{"temperature",
                          {{"expected", {{"value", "21"}, {"metadata", {{"timestamp", 1}}}}},
                           {"optional", false},
                           {"metadata", {{"type", "string"}}}}}});
  ASSERT_TRUE(waitFor([&] {
    for (const auto& m : rig.cloud()) {
      if (m.route.resource == "device/" + id + "/twin/edge_updated") {
        return true;
      }
    }
    return false;
  }));
  // The envelope's content byte for byte as the recording has it (line 38), up to the fresh
  // event id and the clock.
  int seen = 0;
  for (const auto& wire : rig.cloudWire()) {
    if (wire.find("\"resource\":\"device/" + id + "/twin/edge_updated\"") != std::string::npos) {
      ++seen;
      EXPECT_TRUE(std::regex_search(
          wire, std::regex(R"("content":\{"event_id":"[0-9a-f-]{36}","timestamp":[0-9]+,)"
                           R"("twin":\{"temperature":\{\}\}\}\}$)")))
          << wire;
    }
  }
  EXPECT_EQ(seen, 1);
}

TEST(TwinMqtt, MembershipDetailRequestOnCloudConnectMatchesGoByteOrder) {
  // e-query-device.jsonl line 5: on every cloud connect Go asks for the membership detail with
  // a string content holding dttype.GetDetailNode in field order:
  // "{\"event_type\":\"group_membership_event\",\"event_id\":\"…\",\"group_id\":\"edge-ref-1\",
  //   \"operation\":\"detail\",\"timestamp\":1795793442316}"
  TempDir dir;
  Rig rig(dir);
  ASSERT_TRUE(
      rig.bus()
          .broadcast("twin", Message::create("edgehub", "twin", "connect", "node/connection",
                                             std::string("cloud_connected")))
          .ok());
  std::optional<Message> detail;
  ASSERT_TRUE(waitFor([&] {
    for (const auto& m : rig.cloud()) {
      if (m.route.resource == "membership/detail") {
        detail = m;
        return true;
      }
    }
    return false;
  }));
  EXPECT_EQ(detail->route.source, "twin");
  EXPECT_EQ(detail->route.group, "resource");
  EXPECT_EQ(detail->route.operation, "get");
  ASSERT_TRUE(detail->content.is_string());
  EXPECT_TRUE(std::regex_match(
      detail->content.get<std::string>(),
      std::regex(R"(\{"event_type":"group_membership_event","event_id":"[0-9a-f-]{36}",)"
                 R"("group_id":")" +
                 rig.node() + R"(","operation":"detail","timestamp":[0-9]+\})")))
      << detail->content.get<std::string>();
}

TEST(TwinMqtt, BadInputIsAnsweredOrDroppedWithoutHarm) {
  TempDir dir;
  Rig rig(dir);
  ASSERT_TRUE(waitFor([&] { return rig.connected(); }));
  std::string id = "ns-" + uniqueName("b") + "/dev";
  rig.addDevice(id);
  Observer obs;
  std::string prefix = "$hw/events/device/" + id;
  obs.subscribe(prefix + "/twin/update/result");
  std::string unknown = "$hw/events/device/ns/" + uniqueName("nobody");
  obs.subscribe(unknown + "/twin/update/result");

  obs.publish(prefix + "/twin/update", "this is not json");
  auto r1 = obs.waitTopic(prefix + "/twin/update/result", 0);
  ASSERT_TRUE(r1);
  EXPECT_EQ(json::parse(*r1)["code"], 400);

  obs.publish(unknown + "/twin/update",
              R"({"event_id":"u","twin":{"a":{"actual":{"value":"1"}}}})");
  auto r2 = obs.waitTopic(unknown + "/twin/update/result");
  ASSERT_TRUE(r2);
  EXPECT_EQ(json::parse(*r2)["code"], 404);

  // Wrong JSON types and a typed value that does not parse.
  obs.publish(prefix + "/twin/update", R"({"event_id":"t","twin":{"a":{"actual":{"value":5}}}})");
  auto r3 = obs.waitTopic(prefix + "/twin/update/result", 1);
  ASSERT_TRUE(r3);
  EXPECT_EQ(json::parse(*r3)["code"], 400);
  obs.publish(
      prefix + "/twin/update",
      R"({"event_id":"i","twin":{"n":{"actual":{"value":"x"},"metadata":{"type":"int"}}}})");
  auto r4 = obs.waitTopic(prefix + "/twin/update/result", 2);
  ASSERT_TRUE(r4);
  EXPECT_EQ(json::parse(*r4)["reason"], "the value is not int or integer");

  // A key with odd characters, and a 64 KiB value (beyond the original's 512).
  obs.publish(prefix + "/twin/update",
              R"({"event_id":"k","twin":{"bad key!":{"actual":{"value":"1"}}}})");
  auto r5 = obs.waitTopic(prefix + "/twin/update/result", 3);
  ASSERT_TRUE(r5);
  EXPECT_EQ(json::parse(*r5)["code"], 400);
  std::string big(64 * 1024, 'v');
  obs.publish(prefix + "/twin/update",
              R"({"event_id":"big","twin":{"blob":{"actual":{"value":")" + big + R"("}}}})");
  auto r6 = obs.waitTopic(prefix + "/twin/update/result", 4);
  ASSERT_TRUE(r6);
  EXPECT_EQ(json::parse(*r6)["twin"]["blob"]["actual"]["value"].get<std::string>().size(),
            big.size());

  // 1 MiB + 1 payload: dropped and counted, nothing answered.
  auto oversized_before = rig.busStats().oversized;
  obs.publish(prefix + "/twin/update", std::string((1u << 20) + 1, '{'));
  ASSERT_TRUE(waitFor([&] { return rig.busStats().oversized > oversized_before; }));

  // Odd topics: too short, empty levels, non-UTF-8-ish bytes.
  obs.publish("$hw/events/device/onlyone/twin/update", "{}");
  obs.publish("$hw/events/device//x/twin/update", "{}");
  obs.publish("$hw/events/node/" + rig.node() + "/membership/get", "\x01\x02 not json");
  // Still alive and answering.
  obs.publish(prefix + "/twin/update",
              R"({"event_id":"last","twin":{"ok":{"actual":{"value":"1"}}}})");
  auto last = obs.waitTopic(prefix + "/twin/update/result", 5);
  ASSERT_TRUE(last);
  EXPECT_EQ(json::parse(*last)["event_id"], "last");
  EXPECT_EQ(obs.count(prefix + "/twin/update/result"), 6u);
}

TEST(TwinMqtt, TwinCountLimitIsAnErrorAnswerAndTheDeviceKeepsServing) {
  TempDir dir;
  Rig rig(dir);
  ASSERT_TRUE(waitFor([&] { return rig.connected(); }));
  std::string id = "ns-" + uniqueName("lim") + "/dev";
  rig.addDevice(id);
  Observer obs;
  std::string prefix = "$hw/events/device/" + id;
  obs.subscribe(prefix + "/twin/update/result");
  // One update with one twin more than a device may hold: 400, nothing stored.
  constexpr size_t kLimit = 1024;  // kMaxTwinsPerDevice, src/devicetwin/twin_state.h
  json twins = json::object();
  for (size_t i = 0; i <= kLimit; ++i) {
    twins["t" + std::to_string(i)] = {{"actual", {{"value", "1"}}}};
  }
  obs.publish(prefix + "/twin/update", json{{"event_id", "over"}, {"twin", twins}}.dump());
  auto r1 = obs.waitTopic(prefix + "/twin/update/result", 0);
  ASSERT_TRUE(r1);
  json err = json::parse(*r1);
  EXPECT_EQ(err["code"], 400);
  EXPECT_EQ(err["event_id"], "over");
  // The same device still takes an update within the limit.
  obs.publish(prefix + "/twin/update",
              R"({"event_id":"ok","twin":{"t1":{"actual":{"value":"2"}}}})");
  auto r2 = obs.waitTopic(prefix + "/twin/update/result", 1);
  ASSERT_TRUE(r2);
  json ok = json::parse(*r2);
  EXPECT_EQ(ok["event_id"], "ok");
  EXPECT_FALSE(ok.contains("code"));
  EXPECT_EQ(ok["twin"]["t1"]["actual"]["value"], "2");
}

TEST(TwinMqtt, DeviceTurnsOnlineWithActivityAndOfflineAfterSilence) {
  TempDir dir;
  devicetwin::DeviceTwinOptions opts;
  opts.offline_after = 400ms;
  Rig rig(dir, 1883, opts);
  ASSERT_TRUE(waitFor([&] { return rig.connected(); }));
  std::string id = "default/" + uniqueName("live-");
  rig.addDevice(id);
  Observer obs;
  obs.publish("$hw/events/device/" + id + "/twin/update",
              R"({"event_id":"a","twin":{"x":{"actual":{"value":"1"}}}})");
  auto state = [&] {
    return rig.db().value("SELECT state FROM device WHERE id = ?", {id}).value_or("");
  };
  ASSERT_TRUE(waitFor([&] { return state() == "online"; })) << rig.logs();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitFor([&] { return state() == "offline"; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // The state change went to the cloud as device/<id>/state/update (a JSON string).
  bool reported = false;
  for (const auto& m : rig.cloud()) {
    if (m.route.resource == "device/" + id + "/state/update") {
      reported = true;
      EXPECT_TRUE(m.content.is_string());
    }
  }
  EXPECT_TRUE(reported);
}

TEST(TwinMqtt, ReconnectsAndResubscribesAfterBrokerRestart) {
  TempDir dir;
  int port = testing::freeLoopbackPort();
  auto broker = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/sbin/mosquitto", "-p", std::to_string(port)});
  Rig rig(dir, port);
  ASSERT_TRUE(waitFor([&] { return rig.connected(); })) << rig.logs();
  std::string id = "default/" + uniqueName("restart-");
  rig.addDevice(id);

  broker->signal(SIGKILL);
  broker->wait(5s);
  ASSERT_TRUE(waitFor([&] { return !rig.connected(); }));
  // Publishing while the broker is down must not wedge anything.
  for (int i = 0; i < 50; ++i) {
    (void)rig.bus().send("eventbus", Message::create("twin", "bus", "publish", "x/y", "z"));
  }
  broker = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/sbin/mosquitto", "-p", std::to_string(port)});
  ASSERT_TRUE(waitFor([&] { return rig.connected(); }, 20s)) << rig.logs();
  EXPECT_GE(rig.busStats().connects, 2u);

  Observer obs(port);
  std::string prefix = "$hw/events/device/" + id;
  obs.subscribe(prefix + "/twin/update/result");
  obs.publish(prefix + "/twin/update",
              R"({"event_id":"after","twin":{"x":{"actual":{"value":"2"}}}})");
  auto r = obs.waitTopic(prefix + "/twin/update/result");
  ASSERT_TRUE(r) << rig.logs();
  EXPECT_EQ(json::parse(*r)["event_id"], "after");
}

TEST(TwinMqtt, CloudSubscribeAddsTopicAndPersistsIt) {
  TempDir dir;
  Rig rig(dir);
  ASSERT_TRUE(waitFor([&] { return rig.connected(); }));
  std::string topic = "custom/" + uniqueName("t");
  ASSERT_TRUE(
      rig.bus()
          .send("eventbus", Message::create("edgecontroller", "bus", "subscribe", topic, nullptr))
          .ok());
  ASSERT_TRUE(waitFor([&] {
    return rig.db().query("SELECT topic FROM sub_topics WHERE topic = ?", {topic}).size() == 1;
  }));
  Observer obs;
  // Wait until eventbus's SUBSCRIBE is in, by publishing (every 50 ms) until the cloud sees one.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        obs.publish(topic, "hello");
        for (const auto& m : rig.cloud()) {
          if (m.route.resource == topic && m.route.operation == "upload") {
            EXPECT_EQ(m.content, "hello");
            return true;
          }
        }
        return false;
      },
      10s, 50ms));
}

}  // namespace
}  // namespace edgecore
