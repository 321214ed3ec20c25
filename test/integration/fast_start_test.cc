// The real edgecore on a 1000-pod database: the first answers MetaServer gives right after start
// are the answers it gives once settled, and a database damaged while edgecore was stopped
// (clean shutdown, so the integrity check runs after start) still stops it with the recovery steps.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "edgecore/metamanager/meta_store.h"
#include "util/edgecore_process.h"
#include "util/process.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using metamanager::WriteOp;

const std::string kEdgecore = EDGECORE_BINARY;
constexpr int kPods = 1000;

struct HttpAnswer {
  int status = 0;  // 0: no connection or no complete answer
  std::string body;
};

// One GET on a new connection, HTTP/1.0 so the server closes after the answer.
HttpAnswer httpGet(int port, const std::string& target) {
  HttpAnswer out;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return out;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string raw;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
        raw.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) {
    return out;
  }
  out.status = std::stoi(raw.substr(9, 3));
  out.body = raw.substr(head_end + 4);
  return out;
}

std::string podJson(int i) {
  std::string n = std::to_string(i);
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"note":"a \u003c b \u0026 c"},)"
         R"("creationTimestamp":"2026-11-01T08:00:00Z","labels":{"app":"app-)" +
         std::to_string(i % 20) + R"(","tier":"edge"},"name":"pod-)" + n + R"(","namespace":")" +
         (i % 3 == 0 ? "factory" : "default") + R"(","resourceVersion":")" +
         std::to_string(1000 + i) + R"(","uid":"uid-)" + n +
         R"("},"spec":{"containers":[{"image":"r/app:1","name":"main"}],"nodeName":"edge-1"},)"
         R"("status":{"phase":")" +
         (i % 2 == 0 ? "Running" : "Pending") + R"("}})";
}

class FastStart : public ::testing::Test {
 protected:
  void SetUp() override { port_ = freeLoopbackPort(); }

  std::string db() const { return dir_.file("edgecore.db"); }

  // Writes the pods (and, if asked, 400 v1 `meta` rows first) through the real store, which
  // closes cleanly.
  void writeDatabase(bool with_meta_rows) {
    metamanager::SqliteStoreOptions options;
    options.path = db();
    auto store = metamanager::openSqliteMetaStore(options);
    ASSERT_TRUE(store.ok()) << store.status().toString();
    std::vector<WriteOp> ops;
    for (int i = 0; with_meta_rows && i < 400; ++i) {
      WriteOp op;
      op.kind = WriteOp::Kind::UpsertMeta;
      op.key = "default/configmap/cm-" + std::to_string(i);
      op.type = "configmap";
      op.value = std::string(3000, 'v');
      ops.push_back(std::move(op));
    }
    for (int i = 0; i < kPods; ++i) {
      WriteOp op;
      op.kind = WriteOp::Kind::UpsertObject;
      op.object_key.gvr = {"", "v1", "pods"};
      op.value = podJson(i);
      ops.push_back(std::move(op));
    }
    std::promise<core::Status> done;
    auto committed = done.get_future();
    ASSERT_TRUE(
        (*store)->submit(std::move(ops), [&done](core::Status st) { done.set_value(st); }).ok());
    ASSERT_EQ(committed.wait_for(60s), std::future_status::ready);
    ASSERT_TRUE(committed.get().ok());
  }

  void startEdgecore() {
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
               "database: {dataSource: " +
                   db() +
                   "}\nmodules:\n"
                   "  deviceTwin: {enable: false}\n"
                   "  edgeHub: {enable: false}\n"
                   "  edged: {enable: false, hostnameOverride: edge-1}\n"
                   "  eventBus: {enable: false}\n"
                   "  metaManager: {metaServer: {enable: true, server: \"127.0.0.1:" +
                   std::to_string(port_) + "\"}}\n");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kEdgecore, "--config", dir_.file("edgecore.yaml")});
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(FastStart, FirstAnswersAfterStartEqualTheSettledAnswers) {
  writeDatabase(false);
  const std::vector<std::string> targets = {
      "/api/v1/namespaces/default/pods/pod-1",
      "/api/v1/pods",
      "/api/v1/namespaces/factory/pods?labelSelector=app%3Dapp-3",
      "/api/v1/pods?fieldSelector=status.phase%3DPending&limit=50",
      // A watch from revision 0 replays the current state, then ends after its timeout.
      "/api/v1/namespaces/factory/pods?watch=true&resourceVersion=0&timeoutSeconds=1",
  };
  startEdgecore();
  // As early as the server accepts: the first target is polled until it answers at all.
  std::vector<HttpAnswer> first;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  HttpAnswer answer;
  while ((answer = httpGet(port_, targets[0])).status == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  first.push_back(answer);
  for (size_t i = 1; i < targets.size(); ++i) {
    first.push_back(httpGet(port_, targets[i]));
  }
  ASSERT_TRUE(waitUntilRunning(*daemon_, 20s)) << daemon_->stderrSoFar();
  ASSERT_TRUE(waitForStderr(*daemon_, "database integrity check passed", 20s))
      << daemon_->stderrSoFar();
  std::this_thread::sleep_for(200ms);
  for (size_t i = 0; i < targets.size(); ++i) {
    HttpAnswer settled = httpGet(port_, targets[i]);
    EXPECT_EQ(first[i].status, 200) << targets[i];
    EXPECT_EQ(settled.status, 200) << targets[i];
    EXPECT_EQ(first[i].body, settled.body) << targets[i];
  }
  EXPECT_NE(first[1].body.find("\"name\":\"pod-999\""), std::string::npos);
  EXPECT_NE(first[4].body.find("\"type\":\"ADDED\""), std::string::npos) << first[4].body;
  auto stopped = terminate(*daemon_, 10s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(stopped->exit_code, 0) << stopped->err;
  EXPECT_FALSE(std::filesystem::exists(db() + "-wal"));  // clean: the next start checks later
}

TEST_F(FastStart, DatabaseDamagedWhileStoppedStopsEdgecoreAfterStart) {
  writeDatabase(true);
  {
    std::fstream f(db(), std::ios::in | std::ios::out | std::ios::binary);
    std::string garbage(4096 * 8, '\x5a');
    f.seekp(4096 * 150);  // inside the v1 `meta` rows, which start-up does not read
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  startEdgecore();
  auto ended = daemon_->wait(30s);
  ASSERT_TRUE(ended.has_value()) << daemon_->stderrSoFar();
  EXPECT_EQ(ended->exit_code, 1) << ended->err;
  EXPECT_NE(ended->err.find("database integrity check failed after start"), std::string::npos)
      << ended->err;
  EXPECT_NE(ended->err.find("mv " + db() + " " + db() + ".corrupt-"), std::string::npos)
      << ended->err;
}

}  // namespace
}  // namespace edgecore::testing
