// Prometheus text for edgestream's counters (include/edgecore/edgestream/module.h appendMetrics).

#include "edgecore/core/metrics.h"

#include <string>

#include "edgecore/edgestream/module.h"

namespace edgecore::edgestream {

namespace {

void family(std::string& out, const char* name, const char* help, const char* type,
            uint64_t value) {
  core::appendMetricFamily(
      out, name, help,
      std::string_view(type) == "counter" ? core::MetricType::Counter : core::MetricType::Gauge,
      static_cast<double>(value));
}

}  // namespace

void appendMetrics(const EdgeStreamStats& s, std::string& out) {
  family(out, "edgecore_edgestream_connected", "1 while the stream tunnel to the cloud is up.",
         "gauge", s.connected ? 1 : 0);
  family(out, "edgecore_edgestream_sessions_total", "Stream tunnel sessions established.",
         "counter", s.sessions);
  family(out, "edgecore_edgestream_connect_failures_total",
         "Stream tunnel dials that failed (TCP, TLS, upgrade, certificate files).", "counter",
         s.connect_failures);
  family(out, "edgecore_edgestream_dead_links_total",
         "Stream tunnel sessions ended because nothing came back (no frame, no pong).", "counter",
         s.dead_links);
  family(out, "edgecore_edgestream_frames_in_total", "Tunnel frames read from the cloud.",
         "counter", s.frames_in);
  family(out, "edgecore_edgestream_frames_out_total", "Tunnel frames written to the cloud.",
         "counter", s.frames_out);
  family(out, "edgecore_edgestream_bad_frames_total",
         "Tunnel frames rejected (oversized, bad uvarint, unknown type).", "counter", s.bad_frames);
  family(out, "edgecore_edgestream_connections_total",
         "Local connections opened for cloud logs/exec/attach/metrics requests.", "counter",
         s.connections_opened);
  family(out, "edgecore_edgestream_connections_refused_total",
         "Cloud requests refused (connection limit, duplicate id, unusable connect message).",
         "counter", s.connections_refused + s.bad_connect_messages);
  family(out, "edgecore_edgestream_local_failures_total",
         "Cloud requests whose local edged server could not be reached.", "counter",
         s.local_failures);
  family(out, "edgecore_edgestream_active_connections", "Local connections open now.", "gauge",
         s.active_connections);
  family(out, "edgecore_edgestream_bytes_to_cloud_total", "DATA bytes sent to the cloud.",
         "counter", s.bytes_to_cloud);
  family(out, "edgecore_edgestream_bytes_from_cloud_total", "DATA bytes received from the cloud.",
         "counter", s.bytes_from_cloud);
}

}  // namespace edgecore::edgestream
