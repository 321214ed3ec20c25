#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api_handler.h"
#include "metaserver/test_objects.h"
#include "mocks/metamanager/fake_meta_store.h"
#include "watch_hub.h"

namespace edgecore::metaserver {
namespace {

using edgecore::testing::FakeMetaStore;
using edgecore::testing::kConfigMaps;
using edgecore::testing::kPods;
using edgecore::testing::makePod;
using edgecore::testing::PodSpec;
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
  FakeMetaStore store_;
  core::ManualClock clock_;
};

TEST_F(WatchTest, NoResourceVersionListsThenStreams) {
  store_.put(kPods, makePod(pod("a")));
  store_.put(kPods, makePod(pod("b")));
  WatchHub hub(store_, 100);
  WatchSession s(plan("/api/v1/namespaces/default/pods?watch=1"), store_, hub, clock_, 100);
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
  WatchHub hub(store_, 100);
  store_.put(kPods, makePod(pod("a")));
  uint64_t after_a = store_.revision();
  store_.put(kPods, makePod(pod("b")));
  store_.put(kPods, makePod(pod("c")));
  WatchSession s(plan("/api/v1/pods?watch=1&resourceVersion=" + std::to_string(after_a)), store_,
                 hub, clock_, 100);
  EXPECT_EQ(summary(s.start([] {})), (std::vector<std::string>{"ADDED b", "ADDED c"}));
}

TEST_F(WatchTest, TooOldResourceVersionIs410Expired) {
  WatchHub hub(store_, 3);
  for (int i = 0; i < 10; ++i) store_.put(kPods, makePod(pod("p" + std::to_string(i))));
  WatchSession s(plan("/api/v1/pods?watch=1&resourceVersion=2"), store_, hub, clock_, 100);
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
      plan("/api/v1/pods?watch=1&resourceVersion=" + std::to_string(hub.oldestResumable())), store_,
      hub, clock_, 100);
  EXPECT_EQ(summary(ok.start([] {})).size(), 3u);
}

TEST_F(WatchTest, SelectorTransitions) {
  store_.put(kPods, makePod(pod("a", "web")));
  store_.put(kPods, makePod(pod("b", "db")));
  WatchHub hub(store_, 100);
  WatchSession s(plan("/api/v1/pods?watch=1&labelSelector=app%3Dweb"), store_, hub, clock_, 100);
  EXPECT_EQ(summary(s.start([] {})), (std::vector<std::string>{"ADDED a"}));
  store_.put(kPods, makePod(pod("b", "web")));  // starts matching
  store_.put(kPods, makePod(pod("a", "db")));   // stops matching
  store_.put(kPods, makePod(pod("a", "db")));   // still not matching: nothing
  store_.put(kPods, makePod(pod("b", "web")));  // still matching
  EXPECT_EQ(summary(s.drain()), (std::vector<std::string>{"ADDED b", "DELETED a", "MODIFIED b"}));
}

TEST_F(WatchTest, FieldSelectorAndNamedWatch) {
  WatchHub hub(store_, 100);
  WatchSession s(plan("/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dx"),
                 store_, hub, clock_, 100);
  EXPECT_TRUE(summary(s.start([] {})).empty());
  store_.put(kPods, makePod(pod("y")));
  store_.put(kPods, makePod(pod("x")));
  EXPECT_EQ(summary(s.drain()), (std::vector<std::string>{"ADDED x"}));
}

TEST_F(WatchTest, BookmarkCarriesLatestRevision) {
  WatchHub hub(store_, 100);
  WatchSession s(plan("/api/v1/namespaces/default/pods?watch=1&allowWatchBookmarks=true"), store_,
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
  EXPECT_EQ(events[1]["object"]["metadata"]["resourceVersion"], std::to_string(store_.revision()));
}

TEST_F(WatchTest, SlowWatcherIsCut) {
  WatchHub hub(store_, 100);
  WatchSession s(plan("/api/v1/pods?watch=1"), store_, hub, clock_, 2);
  (void)s.start([] {});
  for (int i = 0; i < 5; ++i) store_.put(kPods, makePod(pod("p" + std::to_string(i))));
  EXPECT_EQ(s.drain(), "");
  EXPECT_TRUE(s.done());
}

TEST_F(WatchTest, TableEvents) {
  store_.put(kPods, makePod(pod("a")));
  WatchHub hub(store_, 100);
  WatchPlan p = plan("/api/v1/pods?watch=1");
  p.format = Negotiated{OutputFormat::Table, "meta.k8s.io/v1"};
  WatchSession s(p, store_, hub, clock_, 100);
  auto events = lines(s.start([] {}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["object"]["kind"], "Table");
  EXPECT_EQ(events[0]["object"]["rows"][0]["cells"][0], "a");
  EXPECT_EQ(events[0]["object"]["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST_F(WatchTest, HubUnregistersFromStore) {
  {
    WatchHub hub(store_, 10);
    EXPECT_EQ(store_.listenerCount(), 1u);
  }
  EXPECT_EQ(store_.listenerCount(), 0u);
}

}  // namespace
}  // namespace edgecore::metaserver
