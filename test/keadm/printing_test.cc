// Unit tests of keadm's printing: Go tabwriter semantics, HumanDuration, pod cells, YAML.

#include "printing.h"

#include <gtest/gtest.h>

namespace edgecore::keadm {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(TabWrite, KubectlTableLayout) {
  // Columns padded to the widest cell + 3 (min 6); the last cell is never padded.
  EXPECT_EQ(tableText("NAME\tAGE\nnginx\t5d\nx\t10s\n"), "NAME    AGE\nnginx   5d\nx       10s\n");
  EXPECT_EQ(tableText("A\tB\n"), "A     B\n");  // minwidth 6
}

TEST(TabWrite, BlocksEndAtLinesWithoutTabs) {
  // As Go's text/tabwriter: a line with no cell in a column ends that column's block.
  EXPECT_EQ(describeText("Name:\tweb\nContainers:\n  a-long-key:\tv\nX:\ty\n"),
            "Name:  web\nContainers:\n  a-long-key:  v\nX:             y\n");
  EXPECT_EQ(describeText("  T\tS\n  Ready \tTrue \n"), "  T       S\n  Ready   True \n");
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

TEST(PodCells, StatusReadyRestarts) {
  std::chrono::system_clock::time_point now;
  ASSERT_TRUE(parseRfc3339("2024-05-02T10:00:00Z", &now));
  json pod = json::parse(R"({
    "metadata":{"name":"p","creationTimestamp":"2024-05-01T10:00:00Z"},
    "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
    "status":{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[
      {"name":"a","ready":true,"restartCount":1,"state":{"running":{}},
       "lastState":{"terminated":{"finishedAt":"2024-05-02T09:00:00Z"}}},
      {"name":"b","ready":false,"restartCount":2,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})");
  auto cells = podCells(pod, now);
  ASSERT_EQ(cells.size(), 9u);
  EXPECT_EQ(cells[0], "p");
  EXPECT_EQ(cells[1], "1/2");
  EXPECT_EQ(cells[2], "CrashLoopBackOff");
  EXPECT_EQ(cells[3], "3 (60m ago)");
  EXPECT_EQ(cells[4], "24h");
  EXPECT_EQ(cells[5], "10.0.0.1");
  EXPECT_EQ(cells[6], "n1");
}

TEST(Yaml, QuotesWhatWouldReadBackDifferently) {
  json j = {{"a", "true"}, {"b", "5001"}, {"c", "plain"}, {"d", 5}, {"e", json::array()}};
  EXPECT_EQ(toYaml(j), "a: \"true\"\nb: \"5001\"\nc: plain\nd: 5\ne: []\n");
}

}  // namespace
}  // namespace edgecore::keadm

namespace edgecore::keadm {
namespace {

TEST(DescribePod, AllocatedDevicesFromTheCheckpoint) {
  nlohmann::json pod = {
      {"metadata", {{"name", "p"}, {"namespace", "default"}, {"uid", "u1"}}},
      {"spec",
       {{"containers",
         {{{"name", "a"}, {"resources", {{"limits", {{"example.com/widget", "1"}}}}}},
          {{"name", "b"}}}}}}};
  std::string cp =
      R"({"version":1,"pods":{"u1":{"a":{"deviceIDs":{"example.com/widget":["w-3"]}}}}})";
  auto devices = podDevicesFromCheckpoint(cp, "u1");
  ASSERT_TRUE(devices.is_object());
  std::string text = describePod(pod, {}, false, std::chrono::system_clock::now(), devices);
  EXPECT_NE(text.find("    Allocated Devices:\n      example.com/widget:  w-3\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("Allocated Devices"), text.rfind("Allocated Devices"));
  // Junk or foreign checkpoints give nothing, and describe copes with junk device data.
  EXPECT_TRUE(podDevicesFromCheckpoint("{not json", "u1").is_null());
  EXPECT_TRUE(podDevicesFromCheckpoint(cp, "u2").is_null());
  EXPECT_TRUE(podDevicesFromCheckpoint(R"({"pods":[1]})", "u1").is_null());
  nlohmann::json junk = {{"a", {{"deviceIDs", {{"example.com/widget", {1, nullptr}}}}}}};
  text = describePod(pod, {}, false, std::chrono::system_clock::now(), junk);
  EXPECT_NE(text.find("      example.com/widget:  <none>\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace edgecore::keadm
