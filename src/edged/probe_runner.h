#pragma once

// Probes of running containers (kubelet prober manager): keeps one ContainerProber
// (probe/prober.h) per running container instance that has probes, with exec probes run as CRI
// ExecSync on the CRI pool and httpGet/tcpSocket aimed at the pod IP (the host IP with
// hostNetwork). Results go to the module's callback, which applies them with applyProbeResult():
// liveness/startup failures restart the container, readiness drives Ready. EdgedModule calls
// sync() for each pod after every relist and stop() when a pod goes or the module stops.

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "edgecore/core/module.h"
#include "edgecore/cri/cri_client.h"
#include "pod_entry.h"

namespace edgecore::edged {

// Applies a probe result to the container's state; true when the container must be restarted
// now (a liveness or startup failure, once per container instance).
bool applyProbeResult(ProbeState& ps, ProbeType type, ProbeResult result);

class ProbeRunner {
 public:
  // A result that changed, for container instance `id` of pod `uid` (on the strand).
  using OnResult =
      std::function<void(const std::string& uid, const std::string& container,
                         const std::string& id, ProbeType, ProbeResult, const std::string& output)>;
  struct Deps {
    core::Strand strand;
    cri::CriClient* cri;
    std::shared_ptr<boost::asio::thread_pool> pool;  // exec probes run here
    std::string host_ip;
    OnResult on_result;
  };

  explicit ProbeRunner(Deps deps) : d_(std::move(deps)) {}

  // Starts probers for containers that started, stops those of containers that stopped or were
  // replaced, and all of them when the pod is deleting or finished. Strand.
  void sync(PodEntry& e);
  // Stops every prober of `e`. Strand.
  static void stop(PodEntry& e);

 private:
  Deps d_;
};

}  // namespace edgecore::edged
