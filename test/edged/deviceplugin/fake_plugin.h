#pragma once

// A small device plugin for tests: serves DevicePlugin v1beta1 on <dir>/<endpoint> with N fake
// devices ("widget-0", "widget-1"...) of one resource, registers with <dir>/kubelet.sock, and can
// flip device health or go away. Allocate answers, per container:
//   envs  WIDGET_IDS=<ids joined by ','>, WIDGET_RESOURCE=<resource>
//   mounts <host_dir> -> /widget (read-only)
//   devices /dev/null -> /dev/widget (rw)
//   annotations example.com/widget-ids=<ids>
//   CDI devices <cdi_kind>=<id> when cdi_kind is set
// Counts every RPC it served. Thread-safe.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace edgecore::testing {

class FakeDevicePlugin {
 public:
  struct Options {
    std::string dir;  // the device-plugins directory
    std::string endpoint = "widget.sock";
    std::string resource = "example.com/widget";
    std::string version = "v1beta1";
    int devices = 2;
    std::string host_dir;  // mounted at /widget; "" = no mount
    bool pre_start_required = false;
    bool preferred_allocation = false;
    std::string cdi_kind;  // e.g. "example.com/widget"
  };
  explicit FakeDevicePlugin(Options o);
  ~FakeDevicePlugin();

  // Serves the endpoint. False when the socket cannot be served.
  bool serve();
  // Registers with the kubelet socket; the error message when refused ("" = ok).
  std::string registerWithKubelet();
  // Serves and registers; "" on success.
  std::string start();
  // Stops serving and removes its socket (a plugin exit).
  void stop();
  void setHealthy(int index, bool healthy);

  int listsSent() const;  // ListAndWatch responses written
  int allocateCalls() const;
  int preStartCalls() const;
  int preferredCalls() const;
  std::vector<std::string> lastAllocated() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgecore::testing
