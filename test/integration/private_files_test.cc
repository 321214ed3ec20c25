// The real edgecore binary started the way systemd or a shell starts it (umask 022) on a node
// where the database directory does not exist yet: the directory it creates is 0700, the database
// (it holds Secrets) and its -wal/-shm are 0600 while it runs; a database left 0644 (by Go
// edgecore or an older version) is 0600 after the next start, which says so in one log line.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>

#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;

const std::string kEdgecore = EDGECORE_BINARY;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class PrivateFilesEdgecore : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);  // inherited by the daemon
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
               "kind: EdgeCore\n"
               "database:\n"
               "  dataSource: " +
                   db() +
                   "\n"
                   "modules:\n"
                   "  deviceTwin: {enable: false}\n"
                   "  edgeHub: {enable: false}\n"
                   "  edged: {enable: false, hostnameOverride: edge-1}\n"
                   "  eventBus: {enable: false}\n"
                   "  metaManager:\n"
                   "    metaServer: {enable: false}\n");
  }
  void TearDown() override { ::umask(old_umask_); }

  std::string dataDir() const { return dir_.file("var/lib/kubeedge"); }
  std::string db() const { return dataDir() + "/edgecore.db"; }

  std::unique_ptr<ChildProcess> start() {
    auto daemon = std::make_unique<ChildProcess>(
        std::vector<std::string>{kEdgecore, "--config", dir_.file("edgecore.yaml")});
    EXPECT_TRUE(waitUntilRunning(*daemon, 10s)) << daemon->stderrSoFar();
    return daemon;
  }
  static std::string stop(ChildProcess& daemon) {
    auto result = terminate(daemon, 5s);
    EXPECT_TRUE(result.has_value()) << daemon.stderrSoFar();
    EXPECT_EQ(result ? result->exit_code : -1, 0) << daemon.stderrSoFar();
    return result ? result->err : daemon.stderrSoFar();
  }

  TempDir dir_;
  mode_t old_umask_ = 0;
};

TEST_F(PrivateFilesEdgecore, NewDatabaseAndItsDirectoryArePrivate) {
  auto daemon = start();
  EXPECT_EQ(modeOf(dataDir()), 0700u);
  EXPECT_EQ(modeOf(db()), 0600u);
  // The schema was written at start, so SQLite has its -wal and -shm open now.
  EXPECT_EQ(modeOf(db() + "-wal"), 0600u);
  EXPECT_EQ(modeOf(db() + "-shm"), 0600u);
  std::string log = stop(*daemon);
  EXPECT_FALSE(contains(log, "mode narrowed")) << log;
}

TEST_F(PrivateFilesEdgecore, WorldReadableDatabaseIsFixedAtStartAndLoggedOnce) {
  stop(*start());
  ASSERT_EQ(::chmod(db().c_str(), 0644), 0);
  auto daemon = start();
  EXPECT_EQ(modeOf(db()), 0600u);
  std::string log = stop(*daemon);
  const std::string line = "database file mode narrowed path=" + db() + " old=0644 new=0600";
  EXPECT_TRUE(contains(log, line)) << log;
  EXPECT_EQ(log.find(line), log.rfind(line)) << log;
  // Private now: the next start has nothing to say.
  std::string again = stop(*start());
  EXPECT_FALSE(contains(again, "mode narrowed")) << again;
}

}  // namespace
}  // namespace edgecore::testing
