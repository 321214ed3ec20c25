#include "outbox.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <sstream>

#include "routing.h"

namespace edgecore::edgehub {
namespace {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("edgehub-outbox-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

core::Message status(const std::string& pod, int version, int64_t ts) {
  core::Message m = core::Message::create("edged", "meta", "patch", "default/podpatch/" + pod,
                                          "{\"v\":" + std::to_string(version) + "}");
  m.header.timestamp_ms = ts;
  return m;
}

core::Message event(int n) {
  return core::Message::create("edged", "meta", "insert", "default/event/e" + std::to_string(n),
                               nlohmann::json{{"n", n}});
}

core::Status put(Outbox& box, const core::Message& m) {
  return box.append(m, classifyUpstream(m).coalesce_key);
}

TEST(EdgeHubOutbox, CoalescesPerObjectAndKeepsOrder) {
  TempDir dir;
  auto box = Outbox::open(dir.file("o.db"), 100);
  ASSERT_TRUE(box.ok()) << box.status().toString();
  ASSERT_TRUE(put(**box, status("a", 1, 1000)).ok());
  ASSERT_TRUE(put(**box, event(1)).ok());
  ASSERT_TRUE(put(**box, status("b", 1, 1001)).ok());
  ASSERT_TRUE(put(**box, status("a", 2, 1002)).ok());
  ASSERT_TRUE(put(**box, event(2)).ok());
  // A late copy of an older status (a failed write coming back) does not replace a newer one.
  ASSERT_TRUE(put(**box, status("b", 0, 900)).ok());
  auto rows = (*box)->peek(100);
  ASSERT_TRUE(rows.ok());
  std::vector<std::string> got;
  for (auto& r : *rows) {
    got.push_back(r.message.route.resource + "=" + r.message.contentData());
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "default/event/e1={\"n\":1}", "default/podpatch/b={\"v\":1}",
                     "default/podpatch/a={\"v\":2}", "default/event/e2={\"n\":2}"}));
  auto c = (*box)->counters();
  EXPECT_EQ(c.depth, 4u);
  EXPECT_EQ(c.coalesced, 2u);
}

TEST(EdgeHubOutbox, SurvivesReopenAndDeletesOnlyDelivered) {
  TempDir dir;
  std::string id_of_first;
  {
    auto box = Outbox::open(dir.file("o.db"), 100);
    ASSERT_TRUE(box.ok());
    auto first = event(1);
    id_of_first = first.header.id;
    ASSERT_TRUE(put(**box, first).ok());
    ASSERT_TRUE(put(**box, event(2)).ok());
    ASSERT_TRUE(put(**box, status("a", 1, 5)).ok());
    auto rows = (*box)->peek(1);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    ASSERT_TRUE((*box)->remove(rows->front().seq).ok());
  }
  auto box = Outbox::open(dir.file("o.db"), 100);
  ASSERT_TRUE(box.ok());
  EXPECT_EQ((*box)->counters().depth, 2u);
  auto rows = (*box)->peek(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].message.route.resource, "default/event/e2");
  EXPECT_EQ((*rows)[1].message.route.resource, "default/podpatch/a");
  EXPECT_NE((*rows)[0].message.header.id, id_of_first);
  // Removing a row twice (or one already coalesced away) is harmless.
  ASSERT_TRUE((*box)->remove((*rows)[0].seq).ok());
  ASSERT_TRUE((*box)->remove((*rows)[0].seq).ok());
  EXPECT_EQ((*box)->counters().depth, 1u);
  EXPECT_EQ((*box)->counters().delivered, 1u);
}

TEST(EdgeHubOutbox, BoundedDropsOldestUncoalescableFirst) {
  TempDir dir;
  auto box = Outbox::open(dir.file("o.db"), 3);
  ASSERT_TRUE(box.ok());
  ASSERT_TRUE(put(**box, status("a", 1, 1)).ok());
  ASSERT_TRUE(put(**box, event(1)).ok());
  ASSERT_TRUE(put(**box, event(2)).ok());
  ASSERT_TRUE(put(**box, event(3)).ok());  // full: e1 goes, the pod status stays
  auto rows = (*box)->peek(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].message.route.resource, "default/podpatch/a");
  EXPECT_EQ((*rows)[1].message.route.resource, "default/event/e2");
  EXPECT_EQ((*box)->counters().dropped, 1u);
  ASSERT_TRUE(put(**box, status("b", 1, 2)).ok());
  ASSERT_TRUE(put(**box, status("c", 1, 3)).ok());
  ASSERT_TRUE(put(**box, status("d", 1, 4)).ok());  // only statuses left: the oldest goes
  rows = (*box)->peek(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].message.route.resource, "default/podpatch/b");
  EXPECT_EQ((*box)->counters().dropped, 4u);
}

TEST(EdgeHubOutbox, UsesWalAndFullSync) {
  TempDir dir;
  auto box = Outbox::open(dir.file("o.db"), 3);
  ASSERT_TRUE(box.ok());
  ASSERT_TRUE(put(**box, event(1)).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.file("o.db-wal")));
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Status messages name pods and nodes: under umask 022 the outbox's directory is still 0700 and
// the file with its -wal and -shm 0600; an outbox an older version left 0644 is narrowed, logged.
TEST(EdgeHubOutbox, FilesArePrivateUnderUmask022) {
  TempDir dir;
  mode_t old_umask = ::umask(022);
  const std::string path = dir.file("data/kubeedge/edgecore-outbox.db");
  {
    auto box = Outbox::open(path, 3);
    ASSERT_TRUE(box.ok()) << box.status().toString();
    ASSERT_TRUE(put(**box, event(1)).ok());
    EXPECT_EQ(modeOf(dir.file("data/kubeedge")), 0700u);
    EXPECT_EQ(modeOf(path), 0600u);
    EXPECT_EQ(modeOf(path + "-wal"), 0600u);
    EXPECT_EQ(modeOf(path + "-shm"), 0600u);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  std::ostringstream lines;
  auto log = std::make_shared<spdlog::logger>(
      "websocket", std::make_shared<spdlog::sinks::ostream_sink_st>(lines));
  auto box = Outbox::open(path, 3, log);
  ::umask(old_umask);
  ASSERT_TRUE(box.ok()) << box.status().toString();
  EXPECT_EQ(modeOf(path), 0600u);
  EXPECT_NE(lines.str().find("outbox file mode narrowed path=" + path + " old=0644 new=0600"),
            std::string::npos)
      << lines.str();
}

}  // namespace
}  // namespace edgecore::edgehub
