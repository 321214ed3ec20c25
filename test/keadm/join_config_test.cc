// keadm join's configuration against what keadm v1.20 writes for the same flags
// (test/keadm/data/keadm-v1.20-join.yaml, derived from its source), the cgroup driver read from
// containerd's CRI info, and reset's refusal to delete outside the KubeEdge paths.

#include "join_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "edgecore/core/version.h"
#include "preflight.h"
#include "reset_plan.h"

namespace edgecore::keadm {
namespace {

const core::HostInfo kHost{"edge-node-1", "192.168.1.10"};
const std::string kToken =
    "3a2f6b1c9d8e7f60a5b4c3d2e1f00112233445566778899aabbccddeeff0011."
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl";

// Every scalar of a document by dotted path ("modules.edgeHub.token"); empty maps and lists
// count as values ("{}", "[]"), null as "null".
void flatten(const YAML::Node& n, const std::string& path,
             std::map<std::string, std::string>& out) {
  if (n.IsMap() && n.size() > 0) {
    for (const auto& kv : n) {
      flatten(kv.second,
              path.empty() ? kv.first.as<std::string>() : path + "." + kv.first.as<std::string>(),
              out);
    }
  } else if (n.IsSequence() && n.size() > 0) {
    for (size_t i = 0; i < n.size(); ++i) {
      flatten(n[i], path + "[" + std::to_string(i) + "]", out);
    }
  } else if (n.IsMap()) {
    out[path] = "{}";
  } else if (n.IsSequence()) {
    out[path] = "[]";
  } else if (n.IsNull()) {
    out[path] = "null";
  } else {
    out[path] = n.Scalar();
  }
}

std::map<std::string, std::string> flat(const std::string& yaml) {
  std::map<std::string, std::string> out;
  flatten(YAML::Load(yaml), "", out);
  return out;
}

std::string fixture() {
  std::ifstream in(std::string(KEADM_TEST_DATA_DIR) + "/keadm-v1.20-join.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

JoinOptions fixtureFlags() {
  JoinOptions o;
  o.cloudcore_ipport = "10.20.30.40:10000";
  o.token = kToken;
  o.edgenode_name = "rpi-edge-07";
  o.labels = {"zone=north", "gpu"};
  o.cgroup_driver = "systemd";
  return o;
}

// Keys whose value we write differently from keadm v1.20 on purpose, and why (docs/keadm.md
// "Differences from keadm v1.20"). For the fixture's flags: only the keys KubeEdge v1.21-v1.23
// added, written as v1.23's join writes them (the value checked in EdgecoreV123Keys below).
const std::map<std::string, std::string> kIntendedDifferences = {
    {"edgecoreVersion", "the version that wrote the file (v1.23)"},
    {"modules.deviceTwin.dmiSockPath", "a directory since v1.23: /etc/kubeedge/"},
    {"modules.taskManager.enable", "v1.23 module, off"},
    {"modules.edged.tailoredKubeletConfig.crashLoopBackOff", "v1.23 kubelet struct, empty"},
    {"modules.edged.tailoredKubeletConfig.failCgroupV1", "v1.23 kubelet default false"},
};

void expectSameKeysAndValues(const std::map<std::string, std::string>& ours,
                             const std::map<std::string, std::string>& theirs,
                             const std::map<std::string, std::string>& intended) {
  for (const auto& [key, value] : theirs) {
    if (intended.count(key) > 0) {
      continue;
    }
    auto it = ours.find(key);
    if (it == ours.end()) {
      ADD_FAILURE() << "keadm v1.20 writes " << key << ": " << value << ", we do not";
    } else {
      EXPECT_EQ(it->second, value) << key;
    }
  }
  for (const auto& [key, value] : ours) {
    if (theirs.count(key) == 0 && intended.count(key) == 0) {
      ADD_FAILURE() << "we write " << key << ": " << value << ", keadm v1.20 does not";
    }
  }
}

TEST(KeadmJoinConfig, EdgecoreV123Keys) {
  auto joined = buildJoinConfig(fixtureFlags(), kHost);
  ASSERT_TRUE(joined.ok()) << joined.status().toString();
  auto ours = flat(joined->yaml);
  EXPECT_EQ(ours["edgecoreVersion"], std::string("v") + core::kVersion);
  EXPECT_EQ(ours["modules.deviceTwin.dmiSockPath"], "/etc/kubeedge/");
  EXPECT_EQ(ours["modules.taskManager.enable"], "false");
  EXPECT_EQ(ours["modules.edged.tailoredKubeletConfig.crashLoopBackOff"], "{}");
  EXPECT_EQ(ours["modules.edged.tailoredKubeletConfig.failCgroupV1"], "false");
}

TEST(KeadmJoinConfig, SameKeysAndValuesAsKeadmV120) {
  auto joined = buildJoinConfig(fixtureFlags(), kHost);
  ASSERT_TRUE(joined.ok()) << joined.status().toString();
  expectSameKeysAndValues(flat(joined->yaml), flat(fixture()), kIntendedDifferences);
  // What we write loads in our edgecore, with the flag values in place.
  auto loaded = core::parseConfig(joined->yaml, "edgecore.yaml", kHost);
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  EXPECT_TRUE(loaded->unknown_keys.empty());
  EXPECT_EQ(loaded->modules.edged.hostname_override, "rpi-edge-07");
  EXPECT_EQ(loaded->modules.edge_hub.token, kToken);
  EXPECT_EQ(loaded->modules.edged.node_labels.at("gpu"), "");
  // The fixture itself loads too (it is what a v1.20 node has on disk).
  EXPECT_TRUE(core::parseConfig(fixture(), "fixture", kHost).ok());
}

TEST(KeadmJoinConfig, CertPathMovesEveryCertificateKey) {
  JoinOptions o = fixtureFlags();
  o.cert_path = "/srv/edge/certs";
  auto joined = buildJoinConfig(o, kHost);
  ASSERT_TRUE(joined.ok()) << joined.status().toString();
  // Our extension: v1.20 accepts --certPath but keeps the default file names.
  std::map<std::string, std::string> intended = kIntendedDifferences;
  for (const char* key :
       {"modules.edgeHub.tlsCaFile", "modules.edgeHub.tlsCertFile",
        "modules.edgeHub.tlsPrivateKeyFile", "modules.metaManager.metaServer.tlsCaFile",
        "modules.metaManager.metaServer.tlsCertFile",
        "modules.metaManager.metaServer.tlsPrivateKeyFile", "modules.edgeStream.tlsTunnelCAFile",
        "modules.edgeStream.tlsTunnelCertFile", "modules.edgeStream.tlsTunnelPrivateKeyFile",
        "modules.eventBus.eventBusTLS.tlsMqttCAFile",
        "modules.eventBus.eventBusTLS.tlsMqttCertFile",
        "modules.eventBus.eventBusTLS.tlsMqttPrivateKeyFile"}) {
    intended[key] = "--cert-path";
  }
  auto ours = flat(joined->yaml);
  expectSameKeysAndValues(ours, flat(fixture()), intended);
  EXPECT_EQ(ours["modules.edgeHub.tlsCaFile"], "/srv/edge/certs/rootCA.crt");
  EXPECT_EQ(ours["modules.edgeHub.tlsCertFile"], "/srv/edge/certs/server.crt");
  EXPECT_EQ(ours["modules.edgeHub.tlsPrivateKeyFile"], "/srv/edge/certs/server.key");
}

TEST(KeadmJoinConfig, QuicAndSetAndCertPort) {
  JoinOptions o = fixtureFlags();
  o.hub_protocol = "quic";
  o.cloudcore_ipport = "10.20.30.40:10001";
  o.certport = "10012";
  o.sets = {
      "modules.metaManager.metaServer.enable=true,modules.edged.tailoredKubeletConfig.maxPods=50"};
  auto joined = buildJoinConfig(o, kHost);
  ASSERT_TRUE(joined.ok()) << joined.status().toString();
  const auto& hub = joined->config.modules.edge_hub;
  EXPECT_TRUE(hub.quic.enable);
  EXPECT_FALSE(hub.websocket.enable);
  EXPECT_EQ(hub.quic.server, "10.20.30.40:10001");
  EXPECT_EQ(hub.websocket.server, "10.20.30.40:10000");
  EXPECT_EQ(hub.http_server, "https://10.20.30.40:10012");
  EXPECT_TRUE(joined->config.modules.meta_manager.meta_server.enable);
  EXPECT_EQ(flat(joined->yaml)["modules.edged.tailoredKubeletConfig.maxPods"], "50");
}

TEST(KeadmJoinConfig, BadFlagsAreRefusedWithTheFix) {
  JoinOptions o = fixtureFlags();
  o.cgroup_driver = "cgroupv2";
  auto r = buildJoinConfig(o, kHost);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("use cgroupfs or systemd"), std::string::npos);

  o = fixtureFlags();
  o.cloudcore_ipport = "10.20.30.40";
  r = buildJoinConfig(o, kHost);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expected IP:port"), std::string::npos);

  o = fixtureFlags();
  o.sets = {"modules.edged.noSuchKey=1"};
  r = buildJoinConfig(o, kHost);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("modules.edged.noSuchKey"), std::string::npos);

  o = fixtureFlags();
  o.edgenode_name = "Not_A_Node";
  r = buildJoinConfig(o, kHost);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("hostnameOverride"), std::string::npos)
      << r.status().message();
}

TEST(KeadmPreflight, CgroupDriverFromContainerdInfo) {
  // containerd 1.6/1.7 CRI Status verbose info["config"], trimmed.
  EXPECT_EQ(cgroupDriverFromCriInfo(
                R"({"containerd":{"defaultRuntimeName":"runc","runtimes":{"runc":)"
                R"({"runtimeType":"io.containerd.runc.v2","options":{"SystemdCgroup":true}}}}})"),
            "systemd");
  EXPECT_EQ(
      cgroupDriverFromCriInfo(R"({"containerd":{"defaultRuntimeName":"runc","runtimes":{"runc":)"
                              R"({"options":{"BinaryName":"runc"}}}}})"),
      "cgroupfs");
  EXPECT_EQ(
      cgroupDriverFromCriInfo(R"({"containerd":{"defaultRuntimeName":"crun","runtimes":{}}})"),
      std::nullopt);
  EXPECT_EQ(cgroupDriverFromCriInfo("not json"), std::nullopt);
}

TEST(KeadmReset, RefusesPathsOutsideTheKubeEdgeDirectories) {
  for (const char* bad : {"/", "/etc", "/etc/", "/var/lib", "/etc/passwd", "/usr/bin/edgecore",
                          "/var/lib/keadm-canary", "relative/edgecore.db", "", "/etc/kubeedge",
                          "/var/lib/kubeedge", "/tmp"}) {
    EXPECT_FALSE(unsafeToDelete(bad).empty()) << bad;
  }
  for (const char* ok : {"/etc/kubeedge/config/edgecore.yaml", "/etc/kubeedge/certs/server.crt",
                         "/var/lib/kubeedge/edgecore.db", "/srv/edge/certs/server.key"}) {
    EXPECT_EQ(unsafeToDelete(ok), "") << ok;
  }
  core::EdgeCoreConfig c = core::defaultConfig(kHost);
  c.database.data_source = "/etc";
  c.modules.edge_hub.tls_ca_file = "/etc/passwd";
  ResetPlan plan = planReset("/etc/kubeedge/config/edgecore.yaml", c);
  // /etc, /etc/passwd, and /etc-wal, /edgecore-outbox.db... which sit directly in /.
  std::string all;
  for (const auto& line : plan.refused) {
    all += line + "\n";
  }
  EXPECT_NE(all.find("/etc/passwd"), std::string::npos) << all;
  EXPECT_NE(all.find("refusing to delete /etc:"), std::string::npos) << all;
  for (const auto& f : plan.files) {
    EXPECT_NE(f, "/etc/passwd");
    EXPECT_NE(f, "/etc");
  }
}

TEST(KeadmReset, DefaultPlanNamesWhatJoinAndEdgecoreWrite) {
  ResetPlan plan = planReset("/etc/kubeedge/config/edgecore.yaml", core::defaultConfig(kHost));
  EXPECT_TRUE(plan.refused.empty());
  auto has = [&](const std::string& f) {
    return std::find(plan.files.begin(), plan.files.end(), f) != plan.files.end();
  };
  for (const char* f : {"/etc/kubeedge/config/edgecore.yaml", "/etc/kubeedge/ca/rootCA.crt",
                        "/etc/kubeedge/certs/server.crt", "/etc/kubeedge/certs/server.key",
                        "/var/lib/kubeedge/edgecore.db", "/var/lib/kubeedge/edgecore.db-wal",
                        "/var/lib/kubeedge/edgecore.db-shm", "/var/lib/kubeedge/edgecore-outbox.db",
                        "/etc/kubeedge/dmi.sock"}) {
    EXPECT_TRUE(has(f)) << f;
  }
  // dmiSockPath is a directory since v1.23: the socket in it goes, never the directory.
  EXPECT_FALSE(has("/etc/kubeedge/"));
  // The package's directories stay; join's own subdirectories go when empty.
  for (const auto& d : plan.dirs_if_empty) {
    EXPECT_NE(d, "/etc/kubeedge");
    EXPECT_NE(d, "/var/lib/kubeedge");
  }
}

}  // namespace
}  // namespace edgecore::keadm
