// End to end: the real edgecore binary against cloudsim (the cloud), mosquitto (127.0.0.1:1883)
// and the test mapper (test/mapper, real gRPC over unix sockets). The cloud sends a Device and
// its membership; the mapper registers, is told about the device, reports; the device turns
// online in the Device object MetaServer serves, the twin report reaches the cloud, and the
// device turns offline after the mapper stops.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "cloudsim.h"
#include "pki.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using core::Message;
using nlohmann::json;

const std::string kEdgecore = EDGECORE_BINARY;
const std::string kMapper = TEST_MAPPER_BINARY;

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

class DmiEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng{std::random_device{}()};
    suffix_ = std::to_string(rng() % 1000000);
    node_ = "edge-dmi-" + suffix_;
    device_ = "sensor-" + suffix_;
    protocol_ = "proto-" + suffix_;
    auto pki = cloudsim::generatePki("127.0.0.1");
    ASSERT_TRUE(pki.ok());
    cloudsim::Options o;
    o.node_name = node_;
    auto sim = cloudsim::CloudSim::start(*pki, o);
    ASSERT_TRUE(sim.ok()) << sim.status().toString();
    sim_ = std::move(sim).value();
    meta_port_ = freeLoopbackPort();
    writeConfig();
    startEdge();
  }

  void TearDown() override {
    mapper_.reset();
    stopEdge();
    sim_.reset();
  }

  void writeConfig() {
    std::ofstream(dir_.file("edgecore.yaml"))
        << "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
        << "database:\n  dataSource: " << dir_.file("edgecore.db") << "\n"
        << "modules:\n"
        << "  edgeHub:\n    enable: true\n    heartbeat: 2\n"
        << "    websocket: {server: 127.0.0.1:" << sim_->wsPort() << "}\n"
        << "    httpServer: https://127.0.0.1:" << sim_->httpsPort() << "\n"
        << "    token: " << sim_->token() << "\n"
        << "    tlsCaFile: " << dir_.file("certs/ca.crt") << "\n"
        << "    tlsCertFile: " << dir_.file("certs/server.crt") << "\n"
        << "    tlsPrivateKeyFile: " << dir_.file("certs/server.key") << "\n"
        << "  edged: {enable: false, hostnameOverride: " << node_ << "}\n"
        << "  edgeStream: {enable: false}\n"
        // v1.23's form: the directory; edgecore listens on dmi.sock inside it, where the mapper
        // dials (dmiSock()). The v1.20 form (a .sock path) runs in test/e2e and keadm's join tests.
        << "  deviceTwin: {enable: true, dmiSockPath: " << dir_.file("") << "}\n"
        << "  eventBus:\n    enable: true\n    mqttServerExternal: tcp://127.0.0.1:1883\n"
        << "    mqttSubClientID: edgecore-" << node_ << "\n"
        << "  metaManager:\n    metaServer:\n      enable: true\n      server: 127.0.0.1:"
        << meta_port_ << "\n";
  }

  std::string dmiSock() const { return dir_.file("dmi.sock"); }
  std::string mapperSock() const { return dir_.file("mapper.sock"); }

  void startEdge() {
    edge_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/env", "EDGECORE_TWIN_OFFLINE_AFTER_MS=1500", kEdgecore,
                                 "--config", dir_.file("edgecore.yaml")});
    ASSERT_TRUE(waitFor([&] { return contains(edge_->stderrSoFar(), "DMI serving"); }, 20s))
        << edge_->stderrSoFar();
    ASSERT_TRUE(sim_->waitUntil([&] { return sim_->connected(); }, 20s)) << edge_->stderrSoFar();
  }
  void stopEdge() {
    if (!edge_) {
      return;
    }
    edge_->signal(SIGTERM);
    auto r = edge_->wait(10s);
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ(r->exit_code, 0) << r->err;
    }
    edge_.reset();
  }

  void startMapper(const std::string& protocol) {
    mapper_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        kMapper, "--dmi", dmiSock(), "--listen", mapperSock(), "--name", "mapper-" + suffix_,
        "--protocol", protocol, "--report-ms", "100"});
  }

  json deviceCrd() const {
    return {{"apiVersion", "devices.kubeedge.io/v1beta1"},
            {"kind", "Device"},
            {"metadata",
             {{"name", device_},
              {"namespace", "default"},
              {"resourceVersion", "700"},
              {"uid", "d-" + suffix_}}},
            {"spec",
             {{"deviceModelRef", {{"name", "thermo-model"}}},
              {"nodeName", node_},
              {"protocol",
               {{"protocolName", protocol_},
                {"configData", {{"data", {{"port", 502}, {"host", "10.0.0.5"}, {"tls", false}}}}}}},
              {"properties", json::array({{{"name", "temperature"},
                                           {"desired", {{"value", "21"}}},
                                           {"reportCycle", 1000},
                                           {"visitors", {{"protocolName", protocol_}}}}})}}}};
  }

  void sendDevice(const std::string& op) {
    Message m = Message::create("devicecontroller", "resource", op, "default/device/" + device_,
                                deviceCrd());
    m.header.resource_version = std::to_string(700 + ++rv_);
    auto sent = sim_->send(m);
    ASSERT_TRUE(sent.ok()) << sent.status().toString();
    last_device_msg_ = *sent;
  }
  // metamanager ACKs a device after storing it and hands it to devicetwin in the same step.
  bool deviceAcked() {
    return waitFor([&] { return sim_->ackCount(last_device_msg_) > 0; }, 15s);
  }
  void sendMembership() {
    json content = {
        {"event_id", core::newUuidV4()},
        {"timestamp", core::nowUnixMillis()},
        {"added_devices",
         json::array({{{"id", "default/" + device_}, {"name", device_}, {"state", "unknown"}}})},
        {"removed_devices", json::array()}};
    auto sent =
        sim_->send(Message::create("devicecontroller", "twin", "update", "membership", content),
                   cloudsim::Reliability::Unreliable);
    ASSERT_TRUE(sent.ok()) << sent.status().toString();
  }

  ProcessResult get(const std::string& path) {
    return runCommand(
        {"/usr/bin/curl", "-s", "http://127.0.0.1:" + std::to_string(meta_port_) + path});
  }
  // The Device as MetaServer serves it. A plain GET is forwarded to the cloud while connected
  // (cloudsim does not answer those Applications), so read it the way `kubectl get -w` does: a
  // watch served from the local store, whose first events replay the current object.
  std::string deviceState() {
    auto r = runCommand({"/usr/bin/curl", "-s", "-m", "0.4",
                         "http://127.0.0.1:" + std::to_string(meta_port_) +
                             "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices"
                             "?watch=true&fieldSelector=metadata.name%3D" +
                             device_});
    std::string state;
    size_t pos = 0;
    while (pos < r.out.size()) {
      size_t nl = r.out.find('\n', pos);
      std::string line = r.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? r.out.size() : nl + 1;
      json ev = json::parse(line, nullptr, false);
      if (ev.is_object() && ev.contains("object") && ev["object"].is_object()) {
        const json& obj = ev["object"];
        if (obj.contains("status") && obj["status"].is_object()) {
          state = obj["status"].value("state", "");
        }
      }
    }
    return state;
  }

  TempDir dir_;
  std::string suffix_, node_, device_, protocol_;
  int meta_port_ = 0;
  int rv_ = 0;
  std::string last_device_msg_;
  std::unique_ptr<cloudsim::CloudSim> sim_;
  std::unique_ptr<ChildProcess> edge_;
  std::unique_ptr<ChildProcess> mapper_;
};

TEST_F(DmiEndToEnd, MapperRegistersGetsDeviceReportsAndGoesOfflineWhenStopped) {
  // The edge asks for its membership on connect, as Go edgecore does.
  ASSERT_TRUE(sim_->waitForMessage(
      [](const Message& m) {
        return m.route.resource == "membership/detail" && m.route.operation == "get";
      },
      10s));
  startMapper(protocol_);
  ASSERT_TRUE(
      waitFor([&] { return contains(mapper_->stdoutSoFar(), "REGISTERED devices=0"); }, 15s))
      << mapper_->stdoutSoFar() << mapper_->stderrSoFar() << edge_->stderrSoFar();

  sendMembership();
  sendDevice("insert");
  ASSERT_TRUE(waitFor(
      [&] {
        return contains(mapper_->stdoutSoFar(),
                        "RegisterDevice default/" + device_ + " protocol=" + protocol_);
      },
      15s))
      << mapper_->stdoutSoFar() << edge_->stderrSoFar();

  // The mapper's reports: state online in the Device MetaServer serves, twin report to the cloud.
  ASSERT_TRUE(waitFor([&] { return deviceState() == "online"; }, 15s)) << edge_->stderrSoFar();
  ASSERT_TRUE(sim_->waitForMessage(
      [&](const Message& m) {
        return m.route.resource == "device/default/" + device_ + "/twin/edge_updated" &&
               m.route.source == "twin" && m.content.is_object() &&
               m.content["twin"].contains("temperature");
      },
      15s));
  ASSERT_TRUE(sim_->waitForMessage(
      [&](const Message& m) {
        return m.route.resource == "device/default/" + device_ + "/state/update";
      },
      15s));
  auto metrics = get("/metrics");
  EXPECT_TRUE(
      contains(metrics.out,
               "edgecore_mapper_last_report_timestamp_seconds{mapper=\"mapper-" + suffix_ + "\""))
      << metrics.out;

  // Stop the mapper: offline within the configured 1.5 s (plus one sweep period).
  mapper_->signal(SIGTERM);
  ASSERT_TRUE(mapper_->wait(5s).has_value());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitFor([&] { return deviceState() == "offline"; }, 10s)) << edge_->stderrSoFar();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(DmiEndToEnd, RegistrationSurvivesRestartAndUpdatesReachTheMapper) {
  sendMembership();
  sendDevice("insert");
  ASSERT_TRUE(deviceAcked()) << edge_->stderrSoFar();
  // Registering after the device exists: it comes back in the register answer.
  startMapper(protocol_);
  ASSERT_TRUE(
      waitFor([&] { return contains(mapper_->stdoutSoFar(), "LISTED default/" + device_); }, 15s))
      << mapper_->stdoutSoFar() << edge_->stderrSoFar();
  auto rows = runCommand({"/usr/bin/sqlite3", dir_.file("edgecore.db"),
                          "SELECT key FROM meta WHERE type='devicemapper'"});
  EXPECT_TRUE(contains(rows.out, "node/nodeID/namespace/devicemapper/mapper-" + suffix_))
      << rows.out << rows.err;

  stopEdge();
  startEdge();
  // No new registration: edgecore still knows where the mapper is.
  sendDevice("update");
  ASSERT_TRUE(waitFor(
      [&] { return contains(mapper_->stdoutSoFar(), "UpdateDevice default/" + device_); }, 15s))
      << mapper_->stdoutSoFar() << edge_->stderrSoFar();
}

// `keadm ctl edit device` sends this PUT to MetaServer; metamanager stores the Device and hands
// it to devicetwin as `<ns>/device/updated`, which calls the mapper's UpdateDevice.
TEST_F(DmiEndToEnd, DeviceEditThroughMetaServerReachesTheMapper) {
  sendMembership();
  sendDevice("insert");
  ASSERT_TRUE(deviceAcked()) << edge_->stderrSoFar();
  startMapper(protocol_);
  ASSERT_TRUE(
      waitFor([&] { return contains(mapper_->stdoutSoFar(), "LISTED default/" + device_); }, 15s))
      << mapper_->stdoutSoFar() << edge_->stderrSoFar();
  ASSERT_FALSE(contains(mapper_->stdoutSoFar(), "UpdateDevice"));
  json edited = deviceCrd();
  edited["spec"]["properties"][0]["desired"]["value"] = "25";
  auto put =
      runCommand({"/usr/bin/curl", "-s", "-X", "PUT", "-H", "Content-Type: application/json",
                  "--data-binary", edited.dump(),
                  "http://127.0.0.1:" + std::to_string(meta_port_) +
                      "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/" + device_});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(put.out, "OK") << edge_->stderrSoFar();
  ASSERT_TRUE(waitFor(
      [&] { return contains(mapper_->stdoutSoFar(), "UpdateDevice default/" + device_); }, 15s))
      << mapper_->stdoutSoFar() << edge_->stderrSoFar();
}

TEST_F(DmiEndToEnd, TwinUpdateFromMosquittoPubReachesTheCloud) {
  sendMembership();
  std::string topic = "$hw/events/device/default/" + device_ + "/twin/update";
  std::string payload =
      R"({"event_id":"e2e","timestamp":0,"twin":{"humidity":{"actual":{"value":"41"}}}})";
  // The membership travels cloud -> edgehub -> twin; publish until the report comes back.
  std::optional<Message> report;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!report && std::chrono::steady_clock::now() < deadline) {
    auto pub = runCommand({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", "1883", "-q", "1",
                           "-t", topic, "-m", payload});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    report = sim_->waitForMessage(
        [&](const Message& m) {
          return m.route.resource == "device/default/" + device_ + "/twin/edge_updated";
        },
        1s);
  }
  ASSERT_TRUE(report) << edge_->stderrSoFar();
  EXPECT_EQ(report->route.source, "twin");
  EXPECT_EQ(report->route.group, "resource");
  EXPECT_EQ(report->route.operation, "update");
  EXPECT_EQ(report->content["twin"]["humidity"]["actual"]["value"], "41");
  EXPECT_EQ(report->content["twin"]["humidity"]["actual_version"]["edge"], 1);
  auto rows = runCommand({"/usr/bin/sqlite3", dir_.file("edgecore.db"),
                          "SELECT actual FROM device_twin WHERE deviceid='default/" + device_ +
                              "' AND name='humidity'"});
  EXPECT_EQ(rows.out, "41\n");
}

TEST_F(DmiEndToEnd, GarbageOverDmiIsRefusedAndTheNodeKeepsServing) {
  // Raw bytes that are not HTTP/2.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", dmiSock().c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string junk(64 * 1024, '\xff');
  (void)::write(fd, junk.data(), junk.size());
  ::close(fd);
  // A register without a protocol is refused with InvalidArgument (3).
  startMapper("");
  ASSERT_TRUE(waitFor([&] { return contains(mapper_->stdoutSoFar(), "REGISTER_FAILED 3"); }, 15s))
      << mapper_->stdoutSoFar();
  EXPECT_TRUE(contains(mapper_->stdoutSoFar(), "because the protocol is nil"));
  mapper_.reset();
  // Reports for a device that is not a member: NotFound, no crash; a real mapper still works.
  startMapper(protocol_);
  ASSERT_TRUE(waitFor([&] { return contains(mapper_->stdoutSoFar(), "REGISTERED"); }, 15s));
  EXPECT_EQ(get("/healthz").exit_code, 0);
  struct stat st {};
  ASSERT_EQ(::stat(dmiSock().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace edgecore::testing
