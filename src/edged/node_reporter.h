#pragma once

// Node reporting through metamanager (spec/local-apis.md 6.6): registers the Node
// (`insert <ns>/node/<name>`, the kubelet's back-off, at once when the cloud link comes up), then
// sends `patch <ns>/nodepatch/<name>` when the status changed or is due, and keeps the lease
// `kube-node-lease/lease/<name>` renewed. EdgedModule creates one, spawns reportStatus() and
// renewLease() on its strand once the runtime answers, and calls stop() when it stops.

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "deviceplugin/device_manager.h"
#include "edgecore/core/bus.h"
#include "edgecore/core/cloud_link.h"
#include "edgecore/core/config.h"
#include "edgecore/core/module.h"
#include "edgecore/cri/cri_client.h"
#include "node/node_status.h"

namespace edgecore::edged {

// What one status round reads from the host and the runtime (blocking; on the CRI pool).
struct NodeProbe {
  HostFacts facts;
  RuntimeHealth health;
};

// The node's description from edged's configuration (namespace "default", port 10350 and 110
// pods when unset).
NodeConfig nodeConfigOf(const core::EdgedConfig& cfg, const std::string& node_ip,
                        const std::string& runtime_version);

// Reads the host facts (with the device plugins' resources) and asks the runtime for its status.
// Blocking: run it on the CRI pool.
NodeProbe probeNode(cri::CriClient& cri, const std::string& root_directory,
                    const deviceplugin::DeviceManager& devices);

// True when the cloud accepted the request (or already had the object: AlreadyExists); else
// `err` (if given) says why: the bus error, an error message, or the cloud's Err.
bool cloudAccepted(const core::Result<core::Message>& resp, std::string* err = nullptr);

class NodeReporter {
 public:
  struct Deps {
    core::Strand strand;
    core::Bus& bus;
    std::shared_ptr<spdlog::logger> log;
    const core::EdgedConfig& cfg;
    std::chrono::milliseconds bus_timeout;
    const core::CloudLinkStatus* cloud_link = nullptr;  // may be null (no edgehub)
    std::function<NodeConfig()> node_config;            // strand
    std::function<boost::asio::awaitable<NodeProbe>()> probe;
  };

  explicit NodeReporter(Deps deps);

  // Registration, then the node status every nodeStatusUpdateFrequency. Strand; ends after stop().
  boost::asio::awaitable<void> reportStatus();
  // The lease: read, create, renew every nodeLeaseDurationSeconds / 4. Strand; ends after stop().
  boost::asio::awaitable<void> renewLease();
  // The uid the cloud gave the Node at registration ("" until then). Strand.
  const std::string& nodeUid() const { return node_uid_; }
  // The loops end at their next wake-up (the module also cancels their timers). Strand.
  void stop() { stopping_ = true; }

 private:
  boost::asio::awaitable<core::Result<core::Message>> request(core::Message m);
  boost::asio::awaitable<void> waitToRegister(boost::asio::steady_timer& timer,
                                              std::chrono::milliseconds delay);

  Deps d_;
  bool stopping_ = false;
  std::string node_uid_;
};

}  // namespace edgecore::edged
