#include "node/node_status.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "edgecore/core/time.h"

namespace edgecore::edged {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

HostFacts sampleFacts() {
  HostFacts f;
  f.cpu_milli = 4000;
  f.memory_bytes = 8LL << 30;
  f.memory_available_bytes = 4LL << 30;
  f.fs_capacity_bytes = 100LL << 30;
  f.fs_available_bytes = 50LL << 30;
  f.fs_inodes = 1000000;
  f.fs_inodes_free = 900000;
  f.pid_max = 4194304;
  f.pids_running = 300;
  f.hugepages["hugepages-2Mi"] = 0;
  f.hostname = "edge-host";
  f.ips = {"192.168.1.20", "10.0.0.1"};
  f.machine_id = "m1";
  f.system_uuid = "u1";
  f.boot_id = "b1";
  f.kernel_version = "6.1.0";
  f.os_image = "Debian GNU/Linux 12 (bookworm)";
  f.architecture = "amd64";
  return f;
}

NodeConfig sampleConfig() {
  NodeConfig c;
  c.node_name = "edge-1";
  c.node_labels = {{"site", "factory-3"}};
  c.taints = json::array({{{"key", "edge"}, {"value", "true"}, {"effect", "NoSchedule"}}});
  c.container_runtime_version = "containerd://1.6.20";
  return c;
}

const std::chrono::system_clock::time_point kT0 =
    std::chrono::system_clock::from_time_t(1735689600);  // 2025-01-01T00:00:00Z

const json& cond(const json& status, const std::string& type) {
  for (const auto& c : status["conditions"]) {
    if (c["type"] == type) return c;
  }
  static const json none;
  return none;
}

TEST(NodeStatusTest, QuantitiesAndTimesFormatLikeGo) {
  EXPECT_EQ(formatBinaryQuantity(8LL << 30), "8Gi");
  EXPECT_EQ(formatBinaryQuantity(8029408LL * 1024), "8029408Ki");
  EXPECT_EQ(formatBinaryQuantity(1000), "1000");
  EXPECT_EQ(formatCpuQuantity(4000), "4");
  EXPECT_EQ(formatCpuQuantity(1500), "1500m");
  EXPECT_EQ(core::formatRfc3339(kT0 + 10s), "2025-01-01T00:00:10Z");
  EXPECT_EQ(core::formatRfc3339Micro(kT0 + 1500ms), "2025-01-01T00:00:01.500000Z");
}

TEST(NodeStatusTest, RegistrationObject) {
  json node = buildNodeObject(sampleConfig(), sampleFacts(), {}, kT0);
  EXPECT_EQ(node["kind"], "Node");
  const json& labels = node["metadata"]["labels"];
  EXPECT_EQ(labels["node-role.kubernetes.io/edge"], "");
  EXPECT_EQ(labels["node-role.kubernetes.io/agent"], "");
  EXPECT_EQ(labels["kubernetes.io/hostname"], "edge-1");
  EXPECT_EQ(labels["kubernetes.io/os"], "linux");
  EXPECT_EQ(labels["beta.kubernetes.io/arch"], "amd64");
  EXPECT_EQ(labels["site"], "factory-3");
  EXPECT_EQ(node["spec"]["taints"][0]["effect"], "NoSchedule");
  EXPECT_FALSE(node["spec"].contains("unschedulable"));
  EXPECT_EQ(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10350);
  NodeConfig c = sampleConfig();
  c.register_schedulable = false;
  EXPECT_EQ(buildNodeObject(c, sampleFacts(), {}, kT0)["spec"]["unschedulable"], true);
  EXPECT_EQ(nodeResource(c), "default/node/edge-1");
  EXPECT_EQ(nodePatchResource(c), "default/nodepatch/edge-1");
  EXPECT_EQ(leaseResource(c), "kube-node-lease/lease/edge-1");
}

TEST(NodeStatusTest, StatusContents) {
  json s = buildNodeStatus(sampleConfig(), sampleFacts(), {}, kT0);
  EXPECT_EQ(s["capacity"]["cpu"], "4");
  EXPECT_EQ(s["capacity"]["memory"], "8Gi");
  EXPECT_EQ(s["capacity"]["pods"], "110");
  EXPECT_EQ(s["capacity"]["ephemeral-storage"], "100Gi");
  EXPECT_EQ(s["capacity"]["hugepages-2Mi"], "0");
  EXPECT_EQ(s["allocatable"]["memory"], formatBinaryQuantity((8LL << 30) - (100LL << 20)));
  EXPECT_EQ(s["allocatable"]["ephemeral-storage"], std::to_string((100LL << 30) * 9 / 10));
  ASSERT_EQ(s["conditions"].size(), 4u);
  EXPECT_EQ(s["conditions"][0]["type"], "MemoryPressure");
  EXPECT_EQ(s["conditions"][3]["type"], "Ready");
  EXPECT_EQ(cond(s, "MemoryPressure")["reason"], "KubeletHasSufficientMemory");
  EXPECT_EQ(cond(s, "DiskPressure")["reason"], "KubeletHasNoDiskPressure");
  EXPECT_EQ(cond(s, "PIDPressure")["reason"], "KubeletHasSufficientPID");
  EXPECT_EQ(cond(s, "Ready")["status"], "True");
  EXPECT_EQ(cond(s, "Ready")["reason"], "KubeletReady");
  EXPECT_EQ(cond(s, "Ready")["message"], "kubelet is posting ready status");
  EXPECT_EQ(s["addresses"][0], (json{{"type", "InternalIP"}, {"address", "192.168.1.20"}}));
  EXPECT_EQ(s["addresses"][1], (json{{"type", "Hostname"}, {"address", "edge-host"}}));
  EXPECT_EQ(s["nodeInfo"]["kubeletVersion"], "v1.30.7-kubeedge-v1.20.0");
  EXPECT_EQ(s["nodeInfo"]["containerRuntimeVersion"], "containerd://1.6.20");
  EXPECT_EQ(s["nodeInfo"]["bootID"], "b1");

  NodeConfig c = sampleConfig();
  c.node_ip = "172.16.0.9";
  EXPECT_EQ(buildNodeStatus(c, sampleFacts(), {}, kT0)["addresses"][0]["address"], "172.16.0.9");

  HostFacts low = sampleFacts();
  low.memory_available_bytes = 50LL << 20;
  low.fs_available_bytes = 5LL << 30;
  RuntimeHealth down;
  down.runtime_ready = false;
  down.message = "socket missing";
  json p = buildNodeStatus(sampleConfig(), low, down, kT0 + 10s, s);
  EXPECT_EQ(cond(p, "MemoryPressure")["status"], "True");
  EXPECT_EQ(cond(p, "MemoryPressure")["reason"], "KubeletHasInsufficientMemory");
  EXPECT_EQ(cond(p, "DiskPressure")["reason"], "KubeletHasDiskPressure");
  EXPECT_EQ(cond(p, "Ready")["reason"], "KubeletNotReady");
  EXPECT_EQ(cond(p, "Ready")["message"], "container runtime is down: socket missing");
  EXPECT_EQ(cond(p, "Ready")["lastTransitionTime"], "2025-01-01T00:00:10Z");
  EXPECT_EQ(cond(p, "PIDPressure")["lastTransitionTime"], "2025-01-01T00:00:00Z");  // unchanged
  EXPECT_EQ(cond(p, "PIDPressure")["lastHeartbeatTime"], "2025-01-01T00:00:10Z");
}

TEST(NodeStatusTest, PatchAndChangeDetection) {
  NodeStatusTracker t(5min);
  auto first = t.update(sampleConfig(), sampleFacts(), {}, kT0);
  ASSERT_TRUE(first);
  json patch = json::parse(*first);
  EXPECT_EQ(patch["status"]["$setElementOrder/conditions"][0], (json{{"type", "MemoryPressure"}}));
  EXPECT_EQ(patch["status"]["capacity"]["cpu"], "4");
  // Same facts 10 s later: only heartbeats differ -> nothing to send.
  EXPECT_FALSE(t.update(sampleConfig(), sampleFacts(), {}, kT0 + 10s));
  // A change is sent at once.
  HostFacts more = sampleFacts();
  more.memory_bytes = 16LL << 30;
  auto changed = t.update(sampleConfig(), more, {}, kT0 + 20s);
  ASSERT_TRUE(changed);
  EXPECT_EQ(json::parse(*changed)["status"]["capacity"]["memory"], "16Gi");
  EXPECT_FALSE(t.update(sampleConfig(), more, {}, kT0 + 4min));
  // The report frequency forces a send without change.
  EXPECT_TRUE(t.update(sampleConfig(), more, {}, kT0 + 20s + 5min));
  EXPECT_TRUE(t.update(sampleConfig(), more, {}, kT0 + 20s + 5min + 10s, /*force=*/true));
}

TEST(NodeStatusTest, RemovedExtendedResourceIsDeletedByThePatch) {
  NodeStatusTracker t(5min);
  HostFacts f = sampleFacts();
  f.extended_resources["example.com/widget"] = {2, 1};
  auto first = t.update(sampleConfig(), f, {}, kT0);
  ASSERT_TRUE(first);
  json s = json::parse(*first)["status"];
  EXPECT_EQ(s["capacity"]["example.com/widget"], "2");
  EXPECT_EQ(s["allocatable"]["example.com/widget"], "1");
  // The resource is gone (device plugin grace period over): the patch deletes it explicitly,
  // since a strategic merge keeps map keys a patch does not mention.
  f.extended_resources.clear();
  auto gone = t.update(sampleConfig(), f, {}, kT0 + 10s);
  ASSERT_TRUE(gone);
  s = json::parse(*gone)["status"];
  ASSERT_TRUE(s["capacity"].contains("example.com/widget"));
  EXPECT_TRUE(s["capacity"]["example.com/widget"].is_null());
  EXPECT_TRUE(s["allocatable"]["example.com/widget"].is_null());
  EXPECT_EQ(s["capacity"]["cpu"], "4");
  // Later full reports repeat the deletion (a lost patch is not fatal); other keys never get one.
  auto again = t.update(sampleConfig(), f, {}, kT0 + 10s, /*force=*/true);
  ASSERT_TRUE(again);
  s = json::parse(*again)["status"];
  EXPECT_TRUE(s["capacity"]["example.com/widget"].is_null());
  for (auto it = s["capacity"].begin(); it != s["capacity"].end(); ++it) {
    if (it.key() != "example.com/widget") {
      EXPECT_FALSE(it.value().is_null()) << it.key();
    }
  }
}

TEST(NodeStatusTest, Lease) {
  json l = buildLease("edge-1", "uid-9", 40, kT0 + 1500ms);
  EXPECT_EQ(l["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(l["metadata"]["namespace"], "kube-node-lease");
  EXPECT_EQ(l["metadata"]["ownerReferences"][0]["uid"], "uid-9");
  EXPECT_EQ(l["spec"]["holderIdentity"], "edge-1");
  EXPECT_EQ(l["spec"]["leaseDurationSeconds"], 40);
  EXPECT_EQ(l["spec"]["renewTime"], "2025-01-01T00:00:01.500000Z");
  EXPECT_FALSE(buildLease("edge-1", "", 40, kT0)["metadata"].contains("ownerReferences"));
}

json objectResp(json object, json err) { return json{{"Object", object}, {"Err", err}}; }
json statusError(const std::string& reason) {
  return json{{"ErrStatus", {{"reason", reason}, {"message", reason + " text"}}}};
}

// query -> NotFound -> insert -> update with the version the cloud returned; a refused update
// reads the lease again.
TEST(NodeLeaseTest, ReadsCreatesThenRenewsWithTheCloudsResourceVersion) {
  NodeLease lease("edge-1", 40);
  auto q = lease.next("", kT0);
  EXPECT_EQ(q.operation, "query");
  EXPECT_EQ(lease.onAnswer(objectResp(nullptr, statusError("NotFound"))), "NotFound");
  auto ins = lease.next("uid-1", kT0);
  EXPECT_EQ(ins.operation, "insert");
  EXPECT_EQ(ins.content["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  json created = ins.content;
  created["metadata"]["resourceVersion"] = "41";
  EXPECT_EQ(lease.onAnswer(objectResp(created, nullptr)), "");
  auto up = lease.next("uid-1", kT0 + 10s);
  EXPECT_EQ(up.operation, "update");
  EXPECT_EQ(up.content["metadata"]["resourceVersion"], "41");
  EXPECT_EQ(up.content["spec"]["renewTime"], "2025-01-01T00:00:10.000000Z");
  EXPECT_EQ(lease.onAnswer(objectResp(nullptr, statusError("Conflict"))), "Conflict");
  EXPECT_EQ(lease.next("uid-1", kT0).operation, "query");
  json current = created;
  current["metadata"]["resourceVersion"] = "57";
  EXPECT_EQ(lease.onAnswer(objectResp(current, nullptr)), "");
  EXPECT_EQ(lease.next("uid-1", kT0 + 20s).content["metadata"]["resourceVersion"], "57");
}

TEST(NodeLeaseTest, OfflineAnswersKeepWhatIsKnown) {
  NodeLease lease("edge-1", 40);
  json known = buildLease("edge-1", "", 40, kT0);
  known["metadata"]["resourceVersion"] = "9";
  ASSERT_EQ(lease.onAnswer(objectResp(known, nullptr)), "");
  // metamanager answers from the store while offline (a list), or with an error text.
  EXPECT_NE(lease.onAnswer(json::array()), "");
  EXPECT_NE(lease.onAnswer("failed to process remote: not connected"), "");
  lease.onNoAnswer();
  auto up = lease.next("uid-2", kT0 + 10s);
  EXPECT_EQ(up.operation, "update");
  EXPECT_EQ(up.content["metadata"]["resourceVersion"], "9");
  EXPECT_EQ(up.content["metadata"]["ownerReferences"][0]["uid"], "uid-2");
}

TEST(NodeStatusTest, PatchLeavesTheKubeletPortToCloudStream) {
  json status = {{"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10350}}}}},
                 {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  json patch = json::parse(nodeStatusPatch(status));
  EXPECT_FALSE(patch["status"].contains("daemonEndpoints"));
  EXPECT_EQ(patch["status"]["$setElementOrder/conditions"][0]["type"], "Ready");
}

TEST(HostFactsTest, ReadsThisHost) {
  HostFacts f = readHostFacts("/nonexistent/dir/below/root");  // falls back to an existing parent
  EXPECT_EQ(f.cpu_milli, ::sysconf(_SC_NPROCESSORS_ONLN) * 1000);
  std::ifstream mi("/proc/meminfo");
  std::string k;
  int64_t kb = 0;
  mi >> k >> kb;
  EXPECT_EQ(f.memory_bytes, kb * 1024);
  EXPECT_GT(f.memory_available_bytes, 0);
  EXPECT_GT(f.fs_capacity_bytes, 0);
  EXPECT_GT(f.pids_running, 0);
  EXPECT_FALSE(f.kernel_version.empty());
  EXPECT_FALSE(f.architecture.empty());
  EXPECT_EQ(f.boot_id.size(), 36u);
  EXPECT_FALSE(f.hostname.empty());
}

}  // namespace
}  // namespace edgecore::edged
