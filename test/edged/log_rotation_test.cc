// Log rotation policy parsing and names (the rotation itself runs against containerd in
// EdgedTest.ContainerLogsRotateAtTheConfiguredSize).

#include "log_rotation.h"

#include <gtest/gtest.h>

namespace edgecore::edged {
namespace {

using namespace std::chrono_literals;

TEST(LogRotation, PolicyFromKubeletSettings) {
  auto d = makeLogRotationPolicy("", 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_size_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(d->max_files, 5);
  auto p = makeLogRotationPolicy("4Ki", 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->max_size_bytes, 4096);
  EXPECT_EQ(p->max_files, 3);
  EXPECT_EQ(makeLogRotationPolicy("1M", 2)->max_size_bytes, 1000000);
  EXPECT_FALSE(makeLogRotationPolicy("0", 5).ok());
  EXPECT_FALSE(makeLogRotationPolicy("-1Mi", 5).ok());
  EXPECT_FALSE(makeLogRotationPolicy("ten", 5).ok());
  EXPECT_FALSE(makeLogRotationPolicy("10Mi", 1).ok());
}

TEST(LogRotation, RotatedNameUsesTheKubeletTimestampLayout) {
  auto t = std::chrono::system_clock::time_point(1700000000s);  // 2023-11-14T22:13:20Z
  EXPECT_EQ(rotatedLogName("/var/log/pods/a/c/0.log", t),
            "/var/log/pods/a/c/0.log.20231114-221320");
}

}  // namespace
}  // namespace edgecore::edged
