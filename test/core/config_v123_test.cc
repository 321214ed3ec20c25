// Tests of the KubeEdge v1.21-v1.23 keys of edgecore.yaml (issue 19, item 8): loading, defaults,
// validation naming the key, and how --defaultconfig/--minconfig print them. What the keys do is
// tested where they act: test/edged/cgroup_policy_test.cc (failCgroupV1, singleProcessOOMKill,
// crashLoopBackOff) and test/devicetwin/dmi_e2e_test.cc (dmiSockPath a directory).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "edgecore/core/config.h"
#include "edgecore/core/file.h"

namespace edgecore::core {
namespace {

using namespace std::chrono_literals;

const HostInfo kHost{"edge-node-1", "192.168.1.10"};
const std::string kKubelet = "modules:\n  edged:\n    tailoredKubeletConfig:\n";

EdgeCoreConfig parseOk(const std::string& text) {
  auto r = parseConfig(text, "edgecore.yaml", kHost);
  EXPECT_TRUE(r.ok()) << r.status().toString();
  return r.ok() ? std::move(r).value() : EdgeCoreConfig{};
}

std::string parseError(const std::string& text) {
  auto r = parseConfig(text, "edgecore.yaml", kHost);
  EXPECT_FALSE(r.ok());
  return r.status().message();
}

TEST(ConfigV123Test, Defaults) {
  EdgeCoreConfig c = defaultConfig(kHost);
  EXPECT_EQ(c.edgecore_version, "");
  EXPECT_FALSE(c.modules.task_manager.enable);
  EXPECT_EQ(c.modules.edged.single_process_oom_kill, std::nullopt);
  EXPECT_EQ(c.modules.edged.max_container_restart_period, std::nullopt);
  EXPECT_FALSE(c.modules.edged.fail_cgroup_v1);
  EXPECT_EQ(c.modules.device_twin.dmi_sock_path, "/etc/kubeedge/");
  EXPECT_EQ(dmiSocketPath(c.modules.device_twin), "/etc/kubeedge/dmi.sock");
}

TEST(ConfigV123Test, KeysLoad) {
  auto c = parseOk("edgecoreVersion: v1.23.1\n" + kKubelet +
                   "      singleProcessOOMKill: true\n"
                   "      failCgroupV1: true\n"
                   "      featureGates: {KubeletCrashLoopBackOffMax: true}\n"
                   "      crashLoopBackOff:\n"
                   "        maxContainerRestartPeriod: 45s\n"
                   "  taskManager:\n    enable: true\n"
                   "  deviceTwin:\n    dmiSockPath: /run/kubeedge\n");
  EXPECT_TRUE(c.unknown_keys.empty());
  EXPECT_EQ(c.edgecore_version, "v1.23.1");
  EXPECT_TRUE(c.modules.task_manager.enable);
  EXPECT_EQ(c.modules.edged.single_process_oom_kill, true);
  EXPECT_TRUE(c.modules.edged.fail_cgroup_v1);
  EXPECT_EQ(c.modules.edged.max_container_restart_period, GoDuration(45s));
  EXPECT_EQ(dmiSocketPath(c.modules.device_twin), "/run/kubeedge/dmi.sock");
  EXPECT_EQ(parseOk(kKubelet + "      singleProcessOOMKill: false\n")
                .modules.edged.single_process_oom_kill,
            false);
}

TEST(ConfigV123Test, DmiSockPathDirectoryOrSocket) {
  DeviceTwinConfig d;
  d.dmi_sock_path = "/etc/kubeedge/";
  EXPECT_EQ(dmiSocketPath(d), "/etc/kubeedge/dmi.sock");
  d.dmi_sock_path = "/var/run/kubeedge";
  EXPECT_EQ(dmiSocketPath(d), "/var/run/kubeedge/dmi.sock");
  // A v1.20-v1.22 value names the socket itself and keeps naming it.
  d.dmi_sock_path = "/etc/kubeedge/dmi.sock";
  EXPECT_EQ(dmiSocketPath(d), "/etc/kubeedge/dmi.sock");
  d.dmi_sock_path = "/tmp/x/mappers.sock";
  EXPECT_EQ(dmiSocketPath(d), "/tmp/x/mappers.sock");
  d.dmi_sock_path = "";
  EXPECT_EQ(dmiSocketPath(d), "/etc/kubeedge/dmi.sock");
}

TEST(ConfigV123Test, ValidationNamesTheKey) {
  const std::string key =
      "modules.edged.tailoredKubeletConfig.crashLoopBackOff.maxContainerRestartPeriod";
  // The kubelet accepts the period only with its feature gate on, and then requires it.
  EXPECT_EQ(parseError(kKubelet + "      crashLoopBackOff: {maxContainerRestartPeriod: 30s}\n"),
            "edgecore.yaml: " + key +
                ": must not be set unless tailoredKubeletConfig.featureGates has "
                "KubeletCrashLoopBackOffMax: true at line 4");
  EXPECT_NE(parseError(kKubelet + "      featureGates: {KubeletCrashLoopBackOffMax: true}\n")
                .find(key + ": must be set when the feature gate"),
            std::string::npos);
  const std::string gate = "      featureGates: {KubeletCrashLoopBackOffMax: true}\n";
  for (const char* bad : {"500ms", "301s", "10m"}) {
    EXPECT_NE(parseError(kKubelet + gate +
                         "      crashLoopBackOff: {maxContainerRestartPeriod: " + bad + "}\n")
                  .find(key + ": must be between 1s and 300s"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(parseError(kKubelet + "      failCgroupV1: maybe\n")
                .find("modules.edged.tailoredKubeletConfig.failCgroupV1"),
            std::string::npos);
  EXPECT_NE(parseError(kKubelet + "      singleProcessOOMKill: 1x\n")
                .find("modules.edged.tailoredKubeletConfig.singleProcessOOMKill"),
            std::string::npos);
  EXPECT_NE(parseError("modules:\n  taskManager:\n    enable: yes please\n")
                .find("modules.taskManager.enable"),
            std::string::npos);
}

// --defaultconfig prints them as v1.23 does: edgecoreVersion without omitempty, the
// crashLoopBackOff struct always, failCgroupV1 defaulted, singleProcessOOMKill left out (nil).
TEST(ConfigV123Test, DefaultConfigPrintsThem) {
  std::string y = defaultConfigYaml(kHost);
  EXPECT_NE(y.find("\nedgecoreVersion: \"\"\n"), std::string::npos) << y;
  EXPECT_NE(y.find("\n      crashLoopBackOff: {}\n"), std::string::npos);
  EXPECT_NE(y.find("\n      failCgroupV1: false\n"), std::string::npos);
  EXPECT_EQ(y.find("singleProcessOOMKill"), std::string::npos);
  EXPECT_NE(y.find("\n  taskManager:\n    enable: false\n"), std::string::npos);
  EXPECT_NE(y.find("\n    dmiSockPath: /etc/kubeedge/\n"), std::string::npos);
  // Set values print back.
  auto c = parseOk(kKubelet + "      singleProcessOOMKill: true\n");
  EXPECT_NE(configToYaml(c).find("\n      singleProcessOOMKill: true\n"), std::string::npos);
}

// v1.23's edgecore writes its version into the file at start; we edit one line.
TEST(ConfigV123Test, EdgecoreVersionRecordedByEditingOneLine) {
  const std::string file =
      "# my node\napiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
      "edgecoreVersion: v1.22.0  # old\nmodules:\n  edged: {enable: true}\n";
  EXPECT_EQ(withEdgecoreVersion(file, "v1.23.1"),
            "# my node\napiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
            "edgecoreVersion: v1.23.1\nmodules:\n  edged: {enable: true}\n");
  // A v1.20 file without the key gets it appended; comments and layout stay.
  EXPECT_EQ(withEdgecoreVersion("kind: EdgeCore\n# end", "v1.23.1"),
            "kind: EdgeCore\n# end\nedgecoreVersion: v1.23.1\n");
  // Already recorded, or not a block mapping we can edit safely: nothing to write.
  EXPECT_EQ(withEdgecoreVersion("edgecoreVersion: v1.23.1\n", "v1.23.1"), std::nullopt);
  EXPECT_EQ(withEdgecoreVersion("{kind: EdgeCore}\n", "v1.23.1"), std::nullopt);
  EXPECT_EQ(withEdgecoreVersion("kind: EdgeCore\n---\nkind: x\n", "v1.23.1"), std::nullopt);
  // Only the top-level key counts; an indented one of the same name is someone else's.
  EXPECT_EQ(withEdgecoreVersion("modules:\n  edgecoreVersion: x\n", "v1"),
            "modules:\n  edgecoreVersion: x\nedgecoreVersion: v1\n");
}

TEST(ConfigV123Test, RecordEdgecoreVersionKeepsModeAndLoads) {
  std::string path = ::testing::TempDir() + "/edgecore-version.yaml";
  ASSERT_TRUE(writeFileAtomic(path, "modules:\n  edged:\n    enable: false\n", 0640).ok());
  auto written = recordEdgecoreVersion(path, "v9.9.9");
  ASSERT_TRUE(written.ok()) << written.status().toString();
  EXPECT_TRUE(*written);
  auto loaded = loadConfigFile(path, kHost);
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  EXPECT_EQ(loaded->edgecore_version, "v9.9.9");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  written = recordEdgecoreVersion(path, "v9.9.9");
  ASSERT_TRUE(written.ok());
  EXPECT_FALSE(*written);
  EXPECT_FALSE(recordEdgecoreVersion(path + ".absent", "v1").ok());
}

}  // namespace
}  // namespace edgecore::core
