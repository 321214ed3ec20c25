#pragma once

// Whether the cloud link is up, for code that is not on the bus (MetaServer's forwarder).
// metamanager sets it from edgehub's cloud_connected / cloud_disconnected events.

#include <atomic>

namespace edgecore::core {

class CloudLinkStatus {
 public:
  // Any thread, never blocks.
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  void setConnected(bool up) { connected_.store(up, std::memory_order_release); }

 private:
  std::atomic<bool> connected_{false};
};

}  // namespace edgecore::core
