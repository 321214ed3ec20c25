#include "table_printer.h"

#include <gtest/gtest.h>

#include "edgecore/core/time.h"
#include "metaserver/test_objects.h"

namespace edgecore::metaserver {
namespace {

using namespace std::chrono;
using edgecore::testing::makePodJson;
using edgecore::testing::PodSpec;

system_clock::time_point at(const char* ts) {
  auto parsed = core::parseRfc3339(ts);
  EXPECT_TRUE(parsed.ok()) << ts;
  return parsed.ok() ? *parsed : system_clock::time_point{};
}

TEST(HumanDurationTest, MatchesKubectlBuckets) {
  EXPECT_EQ(humanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(humanDuration(milliseconds(-500)), "0s");
  EXPECT_EQ(humanDuration(seconds(5)), "5s");
  EXPECT_EQ(humanDuration(seconds(119)), "119s");
  EXPECT_EQ(humanDuration(seconds(200)), "3m20s");
  EXPECT_EQ(humanDuration(minutes(4)), "4m");
  EXPECT_EQ(humanDuration(minutes(45)), "45m");
  EXPECT_EQ(humanDuration(minutes(179)), "179m");
  EXPECT_EQ(humanDuration(hours(5)), "5h");
  EXPECT_EQ(humanDuration(hours(5) + minutes(30)), "5h30m");
  EXPECT_EQ(humanDuration(hours(30)), "30h");
  EXPECT_EQ(humanDuration(hours(48)), "2d");
  EXPECT_EQ(humanDuration(hours(24 * 3 + 4)), "3d4h");
  EXPECT_EQ(humanDuration(hours(24 * 30)), "30d");
  EXPECT_EQ(humanDuration(hours(24 * 365 * 3)), "3y");
  EXPECT_EQ(humanDuration(hours(24 * (365 * 3 + 12))), "3y12d");
  EXPECT_EQ(humanDuration(hours(24 * 365 * 9)), "9y");
}

TEST(HumanDurationTest, AgeCell) {
  auto now = at("2024-05-01T10:05:00Z");
  EXPECT_EQ(ageCell("2024-05-01T10:00:00Z", now), "5m");
  EXPECT_EQ(ageCell("2024-05-01T12:00:00+02:00", now), "5m");
  EXPECT_EQ(ageCell("2024-05-01T10:04:55.123Z", now), "5s");
  EXPECT_EQ(ageCell("", now), "<unknown>");
  EXPECT_EQ(ageCell("yesterday", now), "<unknown>");
}

TEST(TablePrinterTest, RunningPod) {
  TablePrinter p("pods", at("2024-05-01T15:00:00Z"), IncludeObject::Metadata);
  auto cells = p.podCells(makePodJson(PodSpec{}));
  EXPECT_EQ(cells.dump(),
            R"(["nginx","1/1","Running","0","5h","10.244.1.17","edge-1","<none>","<none>"])");
}

TEST(TablePrinterTest, CrashLoopWithRestartsAndLastRestart) {
  PodSpec s;
  s.ready = false;
  s.restarts = 4;
  s.waiting_reason = "CrashLoopBackOff";
  auto pod = makePodJson(s);
  pod["status"]["containerStatuses"][0]["lastState"] = {
      {"terminated", {{"exitCode", 1}, {"finishedAt", "2024-05-01T14:58:00Z"}}}};
  TablePrinter p("pods", at("2024-05-01T15:00:00Z"), IncludeObject::Metadata);
  auto cells = p.podCells(pod);
  EXPECT_EQ(cells[1], "0/1");
  EXPECT_EQ(cells[2], "CrashLoopBackOff");
  EXPECT_EQ(cells[3], "4 (2m ago)");
}

TEST(TablePrinterTest, TerminatingPendingInitAndCompleted) {
  TablePrinter p("pods", at("2024-05-01T15:00:00Z"), IncludeObject::Metadata);
  PodSpec del;
  del.deleting = true;
  EXPECT_EQ(p.podCells(makePodJson(del))[2], "Terminating");

  auto pending = makePodJson(PodSpec{});
  pending["status"] = {{"phase", "Pending"}};
  auto cells = p.podCells(pending);
  EXPECT_EQ(cells[1], "0/1");
  EXPECT_EQ(cells[2], "Pending");
  EXPECT_EQ(cells[5], "<none>");

  auto init = makePodJson(PodSpec{});
  init["spec"]["initContainers"] = nlohmann::json::array({{{"name", "a"}}, {{"name", "b"}}});
  init["status"]["phase"] = "Pending";
  init["status"]["initContainerStatuses"] = nlohmann::json::array(
      {{{"name", "a"}, {"restartCount", 0}, {"state", {{"terminated", {{"exitCode", 0}}}}}},
       {{"name", "b"}, {"restartCount", 0}, {"state", {{"running", nlohmann::json::object()}}}}});
  EXPECT_EQ(p.podCells(init)[2], "Init:1/2");

  auto failed_init = init;
  failed_init["status"]["initContainerStatuses"][1]["state"] = {
      {"waiting", {{"reason", "ImagePullBackOff"}}}};
  EXPECT_EQ(p.podCells(failed_init)[2], "Init:ImagePullBackOff");

  auto done = makePodJson(PodSpec{});
  done["status"]["phase"] = "Succeeded";
  done["status"]["containerStatuses"][0]["ready"] = false;
  done["status"]["containerStatuses"][0]["state"] = {
      {"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}};
  EXPECT_EQ(p.podCells(done)[2], "Completed");

  auto killed = done;
  killed["status"]["containerStatuses"][0]["state"] = {{"terminated", {{"signal", 9}}}};
  EXPECT_EQ(p.podCells(killed)[2], "Signal:9");
}

TEST(TablePrinterTest, NodeCells) {
  TablePrinter p("nodes", at("2024-05-01T08:00:00Z"), IncludeObject::Metadata);
  auto ready = nlohmann::json::parse(edgecore::testing::makeNode("edge-1", true));
  EXPECT_EQ(
      p.nodeCells(ready).dump(),
      R"j(["edge-1","Ready","agent,edge","30d","v1.30.7-kubeedge-v1.20.0","192.168.1.20",)j"
      R"j("<none>","Debian GNU/Linux 12 (bookworm)","6.1.0-18-amd64","containerd://1.6.20"])j");
  auto nr = nlohmann::json::parse(edgecore::testing::makeNode("edge-2", false, 11, false));
  nr["spec"]["unschedulable"] = true;
  auto cells = p.nodeCells(nr);
  EXPECT_EQ(cells[1], "NotReady,SchedulingDisabled");
  EXPECT_EQ(cells[2], "<none>");
}

TEST(TablePrinterTest, RowsCarryPartialObjectMetadata) {
  TablePrinter p("configmaps", at("2024-05-01T10:00:00Z"), IncludeObject::Metadata);
  auto row = p.row(nlohmann::json::parse(edgecore::testing::makeConfigMap("ns1", "cfg")));
  EXPECT_EQ(row["cells"].dump(), R"(["cfg","24h"])");
  EXPECT_EQ(row["object"]["kind"], "PartialObjectMetadata");
  EXPECT_EQ(row["object"]["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(row["object"]["metadata"]["namespace"], "ns1");
  EXPECT_FALSE(row["object"].contains("data"));
  TablePrinter none("configmaps", at("2024-05-01T10:00:00Z"), IncludeObject::None);
  EXPECT_FALSE(none.row(nlohmann::json::parse(edgecore::testing::makeConfigMap("a", "b")))
                   .contains("object"));
  EXPECT_EQ(p.columns().size(), 2u);
  EXPECT_EQ(TablePrinter("pods", {}, IncludeObject::None).columns().size(), 9u);
}

}  // namespace
}  // namespace edgecore::metaserver
