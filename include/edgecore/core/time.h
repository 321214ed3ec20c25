#pragma once

// Wall-clock time as Kubernetes and KubeEdge write it on the wire and in the store (UTC), and
// the RFC 3339 parser every reader of those timestamps uses. Pure functions, any thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::core {

using WallTime = std::chrono::system_clock::time_point;

// "2006-01-02T15:04:05Z": metav1.Time (whole seconds, UTC).
std::string formatRfc3339(WallTime t);
// "2006-01-02T15:04:05.000000Z": metav1.MicroTime (leases, events).
std::string formatRfc3339Micro(WallTime t);
// UTC through a strftime-style pattern of fmt's chrono specifiers, e.g. "%Y%m%dT%H%M%SZ" for a
// file name stamp or "%a, %d %b %Y %H:%M:%S +0000" for kubectl describe (English names, no
// locale).
std::string formatUtc(WallTime t, std::string_view pattern);

// RFC 3339 as Go's time.RFC3339Nano reads it: "2006-01-02T15:04:05[.fraction](Z|+hh:mm|-hh:mm)",
// up to nine fraction digits (more are cut). Nanoseconds since the Unix epoch; InvalidArgument
// naming the text otherwise.
Result<int64_t> parseRfc3339Nanos(std::string_view text);
Result<WallTime> parseRfc3339(std::string_view text);

}  // namespace edgecore::core
