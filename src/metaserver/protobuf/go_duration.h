#pragma once

// Go's time.Duration text ("1h2m3.5s", "300ms", "-1.5h"): metav1.Duration's JSON form.

#include <cstdint>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::protobuf {

// Nanoseconds; InvalidArgument for text Go's time.ParseDuration refuses or that overflows.
core::Result<int64_t> parseGoDuration(std::string_view text);
// What Go's Duration.String() writes.
std::string formatGoDuration(int64_t nanos);

}  // namespace edgecore::metaserver::protobuf
