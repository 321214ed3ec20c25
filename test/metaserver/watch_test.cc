#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api_handler.h"
#include "metaserver/test_objects.h"
#include "util/sqlite_test_store.h"
#include "watch_hub.h"

namespace edgecore::metaserver {
namespace {

using edgecore::testing::kConfigMaps;
using edgecore::testing::kPods;
using edgecore::testing::makePod;
using edgecore::testing::PodSpec;
using edgecore::testing::SqliteTestStore;
using nlohmann::json;

std::vector<json> lines(const std::string& text) {
  std::vector<json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "event not newline-terminated";
    if (nl == std::string::npos) break;
    out.push_back(json::parse(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return out;
}
std::vector<std::string> summary(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& e : lines(text)) {
    std::string s = e["type"].get<std::string>();
    if (e["object"].contains("metadata") && e["object"]["metadata"].contains("name")) {
      s += " " + e["object"]["metadata"]["name"].get<std::string>();
    }
    out.push_back(s);
  }
  return out;
}

class WatchTest : public ::testing::Test {
 protected:
  PodSpec pod(const std::string& name, const std::string& app = "web") {
    PodSpec p;
    p.name = name;
    p.app = app;
    p.rv = 0;  // revisions come from the store
    return p;
  }
  WatchPlan plan(const std::string& target) {
    auto info = parseRequestInfo("GET", target);
    EXPECT_TRUE(info.ok());
    WatchPlan p;
    p.info = *info;
    auto sel = parseSelectors(p.info.query.label_selector, p.info.query.field_selector);
    EXPECT_TRUE(sel.ok());
    p.selectors = *sel;
    return p;
  }
  SqliteTestStore store_;
  core::ManualClock clock_;
};

TEST_F(WatchTest, NoResourceVersionListsThenStreams) {
  store_.put(kPods, makePod(pod("a")));
  store_.put(kPods, makePod(pod("b")));
  WatchHub hub(*store_, 100);
  WatchSession s(plan("/api/v1/namespaces/default/pods?watch=1"), *store_, hub, clock_, 100);
  int notified = 0;
  EXPECT_EQ(summary(s.start([&] { ++notified; })),
            (std::vector<std::string>{"ADDED a", "ADDED b"}));
  store_.put(kPods, makePod(pod("a")));
  store_.remove({kPods, "default", "b"});
  store_.put(kConfigMaps, edgecore::testing::makeConfigMap("default", "c"));  // other GVR
  EXPECT_EQ(notified, 2);
  EXPECT_EQ(summary(s.drain()), (std::vector<std::string>{"MODIFIED a", "DELETED b"}));
  EXPECT_EQ(hub.subscriberCount(), 1u);
}

TEST_F(WatchTest, ResumeFromResourceVersionReplaysWindow) {
  WatchHub hub(*store_, 100);
  store_.put(kPods, makePod(pod("a")));
  uint64_t after_a = store_->revision();
  store_.put(kPods, makePod(pod("b")));
  store_.put(kPods, makePod(pod("c")));
  WatchSession s(plan("/api/v1/pods?watch=1&resourceVersion=" + std::to_string(after_a)), *store_,
                 hub, clock_, 100);
  EXPECT_EQ(summary(s.start([] {})), (std::vector<std::string>{"ADDED b", "ADDED c"}));
}

TEST_F(WatchTest, TooOldResourceVersionIs410Expired) {
  WatchHub hub(*store_, 3);
  for (int i = 0; i < 10; ++i) store_.put(kPods, makePod(pod("p" + std::to_string(i))));
  WatchSession s(plan("/api/v1/pods?watch=1&resourceVersion=2"), *store_, hub, clock_, 100);
  auto events = lines(s.start([] {}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["kind"], "Status");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_NE(events[0]["object"]["message"].get<std::string>().find("too old resource version"),
            std::string::npos);
  EXPECT_TRUE(s.done());
  // Inside the window still works.
  WatchSession ok(
      plan("/api/v1/pods?watch=1&resourceVersion=" + std::to_string(hub.oldestResumable())),
      *store_, hub, clock_, 100);
  EXPECT_EQ(summary(ok.start([] {})).size(), 3u);
}

TEST_F(WatchTest, SelectorTransitions) {
  store_.put(kPods, makePod(pod("a", "web")));
  store_.put(kPods, makePod(pod("b", "db")));
  WatchHub hub(*store_, 100);
  WatchSession s(plan("/api/v1/pods?watch=1&labelSelector=app%3Dweb"), *store_, hub, clock_, 100);
  EXPECT_EQ(summary(s.start([] {})), (std::vector<std::string>{"ADDED a"}));
  store_.put(kPods, makePod(pod("b", "web")));  // starts matching
  store_.put(kPods, makePod(pod("a", "db")));   // stops matching
  store_.put(kPods, makePod(pod("a", "db")));   // still not matching: nothing
  store_.put(kPods, makePod(pod("b", "web")));  // still matching
  EXPECT_EQ(summary(s.drain()), (std::vector<std::string>{"ADDED b", "DELETED a", "MODIFIED b"}));
}

TEST_F(WatchTest, FieldSelectorAndNamedWatch) {
  WatchHub hub(*store_, 100);
  WatchSession s(plan("/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dx"),
                 *store_, hub, clock_, 100);
  EXPECT_TRUE(summary(s.start([] {})).empty());
  store_.put(kPods, makePod(pod("y")));
  store_.put(kPods, makePod(pod("x")));
  EXPECT_EQ(summary(s.drain()), (std::vector<std::string>{"ADDED x"}));
}

TEST_F(WatchTest, BookmarkCarriesLatestRevision) {
  WatchHub hub(*store_, 100);
  WatchSession s(plan("/api/v1/namespaces/default/pods?watch=1&allowWatchBookmarks=true"), *store_,
                 hub, clock_, 100);
  (void)s.start([] {});
  store_.put(kPods, makePod(pod("a")));
  store_.put(kConfigMaps, edgecore::testing::makeConfigMap("default", "c", 1));
  auto events = lines(s.bookmark());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "BOOKMARK");
  EXPECT_EQ(events[1]["object"]["kind"], "Pod");
  EXPECT_EQ(events[1]["object"]["apiVersion"], "v1");
  EXPECT_EQ(events[1]["object"]["metadata"]["resourceVersion"], std::to_string(store_->revision()));
}

TEST_F(WatchTest, SlowWatcherIsCut) {
  WatchHub hub(*store_, 100);
  WatchSession s(plan("/api/v1/pods?watch=1"), *store_, hub, clock_, 2);
  (void)s.start([] {});
  for (int i = 0; i < 5; ++i) store_.put(kPods, makePod(pod("p" + std::to_string(i))));
  EXPECT_EQ(s.drain(), "");
  EXPECT_TRUE(s.done());
}

TEST_F(WatchTest, TableEvents) {
  store_.put(kPods, makePod(pod("a")));
  WatchHub hub(*store_, 100);
  WatchPlan p = plan("/api/v1/pods?watch=1");
  p.format = Negotiated{OutputFormat::Table, "meta.k8s.io/v1"};
  WatchSession s(p, *store_, hub, clock_, 100);
  auto events = lines(s.start([] {}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["object"]["kind"], "Table");
  EXPECT_EQ(events[0]["object"]["rows"][0]["cells"][0], "a");
  EXPECT_EQ(events[0]["object"]["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

// Passes every call to the real store and counts change listeners on the way: the store keeps
// its listener table private, so this is where a test can see a hub register and unregister.
class ListenerCountingStore final : public metamanager::MetaStore {
 public:
  explicit ListenerCountingStore(metamanager::MetaStore& real) : real_(real) {}
  size_t listeners() const { return ids_.size(); }

  core::Status submit(std::vector<metamanager::WriteOp> ops, WriteCallback done) override {
    return real_.submit(std::move(ops), std::move(done));
  }
  core::Result<std::optional<std::string>> getMeta(std::string_view key) override {
    return real_.getMeta(key);
  }
  core::Result<std::vector<std::string>> listMetaByType(std::string_view type) override {
    return real_.listMetaByType(type);
  }
  core::Result<metamanager::DeviceTables> loadDeviceTables() override {
    return real_.loadDeviceTables();
  }
  core::Result<std::vector<std::string>> listSubTopics() override { return real_.listSubTopics(); }
  core::Status addSubTopic(const std::string& topic, WriteCallback done) override {
    return real_.addSubTopic(topic, std::move(done));
  }
  core::Status removeSubTopic(const std::string& topic, WriteCallback done) override {
    return real_.removeSubTopic(topic, std::move(done));
  }
  core::Result<metamanager::UpgradeRequestRows> readUpgradeRequests() override {
    return real_.readUpgradeRequests();
  }
  core::Status deleteUpgradeRequests(WriteCallback done) override {
    return real_.deleteUpgradeRequests(std::move(done));
  }
  core::Result<std::vector<metamanager::NodeTaskRow>> readNodeTaskRows(
      std::string_view gvr) override {
    return real_.readNodeTaskRows(gvr);
  }
  core::Status saveNodeTaskRow(metamanager::NodeTaskRow row, bool only_of_gvr,
                               WriteCallback done) override {
    return real_.saveNodeTaskRow(std::move(row), only_of_gvr, std::move(done));
  }
  core::Status deleteNodeTaskRow(std::string key, WriteCallback done) override {
    return real_.deleteNodeTaskRow(std::move(key), std::move(done));
  }
  metamanager::StoredObjectPtr getObject(const metamanager::ObjectKey& key) const override {
    return real_.getObject(key);
  }
  std::vector<metamanager::StoredObjectPtr> listObjects(const metamanager::Gvr& gvr,
                                                        std::string_view ns,
                                                        uint64_t* revision) const override {
    return real_.listObjects(gvr, ns, revision);
  }
  std::vector<metamanager::Gvr> listGvrs() const override { return real_.listGvrs(); }
  uint64_t revision() const override { return real_.revision(); }
  std::optional<std::string> getRawV2(std::string_view key) const override {
    return real_.getRawV2(key);
  }
  uint64_t addChangeListener(ChangeListener listener) override {
    uint64_t id = real_.addChangeListener(std::move(listener));
    ids_.insert(id);
    return id;
  }
  void removeChangeListener(uint64_t id) override {
    real_.removeChangeListener(id);
    ids_.erase(id);
  }
  metamanager::StoreStats stats() const override { return real_.stats(); }

 private:
  metamanager::MetaStore& real_;
  std::set<uint64_t> ids_;
};

TEST_F(WatchTest, HubUnregistersFromStore) {
  ListenerCountingStore counting(*store_);
  WatchHub survivor(*store_, 10);
  {
    WatchHub hub(counting, 10);
    EXPECT_EQ(counting.listeners(), 1u);
  }
  EXPECT_EQ(counting.listeners(), 0u);
  // The store goes on committing and notifying the listeners left (never the hub that is gone).
  store_.put(kPods, makePod(pod("after")));
  EXPECT_EQ(survivor.revision(), store_->revision());
}

}  // namespace
}  // namespace edgecore::metaserver
