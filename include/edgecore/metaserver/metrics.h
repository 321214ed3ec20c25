#pragma once

// MetaServer's /metrics renders the agent's one registry (edgecore/core/metrics.h); these names
// keep MetaServer's code and tests short.

#include "edgecore/core/metrics.h"

namespace edgecore::metaserver {

using core::escapeLabelValue;
using core::formatMetricValue;
using core::MetricsRegistry;
using core::MetricsRegistrySharedPtr;
using core::MetricType;

}  // namespace edgecore::metaserver
