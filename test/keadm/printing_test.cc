// Unit tests of keadm's printing: Go tabwriter semantics (pod cells, ages and YAML are
// kubeprint's: test/kubeprint/kubeprint_test.cc).

#include "printing.h"

#include <gtest/gtest.h>

namespace edgecore::keadm {
namespace {

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
