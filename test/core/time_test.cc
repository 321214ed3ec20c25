#include "edgecore/core/time.h"

#include <gtest/gtest.h>

namespace edgecore::core {
namespace {

using namespace std::chrono_literals;

const WallTime kT0 = WallTime(std::chrono::seconds(1735689600));  // 2025-01-01T00:00:00Z

TEST(Time, FormatsKubernetesTimes) {
  EXPECT_EQ(formatRfc3339(kT0 + 10s), "2025-01-01T00:00:10Z");
  EXPECT_EQ(formatRfc3339(kT0 + 1999ms), "2025-01-01T00:00:01Z");  // truncated, as metav1.Time
  EXPECT_EQ(formatRfc3339Micro(kT0 + 1500ms), "2025-01-01T00:00:01.500000Z");
  EXPECT_EQ(formatRfc3339Micro(kT0 + 7us), "2025-01-01T00:00:00.000007Z");
  EXPECT_EQ(formatUtc(kT0 + 3661s, "%Y%m%dT%H%M%SZ"), "20250101T010101Z");
  EXPECT_EQ(formatUtc(kT0, "%a, %d %b %Y %H:%M:%S +0000"), "Wed, 01 Jan 2025 00:00:00 +0000");
}

TEST(Time, ParsesRfc3339WithFractionAndZone) {
  EXPECT_EQ(*parseRfc3339Nanos("2025-01-01T00:00:00Z"), 1735689600000000000LL);
  EXPECT_EQ(*parseRfc3339Nanos("2025-01-01T01:00:00+01:00"), 1735689600000000000LL);
  EXPECT_EQ(*parseRfc3339Nanos("2024-12-31T23:00:00-01:00"), 1735689600000000000LL);
  EXPECT_EQ(*parseRfc3339Nanos("2025-01-01T00:00:00.5Z"), 1735689600500000000LL);
  EXPECT_EQ(*parseRfc3339Nanos("2025-01-01t00:00:00.1234567891z"), 1735689600123456789LL);
  // Found by the k8s_protobuf fuzzer: years outside int64 nanoseconds used to overflow (UB).
  EXPECT_FALSE(parseRfc3339Nanos("9999-12-31T23:59:59Z").ok());
  EXPECT_FALSE(parseRfc3339Nanos("0001-01-01T00:00:00Z").ok());
  EXPECT_TRUE(parseRfc3339Nanos("2261-12-31T23:59:59Z").ok());
  EXPECT_EQ(*parseRfc3339("2025-01-01T00:00:10Z"), kT0 + 10s);
}

TEST(Time, RejectsWhatGoRejects) {
  for (const char* bad :
       {"", "2025-01-01", "2025-01-01 00:00:00Z", "2025-01-01T00:00:00", "2025-13-01T00:00:00Z",
        "2025-01-01T00:00:00.Z", "2025-01-01T00:00:00+0100", "2025-01-01T00:00:00ZZ",
        "x025-01-01T00:00:00Z"}) {
    auto r = parseRfc3339Nanos(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace edgecore::core
