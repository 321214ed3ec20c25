#pragma once

// What MetaServer needs for the node-local operations of keadm ctl (spec local-apis.md 4.7 to
// 4.10): pod logs, exec, restart, node-upgrade confirmation, device edit and unhold-upgrade. The
// module fills it from the config; a MetaServer without it answers those paths as plain resources
// (404).

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::cri {
class CriClient;
}
namespace edgecore::metamanager {
class MetaStore;
class UpgradeRecords;
}  // namespace edgecore::metamanager
namespace edgecore::core {
class Bus;
}

namespace edgecore::metaserver {

// Makes the CRI client once, on first use, from any thread. Creating a gRPC channel starts
// gRPC's 6 threads and touches about 3 MB of its code: a node with edged off that never asks for
// pod logs or exec should not pay that at start (docs/performance.md).
class LazyCriClient {
 public:
  using Factory = std::function<core::Result<std::unique_ptr<cri::CriClient>>()>;
  explicit LazyCriClient(Factory make) : make_(std::move(make)) {}
  // The client, or null with `error` set to why there is none.
  std::shared_ptr<cri::CriClient> get(std::string& error) const;

 private:
  Factory make_;
  mutable std::once_flag once_;
  mutable std::shared_ptr<cri::CriClient> client_;
  mutable std::string error_;
};

struct LocalOps {
  // CRI (ListContainers, ExecSync, Exec, StopContainer): `cri` when set, else made by
  // `lazy_cri` on first use. Neither: those endpoints report `cri_error`. Its calls block; they
  // run on `blocking`.
  std::shared_ptr<cri::CriClient> cri;
  std::shared_ptr<const LazyCriClient> lazy_cri;
  std::string cri_error = "container runtime client not configured";
  boost::asio::thread_pool* blocking = nullptr;  // required; outlives the server
  // Edged's read-only HTTP server for /containerLogs (modules.edged tailoredKubeletConfig
  // address/readOnlyPort); logs fail when edged is disabled, as in KubeEdge.
  bool edged_enabled = false;
  std::string edged_address = "127.0.0.1";
  uint16_t edged_port = 10350;
  // Device edits go to metamanager on this bus (synchronous request, 1 min). Null: 503.
  core::Bus* bus = nullptr;
  // confirm-upgrade: the store's NodeUpgradeJobRequest/NodeTaskRequest rows (null: 500, no
  // store), the program run with an argument vector (never a shell), its log file, and what it
  // is told. The rows outlive the server.
  metamanager::UpgradeRecords* upgrade_records = nullptr;
  // unhold-upgrade reads pods and nodes here (null: 500) and tells edged on `bus`.
  const metamanager::MetaStore* store = nullptr;
  std::string config_path = "/etc/kubeedge/config/edgecore.yaml";
  std::string edgecore_version;
  std::string upgrade_program = "keadm";
  std::string upgrade_log;  // empty: $TMPDIR (or /tmp) + "/keadm.log"
  std::chrono::seconds exec_sync_timeout{10};
  int64_t restart_stop_timeout_seconds = 3;
};
using LocalOpsSharedPtr = std::shared_ptr<const LocalOps>;

// The CRI client of `ops` (made now if this is the first use), or null with `error` set.
std::shared_ptr<cri::CriClient> criClient(const LocalOps& ops, std::string& error);

}  // namespace edgecore::metaserver
