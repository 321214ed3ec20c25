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
