// EventRecorder: the kubelet's event identity and aggregation, as messages.

#include "event_recorder.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgecore::edged {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

PodEvent started(const std::string& container) {
  PodEvent ev;
  ev.target = {"ns1", "web", "uid-1", "42", "spec.containers{" + container + "}"};
  ev.reason = event_reason::kStarted;
  ev.message = "Started container " + container;
  return ev;
}

TEST(EventRecorder, FirstOccurrenceIsAnInsertOfTheV1Event) {
  EventRecorder r("edge-1");
  auto t = std::chrono::system_clock::time_point(1700000000s) + 123456789ns;
  core::Message m = r.record(started("a"), t);
  EXPECT_EQ(m.route.source, "edged");
  EXPECT_EQ(m.route.group, "meta");
  EXPECT_EQ(m.route.operation, "insert");
  // client-go's name: "<object>.<UnixNano in hex>".
  EXPECT_EQ(m.route.resource, "ns1/event/web.17979cfe3d85cd15");
  const json& e = m.content;
  EXPECT_EQ(e["metadata"]["name"], "web.17979cfe3d85cd15");
  EXPECT_EQ(e["metadata"]["namespace"], "ns1");
  EXPECT_EQ(e["involvedObject"], json({{"kind", "Pod"},
                                       {"namespace", "ns1"},
                                       {"name", "web"},
                                       {"uid", "uid-1"},
                                       {"apiVersion", "v1"},
                                       {"resourceVersion", "42"},
                                       {"fieldPath", "spec.containers{a}"}}));
  EXPECT_EQ(e["reason"], "Started");
  EXPECT_EQ(e["message"], "Started container a");
  EXPECT_EQ(e["type"], "Normal");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(e["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["lastTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["source"], json({{"component", "kubelet"}, {"host", "edge-1"}}));
  EXPECT_EQ(e["reportingComponent"], "kubelet");
  EXPECT_EQ(e["reportingInstance"], "edge-1");
  EXPECT_TRUE(e["eventTime"].is_null());
}

TEST(EventRecorder, RepeatIsAPatchOfTheFirstWithCountAndLastTimestamp) {
  EventRecorder r("edge-1");
  auto t0 = std::chrono::system_clock::time_point(1700000000s);
  core::Message first = r.record(started("a"), t0);
  core::Message other = r.record(started("b"), t0 + 1s);  // another container: another event
  EXPECT_EQ(other.route.operation, "insert");
  core::Message again = r.record(started("a"), t0 + 5s);
  EXPECT_EQ(again.route.operation, "patch");
  EXPECT_EQ(again.route.resource, first.route.resource);
  const json& e = again.content["event"];
  EXPECT_EQ(e["metadata"]["name"], first.content["metadata"]["name"]);
  EXPECT_EQ(e["count"], 2);
  EXPECT_EQ(e["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["lastTimestamp"], "2023-11-14T22:13:25Z");
  EXPECT_EQ(
      again.content["patchData"],
      R"({"count":2,"lastTimestamp":"2023-11-14T22:13:25Z","message":"Started container a"})");
  EXPECT_EQ(r.record(started("a"), t0 + 9s).content["event"]["count"], 3);
}

TEST(EventRecorder, DifferentMessageOrTypeIsANewEvent) {
  EventRecorder r("edge-1");
  auto t0 = std::chrono::system_clock::time_point(1700000000s);
  PodEvent a = started("a");
  (void)r.record(a, t0);
  PodEvent b = a;
  b.message = "other";
  EXPECT_EQ(r.record(b, t0 + 1s).route.operation, "insert");
  PodEvent w = a;
  w.warning = true;
  core::Message m = r.record(w, t0 + 2s);
  EXPECT_EQ(m.route.operation, "insert");
  EXPECT_EQ(m.content["type"], "Warning");
}

TEST(EventRecorder, ManySimilarMessagesAreCombinedIntoOneCountedEvent) {
  EventRecorder r("edge-1");
  auto t0 = std::chrono::system_clock::time_point(1700000000s);
  PodEvent ev;
  ev.target = {"ns1", "web", "uid-1", "", "spec.containers{a}"};
  ev.warning = true;
  ev.reason = event_reason::kUnhealthy;
  for (int i = 0; i < 9; ++i) {
    ev.message = "Readiness probe failed: try " + std::to_string(i);
    core::Message m = r.record(ev, t0 + std::chrono::seconds(i));
    EXPECT_EQ(m.route.operation, "insert");
    EXPECT_EQ(m.content["message"], ev.message);
  }
  ev.message = "Readiness probe failed: try 9";
  core::Message combined = r.record(ev, t0 + 9s);
  EXPECT_EQ(combined.route.operation, "insert");
  EXPECT_EQ(combined.content["message"],
            "(combined from similar events): Readiness probe failed: try 9");
  ev.message = "Readiness probe failed: try 10";
  core::Message again = r.record(ev, t0 + 10s);
  EXPECT_EQ(again.route.operation, "patch");
  EXPECT_EQ(again.route.resource, combined.route.resource);
  EXPECT_EQ(again.content["event"]["count"], 2);
  EXPECT_EQ(again.content["event"]["message"],
            "(combined from similar events): Readiness probe failed: try 10");
  // Another reason is another group; after 10 quiet minutes the group starts again.
  PodEvent other = ev;
  other.reason = event_reason::kKilling;
  EXPECT_EQ(r.record(other, t0 + 11s).content["message"], ev.message);
  ev.message = "Readiness probe failed: late";
  EXPECT_EQ(r.record(ev, t0 + 11s + kAggregateInterval + 1s).content["message"], ev.message);
}

TEST(EventRecorder, BoundedMemoryForgetsTheLeastRecentlySeen) {
  EventRecorder r("edge-1", 2);
  auto t0 = std::chrono::system_clock::time_point(1700000000s);
  (void)r.record(started("a"), t0);
  (void)r.record(started("b"), t0 + 1s);
  (void)r.record(started("a"), t0 + 2s);  // a is now the most recent
  (void)r.record(started("c"), t0 + 3s);  // b is forgotten
  EXPECT_EQ(r.trackedForTest(), 2u);
  EXPECT_EQ(r.record(started("a"), t0 + 4s).route.operation, "patch");
  EXPECT_EQ(r.record(started("b"), t0 + 5s).route.operation, "insert");
}

TEST(EventRecorder, LongMessagesAreCutWithoutSplittingUtf8) {
  EventRecorder r("edge-1");
  PodEvent ev = started("a");
  ev.message = std::string(kMaxEventMessageBytes - 1, 'x') + "\xc3\xa9tail";
  core::Message m = r.record(ev, std::chrono::system_clock::time_point(1700000000s));
  std::string msg = m.content["message"];
  EXPECT_EQ(msg, std::string(kMaxEventMessageBytes - 1, 'x'));
}

}  // namespace
}  // namespace edgecore::edged
