// Prometheus text for edgehub's counters (include/edgecore/edgehub/module.h appendMetrics).

#include "edgecore/core/metrics.h"

#include <string>

#include "edgecore/edgehub/module.h"

namespace edgecore::edgehub {

void appendMetrics(const EdgeHubStats& s, std::string& out) {
  using core::MetricType;
  auto add = [&out](std::string_view name, std::string_view help, MetricType type, uint64_t v) {
    core::appendMetricFamily(out, name, help, type, static_cast<double>(v));
  };
  add("edgecore_edgehub_connected", "1 while the websocket tunnel to CloudCore is up.",
      MetricType::Gauge, s.connected ? 1 : 0);
  add("edgecore_edgehub_sessions_total", "Cloud tunnel sessions established.", MetricType::Counter,
      s.sessions);
  add("edgecore_edgehub_connect_failures_total",
      "Cloud dials that failed (TCP, TLS, upgrade, certificate).", MetricType::Counter,
      s.connect_failures);
  add("edgecore_edgehub_dead_links_total",
      "Cloud sessions ended because nothing came back (not even a pong).", MetricType::Counter,
      s.dead_links);
  add("edgecore_edgehub_frames_in_total", "Frames read from the cloud.", MetricType::Counter,
      s.frames_in);
  add("edgecore_edgehub_frames_out_total", "Frames written to the cloud (keepalives included).",
      MetricType::Counter, s.frames_out);
  add("edgecore_edgehub_bad_frames_total",
      "Frames from the cloud dropped (malformed, binary, oversized).", MetricType::Counter,
      s.malformed_frames + s.binary_frames + s.oversized_frames);
  add("edgecore_edgehub_dropped_downstream_total",
      "Cloud messages with no route or refused by their target module.", MetricType::Counter,
      s.dropped_downstream);
  add("edgecore_edgehub_dropped_upstream_total",
      "Messages to the cloud lost (memory queue full, write failed).", MetricType::Counter,
      s.dropped_upstream);
  add("edgecore_edgehub_outbox_depth", "Messages waiting in the durable outbox.", MetricType::Gauge,
      s.outbox_depth);
  add("edgecore_edgehub_outbox_dropped_total", "Outbox rows dropped because it was full.",
      MetricType::Counter, s.outbox_dropped);
  add("edgecore_edgehub_certificates_issued_total", "Node certificate rotations that succeeded.",
      MetricType::Counter, s.certificates_issued);
}

}  // namespace edgecore::edgehub
