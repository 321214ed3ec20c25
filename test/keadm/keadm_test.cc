// `keadm ctl` end to end: the real keadm binary against the real edgecore binary (MetaServer +
// metamanager on a temp SQLite database). Suites:
//   KeadmCtl*        no external services (label integration)
//   KeadmContainerd* pods on the real containerd, created directly through CRI (label containerd)

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "edgecore/cri/cri_client.h"
#include "util/edgecore_process.h"
#include "util/process.h"
#include "util/sqlite_shell.h"
#include "util/wait.h"

namespace edgecore::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kEdgecore = EDGECORE_BINARY;
const std::string kKeadm = KEADM_BINARY;
const std::string kFixture =
    std::string(EDGECORE_TEST_DATA_DIR) + "/metamanager/kubeedge-v1.20.sql";
constexpr const char* kContainerdSocket = "/run/containerd/containerd.sock";
constexpr const char* kBusybox = "docker.io/library/busybox:local";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One meta_v2 row for an object (spec 2.4 key and GVR string).
std::string objectRow(const std::string& group, const std::string& version,
                      const std::string& resource, const json& obj, int rv) {
  std::string ns = obj["metadata"].value("namespace", "");
  std::string name = obj["metadata"]["name"];
  std::string key = "/" + (group.empty() ? std::string("core") : group) + "/" + version + "/" +
                    resource + "/" + (ns.empty() ? "null" : ns) + "/" + name;
  std::string gvr = group + "/" + version + ", Resource=" + resource;
  json o = obj;
  o["metadata"]["resourceVersion"] = std::to_string(rv);
  return "INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace, name, "
         "resourceversion, value) VALUES (" +
         sqlQuote(key) + ", " + sqlQuote(gvr) + ", " + sqlQuote(ns) + ", " + sqlQuote(name) + ", " +
         std::to_string(rv) + ", " + sqlQuote(o.dump()) + ");\n";
}

json pod(const std::string& ns, const std::string& name, const std::string& node,
         json labels = json::object()) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"uid", "uid-" + name},
        {"labels", labels},
        {"creationTimestamp", "2024-05-01T10:00:00Z"}}},
      {"spec", {{"nodeName", node}, {"containers", {{{"name", "main"}, {"image", "busybox"}}}}}},
      {"status", {{"phase", "Running"}}}};
}

// A pod with everything describe shows.
json richPod() {
  json p = pod("default", "web", "edge-1", {{"app", "web"}, {"tier", "front"}});
  p["spec"]["containers"] = json::array({{
      {"name", "app"},
      {"image", "busybox:1.36"},
      {"ports", {{{"containerPort", 8080}, {"protocol", "TCP"}}}},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}},
        {"initialDelaySeconds", 5},
        {"periodSeconds", 10}}},
      {"volumeMounts", {{{"name", "data"}, {"mountPath", "/data"}}}},
      {"resources", {{"limits", {{"cpu", "500m"}, {"memory", "64Mi"}}}}},
  }});
  p["spec"]["volumes"] = json::array({{{"name", "data"}, {"hostPath", {{"path", "/srv/data"}}}}});
  p["status"] = {
      {"phase", "Running"},
      {"hostIP", "192.168.1.5"},
      {"podIP", "10.0.0.7"},
      {"podIPs", {{{"ip", "10.0.0.7"}}}},
      {"startTime", "2024-05-01T10:00:05Z"},
      {"conditions",
       {{{"type", "Initialized"}, {"status", "True"}}, {{"type", "Ready"}, {"status", "True"}}}},
      {"containerStatuses",
       {{{"name", "app"},
         {"ready", true},
         {"restartCount", 2},
         {"image", "busybox:1.36"},
         {"imageID", "sha256:abc"},
         {"containerID", "containerd://c0ffee"},
         {"state", {{"running", {{"startedAt", "2024-05-01T10:05:00Z"}}}}},
         {"lastState",
          {{"terminated",
            {{"exitCode", 137},
             {"reason", "OOMKilled"},
             {"startedAt", "2024-05-01T10:00:06Z"},
             {"finishedAt", "2024-05-01T10:04:59Z"}}}}}}}}};
  return p;
}

json device(const std::string& name, const std::string& node) {
  return {
      {"apiVersion", "devices.kubeedge.io/v1beta1"},
      {"kind", "Device"},
      {"metadata",
       {{"name", name}, {"namespace", "default"}, {"creationTimestamp", "2024-05-01T10:00:00Z"}}},
      {"spec",
       {{"nodeName", node},
        {"deviceModelRef", {{"name", "thermometer"}}},
        {"protocol", {{"protocolName", "modbus"}}},
        {"properties",
         {{{"name", "temperature"}, {"reportCycle", 1000}, {"collectCycle", 500}}}}}}};
}

class KeadmCtl : public ::testing::Test {
 protected:
  void SetUp() override { startEdgecore(""); }

  void TearDown() override { stopEdgecore(); }

  // Seeds the database and starts edgecore; `edged_yaml` replaces the edged section.
  void startEdgecore(const std::string& edged_yaml) {
    ProcessResult load = sqliteRead(db(), kFixture);
    ASSERT_EQ(load.exit_code, 0) << load.err;
    std::string seed;
    seed += objectRow("", "v1", "pods", richPod(), 5001);
    seed += objectRow("", "v1", "pods", pod("default", "api", "edge-1", {{"app", "api"}}), 5002);
    seed += objectRow("", "v1", "pods", pod("ops", "remote", "edge-2", {{"app", "web"}}), 5003);
    seed += objectRow("", "v1", "pods", pod("ops", "agent", "edge-1", {{"app", "agent"}}), 5004);
    json event = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"name", "web.1"}, {"namespace", "default"}}},
        {"involvedObject",
         {{"kind", "Pod"}, {"name", "web"}, {"namespace", "default"}, {"uid", "uid-web"}}},
        {"type", "Warning"},
        {"reason", "BackOff"},
        {"message", "Back-off restarting failed container"},
        {"count", 3},
        {"source", {{"component", "kubelet"}}},
        {"firstTimestamp", "2024-05-01T10:01:00Z"},
        {"lastTimestamp", "2024-05-01T10:04:00Z"}};
    seed += objectRow("", "v1", "events", event, 5005);
    seed +=
        objectRow("devices.kubeedge.io", "v1beta1", "devices", device("thermo", "edge-1"), 5006);
    seed += objectRow("devices.kubeedge.io", "v1beta1", "devices", device("far", "edge-2"), 5007);
    seed += extra_seed_;
    dir_.write("seed.sql", seed);
    ProcessResult seeded = sqliteRead(db(), dir_.file("seed.sql"));
    ASSERT_EQ(seeded.exit_code, 0) << seeded.err;

    port_ = freeLoopbackPort();
    std::string edged =
        edged_yaml.empty() ? "  edged: {enable: false, hostnameOverride: edge-1}\n" : edged_yaml;
    dir_.write("edgecore.yaml",
               "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
               "kind: EdgeCore\n"
               "database:\n"
               "  dataSource: " +
                   db() +
                   "\n"
                   "modules:\n"
                   "  deviceTwin: {enable: false}\n"
                   "  edgeHub: {enable: false}\n" +
                   edged +
                   "  eventBus: {enable: false}\n"
                   "  metaManager:\n"
                   "    metaServer:\n"
                   "      enable: true\n"
                   "      server: 127.0.0.1:" +
                   std::to_string(port_) + "\n");
    // A fake upgrade program on PATH records how confirm-upgrade runs it.
    ::mkdir(dir_.file("bin").c_str(), 0755);
    dir_.write("bin/keadm", "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > " +
                                dir_.file("upgrade-args") + "\n");
    ::chmod(dir_.file("bin/keadm").c_str(), 0755);
    std::vector<std::string> argv{"/usr/bin/env", "PATH=" + dir_.file("bin") + ":/usr/bin:/bin",
                                  "TMPDIR=" + dir_.path()};
    argv.insert(argv.end(), extra_env_.begin(), extra_env_.end());
    for (const std::string& a : {kEdgecore, std::string("--config"), dir_.file("edgecore.yaml")}) {
      argv.push_back(a);
    }
    daemon_ = std::make_unique<ChildProcess>(argv);
    ASSERT_TRUE(waitUntilRunning(*daemon_, 10s)) << daemon_->stderrSoFar();
  }

  void stopEdgecore() {
    if (!daemon_) return;
    auto result = terminate(*daemon_, 10s);
    ASSERT_TRUE(result.has_value()) << daemon_->stderrSoFar();
    EXPECT_EQ(result->exit_code, 0) << result->err;
    daemon_.reset();
  }

  std::string db() const { return dir_.file("edgecore.db"); }

  ProcessResult keadm(std::vector<std::string> args, std::vector<std::string> env = {}) {
    return runCommand(keadmCtlArgv(kKeadm, dir_.path(), dir_.file("edgecore.yaml"), args, env),
                      60s);
  }

  ProcessResult kubectl(std::vector<std::string> args) {
    return runCommand(kubectlArgv(KUBECTL, dir_.path(), port_, args), 60s);
  }

  std::string sql(const std::string& query) {
    ProcessResult r = runCommand({"/usr/bin/sqlite3", db(), query});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
  std::string extra_seed_;              // more meta_v2 rows for a test
  std::vector<std::string> extra_env_;  // NAME=value for edgecore
};

TEST_F(KeadmCtl, GetPodTableMatchesKubectl) {
  // Same MetaServer, same namespace: kubectl (server-side Table) and keadm print the same text.
  ProcessResult ours = keadm({"get", "pod"});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  ProcessResult theirs = kubectl({"get", "pods", "-n", "default"});
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_TRUE(contains(ours.out, "NAME    READY   STATUS    RESTARTS")) << ours.out;
  EXPECT_TRUE(
      std::regex_search(ours.out, std::regex("web     1/1     Running   2 \\(\\d+y\\d*d? ago\\)")))
      << ours.out;

  ProcessResult wide = keadm({"get", "pods", "-o", "wide"});
  ASSERT_EQ(wide.exit_code, 0) << wide.err;
  ProcessResult kwide = kubectl({"get", "pods", "-n", "default", "-o", "wide"});
  EXPECT_EQ(wide.out, kwide.out);
  EXPECT_TRUE(contains(wide.out, "AGE      IP         NODE     NOMINATED NODE   READINESS GATES"))
      << wide.out;
  EXPECT_TRUE(contains(wide.out, "10.0.0.7")) << wide.out;
}

TEST_F(KeadmCtl, GetPodAllNamespacesShowsOnlyThisNode) {
  ProcessResult all = keadm({"get", "po", "-A"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(contains(all.out, "NAMESPACE   NAME    READY")) << all.out;
  EXPECT_TRUE(contains(all.out, "ops         agent")) << all.out;
  EXPECT_TRUE(contains(all.out, "default     web")) << all.out;
  EXPECT_FALSE(contains(all.out, "remote")) << all.out;  // runs on edge-2

  ProcessResult sel = keadm({"get", "pod", "-A", "-l", "app=web"});
  ASSERT_EQ(sel.exit_code, 0) << sel.err;
  EXPECT_TRUE(contains(sel.out, "web")) << sel.out;
  EXPECT_FALSE(contains(sel.out, "api")) << sel.out;
  EXPECT_FALSE(contains(sel.out, "remote")) << sel.out;

  ProcessResult none = keadm({"get", "pod", "-n", "empty"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "No resources found in empty namespace.\n");
  ProcessResult none_all = keadm({"get", "pod", "-A", "-l", "app=nothing"});
  EXPECT_EQ(none_all.out, "No resources found in all namespace.\n");
}

TEST_F(KeadmCtl, GetPodByNames) {
  ProcessResult named = keadm({"get", "pod", "web", "api"});
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_TRUE(contains(named.out, "web ")) << named.out;
  EXPECT_TRUE(contains(named.out, "api ")) << named.out;

  ProcessResult foreign = keadm({"get", "pod", "remote", "-n", "ops"});
  EXPECT_TRUE(contains(foreign.out, "can't to query pod: \"remote\" for node: \"edge-2\""))
      << foreign.out;

  ProcessResult missing = keadm({"get", "pod", "nope", "web"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "Error from server (NotFound): pods \"nope\" not found"))
      << missing.err;
  EXPECT_TRUE(contains(missing.out, "web ")) << missing.out;  // the others are still printed
}

TEST_F(KeadmCtl, GetPodJsonAndYaml) {
  ProcessResult one = keadm({"get", "pod", "web", "-o", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  json obj = json::parse(one.out);
  EXPECT_EQ(obj["kind"], "Pod");
  EXPECT_EQ(obj["metadata"]["name"], "web");
  EXPECT_EQ(obj["status"]["containerStatuses"][0]["restartCount"], 2);

  ProcessResult many = keadm({"get", "pods", "-A", "-o", "json"});
  ASSERT_EQ(many.exit_code, 0) << many.err;
  json list = json::parse(many.out);
  EXPECT_EQ(list["kind"], "List");
  EXPECT_EQ(list["apiVersion"], "v1");
  EXPECT_EQ(list["metadata"], (json{{"resourceVersion", ""}, {"selfLink", ""}}));
  std::set<std::string> names;
  for (const auto& p : list["items"]) names.insert(p["metadata"]["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"agent", "api", "nginx", "web"}));

  ProcessResult yaml = keadm({"get", "pods", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_TRUE(contains(yaml.out, "apiVersion: v1\nitems:\n")) << yaml.out;
  EXPECT_TRUE(contains(yaml.out, "kind: List\n")) << yaml.out;
  EXPECT_TRUE(contains(yaml.out, "resourceVersion: \"5001\"")) << yaml.out;

  ProcessResult bad = keadm({"get", "pods", "-o", "xml"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "output format \"xml\"")) << bad.err;
}

TEST_F(KeadmCtl, DescribePod) {
  ProcessResult d = keadm({"describe", "pod", "web"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  // Go tabwriter blocks as kubectl's describe prints them (a line without a tab ends a block).
  for (const char* want : {
           "Name:         web\n",
           "Namespace:    default\n",
           "Node:         edge-1/192.168.1.5\n",
           "Start Time:   Wed, 01 May 2024 10:00:05 +0000\n",
           "Labels:       app=web\n              tier=front\n",
           "IP:           10.0.0.7\nIPs:\n  IP:  10.0.0.7\n",
           "Containers:\n  app:\n",
           "    Container ID:   containerd://c0ffee\n",
           "    Image:          busybox:1.36\n",
           "    Port:           8080/TCP\n",
           "    State:          Running\n      Started:      Wed, 01 May 2024 10:05:00 +0000\n",
           "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    "
           "137\n",
           "    Ready:          True\n",
           "    Restart Count:  2\n",
           "    Limits:\n      cpu:        500m\n      memory:     64Mi\n",
           "    Liveness:     http-get http://:8080/healthz delay=5s timeout=1s period=10s "
           "#success=1 #failure=3\n",
           "    Mounts:\n      /data from data (rw)\n",
           "Conditions:\n  Type          Status\n  Initialized   True \n  Ready         True \n",
           "Volumes:\n  data:\n    Type:          HostPath (bare host directory volume)\n",
           "QoS Class:         Guaranteed\n",  // limits only: requests default to them
           "Events:\n  Type     Reason   Age",
           "  Warning  BackOff  ",
           "(x3 over ",
           "kubelet  Back-off restarting failed container\n",
       }) {
    EXPECT_TRUE(contains(d.out, want)) << "missing: " << want << "\n--- output:\n" << d.out;
  }
  ProcessResult quiet = keadm({"describe", "pod", "api", "--show-events", "false"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_FALSE(contains(quiet.out, "Events:")) << quiet.out;

  ProcessResult all = keadm({"describe", "pods", "-A"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(contains(all.out, "Name:         agent\n")) << all.out;
  EXPECT_FALSE(contains(all.out, "remote")) << all.out;
}

TEST_F(KeadmCtl, DescribePodShowsExtendedResourcesAndAllocatedDevices) {
  stopEdgecore();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(db() + suffix);  // seeded again below
  }
  json gpu = pod("default", "gpu-job", "edge-1", {{"app", "gpu"}});
  gpu["spec"]["containers"] = json::array(
      {{{"name", "main"},
        {"image", "busybox:1.36"},
        {"resources",
         {{"limits", {{"example.com/widget", "2"}}}, {"requests", {{"example.com/widget", "2"}}}}}},
       {{"name", "side"}, {"image", "busybox:1.36"}}});
  extra_seed_ = objectRow("", "v1", "pods", gpu, 5100);
  // edged's checkpoint: what the plugin's Allocate gave the pod's containers.
  ::mkdir(dir_.file("root").c_str(), 0755);
  ::mkdir(dir_.file("root/device-plugins").c_str(), 0755);
  json cp = {{"version", 1},
             {"pods",
              {{"uid-gpu-job",
                {{"main",
                  {{"deviceIDs", {{"example.com/widget", {"widget-1", "widget-0"}}}},
                   {"envs", json::object()}}}}},
               {"uid-other", {{"main", {{"deviceIDs", {{"example.com/widget", {"x"}}}}}}}}}}};
  dir_.write("root/device-plugins/edgecore_device_checkpoint.json", cp.dump());
  startEdgecore("  edged: {enable: false, hostnameOverride: edge-1, rootDirectory: " +
                dir_.file("root") + "}\n");
  ProcessResult d = keadm({"describe", "pod", "gpu-job"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  for (const char* want : {
           "    Limits:\n      example.com/widget:  2\n",
           "    Requests:\n      example.com/widget:  2\n",
           "    Allocated Devices:\n      example.com/widget:  widget-1,widget-0\n",
       }) {
    EXPECT_TRUE(contains(d.out, want)) << "missing: " << want << "\n--- output:\n" << d.out;
  }
  // Only the container that has devices gets the block; another pod's devices never show.
  EXPECT_EQ(d.out.find("Allocated Devices"), d.out.rfind("Allocated Devices")) << d.out;
  EXPECT_FALSE(contains(d.out, "  x\n")) << d.out;
  // Without a readable checkpoint the requests still show, the devices are simply unknown.
  std::filesystem::remove(dir_.file("root/device-plugins/edgecore_device_checkpoint.json"));
  ProcessResult plain = keadm({"describe", "pod", "gpu-job"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_TRUE(contains(plain.out, "      example.com/widget:  2\n")) << plain.out;
  EXPECT_FALSE(contains(plain.out, "Allocated Devices")) << plain.out;
}

TEST_F(KeadmCtl, Devices) {
  ProcessResult list = keadm({"get", "device"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("^NAME     AGE\nthermo   \\d+y\\d*d?\n$")))
      << list.out;
  ProcessResult wide = keadm({"get", "devices", "-A", "-o", "wide"});
  EXPECT_TRUE(contains(wide.out, "NAMESPACE   NAME     AGE")) << wide.out;
  EXPECT_TRUE(contains(wide.out, "modbus     thermometer")) << wide.out;
  ProcessResult far = keadm({"get", "device", "far"});
  EXPECT_TRUE(contains(far.out, "can't to query device: \"far\" for node: \"edge-2\"")) << far.out;

  ProcessResult d = keadm({"describe", "device", "thermo"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(contains(d.out, "Name:         thermo\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "API Version:  devices.kubeedge.io/v1beta1\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "Kind:         Device\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "  Device Model Ref:\n    Name:     thermometer\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "    Protocol Name:  modbus\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "    Report Cycle:   1000\n")) << d.out;
}

TEST_F(KeadmCtl, EditDeviceReachesMetamanager) {
  dir_.write("edit.sh", "#!/bin/sh\nsed -i 's/reportCycle: 1000/reportCycle: 2000/' \"$1\"\n");
  ::chmod(dir_.file("edit.sh").c_str(), 0755);
  ProcessResult edit = keadm({"edit", "device", "thermo"}, {"EDITOR=" + dir_.file("edit.sh")});
  ASSERT_EQ(edit.exit_code, 0) << edit.err << edit.out;
  EXPECT_TRUE(contains(edit.out, "device.devices.kubeedge.io/thermo edited")) << edit.out;
  // Metamanager stored the update under <ns>/device/updated (spec 4.10) before answering OK.
  std::string row = sql("SELECT type || '|' || value FROM meta WHERE key='default/device/updated'");
  ASSERT_FALSE(row.empty());
  EXPECT_TRUE(contains(row, "\"reportCycle\":2000")) << row;
  EXPECT_TRUE(contains(row, "\"kind\":\"Device\"")) << row;
  // ... and MetaServer serves the edited object.
  ProcessResult after = keadm({"get", "device", "thermo", "-o", "json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(json::parse(after.out)["spec"]["properties"][0]["reportCycle"], 2000) << after.out;

  // An editor that changes nothing: no PUT, error, exit 1.
  ProcessResult same = keadm({"edit", "device", "thermo"}, {"EDITOR=true"});
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_TRUE(contains(same.err, "no changes made")) << same.err;

  ProcessResult two = keadm({"edit", "device", "a", "b"}, {"EDITOR=true"});
  EXPECT_EQ(two.exit_code, 1);
  EXPECT_TRUE(contains(two.err, "too many args, edit one device at once")) << two.err;
}

TEST_F(KeadmCtl, DevicePutAnswersLiteralOk) {
  // The wire contract the original keadm relies on: PUT -> 200 "OK".
  json d = device("thermo", "edge-1");
  dir_.write("device.json", d.dump());
  ProcessResult put =
      runCommand({"/usr/bin/curl", "-s", "-o", "-", "-w", "|%{http_code}", "-X", "PUT", "-H",
                  "Content-Type: application/json", "--data-binary", "@" + dir_.file("device.json"),
                  "http://127.0.0.1:" + std::to_string(port_) +
                      "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo"});
  EXPECT_EQ(put.out, "OK|200") << put.err;
}

TEST_F(KeadmCtl, ConfirmRunsTheUpgradeWithoutAShell) {
  ProcessResult nothing = keadm({"confirm", "edge-1"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_TRUE(contains(nothing.err, "no node upgrade is waiting")) << nothing.err;

  // The two rows v1.20's initUpgrade stores when the job asks for a confirmation.
  json job = {{"UpgradeID", "up-1"},
              {"HistoryID", "h-1"},
              {"Version", "v1.20.1"},
              {"UpgradeTool", "keadm"},
              {"Image", "kubeedge/installation-package:v1.20.1"},
              {"ImageDigest", ""},
              {"RequireConfirmation", true}};
  json task = {{"TaskID", "upgrade"},
               {"Type", "Confirm"},
               {"State", "Upgrading"},
               {"Item", "Wait for a confirm for upgrade request on the edge site."}};
  sql("INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) "
      "VALUES ('up-1', '', '', 'NodeUpgradeJobRequest', 0, " +
      sqlQuote(job.dump()) + "), ('upgrade', '', '', 'NodeTaskRequest', 0, " +
      sqlQuote(task.dump()) + ")");
  ProcessResult ok = keadm({"confirm", "edge-1"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, "node upgrade to v1.20.1 started")) << ok.out;
  EXPECT_TRUE(contains(ok.out, "task upgrade was in state Upgrading")) << ok.out;
  ASSERT_TRUE(waitFor([&] { return !readFile(dir_.file("upgrade-args")).empty(); }, 10s, 10ms));
  std::string args = readFile(dir_.file("upgrade-args"));
  EXPECT_TRUE(contains(args, "upgrade\nedge\n--upgradeID\nup-1\n--historyID\nh-1\n--fromVersion\n"))
      << args;
  EXPECT_TRUE(contains(args, "--toVersion\nv1.20.1\n--config\n" + dir_.file("edgecore.yaml") +
                                 "\n--image\nkubeedge/installation-package:v1.20.1\n"))
      << args;
  EXPECT_EQ(sql("SELECT count(*) FROM meta_v2 WHERE name IN ('NodeUpgradeJobRequest', "
                "'NodeTaskRequest')"),
            "0\n");

  // A stored field that would have been shell syntax in the original is refused, nothing runs.
  ::unlink(dir_.file("upgrade-args").c_str());
  job["Image"] = "x; touch " + dir_.file("pwned");
  sql("INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) "
      "VALUES ('up-2', '', '', 'NodeUpgradeJobRequest', 0, " +
      sqlQuote(job.dump()) + ")");
  ProcessResult evil = keadm({"confirm", "edge-1"});
  EXPECT_EQ(evil.exit_code, 1);
  EXPECT_TRUE(contains(evil.err, "field Image")) << evil.err;
  EXPECT_NE(::access(dir_.file("upgrade-args").c_str(), F_OK), 0);
  EXPECT_NE(::access(dir_.file("pwned").c_str(), F_OK), 0);
  // Every field is checked, also those v1.20 does not pass on (a digest that is no digest).
  job["Image"] = "kubeedge/installation-package:v1.20.1";
  job["ImageDigest"] = "sha256:not-hex";
  sql("UPDATE meta_v2 SET value = " + sqlQuote(job.dump()) +
      " WHERE name = 'NodeUpgradeJobRequest'");
  ProcessResult digest = keadm({"confirm", "edge-1"});
  EXPECT_EQ(digest.exit_code, 1);
  EXPECT_TRUE(contains(digest.err, "field ImageDigest")) << digest.err;
  EXPECT_NE(::access(dir_.file("upgrade-args").c_str(), F_OK), 0);

  ProcessResult noarg = keadm({"confirm"});
  EXPECT_EQ(noarg.exit_code, 1);
  EXPECT_TRUE(contains(noarg.err, "no specified node name for confirm upgrade")) << noarg.err;
}

TEST_F(KeadmCtl, Errors) {
  ProcessResult bad_flag = keadm({"get", "pod", "--bogus"});
  EXPECT_EQ(bad_flag.exit_code, 1);
  EXPECT_TRUE(contains(bad_flag.err, "--bogus")) << bad_flag.err;
  ProcessResult no_sub = keadm({"get"});
  EXPECT_EQ(no_sub.exit_code, 1);
  ProcessResult help = keadm({"logs", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag :
       {"--container", "--follow", "--previous", "--since-second", "--since-time", "--timestamps",
        "--tail", "--limit-bytes", "--namespace"}) {
    EXPECT_TRUE(contains(help.out, flag)) << flag << "\n" << help.out;
  }
  ProcessResult restart_none = keadm({"restart", "pod"});
  EXPECT_EQ(restart_none.exit_code, 1);
  EXPECT_TRUE(contains(restart_none.err, "no pod specified for reboot")) << restart_none.err;
  ProcessResult logs_none = keadm({"logs"});
  EXPECT_EQ(logs_none.exit_code, 1);
  EXPECT_TRUE(contains(logs_none.err, "no pod specified for logs")) << logs_none.err;

  // Logs with edged disabled: MetaServer's own error, reported.
  ProcessResult logs = keadm({"logs", "web"});
  EXPECT_EQ(logs.exit_code, 1);
  EXPECT_TRUE(contains(logs.err, "Failed to get logs from edged")) << logs.err;

  // edgecore gone: a clear message.
  stopEdgecore();
  ProcessResult down = keadm({"get", "pod"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(contains(down.err, "cannot reach MetaServer at http://127.0.0.1:" +
                                     std::to_string(port_) + ": is edgecore running?"))
      << down.err;

  // MetaServer disabled in the config.
  dir_.write("edgecore.yaml",
             "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\nmodules:\n"
             "  metaManager:\n    metaServer:\n      enable: false\n");
  ProcessResult disabled = keadm({"get", "pod"});
  EXPECT_EQ(disabled.exit_code, 1);
  EXPECT_TRUE(contains(disabled.err, "metaserver don't open")) << disabled.err;

  ProcessResult no_config = runCommand({kKeadm, "ctl", "get", "pod", "--config", "/nonexistent"});
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_TRUE(contains(no_config.err, "get edge config failed with err:")) << no_config.err;
}

// ---------------------------------------------------------------- containerd

// A pod as the cloud would have sent it: metamanager's `meta` row (what edged loads at start)
// and the meta_v2 row (what MetaServer and stock kubectl read).
std::string podRows(const json& p, int rv) {
  std::string key = p["metadata"]["namespace"].get<std::string>() + "/pod/" +
                    p["metadata"]["name"].get<std::string>();
  json stored = p;
  stored["metadata"]["resourceVersion"] = std::to_string(rv);
  return "INSERT OR REPLACE INTO meta (key, type, value) VALUES (" + sqlQuote(key) + ", 'pod', " +
         sqlQuote(stored.dump()) + ");\n" + objectRow("", "v1", "pods", p, rv);
}

json busyboxPod(const std::string& ns, const std::string& name, json containers,
                json volumes = json::array()) {
  json p = pod(ns, name, "edge-1");
  p["metadata"]["uid"] = "uid-" + ns + "-" + name;
  p["spec"]["hostNetwork"] = true;
  p["spec"]["restartPolicy"] = "Always";
  p["spec"]["terminationGracePeriodSeconds"] = 1;
  p["spec"]["containers"] = std::move(containers);
  if (!volumes.empty()) p["spec"]["volumes"] = std::move(volumes);
  p.erase("status");
  return p;
}

json busyboxContainer(const std::string& name, const std::string& script,
                      json mounts = json::array()) {
  json c = {{"name", name},
            {"image", kBusybox},
            {"imagePullPolicy", "Never"},
            {"command", json::array({"sh", "-c", script})}};
  if (!mounts.empty()) c["volumeMounts"] = std::move(mounts);
  return c;
}

// Pods run by the real edged of the real edgecore on the real containerd; logs come from
// edged's own HTTP server (127.0.0.1:<readOnlyPort>/containerLogs, spec 6.7).
//   ticker   one container "main" writing line-0, line-1, ... every 200 ms
//   crasher  "main" prints run-<n> (n counts its runs in a hostPath file) and exits 1, so edged
//            restarts it; "side" prints one line and sleeps
class KeadmContainerd : public KeadmCtl {
 protected:
  void SetUp() override {
    if (::access(kContainerdSocket, F_OK) != 0) {
      GTEST_SKIP() << "containerd socket missing: scripts/test-services.sh start (root)";
    }
    auto cri = cri::CriClient::create({});
    ASSERT_TRUE(cri.ok()) << cri.status().message();
    cri_ = std::move(*cri);
    ns_ = "keadm-test-" + std::to_string(::getpid());
    pod_ = "ticker";
    ::mkdir(dir_.file("data").c_str(), 0755);
    json ticker =
        busyboxPod(ns_, pod_,
                   json::array({busyboxContainer(
                       "main", "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done")}));
    json crasher = busyboxPod(
        ns_, "crasher",
        json::array({busyboxContainer("main",
                                      "n=$(($(cat /data/runs 2>/dev/null || echo 0)+1)); "
                                      "echo $n > /data/runs; echo run-$n; sleep 0.5; exit 1",
                                      json::array({{{"name", "data"}, {"mountPath", "/data"}}})),
                     busyboxContainer("side", "echo side-says-hi; sleep 3600")}),
        json::array({{{"name", "data"}, {"hostPath", {{"path", dir_.file("data")}}}}}));
    // The fixture's nginx pod would need a registry: this node runs only our two pods.
    extra_seed_ =
        "DELETE FROM meta WHERE type = 'pod';\n" + podRows(ticker, 6001) + podRows(crasher, 6002);
    int edged_port = freeLoopbackPort();
    startEdgecore("  edged:\n    enable: true\n    hostnameOverride: edge-1\n    rootDirectory: " +
                  dir_.file("root") +
                  "\n"
                  "    tailoredKubeletConfig:\n"
                  "      address: 127.0.0.1\n"
                  "      readOnlyPort: " +
                  std::to_string(edged_port) +
                  "\n"
                  "      podLogsDir: " +
                  dir_.file("logs") +
                  "\n"
                  "      staticPodPath: " +
                  dir_.file("manifests") + "\n");
    // Both pods' containers run (edged started them from the stored pods).
    ASSERT_TRUE(waitFor(
        [&] {
          return !runningContainer(pod_, "main").empty() &&
                 !runningContainer("crasher", "side").empty();
        },
        60s, 100ms))
        << daemon_->stderrSoFar();
  }

  void TearDown() override {
    if (!cri_) return;
    KeadmCtl::TearDown();
    runtimeapi::PodSandboxFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto list = cri_->listPodSandbox(f);
    if (list.ok()) {
      for (const auto& sb : *list) {
        runtimeapi::ContainerFilter cf;
        cf.set_pod_sandbox_id(sb.id());
        auto cs = cri_->listContainers(cf);
        if (cs.ok()) {
          for (const auto& c : *cs) {
            (void)cri_->stopContainer(c.id(), 0);
            (void)cri_->removeContainer(c.id());
          }
        }
        (void)cri_->stopPodSandbox(sb.id());
        (void)cri_->removePodSandbox(sb.id());
      }
    }
  }

  std::vector<runtimeapi::Container> containers(const std::string& pod, const std::string& name) {
    runtimeapi::ContainerFilter cf;
    (*cf.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    (*cf.mutable_label_selector())["io.kubernetes.pod.name"] = pod;
    (*cf.mutable_label_selector())["io.kubernetes.container.name"] = name;
    auto cs = cri_->listContainers(cf);
    if (!cs.ok()) return {};
    return *cs;
  }

  // Id of the running instance of a container ("" if none runs).
  std::string runningContainer(const std::string& pod, const std::string& name) {
    for (const auto& c : containers(pod, name)) {
      if (c.state() == runtimeapi::CONTAINER_RUNNING) return c.id();
    }
    return "";
  }

  std::unique_ptr<cri::CriClient> cri_;
  std::string ns_;
  std::string pod_;
};

TEST_F(KeadmContainerd, ExecReportsBothStreamsAndTheExitCode) {
  ProcessResult r =
      keadm({"exec", pod_, "-n", ns_, "--", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");

  ProcessResult ok = keadm({"exec", pod_, "-n", ns_, "-c", "main", "--", "echo", "hello"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "hello\n");

  ProcessResult none = keadm({"exec", "nope", "-n", ns_, "--", "true"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "not found pod:\"/" + ns_ + "/nope\"")) << none.err;
}

TEST_F(KeadmContainerd, StockKubectlExecThroughTheProxy) {
  // kubectl 1.30 tries websocket v5 and falls back to SPDY/3.1; either way MetaServer proxies
  // the upgrade to containerd's streaming server.
  ProcessResult r = kubectl(
      {"exec", pod_, "-n", ns_, "-c", "main", "--", "sh", "-c", "echo via-kubectl; exit 4"});
  EXPECT_EQ(r.out, "via-kubectl\n") << r.err;
  EXPECT_EQ(r.exit_code, 4) << r.err;
}

TEST_F(KeadmContainerd, InteractiveExecInAPseudoTerminal) {
  // `script` gives keadm a real terminal; the shell in the container reads our typed lines.
  // Our terminal is 123x45: the container's tty gets that size through the resize channel.
  std::string cmd = "stty cols 123 rows 45; " + kKeadm + " ctl exec " + pod_ + " -n " + ns_ +
                    " -it --config " + dir_.file("edgecore.yaml") + " -- sh";
  ProcessResult r = runCommand({"/bin/sh", "-c",
                                "(sleep 1; printf 'echo hi-$((6*7)); tty; stty size; exit 5\\n'; "
                                "sleep 5) | /usr/bin/script -qec '" +
                                    cmd + "' /dev/null"},
                               60s);
  EXPECT_TRUE(contains(r.out, "hi-42")) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "/dev/pts/")) << r.out;  // a tty inside the container
  EXPECT_TRUE(contains(r.out, "45 123")) << r.out;
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
}

// The line numbers N of "line-N" in `text`, in order.
std::vector<int> tickerLines(const std::string& text) {
  static const std::regex line_re("line-(\\d+)\n");
  std::vector<int> seen;
  for (std::sregex_iterator it(text.begin(), text.end(), line_re), end; it != end; ++it) {
    seen.push_back(std::stoi((*it)[1]));
  }
  return seen;
}

TEST_F(KeadmContainerd, LogsThroughEdgedTailTimestampsAndSince) {
  // Wait until the container has written a few lines.
  ProcessResult r;
  ASSERT_TRUE(waitFor(
      [&] {
        r = keadm({"logs", pod_, "-n", ns_});
        return contains(r.out, "line-12\n");
      },
      20s, 100ms))
      << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("line-0\n", 0), 0u) << r.out;
  std::vector<int> all = tickerLines(r.out);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int>(i)) << r.out;

  // --tail 2 --timestamps: the last two lines, each with its RFC 3339 time.
  ProcessResult tail = keadm({"logs", pod_, "-n", ns_, "--tail", "2", "--timestamps"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  const std::regex stamped(
      "(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?Z) line-(\\d+)\n");
  std::vector<std::pair<std::string, int>> lines;
  for (std::sregex_iterator it(tail.out.begin(), tail.out.end(), stamped), end; it != end; ++it) {
    lines.emplace_back((*it)[1], std::stoi((*it)[2]));
  }
  ASSERT_EQ(lines.size(), 2u) << tail.out;
  EXPECT_EQ(std::count(tail.out.begin(), tail.out.end(), '\n'), 2) << tail.out;
  EXPECT_EQ(lines[1].second, lines[0].second + 1) << tail.out;
  EXPECT_GE(lines[0].second, all.back() - 1) << tail.out;  // newer than what we read before

  // --since-time (nanosecond precision): exactly the lines from that one on.
  const std::string since = lines[1].first;
  ProcessResult after = keadm({"logs", pod_, "-n", ns_, "--timestamps", "--since-time", since});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  std::vector<std::pair<std::string, int>> later;
  for (std::sregex_iterator it(after.out.begin(), after.out.end(), stamped), end; it != end; ++it) {
    later.emplace_back((*it)[1], std::stoi((*it)[2]));
  }
  ASSERT_FALSE(later.empty()) << after.out;
  EXPECT_EQ(later.front().first, since) << after.out;
  EXPECT_EQ(later.front().second, lines[1].second) << after.out;
  for (size_t i = 1; i < later.size(); ++i) {
    EXPECT_EQ(later[i].second, later[i - 1].second + 1) << after.out;
  }

  // --since-second: only the recent past (the ticker has run for more than 2.4 s by now).
  ProcessResult recent = keadm({"logs", pod_, "-n", ns_, "--since-second", "1s"});
  ASSERT_EQ(recent.exit_code, 0) << recent.err;
  std::vector<int> recent_lines = tickerLines(recent.out);
  ASSERT_FALSE(recent_lines.empty()) << recent.out;
  EXPECT_GT(recent_lines.front(), 0) << recent.out;
  EXPECT_LE(recent_lines.size(), 7u) << recent.out;  // about 5 lines a second

  // A bad parameter is refused by edged and reported.
  ProcessResult bad = keadm({"logs", pod_, "-n", ns_, "--since-time", "yesterday"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_FALSE(bad.err.empty());
}

TEST_F(KeadmContainerd, LogsOfAContainerAndOfItsPreviousInstance) {
  // -c picks the container of a two-container pod.
  ProcessResult side = keadm({"logs", "crasher", "-n", ns_, "-c", "side"});
  ASSERT_EQ(side.exit_code, 0) << side.err;
  EXPECT_EQ(side.out, "side-says-hi\n");
  ProcessResult missing = keadm({"logs", "crasher", "-n", ns_, "-c", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(missing.err.empty());

  // edged restarts "main" after each exit. Once it has run twice, --previous shows the run
  // before the current one. (A restart between our two reads is retried.)
  std::string previous;
  std::string current;
  std::smatch p;
  std::smatch c;
  ASSERT_TRUE(waitFor(
      [&] {
        ProcessResult before = keadm({"logs", "crasher", "-n", ns_, "-c", "main"});
        ProcessResult prev = keadm({"logs", "crasher", "-n", ns_, "-c", "main", "--previous"});
        ProcessResult now = keadm({"logs", "crasher", "-n", ns_, "-c", "main"});
        previous = prev.out;
        current = now.out;
        if (prev.exit_code != 0 || now.exit_code != 0 || before.out != now.out) {
          return false;
        }
        return std::regex_match(previous, p, std::regex("run-(\\d+)\n")) &&
               std::regex_match(current, c, std::regex("run-(\\d+)\n"));
      },
      60s, 200ms))
      << "previous=" << previous << " current=" << current;
  EXPECT_EQ(std::stoi(p[1]) + 1, std::stoi(c[1])) << previous << current;
}

TEST_F(KeadmContainerd, LogsFollowReceivesNewLines) {
  // -f: lines written after the start arrive.
  ChildProcess follow({kKeadm, "ctl", "logs", pod_, "-n", ns_, "-f", "--tail", "1", "--config",
                       dir_.file("edgecore.yaml")});
  bool consecutive = true;
  ASSERT_TRUE(waitFor(
      [&] {
        std::vector<int> seen = tickerLines(follow.stdoutSoFar());
        if (seen.empty()) {
          return false;
        }
        for (size_t i = 1; i < seen.size(); ++i) {
          if (seen[i] != seen[i - 1] + 1) {
            consecutive = false;
            return true;
          }
        }
        return seen.back() >= seen.front() + 5;
      },
      20s, 50ms))
      << follow.stdoutSoFar();
  ASSERT_TRUE(consecutive) << "a line is missing or repeated:\n" << follow.stdoutSoFar();
  follow.signal(SIGTERM);
  follow.wait(5s);
  // The daemon is still healthy after the client went away mid-stream.
  ProcessResult after = keadm({"get", "pod", pod_, "-n", ns_});
  EXPECT_EQ(after.exit_code, 0) << after.err;
}

TEST_F(KeadmContainerd, RestartStopsEveryContainerAndEdgedStartsThemAgain) {
  const std::string before = runningContainer(pod_, "main");
  ASSERT_FALSE(before.empty());
  ProcessResult r = keadm({"restart", "pod", pod_, "nope", "-n", ns_});
  EXPECT_TRUE(contains(r.out, "the pod \"" + ns_ + "/" + pod_ + "\" restart successful")) << r.out;
  EXPECT_TRUE(contains(r.err, "not found pod:\"/" + ns_ + "/nope\"")) << r.err;
  EXPECT_EQ(r.exit_code, 1);  // one of the two failed
  auto status = cri_->containerStatus(before);
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_EQ(status->state(), runtimeapi::CONTAINER_EXITED);
  // edged runs a new instance (attempt 1): the restart count went up.
  std::string again;
  ASSERT_TRUE(waitFor(
      [&] {
        again = runningContainer(pod_, "main");
        return !again.empty() && again != before;
      },
      30s, 100ms))
      << daemon_->stderrSoFar();
  auto fresh = cri_->containerStatus(again);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_GE(fresh->metadata().attempt(), 1u);
  // ... and logs follow the new instance.
  ProcessResult logs;
  ASSERT_TRUE(waitFor(
      [&] {
        logs = keadm({"logs", pod_, "-n", ns_});
        return logs.out.rfind("line-0\n", 0) == 0 && contains(logs.out, "line-2\n");
      },
      20s, 100ms))
      << logs.out << logs.err;
}

}  // namespace
}  // namespace edgecore::testing

namespace edgecore::testing {
namespace {

// reportEvent on, no cloud: edged runs a crashing pod from the local store on the real
// containerd; its kubelet events are kept locally and `keadm ctl describe pod` shows them,
// repeated ones counted.
class KeadmEvents : public KeadmCtl {
 protected:
  void SetUp() override {
    if (::access(kContainerdSocket, F_OK) != 0) {
      GTEST_SKIP() << "containerd socket missing: scripts/test-services.sh start (root)";
    }
    auto cri = cri::CriClient::create({});
    ASSERT_TRUE(cri.ok()) << cri.status().message();
    cri_ = std::move(*cri);
    ns_ = "keadm-ev-" + std::to_string(::getpid());
    json p = pod(ns_, "crasher", "edge-1");
    p["metadata"]["uid"] = "uid-" + ns_;
    p["spec"]["hostNetwork"] = true;
    p["spec"]["terminationGracePeriodSeconds"] = 1;
    p["spec"]["containers"] =
        json::array({{{"name", "main"}, {"image", kBusybox}, {"command", {"sh", "-c", "exit 1"}}}});
    p.erase("status");
    // The pod as the cloud delivered it: the meta row edged reads, the meta_v2 object keadm reads.
    extra_seed_ = "INSERT OR REPLACE INTO meta (key, type, value) VALUES (" +
                  sqlQuote(ns_ + "/pod/crasher") + ", 'pod', " + sqlQuote(p.dump()) + ");\n" +
                  objectRow("", "v1", "pods", p, 7001);
    extra_env_ = {"EDGECORE_EDGED_BACKOFF_BASE_MS=300"};
    startEdgecore(
        "  edged:\n    enable: true\n    hostnameOverride: edge-1\n"
        "    reportEvent: true\n    rootDirectory: " +
        dir_.file("kubelet") +
        "\n"
        "    tailoredKubeletConfig:\n      address: 127.0.0.1\n      readOnlyPort: 0\n"
        "      staticPodPath: " +
        dir_.file("manifests") + "\n      podLogsDir: " + dir_.file("logs") + "\n");
  }

  void TearDown() override {
    if (!cri_) return;
    KeadmCtl::TearDown();
    runtimeapi::PodSandboxFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    auto list = cri_->listPodSandbox(f);
    if (!list.ok()) return;
    for (const auto& sb : *list) {
      runtimeapi::ContainerFilter cf;
      cf.set_pod_sandbox_id(sb.id());
      auto cs = cri_->listContainers(cf);
      if (cs.ok()) {
        for (const auto& c : *cs) {
          (void)cri_->stopContainer(c.id(), 0);
          (void)cri_->removeContainer(c.id());
        }
      }
      (void)cri_->stopPodSandbox(sb.id());
      (void)cri_->removePodSandbox(sb.id());
    }
  }

  std::unique_ptr<cri::CriClient> cri_;
  std::string ns_;
};

TEST_F(KeadmEvents, DescribePodShowsTheKubeletEventsWithCounts) {
  ProcessResult d;
  // Started three times means at least one back-off in between.
  ASSERT_TRUE(waitFor(
      [&] {
        d = keadm({"describe", "pod", "crasher", "-n", ns_});
        return d.exit_code == 0 && contains(d.out, "Started container main") &&
               contains(d.out, "(x3 over ") &&
               contains(d.out, "Back-off restarting failed container");
      },
      40s, 200ms))
      << d.out << d.err << daemon_->stderrSoFar();
  for (const char* want : {
           "  Normal   Pulled   ",
           "kubelet  Container image \"docker.io/library/busybox:local\" already present on "
           "machine\n",
           "kubelet  Created container main\n",
           "kubelet  Started container main\n",
           "  Warning  BackOff  ",
       }) {
    EXPECT_TRUE(contains(d.out, want)) << "missing: " << want << "\n--- output:\n" << d.out;
  }
  EXPECT_TRUE(contains(d.out, "Back-off restarting failed container main in pod crasher_" + ns_ +
                                  "(uid-" + ns_ + ")"))
      << d.out;
  // The same events through the plain API (what kubectl get events reads).
  ProcessResult list = kubectl({"get", "events", "-n", ns_, "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json items = json::parse(list.out)["items"];
  int started = 0;
  for (const auto& e : items) {
    if (e.value("reason", "") == "Started") {
      started = e.value("count", 0);
      EXPECT_EQ(e["involvedObject"].value("fieldPath", ""), "spec.containers{main}");
      EXPECT_EQ(e["source"].value("host", ""), "edge-1");
    }
  }
  EXPECT_GE(started, 3) << list.out;
}

}  // namespace
}  // namespace edgecore::testing
