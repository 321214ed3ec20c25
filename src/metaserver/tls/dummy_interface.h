#pragma once

// The address pods and host processes reach MetaServer on with requireAuthorization (spec
// local-apis.md 4.1): v1.20 creates the link `edge-dummy0` of type dummy holding the dummyServer
// IP (pkg/util/dummy_device_linux.go, EnsureDummyDevice + EnsureAddressBind). We talk rtnetlink
// directly (no `ip` program). Kernels built without the dummy link driver answer "not
// supported"; there the address goes on `lo` with the label `lo:edgedummy` instead (a warning
// says why), which gives the same reachability on the node. remove() takes away what start put
// there (the link, or the address on lo).

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::tls {

inline constexpr const char* kDummyInterfaceName = "edge-dummy0";
inline constexpr const char* kLoopbackFallbackLabel = "lo:edgedummy";

class DummyInterface {
 public:
  // Creates (or reuses) the link and binds `ipv4` to it as a /32, link up. PermissionDenied
  // naming CAP_NET_ADMIN when the process lacks it; InvalidArgument for a non-IPv4 address;
  // Internal with the kernel's answer otherwise. Blocks briefly (netlink round trips).
  static core::Result<std::unique_ptr<DummyInterface>> create(
      const std::string& ipv4, std::shared_ptr<spdlog::logger> log,
      const std::string& name = kDummyInterfaceName);
  ~DummyInterface();  // remove()

  // Idempotent; logs (does not fail) if the kernel refuses.
  void remove();
  // True when the kernel had no dummy driver and the address sits on lo.
  bool onLoopback() const { return on_loopback_; }
  const std::string& device() const { return device_; }

 private:
  DummyInterface() = default;
  std::string ip_;
  std::string device_;  // edge-dummy0, or "lo"
  bool on_loopback_ = false;
  bool created_link_ = false;
  bool removed_ = false;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace edgecore::metaserver::tls
