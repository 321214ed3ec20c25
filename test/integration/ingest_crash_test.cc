// Crash safety of the ingest path: the real daemon lifecycle, metamanager and SQLite store run in
// a child process that is SIGKILLed while a stand-in cloud pumps pod inserts into it. Every
// insert the child acknowledged before it died must be in the database afterwards, and the file
// must pass PRAGMA integrity_check.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "edgecore/core/config.h"
#include "edgecore/core/daemon.h"
#include "edgecore/core/message.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metamanager/module.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Stands in for edgehub: sends pod inserts to metamanager as the cloud would, keeps a window of
// unacknowledged ones, and writes the resource of every ACK it receives to `ack_fd`.
class CloudPump final : public core::Module {
 public:
  CloudPump(core::ModuleContext ctx, int ack_fd, int first_index)
      : ctx_(ctx), ack_fd_(ack_fd), next_(first_index) {}

  std::string_view name() const override { return core::names::kEdgeHubModule; }
  std::string_view group() const override { return core::names::kHubGroup; }
  core::Status start() override {
    EC_RETURN_IF_ERROR(ctx_.bus.subscribe(name(), group(), ctx_.strand,
                                          [this](core::Message m) { onMessage(std::move(m)); }));
    for (int i = 0; i < kWindow; ++i) {
      sendNext();
    }
    return {};
  }
  void stop() override { ctx_.bus.unsubscribe(name()); }

 private:
  static constexpr int kWindow = 64;

  void onMessage(core::Message m) {
    if (m.route.operation != core::op::kResponse || m.content != "OK") {
      return;
    }
    std::string line = m.route.resource + "\n";
    // One write per ACK; a short write cannot happen for lines this small on a pipe.
    if (::write(ack_fd_, line.data(), line.size()) < 0) {
      std::_Exit(3);
    }
    sendNext();
  }

  void sendNext() {
    int i = next_++;
    std::string name = "p-" + std::to_string(i);
    nlohmann::json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"namespace", "default"},
          {"uid", "uid-" + std::to_string(i)},
          {"resourceVersion", std::to_string(1000 + i)},
          {"labels", {{"app", "crash"}}}}},
        {"spec", {{"nodeName", "edge-1"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}},
        {"status", {{"phase", "Pending"}}}};
    core::Message msg = core::Message::create("edgecontroller", "resource", core::op::kInsert,
                                              "default/pod/" + name, pod);
    msg.header.resource_version = std::to_string(1000 + i);
    // A full mailbox would only slow the pump; retry on the next ACK instead of spinning.
    (void)ctx_.bus.send(core::names::kMetaManagerModule, std::move(msg));
  }

  core::ModuleContext ctx_;
  int ack_fd_;
  int next_;
};

[[noreturn]] void runChild(const std::string& db, int ack_fd, int first_index) {
  core::EdgeCoreConfig config = core::defaultConfig(core::HostInfo{"edge-1", "127.0.0.1"});
  config.database.data_source = db;
  metamanager::SqliteStoreOptions options;
  options.path = db;
  auto store = metamanager::openSqliteMetaStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "child: %s\n", store.status().toString().c_str());
    std::_Exit(2);
  }
  core::LoggerFactory loggers(spdlog::level::warn);
  core::Daemon daemon(config, loggers, core::DaemonOptions{});
  std::vector<core::ModuleSpec> specs(2);
  specs[0].name = "metamanager";
  specs[0].enabled = true;
  specs[0].factory = [&](core::ModuleContext ctx) { return metamanager::create(ctx, **store); };
  specs[1].name = "websocket";
  specs[1].enabled = true;
  specs[1].factory = [&](core::ModuleContext ctx) -> core::Result<core::ModulePtr> {
    return core::ModulePtr(std::make_unique<CloudPump>(ctx, ack_fd, first_index));
  };
  (void)daemon.run(std::move(specs));  // runs until SIGKILL
  std::_Exit(0);
}

int countRows(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  return n;
}

bool hasKey(sqlite3* db, const char* table, const std::string& key) {
  sqlite3_stmt* st = nullptr;
  std::string sql = std::string("SELECT 1 FROM ") + table + " WHERE key = ?";
  sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

TEST(IngestCrash, EveryAcknowledgedInsertSurvivesSigkill) {
  TempDir dir;
  const std::string db = dir.file("edgecore.db");
  std::mt19937 rng(20261127);
  std::set<std::string> acked;
  int first_index = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      runChild(db, fds[1], first_index);
    }
    close(fds[1]);
    // Let it acknowledge a random number of inserts, then pull the plug mid-stream.
    const size_t stop_after = std::uniform_int_distribution<size_t>(50, 1500)(rng);
    size_t this_round = 0;
    std::string pending;
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (this_round < stop_after && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        acked.insert(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        ++this_round;
      }
    }
    kill(child, SIGKILL);
    // ACKs already in the pipe were sent before the kill: they count too.
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
      pending.append(buf, static_cast<size_t>(n));
    }
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      acked.insert(pending.substr(0, nl));
      pending.erase(0, nl + 1);
      ++this_round;
    }
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child ended on its own, status " << status;
    ASSERT_GE(this_round, stop_after) << "round " << round << ": child stalled";
    first_index += 100000;  // fresh names each round, so every round must write for real

    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
    sqlite3_finalize(st);
    size_t missing = 0;
    for (const std::string& resource : acked) {
      std::string name = resource.substr(resource.rfind('/') + 1);
      if (!hasKey(handle, "meta", resource) ||
          !hasKey(handle, "meta_v2", "/core/v1/pods/default/" + name)) {
        ++missing;
        ADD_FAILURE() << "acknowledged but not stored: " << resource;
      }
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_GE(countRows(handle, "SELECT count(*) FROM meta WHERE type = 'pod'"),
              static_cast<int>(acked.size()));
    sqlite3_close(handle);
  }
  std::printf("%zu inserts acknowledged across 6 SIGKILLs, all found in the database\n",
              acked.size());
  EXPECT_GT(acked.size(), 300u);
}

}  // namespace
}  // namespace edgecore::testing
