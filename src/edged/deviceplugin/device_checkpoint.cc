// The device checkpoint file (see device_checkpoint.h): JSON encoding of the allocations and the
// durable write. Called by DeviceManager (device_manager.cc) only.

#include "deviceplugin/device_checkpoint.h"

#include <cstdio>

#include "edgecore/core/file.h"

namespace edgecore::edged::deviceplugin {

using json = nlohmann::json;

namespace {

json toJson(const ContainerDevices& d) {
  json j;
  j["deviceIDs"] = d.device_ids;
  j["envs"] = d.envs;
  j["annotations"] = d.annotations;
  j["cdiDevices"] = d.cdi_devices;
  j["mounts"] = json::array();
  for (const auto& m : d.mounts) {
    j["mounts"].push_back({{"containerPath", m.container_path},
                           {"hostPath", m.host_path},
                           {"readOnly", m.read_only}});
  }
  j["devices"] = json::array();
  for (const auto& v : d.devices) {
    j["devices"].push_back({{"containerPath", v.container_path},
                            {"hostPath", v.host_path},
                            {"permissions", v.permissions}});
  }
  return j;
}

ContainerDevices fromJson(const json& j) {
  ContainerDevices d;
  d.device_ids = j.at("deviceIDs").get<std::map<std::string, std::vector<std::string>>>();
  d.envs = j.value("envs", std::map<std::string, std::string>{});
  d.annotations = j.value("annotations", std::map<std::string, std::string>{});
  d.cdi_devices = j.value("cdiDevices", std::vector<std::string>{});
  for (const auto& m : j.value("mounts", json::array())) {
    d.mounts.push_back(
        {m.value("containerPath", ""), m.value("hostPath", ""), m.value("readOnly", false)});
  }
  for (const auto& v : j.value("devices", json::array())) {
    d.devices.push_back(
        {v.value("containerPath", ""), v.value("hostPath", ""), v.value("permissions", "")});
  }
  return d;
}

}  // namespace

std::string encodeCheckpoint(const PodDeviceMap& pods) {
  json j;
  j["version"] = 1;
  j["pods"] = json::object();
  for (const auto& [uid, cs] : pods) {
    json pj = json::object();
    for (const auto& [name, d] : cs) {
      pj[name] = toJson(d);
    }
    j["pods"][uid] = pj;
  }
  return j.dump();
}

core::Result<PodDeviceMap> decodeCheckpoint(const std::string& text) {
  try {
    json j = json::parse(text);
    PodDeviceMap pods;
    for (const auto& [uid, cs] : j.at("pods").items()) {
      for (const auto& [name, d] : cs.items()) {
        pods[uid][name] = fromJson(d);
      }
    }
    return pods;
  } catch (const std::exception& e) {
    return core::invalidArgument(e.what());
  }
}

core::Status writeFileDurably(const std::string& path, const std::string& data) {
  // The checkpoint directory is the one device plugin pods mount read-write: a predictable
  // temporary name there would let a plugin plant a symlink that root then writes through.
  return core::writeFileAtomic(path, data, 0600);
}

}  // namespace edgecore::edged::deviceplugin
