// kubectl's printing rules shared by MetaServer and keadm ctl: HumanDuration, printPod cells,
// YAML. (MetaServer's Table tests and the keadm/kubectl comparison test cover them end to end.)

#include "edgecore/kubeprint/kubeprint.h"

#include <gtest/gtest.h>

#include "edgecore/core/time.h"

namespace edgecore::kubeprint {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::chrono::system_clock::time_point at(const char* ts) {
  std::chrono::system_clock::time_point t;
  auto parsed = core::parseRfc3339(ts);
  EXPECT_TRUE(parsed.ok()) << ts;
  return parsed.ok() ? *parsed : t;
}

TEST(HumanDuration, MatchesKubernetes) {
  EXPECT_EQ(humanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(humanDuration(seconds(0)), "0s");
  EXPECT_EQ(humanDuration(seconds(119)), "119s");
  EXPECT_EQ(humanDuration(seconds(125)), "2m5s");
  EXPECT_EQ(humanDuration(minutes(10)), "10m");
  EXPECT_EQ(humanDuration(minutes(190)), "3h10m");
  EXPECT_EQ(humanDuration(hours(8)), "8h");
  EXPECT_EQ(humanDuration(hours(50)), "2d2h");
  EXPECT_EQ(humanDuration(hours(24 * 30)), "30d");
  EXPECT_EQ(humanDuration(hours(24 * (365 * 3 + 10))), "3y10d");
  EXPECT_EQ(humanDuration(hours(24 * 365 * 9)), "9y");
}

TEST(Rfc3339, OffsetsFractionsAndGarbage) {
  EXPECT_EQ(at("2024-05-01T12:00:00+02:00"), at("2024-05-01T10:00:00Z"));
  EXPECT_EQ(ageSince("2024-05-01T10:04:55.123Z", at("2024-05-01T10:05:00Z")), "5s");
  for (const char* bad : {"", "yesterday", "2024-05-01T10:00:00", "2024-05-01T10:00:00Zjunk"}) {
    EXPECT_FALSE(core::parseRfc3339(bad).ok()) << bad;
    EXPECT_EQ(ageSince(bad, at("2024-05-01T10:05:00Z")), "<unknown>") << bad;
  }
}

TEST(PodCells, StatusReadyRestarts) {
  json pod = json::parse(R"({
    "metadata":{"name":"p","creationTimestamp":"2024-05-01T10:00:00Z"},
    "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
    "status":{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[
      {"name":"a","ready":true,"restartCount":1,"state":{"running":{}},
       "lastState":{"terminated":{"finishedAt":"2024-05-02T09:00:00Z"}}},
      {"name":"b","ready":false,"restartCount":2,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})");
  auto cells = podCells(pod, at("2024-05-02T10:00:00Z"));
  EXPECT_EQ(cells, (std::vector<std::string>{"p", "1/2", "CrashLoopBackOff", "3 (60m ago)", "24h",
                                             "10.0.0.1", "n1", "<none>", "<none>"}));
}

TEST(PodCells, InitContainersGatesAndDeletion) {
  auto now = at("2024-05-02T10:00:00Z");
  json pod = json::parse(R"({
    "metadata":{"name":"i"},
    "spec":{"initContainers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"c"}],
            "readinessGates":[{"conditionType":"x"},{"conditionType":"y"}]},
    "status":{"phase":"Pending","conditions":[{"type":"x","status":"True"}],
      "initContainerStatuses":[
        {"name":"a","restartCount":1,"state":{"terminated":{"exitCode":0}}},
        {"name":"b","restartCount":4,"state":{"running":{}}}],
      "containerStatuses":[{"name":"c","restartCount":9,"state":{"waiting":{}}}]}})");
  auto cells = podCells(pod, now);
  EXPECT_EQ(cells[1], "0/1");
  EXPECT_EQ(cells[2], "Init:1/2");
  EXPECT_EQ(cells[3], "5");  // init restarts only while initialising
  EXPECT_EQ(cells[4], "<unknown>");
  EXPECT_EQ(cells[8], "1/2");

  pod["status"]["initContainerStatuses"][1]["state"] = {{"terminated", {{"exitCode", 2}}}};
  EXPECT_EQ(podCells(pod, now)[2], "Init:ExitCode:2");
  pod["status"]["initContainerStatuses"][1]["state"] = {
      {"terminated", {{"exitCode", 0}, {"signal", 0}}}};
  pod["status"]["containerStatuses"][0]["state"] = {{"terminated", {{"signal", 9}}}};
  EXPECT_EQ(podCells(pod, now)[2], "Signal:9");
  EXPECT_EQ(podCells(pod, now)[3], "9");
  pod["metadata"]["deletionTimestamp"] = "2024-05-02T09:59:00Z";
  EXPECT_EQ(podCells(pod, now)[2], "Terminating");
  // Not an object at all: empty cells, no crash.
  EXPECT_EQ(podCells(json("junk"), now)[1], "0/0");
}

TEST(Yaml, QuotesWhatWouldReadBackDifferently) {
  json j = {{"a", "true"}, {"b", "5001"}, {"c", "plain"}, {"d", 5}, {"e", json::array()}};
  EXPECT_EQ(*toYaml(j), "a: \"true\"\nb: \"5001\"\nc: plain\nd: 5\ne: []\n");
  EXPECT_EQ(*toYaml(json{{"script", "echo hi\n"}}), "script: |\n  echo hi\n");
}

}  // namespace
}  // namespace edgecore::kubeprint
