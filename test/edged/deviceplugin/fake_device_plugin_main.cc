// fake-device-plugin: a device plugin for trying edged by hand (docs/deviceplugin.md).
//   fake-device-plugin [--dir /var/lib/kubelet/device-plugins] [--resource example.com/widget]
//                      [--devices 2] [--endpoint widget.sock] [--host-dir DIR]
// Reads commands on stdin: "unhealthy N", "healthy N", "exit".

#include <iostream>
#include <sstream>
#include <string>

#include "edged/deviceplugin/fake_plugin.h"

int main(int argc, char** argv) {
  edgecore::testing::FakeDevicePlugin::Options o;
  o.dir = "/var/lib/kubelet/device-plugins";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--dir") {
      o.dir = v;
    } else if (k == "--resource") {
      o.resource = v;
    } else if (k == "--devices") {
      o.devices = std::stoi(v);
    } else if (k == "--endpoint") {
      o.endpoint = v;
    } else if (k == "--host-dir") {
      o.host_dir = v;
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  edgecore::testing::FakeDevicePlugin plugin(o);
  std::string err = plugin.start();
  if (!err.empty()) {
    std::cerr << "registration failed: " << err << "\n";
    return 1;
  }
  std::cout << "registered " << o.resource << " devices=" << o.devices << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    int n = -1;
    in >> cmd >> n;
    if (cmd == "exit") {
      break;
    }
    if ((cmd == "healthy" || cmd == "unhealthy") && n >= 0 && n < o.devices) {
      plugin.setHealthy(n, cmd == "healthy");
      std::cout << "device " << n << " " << cmd << std::endl;
    } else {
      std::cout << "commands: healthy N | unhealthy N | exit" << std::endl;
    }
  }
  plugin.stop();
  return 0;
}
