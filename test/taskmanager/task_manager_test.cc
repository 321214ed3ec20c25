// The taskmanager module on a real Bus, a real SQLite store (temp dir) and a stand-in keadm
// (test/data/taskmanager/fake_keadm.sh) that records its argument vector and writes keadm's
// report file. A stand-in "websocket" module collects the reports edgehub would send upstream.
// TaskManagerContainerd.* pull through the real containerd (label containerd, serial).

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgecore/core/bus.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/core/message.h"
#include "edgecore/cri/cri_client.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/taskmanager/module.h"
#include "util/local_registry.h"

namespace edgecore::taskmanager {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::Message;
using nlohmann::json;

constexpr char kApi[] = "operations.kubeedge.io/v1alpha2/";
constexpr char kSpecGvr[] = "operations.kubeedge.io/v1alpha2, Resource=nodeupgradejobspecs";
constexpr char kStateGvr[] = "operations.kubeedge.io/v1alpha2, Resource=nodetaskstates";

struct Report {
  std::string resource;
  std::string source;
  std::string group;
  std::string operation;
  json body;
};

class TaskManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tm_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::setenv("EDGECORE_KEADM",
             (fs::path(EDGECORE_TEST_DATA_DIR) / "taskmanager/fake_keadm.sh").c_str(), 1);
    ::setenv("EDGECORE_KEADM_LOG", (dir_ / "keadm.log").c_str(), 1);
    ::setenv("EDGECORE_UPGRADE_REPORT", reportPath().c_str(), 1);
    ::setenv("FAKE_KEADM_ARGS", (dir_ / "argv").c_str(), 1);
    ::unsetenv("FAKE_KEADM_UPGRADE_EXIT");
    openStore();
    ASSERT_TRUE(bus_.subscribe("websocket", "hub", asio::make_strand(ioc_),
                               [this](Message m) {
                                 std::lock_guard lock(mu_);
                                 reports_.push_back({m.route.resource, m.route.source,
                                                     m.route.group, m.route.operation,
                                                     json::parse(m.contentData())});
                               })
                    .ok());
    io_thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    stopModule();
    bus_.unsubscribe("websocket");
    work_.reset();
    ioc_.stop();
    io_thread_.join();
    blocking_.join();
    store_.reset();
    fs::remove_all(dir_);
  }

  void openStore() {
    metamanager::SqliteStoreOptions o;
    o.path = (dir_ / "edgecore.db").string();
    auto store = metamanager::openSqliteMetaStore(o);
    ASSERT_TRUE(store.ok()) << store.status().toString();
    store_ = std::move(*store);
  }

  void startModule() {
    core::ModuleContext ctx{asio::make_strand(ioc_),      bus_,   config_,
                            loggers_.make("taskmanager"), clock_, blocking_};
    TaskManagerOptions o;
    o.records = store_.get();
    auto* store = store_.get();
    o.read_meta = [store](const std::string& key) { return store->getMeta(key); };
    auto m = create(ctx, std::move(o));
    ASSERT_TRUE(m.ok());
    module_ = std::move(*m);
    ASSERT_TRUE(module_->start().ok());
  }

  void stopModule() {
    if (module_) module_->stop();
    module_.reset();
  }

  fs::path reportPath() const { return dir_ / "upgrade_report.json"; }

  void sendTask(const std::string& type, const std::string& job, const std::string& action,
                const std::string& spec) {
    Message m =
        Message::create("taskmanager", "taskmanager", action,
                        std::string(kApi) + type + "/" + job + "/node/edge-1", json::parse(spec));
    ASSERT_TRUE(bus_.send("taskmanager", std::move(m)).ok());
  }

  // Waits until `n` reports arrived (10 s); returns what arrived.
  std::vector<Report> waitReports(size_t n,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        if (reports_.size() >= n) return reports_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::lock_guard lock(mu_);
    return reports_;
  }

  std::vector<std::string> keadmRuns() {
    std::vector<std::string> lines;
    std::ifstream in(dir_ / "argv");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::vector<metamanager::NodeTaskRow> rows(const char* gvr) {
    auto r = store_->readNodeTaskRows(gvr);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<metamanager::NodeTaskRow>{};
  }

  // The rows go after the last report (PostRun): wait for that.
  static bool fileGone(const std::string& path) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (fs::exists(path)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  bool rowsGone(const char* gvr) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!rows(gvr).empty()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  void saveRow(metamanager::NodeTaskRow row, bool only) {
    std::promise<core::Status> p;
    auto f = p.get_future();
    ASSERT_TRUE(store_->saveNodeTaskRow(row, only, [&p](core::Status s) { p.set_value(s); }).ok());
    ASSERT_TRUE(f.get().ok());
  }

  // MetaServer's confirm-upgrade question, as a bus request.
  json confirm() {
    Message ask = Message::create("metaserver", "taskmanager", kConfirmOperation,
                                  "taskupgrade/confirm-upgrade");
    auto fut = asio::co_spawn(
        ioc_,
        [this, ask]() mutable -> asio::awaitable<json> {
          auto reply =
              co_await bus_.request("taskmanager", std::move(ask), std::chrono::seconds(10));
          if (!reply.ok()) co_return json{{"error", reply.status().toString()}};
          co_return reply->content;
        },
        asio::use_future);
    return fut.get();
  }

  // A v1alpha1 NodeTaskRequest as CloudCore v1.17 sends it (Go field names).
  void sendV1alpha1(const std::string& type, const std::string& task, const std::string& state,
                    const json& item) {
    json req = {{"TaskID", task}, {"Type", type}, {"State", state}, {"Item", item}};
    Message m = Message::create("taskmanager", "taskmanager", type,
                                type + "/" + task + "/node/edge-1", req);
    ASSERT_TRUE(bus_.send("taskmanager", std::move(m)).ok());
  }

  static std::string actions(const std::vector<Report>& rs) {
    std::string out;
    for (const Report& r : rs) {
      out += r.body.value("action", "?") + (r.body.value("succ", false) ? "+" : "-") + " ";
    }
    return out;
  }

  fs::path dir_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  core::Bus bus_{ioc_};
  asio::thread_pool blocking_{2};
  core::EdgeCoreConfig config_;
  core::SystemClock clock_;
  core::LoggerFactory loggers_{spdlog::level::warn};
  std::unique_ptr<metamanager::MetaStore> store_;
  core::ModulePtr module_;
  std::thread io_thread_;
  std::mutex mu_;
  std::vector<Report> reports_;
};

TEST_F(TaskManagerTest, PrePullCheckWithAnUnknownItemFailsAndStops) {
  startModule();
  sendTask("imageprepulljob", "j1", "Check",
           R"({"imagePrePullTemplate":{"images":["a/b:1"],"checkItems":["gpu"]}})");
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].resource, std::string(kApi) + "imageprepulljob/j1/node/edge-1");
  EXPECT_EQ(rs[0].source, "edgehub");
  EXPECT_EQ(rs[0].group, "hub");
  EXPECT_EQ(rs[0].operation, "UpdateNodeActionStatus");
  EXPECT_EQ(rs[0].body["action"], "Check");
  EXPECT_EQ(rs[0].body["succ"], false);
  EXPECT_EQ(rs[0].body["reason"], "check item gpu not support");
  EXPECT_EQ(rs[0].body["extend"], "");
  EXPECT_EQ(rs[0].body["finishTime"].get<std::string>().size(), 20u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(waitReports(2, std::chrono::milliseconds(1)).size(), 1u)
      << "no Pull after a failed Check";
  EXPECT_TRUE(rowsGone(kStateGvr)) << "the finished task leaves no state row";
}

TEST_F(TaskManagerTest, BadSpecOrUnknownActionIsReportedAsTheRequestedAction) {
  startModule();
  sendTask("imageprepulljob", "j2", "Check", R"({"imagePrePullTemplate":{"images":"notalist"}})");
  sendTask("configupdatejob", "j3", "Dance", R"({})");
  auto rs = waitReports(2);
  ASSERT_EQ(rs.size(), 2u);
  for (const Report& r : rs) EXPECT_EQ(r.body["succ"], false);
  EXPECT_TRUE(keadmRuns().empty());
}

TEST_F(TaskManagerTest, UpgradeWaitsForConfirmThenBacksUpAndUpgradesWithArgv) {
  startModule();
  sendTask("nodeupgradejob", "up1", "Check",
           R"({"version":"v1.23.1","image":"kubeedge/installation-package",)"
           R"("imageDigestGatter":null,"checkItems":[],"requireConfirmation":true})");
  auto rs = waitReports(2);
  ASSERT_EQ(actions(rs), "Check+ WaitingConfirmation+ ");
  EXPECT_EQ(rs[1].body["extend"], "");
  // KubeEdge's spec row (3.1), and nothing run yet.
  auto spec = rows(kSpecGvr);
  ASSERT_EQ(spec.size(), 1u);
  EXPECT_EQ(spec[0].key, "v1alpha2/nodeupgradejobspecs/up1/edge-1");
  EXPECT_EQ(spec[0].name, "up1");
  EXPECT_EQ(json::parse(spec[0].value)["version"], "v1.23.1");
  EXPECT_EQ(rows(kStateGvr).size(), 1u);
  EXPECT_TRUE(keadmRuns().empty());

  json answer = confirm();
  EXPECT_EQ(answer["started"], true) << answer.dump();
  rs = waitReports(4);
  ASSERT_EQ(actions(rs), "Check+ WaitingConfirmation+ BackUp+ Upgrade+ ");
  EXPECT_EQ(rs[2].body["extend"], ",v1.22.0");
  EXPECT_EQ(rs[3].body["extend"], "v1.22.0,v1.23.1");
  EXPECT_EQ(keadmRuns(),
            (std::vector<std::string>{
                "backup|edge",
                "upgrade|edge|--force|--toVersion|v1.23.1|--image|kubeedge/installation-package"}));
  EXPECT_TRUE(rowsGone(kSpecGvr));
  EXPECT_TRUE(rowsGone(kStateGvr));
  EXPECT_TRUE(fileGone(reportPath()));
  EXPECT_EQ(confirm()["started"], false) << "nothing left to confirm";
}

TEST_F(TaskManagerTest, InjectedVersionOrImageNeverSpawnsKeadm) {
  startModule();
  sendTask("nodeupgradejob", "evil1", "Check", R"({"version":"v1.0.0; touch /tmp/pwned"})");
  auto rs = waitReports(1);
  ASSERT_EQ(actions(rs), "Check- ");
  EXPECT_NE(rs[0].body["reason"].get<std::string>().find("invalid version format"),
            std::string::npos);
  // Straight to Upgrade (as after a confirm): refused there too, and no RollBack follows.
  sendTask("nodeupgradejob", "evil2", "Upgrade", R"j({"version":"$(id)"})j");
  sendTask("nodeupgradejob", "evil3", "Upgrade",
           R"({"version":"v1.23.1","image":"kubeedge/pkg;touch /tmp/pwned"})");
  rs = waitReports(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rs = waitReports(4, std::chrono::milliseconds(1));
  ASSERT_EQ(rs.size(), 3u) << actions(rs);
  EXPECT_EQ(rs[1].body["action"], "Upgrade");
  EXPECT_EQ(rs[1].body["succ"], false);
  EXPECT_EQ(rs[2].body["succ"], false);
  EXPECT_TRUE(keadmRuns().empty()) << "keadm must not have been started";
  EXPECT_FALSE(fs::exists("/tmp/pwned"));
}

TEST_F(TaskManagerTest, FailedUpgradeRollsBack) {
  ::setenv("FAKE_KEADM_UPGRADE_EXIT", "3", 1);
  startModule();
  sendTask("nodeupgradejob", "up2", "Upgrade", R"({"version":"v1.23.1"})");
  auto rs = waitReports(2);
  ASSERT_EQ(actions(rs), "Upgrade- RollBack+ ");
  EXPECT_NE(rs[0].body["reason"].get<std::string>().find("exit status 3"), std::string::npos);
  EXPECT_EQ(rs[0].body["extend"], "v1.22.0,v1.23.1");
  EXPECT_EQ(rs[1].body["extend"], "v1.23.1,v1.22.0");
  EXPECT_EQ(keadmRuns(), (std::vector<std::string>{"upgrade|edge|--force|--toVersion|v1.23.1",
                                                   "rollback|edge"}));
}

TEST_F(TaskManagerTest, ConfigUpdateRunsBackupThenConfigUpdateWithSortedPairs) {
  startModule();
  sendTask("configupdatejob", "cu1", "Check",
           R"({"updateFields":{"modules.edgeHub.heartbeat":"20","a.b":"x y"}})");
  auto rs = waitReports(3);
  ASSERT_EQ(actions(rs), "Check+ BackUp+ Update+ ");
  for (const Report& r : rs) EXPECT_EQ(r.body["extend"], "");
  EXPECT_EQ(keadmRuns(),
            (std::vector<std::string>{"backup|edge",
                                      "config-update|--set|a.b=x y,modules.edgeHub.heartbeat=20"}));
}

TEST_F(TaskManagerTest, AfterRestartTheKeadmReportIsSentOnConnect) {
  // What the previous edgecore left: the upgrade rows at Upgrade, and keadm's report file.
  std::string spec = R"({"version":"v1.23.1"})";
  saveRow({"v1alpha2/nodeupgradejobspecs/up3/edge-1", kSpecGvr, "up3", spec}, true);
  json state = {{"type", "nodeupgradejob"}, {"job", "up3"},       {"node", "edge-1"},
                {"action", "Upgrade"},      {"phase", "running"}, {"spec", spec}};
  saveRow({"v1alpha2/nodetaskstates/nodeupgradejob/up3/edge-1", kStateGvr, "up3", state.dump()},
          false);
  std::ofstream(reportPath())
      << R"({"event":"Upgrade","success":true,"fromVersion":"v1.22.0","toVersion":"v1.23.1"})";
  startModule();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(waitReports(1, std::chrono::milliseconds(1)).empty())
      << "keadm actions are not rerun";
  Message up =
      Message::create("edgehub", "taskmanager", "connect", "node/connection", "cloud_connected");
  ASSERT_TRUE(bus_.broadcast("taskmanager", up).ok());
  auto rs = waitReports(1);
  ASSERT_EQ(actions(rs), "Upgrade+ ");
  EXPECT_EQ(rs[0].resource, std::string(kApi) + "nodeupgradejob/up3/node/edge-1");
  EXPECT_EQ(rs[0].body["extend"], "v1.22.0,v1.23.1");
  // The file goes once the report is in the outbox, just after the report is sent.
  EXPECT_TRUE(fileGone(reportPath()));
  EXPECT_TRUE(rowsGone(kStateGvr));
  EXPECT_TRUE(rowsGone(kSpecGvr));
  EXPECT_TRUE(keadmRuns().empty());
}

TEST_F(TaskManagerTest, AfterRestartAFailedUpgradeReportLeadsToRollBack) {
  std::string spec = R"({"version":"v1.23.1"})";
  saveRow({"v1alpha2/nodeupgradejobspecs/up4/edge-1", kSpecGvr, "up4", spec}, true);
  json state = {{"type", "nodeupgradejob"}, {"job", "up4"},       {"node", "edge-1"},
                {"action", "Upgrade"},      {"phase", "running"}, {"spec", spec}};
  saveRow({"v1alpha2/nodetaskstates/nodeupgradejob/up4/edge-1", kStateGvr, "up4", state.dump()},
          false);
  std::ofstream(reportPath()) << R"({"event":"Upgrade","success":false,"fromVersion":"v1.22.0",)"
                                 R"("toVersion":"v1.23.1","errorMessage":"start failed"})";
  startModule();
  Message up =
      Message::create("edgehub", "taskmanager", "connect", "node/connection", "cloud_connected");
  ASSERT_TRUE(bus_.broadcast("taskmanager", up).ok());
  auto rs = waitReports(2);
  ASSERT_EQ(actions(rs), "Upgrade- RollBack+ ");
  EXPECT_EQ(rs[0].body["reason"], "start failed");
  EXPECT_EQ(keadmRuns(), std::vector<std::string>{"rollback|edge"});
}

TEST_F(TaskManagerTest, ABackUpCutShortByARestartRunsAgainAndTheJobGoesOn) {
  // edgecore was killed while `keadm backup edge` ran: the row says BackUp, no report file.
  std::string spec = R"({"version":"v1.23.1"})";
  saveRow({"v1alpha2/nodeupgradejobspecs/up5/edge-1", kSpecGvr, "up5", spec}, true);
  json state = {{"type", "nodeupgradejob"}, {"job", "up5"},       {"node", "edge-1"},
                {"action", "BackUp"},       {"phase", "running"}, {"spec", spec}};
  saveRow({"v1alpha2/nodetaskstates/nodeupgradejob/up5/edge-1", kStateGvr, "up5", state.dump()},
          false);
  startModule();
  auto rs = waitReports(2);
  ASSERT_EQ(actions(rs), "BackUp+ Upgrade+ ");
  EXPECT_EQ(rs[0].resource, std::string(kApi) + "nodeupgradejob/up5/node/edge-1");
  EXPECT_EQ(keadmRuns(),
            (std::vector<std::string>{"backup|edge", "upgrade|edge|--force|--toVersion|v1.23.1"}));
  EXPECT_TRUE(rowsGone(kStateGvr));
}

TEST_F(TaskManagerTest, ABackUpRowNextToAKeadmReportIsARestoredDatabaseAndNotRerun) {
  // keadm's rollback put back the database of the BackUp moment and left its report file.
  std::string spec = R"({"version":"v1.23.1"})";
  saveRow({"v1alpha2/nodeupgradejobspecs/up6/edge-1", kSpecGvr, "up6", spec}, true);
  json state = {{"type", "nodeupgradejob"}, {"job", "up6"},       {"node", "edge-1"},
                {"action", "BackUp"},       {"phase", "running"}, {"spec", spec}};
  saveRow({"v1alpha2/nodetaskstates/nodeupgradejob/up6/edge-1", kStateGvr, "up6", state.dump()},
          false);
  std::ofstream(reportPath()) << R"({"event":"Rollback","success":true,"fromVersion":"v1.23.1",)"
                                 R"("toVersion":"v1.22.0"})";
  startModule();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(waitReports(1, std::chrono::milliseconds(1)).empty());
  EXPECT_TRUE(keadmRuns().empty()) << "the backup must not be taken again";
  Message up =
      Message::create("edgehub", "taskmanager", "connect", "node/connection", "cloud_connected");
  ASSERT_TRUE(bus_.broadcast("taskmanager", up).ok());
  auto rs = waitReports(1);
  ASSERT_EQ(actions(rs), "RollBack+ ");
  EXPECT_TRUE(keadmRuns().empty());
}

// ---- v1alpha1 (docs/node-tasks.md 1.2, 1.6, 2.4) ----

TEST_F(TaskManagerTest, V1alpha1PrePullAnswersInitAndCheckLikeKubeEdge) {
  startModule();
  sendV1alpha1("prepull", "pp-a", "", nullptr);
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].resource, "task/pp-a/node/edge-1");
  EXPECT_EQ(rs[0].source, "edgehub");
  EXPECT_EQ(rs[0].group, "hub");
  EXPECT_EQ(rs[0].operation, "prepull");
  EXPECT_EQ(rs[0].body["NodeName"], "edge-1");
  EXPECT_EQ(rs[0].body["State"], "");
  EXPECT_EQ(rs[0].body["Event"], "Init");
  EXPECT_EQ(rs[0].body["Action"], "Success");
  EXPECT_EQ(rs[0].body["ExternalMessage"], "");
  // Checking carries {"CheckItem":[...]}; an unknown item is noted, not failed (as KubeEdge).
  sendV1alpha1("prepull", "pp-a", "Checking", {{"CheckItem", {"gpu"}}});
  rs = waitReports(2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[1].body["Event"], "Check");
  EXPECT_EQ(rs[1].body["Action"], "Success") << rs[1].body.dump();
}

TEST_F(TaskManagerTest, V1alpha1BadRequestsGetNoAnswer) {
  startModule();
  for (const char* bad : {R"([1])", R"({"TaskID":5})", R"({"Type":"upgrade","State":""})",
                          R"({"Type":"prepull","State":"BackingUp"})",
                          R"({"TaskID":"a/b","Type":"prepull","State":""})"}) {
    Message m = Message::create("taskmanager", "taskmanager", "prepull", "prepull/x/node/edge-1",
                                core::rawJsonContent(bad));
    ASSERT_TRUE(bus_.send("taskmanager", std::move(m)).ok());
  }
  Message shape = Message::create("taskmanager", "taskmanager", "prepull", "prepull/x/edge-1",
                                  json{{"Type", "prepull"}});
  ASSERT_TRUE(bus_.send("taskmanager", std::move(shape)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(waitReports(1, std::chrono::milliseconds(1)).empty());
}

constexpr const char* kV1alpha1RequestGvr =
    "operations.kubeedge.io/v1alpha1, Resource=nodeupgradejobtaskrequests";
constexpr const char* kV1alpha1StateGvr =
    "operations.kubeedge.io/v1alpha1, Resource=nodeupgradetaskstates";

TEST_F(TaskManagerTest, V1alpha1UpgradeStoresTheRequestThenBacksUpAndUpgradesWithArgv) {
  startModule();
  const json item = {{"UpgradeID", "up-a"},
                     {"HistoryID", "h-1"},
                     {"Version", "v1.23.1"},
                     {"UpgradeTool", "keadm"},
                     {"Image", "kubeedge/installation-package"}};
  sendV1alpha1("upgrade", "up-a", "", item);
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].resource, "task/up-a/node/edge-1");
  EXPECT_EQ(rs[0].operation, "upgrade");
  EXPECT_EQ(rs[0].body["Event"], "Init");
  EXPECT_EQ(rs[0].body["Action"], "Success") << rs[0].body.dump();
  // KubeEdge's row (docs/node-tasks.md 3.2): the whole NodeTaskRequest.
  auto request = rows(kV1alpha1RequestGvr);
  ASSERT_EQ(request.size(), 1u);
  EXPECT_EQ(request[0].key, "v1alpha1/nodeupgradejobtaskrequests/up-a");
  EXPECT_EQ(request[0].name, "up-a");
  json stored = json::parse(request[0].value);
  EXPECT_EQ(stored["TaskID"], "up-a");
  EXPECT_EQ(stored["Item"]["HistoryID"], "h-1");
  EXPECT_TRUE(keadmRuns().empty());

  sendV1alpha1("upgrade", "up-a", "Checking", {{"CheckItem", json::array()}});
  ASSERT_EQ(waitReports(2).size(), 2u);
  sendV1alpha1("upgrade", "up-a", "BackingUp", item);
  rs = waitReports(3);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[2].body["Event"], "Backup");
  EXPECT_EQ(rs[2].body["Action"], "Success") << rs[2].body.dump();
  sendV1alpha1("upgrade", "up-a", "Upgrading", item);
  rs = waitReports(4);
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[3].body["Event"], "Upgrade");
  EXPECT_EQ(rs[3].body["Action"], "Success") << rs[3].body.dump();
  EXPECT_EQ(keadmRuns(),
            (std::vector<std::string>{"backup|edge",
                                      "upgrade|edge|--force|--toVersion|v1.23.1|--image|kubeedge/"
                                      "installation-package|--upgradeID|up-a|--historyID|h-1|"
                                      "--fromVersion|v1.20.0"}));
  EXPECT_TRUE(rowsGone(kV1alpha1RequestGvr));
  EXPECT_TRUE(rowsGone(kV1alpha1StateGvr));
  EXPECT_TRUE(fileGone(reportPath()));
}

TEST_F(TaskManagerTest, V1alpha1UpgradeWaitsForConfirmThenAnswersInit) {
  startModule();
  const json item = {{"UpgradeID", "up-c"}, {"Version", "v1.23.1"}, {"RequireConfirmation", true}};
  sendV1alpha1("upgrade", "up-c", "Init", item);
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].body["Event"], "Confirm");
  EXPECT_EQ(rs[0].body["Action"], "Confirmation");
  EXPECT_EQ(rs[0].body["Reason"], "Wait for a confirm for upgrade request on the edge site.");
  EXPECT_EQ(rows(kV1alpha1RequestGvr).size(), 1u);
  json answer = confirm();
  EXPECT_EQ(answer["started"], true) << answer.dump();
  rs = waitReports(2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[1].resource, "task/up-c/node/edge-1");
  EXPECT_EQ(rs[1].body["Event"], "Init");
  EXPECT_EQ(rs[1].body["Action"], "Success");
  EXPECT_EQ(confirm()["started"], false) << "confirmed once";
  EXPECT_TRUE(keadmRuns().empty());
}

TEST_F(TaskManagerTest, V1alpha1BadImageFailsInitAndAFailedUpgradeIsAnsweredAsFailure) {
  startModule();
  sendV1alpha1("upgrade", "up-d", "Init",
               {{"UpgradeID", "up-d"}, {"Version", "v1.23.1"}, {"Image", "a; touch /tmp/pwned"}});
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].body["Event"], "Init");
  EXPECT_EQ(rs[0].body["Action"], "Failure");
  EXPECT_TRUE(rows(kV1alpha1RequestGvr).empty());
  // The same bad image straight at Upgrading: refused before anything is spawned.
  sendV1alpha1("upgrade", "up-d", "Upgrading",
               {{"UpgradeID", "up-d"}, {"Version", "v1.23.1"}, {"Image", "a; touch /tmp/pwned"}});
  rs = waitReports(2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[1].body["Event"], "Upgrade");
  EXPECT_EQ(rs[1].body["Action"], "Failure");
  EXPECT_TRUE(keadmRuns().empty());
  ::setenv("FAKE_KEADM_UPGRADE_EXIT", "3", 1);
  sendV1alpha1("upgrade", "up-d", "Upgrading", {{"UpgradeID", "up-d"}, {"Version", "v1.23.1"}});
  rs = waitReports(3);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[2].body["Event"], "Upgrade");
  EXPECT_EQ(rs[2].body["Action"], "Failure");
  EXPECT_EQ(rs[2].body["Reason"], "keadm upgrade failed, err: exit status 3");
  // No RollBack from the edge: the v1.17 cloud decides (its table ends the node at Failed).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(keadmRuns().size(), 1u);
  EXPECT_TRUE(rowsGone(kV1alpha1StateGvr));
}

TEST_F(TaskManagerTest, V1alpha1AfterRestartTheKeadmReportAnswersTheUpgrade) {
  json request = {{"TaskID", "up-e"},
                  {"Type", "upgrade"},
                  {"State", "Upgrading"},
                  {"Item", {{"UpgradeID", "up-e"}, {"Version", "v1.23.1"}}}};
  json state = {
      {"task", "up-e"}, {"node", "edge-1"}, {"phase", "upgrading"}, {"request", request.dump()}};
  saveRow({"v1alpha1/nodeupgradetaskstates/up-e", kV1alpha1StateGvr, "up-e", state.dump()}, true);
  std::ofstream(reportPath()) << R"({"event":"Upgrade","success":false,"fromVersion":"v1.22.0",)"
                                 R"("toVersion":"v1.23.1","errorMessage":"rolled back"})";
  startModule();
  Message up =
      Message::create("edgehub", "taskmanager", "connect", "node/connection", "cloud_connected");
  ASSERT_TRUE(bus_.broadcast("taskmanager", up).ok());
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].resource, "task/up-e/node/edge-1");
  EXPECT_EQ(rs[0].operation, "upgrade");
  EXPECT_EQ(rs[0].body["Event"], "Upgrade");
  EXPECT_EQ(rs[0].body["Action"], "Failure");
  EXPECT_EQ(rs[0].body["Reason"], "rolled back");
  EXPECT_TRUE(fileGone(reportPath()));
  EXPECT_TRUE(rowsGone(kV1alpha1StateGvr));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(keadmRuns().empty()) << "keadm already rolled back; the cloud decides";
}

TEST_F(TaskManagerTest, V1alpha1UpgradeToTheRunningVersionIsDoneAndNeedsAnUpgradeID) {
  startModule();
  // The running version (KubeEdge compatibility, v1.20.0): the v1.17.5 cloud's row
  // Init/Upgrade/Success makes the node Successful.
  sendV1alpha1("upgrade", "up-b", "", {{"UpgradeID", "up-b"}, {"Version", "v1.20.0"}});
  auto rs = waitReports(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].body["Event"], "Upgrade");
  EXPECT_EQ(rs[0].body["Action"], "Success");
  sendV1alpha1("upgrade", "up-c", "Init", {{"Version", "v1.20.0"}});
  rs = waitReports(2);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[1].body["Event"], "Init");
  EXPECT_EQ(rs[1].body["Action"], "Failure");
  EXPECT_EQ(rs[1].body["Reason"], "upgradeID cannot be empty");
  sendV1alpha1("upgrade", "up-b", "Checking", {{"CheckItem", json::array()}});
  rs = waitReports(3);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[2].body["Event"], "Check");
  EXPECT_EQ(rs[2].body["Action"], "Success");
  EXPECT_TRUE(keadmRuns().empty());
}

// ---- real containerd ----

using TaskManagerContainerd = TaskManagerTest;

TEST_F(TaskManagerContainerd, PullReportsEveryImageStatus) {
  ASSERT_TRUE(fs::exists("/run/containerd/containerd.sock")) << "containerd is not running";
  startModule();
  sendTask("imageprepulljob", "pp1", "Check",
           R"({"imagePrePullTemplate":{"images":["docker.io/library/busybox:local",)"
           R"("registry.k8s.io/pause:3.6","127.0.0.1:1/none/such:1"],"retryTimes":1}})");
  auto rs = waitReports(2, std::chrono::seconds(60));
  ASSERT_EQ(actions(rs), "Check+ Pull- ");
  EXPECT_EQ(rs[1].body["reason"], "there were some failures when pulling images");
  json images = json::parse(rs[1].body["extend"].get<std::string>());
  ASSERT_EQ(images.size(), 3u) << images.dump();
  EXPECT_EQ(images[0]["image"], "docker.io/library/busybox:local");
  EXPECT_EQ(images[0]["status"], "True") << images.dump();
  EXPECT_EQ(images[1]["status"], "True") << images.dump();
  EXPECT_EQ(images[2]["status"], "False");
  EXPECT_FALSE(images[2]["reason"].get<std::string>().empty());
  EXPECT_FALSE(images[0].contains("reason"));
}

TEST_F(TaskManagerContainerd, APullInterruptedByARestartRunsAgain) {
  ASSERT_TRUE(fs::exists("/run/containerd/containerd.sock")) << "containerd is not running";
  std::string spec = R"({"imagePrePullTemplate":{"images":["docker.io/library/busybox:local"]}})";
  json state = {{"type", "imageprepulljob"}, {"job", "pp2"},       {"node", "edge-1"},
                {"action", "Pull"},          {"phase", "running"}, {"spec", spec}};
  saveRow({"v1alpha2/nodetaskstates/imageprepulljob/pp2/edge-1", kStateGvr, "pp2", state.dump()},
          false);
  startModule();
  auto rs = waitReports(1, std::chrono::seconds(60));
  ASSERT_EQ(actions(rs), "Pull+ ");
  EXPECT_EQ(rs[0].resource, std::string(kApi) + "imageprepulljob/pp2/node/edge-1");
}

TEST_F(TaskManagerContainerd, V1alpha1PullPullsFromARegistryAndReportsEveryImageState) {
  ASSERT_TRUE(fs::exists("/run/containerd/containerd.sock")) << "containerd is not running";
  auto hosts_dir = edgecore::testing::containerdReadsHostsDir();
  ASSERT_TRUE(hosts_dir.ok()) << hosts_dir.message();
  auto registry = edgecore::testing::LocalRegistry::start({});
  ASSERT_TRUE(registry.ok()) << registry.status().toString();
  const std::string tag =
      "v1a1-" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto ref = (*registry)->pushImage("v1alpha1/app", tag, "v1alpha1 image");
  ASSERT_TRUE(ref.ok()) << ref.status().toString();
  auto cri = cri::CriClient::create({});
  ASSERT_TRUE(cri.ok()) << cri.status().toString();
  auto has = [&](const std::string& image) {
    auto st = (*cri)->imageStatus(image);
    return st.ok() && st->has_value();
  };
  ASSERT_FALSE(has(*ref));
  startModule();
  const std::string missing = "127.0.0.1:1/none/such:1";
  sendV1alpha1("prepull", "pp-c", "Pulling",
               {{"Images", {*ref, missing}}, {"NodeName", "edge-1"}, {"RetryTimes", 1}});
  auto rs = waitReports(1, std::chrono::seconds(90));
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].resource, "task/pp-c/node/edge-1");
  EXPECT_EQ(rs[0].operation, "prepull");
  EXPECT_EQ(rs[0].body["Event"], "Pull");
  EXPECT_EQ(rs[0].body["Action"], "Failure");
  EXPECT_EQ(rs[0].body["Reason"].get<std::string>().rfind("pull image failed, err: ", 0), 0u)
      << rs[0].body.dump();
  json images = json::parse(rs[0].body["ExternalMessage"].get<std::string>());
  ASSERT_EQ(images.size(), 2u) << images.dump();
  EXPECT_EQ(images[0], (json{{"image", *ref}, {"state", "Successful"}}));
  EXPECT_EQ(images[1]["image"], missing);
  EXPECT_EQ(images[1]["state"], "Failed");
  EXPECT_FALSE(images[1]["reason"].get<std::string>().empty());
  EXPECT_TRUE(has(*ref));
  // The whole list present: Success. A secret the edge does not hold fails naming it.
  sendV1alpha1("prepull", "pp-d", "Pulling", {{"Images", {*ref}}});
  rs = waitReports(2, std::chrono::seconds(60));
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[1].body["Action"], "Success") << rs[1].body.dump();
  EXPECT_EQ(json::parse(rs[1].body["ExternalMessage"].get<std::string>()),
            (json{{{"image", *ref}, {"state", "Successful"}}}));
  sendV1alpha1("prepull", "pp-e", "Pulling", {{"Images", {*ref}}, {"Secret", "default/nosuch"}});
  rs = waitReports(3, std::chrono::seconds(60));
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[2].body["Action"], "Failure");
  EXPECT_NE(rs[2].body["Reason"].get<std::string>().find("default/nosuch"), std::string::npos)
      << rs[2].body.dump();
  (void)(*cri)->removeImage(*ref);
}

}  // namespace
}  // namespace edgecore::taskmanager
