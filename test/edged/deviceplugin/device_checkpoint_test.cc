// The device checkpoint's encoding and durable write (src/edged/deviceplugin/device_checkpoint.h).

#include "deviceplugin/device_checkpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgecore::edged::deviceplugin {
namespace {

TEST(DeviceCheckpointTest, RoundTripThroughAFile) {
  ContainerDevices d;
  d.device_ids["example.com/gpu"] = {"g0", "g1"};
  d.envs["GPU"] = "0,1";
  d.mounts.push_back({"/dev/shm", "/host/shm", true});
  d.devices.push_back({"/dev/gpu0", "/dev/gpu0", "rw"});
  PodDeviceMap pods;
  pods["uid1"]["app"] = d;
  char tmpl[] = "/tmp/devckptXXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/checkpoint.json";
  ASSERT_TRUE(writeFileDurably(path, encodeCheckpoint(pods)).ok());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmpl),
                          std::filesystem::directory_iterator()),
            1);  // no temporary file left behind
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto back = decodeCheckpoint(ss.str());
  ASSERT_TRUE(back.ok()) << back.status().message();
  const ContainerDevices& r = (*back)["uid1"]["app"];
  EXPECT_EQ(r.device_ids, d.device_ids);
  EXPECT_EQ(r.envs, d.envs);
  ASSERT_EQ(r.mounts.size(), 1u);
  EXPECT_TRUE(r.mounts[0].read_only);
  ASSERT_EQ(r.devices.size(), 1u);
  EXPECT_EQ(r.devices[0].permissions, "rw");
  std::filesystem::remove_all(tmpl);
}

TEST(DeviceCheckpointTest, GarbageIsAnError) {
  EXPECT_FALSE(decodeCheckpoint("not json").ok());
  EXPECT_FALSE(decodeCheckpoint(R"({"version":1})").ok());
  EXPECT_FALSE(decodeCheckpoint(R"({"pods":{"u":{"c":{"envs":{}}}}})").ok());  // no deviceIDs
}

// Device plugin pods mount the checkpoint's directory read-write: a symlink one plants at the
// temporary name older versions used (<checkpoint>.tmp) must not redirect root's write.
TEST(DeviceCheckpointTest, PlantedTemporarySymlinkIsNotFollowed) {
  char tmpl[] = "/tmp/devckptXXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string victim = dir + "/victim";
  std::ofstream(victim) << "host file";
  const std::string path = dir + "/kubelet_internal_checkpoint";
  std::filesystem::create_symlink(victim, path + ".tmp");
  ASSERT_TRUE(writeFileDurably(path, "{}").ok());
  std::ifstream in(victim);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "host file");
  EXPECT_FALSE(std::filesystem::is_symlink(path));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgecore::edged::deviceplugin
