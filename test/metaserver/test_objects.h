#pragma once

// Realistic Kubernetes objects for MetaServer tests and the benchmark: pods shaped like what
// CloudCore sends an edge node (about 3 KiB each), nodes, configmaps.

#include <nlohmann/json.hpp>
#include <string>

#include "edgecore/metamanager/meta_store.h"

namespace edgecore::testing {

inline const metamanager::Gvr kPods{"", "v1", "pods"};
inline const metamanager::Gvr kNodes{"", "v1", "nodes"};
inline const metamanager::Gvr kConfigMaps{"", "v1", "configmaps"};

struct PodSpec {
  std::string ns = "default";
  std::string name = "nginx";
  std::string node = "edge-1";
  std::string app = "web";
  std::string phase = "Running";
  std::string created = "2024-05-01T10:00:00Z";
  uint64_t rv = 100;
  bool ready = true;
  int restarts = 0;
  std::string waiting_reason;  // e.g. "CrashLoopBackOff"
  bool deleting = false;
};

inline PodSpec podNamed(std::string name, uint64_t rv) {
  PodSpec p;
  p.name = std::move(name);
  p.rv = rv;
  return p;
}

inline nlohmann::json makePodJson(const PodSpec& p) {
  using nlohmann::json;
  json container = {
      {"name", p.app},
      {"image", "registry.example.com/library/" + p.app + ":1.25.3"},
      {"imagePullPolicy", "IfNotPresent"},
      {"ports", json::array({{{"containerPort", 80}, {"name", "http"}, {"protocol", "TCP"}}})},
      {"env", json::array({{{"name", "MODE"}, {"value", "edge"}},
                           {{"name", "LOG_LEVEL"}, {"value", "info"}}})},
      {"resources",
       {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}},
        {"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}},
      {"volumeMounts", json::array({{{"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                                     {"name", "kube-api-access-x7k2p"},
                                     {"readOnly", true}}})},
      {"terminationMessagePath", "/dev/termination-log"},
      {"terminationMessagePolicy", "File"}};
  json state;
  if (!p.waiting_reason.empty()) {
    state = {{"waiting", {{"reason", p.waiting_reason}, {"message", "back-off restarting"}}}};
  } else {
    state = {{"running", {{"startedAt", "2024-05-01T10:00:05Z"}}}};
  }
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", p.name},
        {"namespace", p.ns},
        {"uid", "6f1c2b9e-1d2a-4c5b-9e8f-" + std::to_string(100000000000 + p.rv)},
        {"resourceVersion", std::to_string(p.rv)},
        {"creationTimestamp", p.created},
        {"labels", {{"app", p.app}, {"pod-template-hash", "7c5ddbdf54"}}},
        {"annotations", {{"kubernetes.io/config.seen", "2024-05-01T10:00:00.000000000Z"}}},
        {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                          {"kind", "ReplicaSet"},
                                          {"name", p.app + "-7c5ddbdf54"},
                                          {"uid", "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}})}}},
      {"spec",
       {{"containers", json::array({container})},
        {"dnsPolicy", "ClusterFirst"},
        {"enableServiceLinks", true},
        {"nodeName", p.node},
        {"preemptionPolicy", "PreemptLowerPriority"},
        {"priority", 0},
        {"restartPolicy", "Always"},
        {"schedulerName", "default-scheduler"},
        {"securityContext", json::object()},
        {"serviceAccountName", "default"},
        {"terminationGracePeriodSeconds", 30},
        {"tolerations", json::array({{{"effect", "NoExecute"},
                                      {"key", "node.kubernetes.io/not-ready"},
                                      {"operator", "Exists"},
                                      {"tolerationSeconds", 300}},
                                     {{"effect", "NoExecute"},
                                      {"key", "node.kubernetes.io/unreachable"},
                                      {"operator", "Exists"},
                                      {"tolerationSeconds", 300}}})},
        {"volumes",
         json::array(
             {{{"name", "kube-api-access-x7k2p"},
               {"projected",
                {{"defaultMode", 420},
                 {"sources",
                  json::array(
                      {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
                       {{"configMap",
                         {{"items", json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})},
                          {"name", "kube-root-ca.crt"}}}}})}}}}})}}},
      {"status",
       {{"phase", p.phase},
        {"conditions", json::array({{{"type", "Initialized"},
                                     {"status", "True"},
                                     {"lastTransitionTime", "2024-05-01T10:00:00Z"}},
                                    {{"type", "Ready"},
                                     {"status", p.ready ? "True" : "False"},
                                     {"lastTransitionTime", "2024-05-01T10:00:06Z"}},
                                    {{"type", "ContainersReady"},
                                     {"status", p.ready ? "True" : "False"},
                                     {"lastTransitionTime", "2024-05-01T10:00:06Z"}},
                                    {{"type", "PodScheduled"},
                                     {"status", "True"},
                                     {"lastTransitionTime", "2024-05-01T10:00:00Z"}}})},
        {"hostIP", "192.168.1.20"},
        {"podIP", "10.244.1.17"},
        {"podIPs", json::array({{{"ip", "10.244.1.17"}}})},
        {"qosClass", "Burstable"},
        {"startTime", "2024-05-01T10:00:00Z"},
        {"containerStatuses",
         json::array(
             {{{"name", p.app},
               {"ready", p.ready},
               {"restartCount", p.restarts},
               {"started", true},
               {"image", "registry.example.com/library/" + p.app + ":1.25.3"},
               {"imageID", "registry.example.com/library/" + p.app +
                               "@sha256:"
                               "0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"},
               {"containerID",
                "containerd://"
                "5b9c1e2f3a4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"},
               {"state", state}}})}}}};
  if (p.deleting) pod["metadata"]["deletionTimestamp"] = "2024-05-01T11:00:00Z";
  return pod;
}
inline std::string makePod(const PodSpec& p) { return makePodJson(p).dump(); }

inline std::string makeNode(const std::string& name, bool ready, uint64_t rv = 10,
                            bool edge_role = true) {
  nlohmann::json labels = {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}};
  if (edge_role) {
    labels["node-role.kubernetes.io/edge"] = "";
    labels["node-role.kubernetes.io/agent"] = "";
  }
  nlohmann::json node = {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       {{"name", name},
        {"uid", "a1b2c3d4-0000-4000-8000-00000000000" + std::to_string(rv % 10)},
        {"resourceVersion", std::to_string(rv)},
        {"creationTimestamp", "2024-04-01T08:00:00Z"},
        {"labels", labels}}},
      {"spec", nlohmann::json::object()},
      {"status",
       {{"conditions",
         nlohmann::json::array(
             {{{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"reason", "EdgeReady"}}})},
        {"addresses", nlohmann::json::array({{{"type", "InternalIP"}, {"address", "192.168.1.20"}},
                                             {{"type", "Hostname"}, {"address", name}}})},
        {"nodeInfo",
         {{"kubeletVersion", "v1.30.7-kubeedge-v1.20.0"},
          {"osImage", "Debian GNU/Linux 12 (bookworm)"},
          {"kernelVersion", "6.1.0-18-amd64"},
          {"containerRuntimeVersion", "containerd://1.6.20"}}}}}};
  return node.dump();
}

inline std::string makeConfigMap(const std::string& ns, const std::string& name, uint64_t rv = 20) {
  nlohmann::json cm = {{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata",
                        {{"name", name},
                         {"namespace", ns},
                         {"uid", "c0ffee00-0000-4000-8000-000000000001"},
                         {"resourceVersion", std::to_string(rv)},
                         {"creationTimestamp", "2024-04-30T10:00:00Z"}}},
                       {"data", {{"app.conf", "listen 80;\n"}, {"mode", "edge"}}}};
  return cm.dump();
}

}  // namespace edgecore::testing
