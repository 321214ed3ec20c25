#pragma once

// The edged module (bus name "edged", group "edged"): runs the node's pods through CRI on the
// container runtime, like KubeEdge's embedded kubelet (spec/local-apis.md section 6). Pods come
// from metamanager (the cloud's pods kept in the local store) and from static manifests in
// tailoredKubeletConfig.staticPodPath; status goes back as podpatch messages through metamanager.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/cloud_link.h"
#include "edgecore/core/module.h"
#include "edgecore/core/status.h"

namespace edgecore::edged {

// Knobs that are not in edgecore.yaml (tests and main.cc set them).
struct EdgedOptions {
  // Reads one stored object by its `meta` table key ("<ns>/configmap/<name>", "<ns>/secret/<name>")
  // from metamanager's store: the fallback for configmaps and secrets when metamanager does not
  // answer a query. main.cc wires it to the store; empty when metaManager is off (then pods
  // that reference them get CreateContainerConfigError / FailedMount). Called on edged's CRI
  // pool, so it may block; it must stay valid while the module runs.
  std::function<core::Result<std::optional<std::string>>(std::string_view key)> read_stored_object;
  // Whether edgehub's link is up (kept by metamanager; may be null): node registration is tried
  // as soon as it comes up instead of at the next nodeStatusUpdateFrequency tick.
  const core::CloudLinkStatus* cloud_link = nullptr;
  // status.hostIP and the node's InternalIP when edged.nodeIP is empty.
  std::string host_ip = "127.0.0.1";
  // CrashLoopBackOff and image pull back-off: first delay (the kubelet's 10 s); the cap is 30x.
  // main.cc reads EDGECORE_EDGED_BACKOFF_BASE_MS to shorten it for tests.
  std::chrono::milliseconds backoff_base{std::chrono::seconds(10)};
  // How often the runtime is relisted (the kubelet's PLEG period) and probes are checked.
  std::chrono::milliseconds relist_period{std::chrono::seconds(1)};
  // Pod status is re-checked (and re-sent when not yet accepted) this often.
  std::chrono::milliseconds status_period{std::chrono::seconds(10)};
  // Overrides fileCheckFrequency when non-zero.
  std::chrono::milliseconds static_pod_period{0};
  // How often running containers' log sizes are checked for rotation (the kubelet's 10 s).
  std::chrono::milliseconds log_rotation_period{std::chrono::seconds(10)};
  // Threads that make CRI calls (a StopContainer may block one for the whole grace period, so
  // edged has its own pool instead of the shared blocking pool).
  int cri_threads = 4;
  // Deadline of edged's own requests to metamanager (pod query, status patch, pod delete).
  std::chrono::milliseconds bus_timeout{std::chrono::seconds(30)};
  // How long a device plugin's resource stays in the node's capacity (allocatable 0) after the
  // plugin went away, before it is removed: the kubelet's 5 minutes. main.cc reads
  // EDGECORE_EDGED_DEVICE_PLUGIN_GRACE_MS to shorten it for tests and demos.
  std::chrono::milliseconds device_plugin_stop_grace{std::chrono::minutes(5)};
};

// What edged runs, for /pods, MetaServer and tests. Any thread (a snapshot under a lock).
struct PodSummary {
  std::string ns;
  std::string name;
  std::string uid;
  bool is_static = false;
  std::string phase;
  std::string pod_json;     // the API pod with the current status
  std::string status_json;  // the last computed status
};

class Edged : public core::Module {
 public:
  virtual std::vector<PodSummary> pods() const = 0;
  // The port the edged HTTP server (/healthz, /pods, /containerLogs, /exec, /attach) listens on,
  // 0 when it is not running. Any thread.
  virtual uint16_t serverPort() const = 0;
};

// InvalidArgument when the CRI endpoint in the config is not a unix socket.
core::Result<core::ModulePtr> create(core::ModuleContext ctx, EdgedOptions options = {});

}  // namespace edgecore::edged
