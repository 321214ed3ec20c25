#pragma once

// Helpers shared by pod_plan.cc and volumes.cc: typed JSON access that never throws, Kubernetes
// name checks, base64, configmap/secret payloads and downward API values.

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podplan/pod_plan.h"

namespace edgecore::edged::plan {

using nlohmann::json;

// "<reason>: <message>" as InvalidArgument (planErrorFromStatus splits it back).
Status planStatus(std::string_view reason, std::string_view message);

// The member `key` of `o` if `o` is an object and the member exists and is not null.
const json* child(const json& o, std::string_view key);

// Typed reads; a missing/null member gives the fallback, a wrong type an InvalidPodSpec error
// naming `path`.
Result<std::string> getString(const json& o, std::string_view key, std::string_view path,
                              std::string fallback = "");
Result<bool> getBool(const json& o, std::string_view key, std::string_view path,
                     bool fallback = false);
Result<int64_t> getInt(const json& o, std::string_view key, std::string_view path,
                       int64_t fallback);
Result<std::optional<int64_t>> getOptInt(const json& o, std::string_view key,
                                         std::string_view path);
Result<std::vector<std::string>> getStringList(const json& o, std::string_view key,
                                               std::string_view path);
// An object's string->string map member (labels, annotations, data).
Result<std::map<std::string, std::string>> getStringMap(const json& o, std::string_view key,
                                                        std::string_view path);
// An array member (empty when missing); InvalidPodSpec when it is not an array.
Result<std::vector<const json*>> getArray(const json& o, std::string_view key,
                                          std::string_view path);

bool isDns1123Label(std::string_view s);
bool isDns1123Subdomain(std::string_view s);
// A C identifier-ish environment variable name as the API validates it (IsEnvVarName: no '=',
// printable, not empty, not "." or "..", not starting with a digit? Kubernetes allows most).
bool isEnvVarName(std::string_view s);
// A relative path with no "..", no empty/absolute start: safe inside a volume directory.
bool isSafeRelativePath(std::string_view s);

// data (+ base64 binaryData) of a ConfigMap; data (base64) of a Secret.
Result<std::map<std::string, std::string>> configMapPayload(const json& cm);
Result<std::map<std::string, std::string>> secretPayload(const json& secret);

// A downward API field: metadata.name/namespace/uid/labels/annotations, metadata.labels['k'],
// metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.hostIP(s),
// status.podIP(s). `needs_pod_ip` is set when the value depends on pod IPs that are not known.
Result<std::string> fieldRefValue(const json& pod, std::string_view field_path,
                                  const PlanInputs& in, bool* needs_pod_ip);
// resourceFieldRef: limits/requests cpu/memory/ephemeral-storage of `container` with a divisor.
Result<std::string> resourceFieldValue(const json& container, std::string_view resource,
                                       std::string_view divisor, const PlanInputs& in);

// Kubelet's labels file format: key="value" lines, sorted, values Go-quoted.
std::string formatLabelsFile(const std::map<std::string, std::string>& m);

std::string podDir(const PlanInputs& in, std::string_view uid);

// The message part of a "<reason>: <message>" status.
std::string planErrorFromStatusMessage(const Status& s);

// The kubelet's $(VAR) expansion: "$$" -> "$", "$(NAME)" -> value or left as is when undefined.
std::string expandVars(std::string_view input,
                       const std::function<std::optional<std::string>(std::string_view)>& lookup);

// A pod volume and where it lives on the host.
struct VolumeInfo {
  std::string name;
  std::string type;    // "emptyDir", "configMap", "secret", "downwardAPI", "projected", "hostPath"
  std::string plugin;  // "kubernetes.io~configmap"...; "" for hostPath
  std::string host_path;         // <pod dir>/volumes/<plugin>/<name>, or the hostPath path
  const json* source = nullptr;  // the volume source object inside the pod JSON
};
// The pod's volumes; InvalidPodSpec for bad names or paths, FailedMount for unsupported types.
Result<std::vector<VolumeInfo>> podVolumes(const json& pod, const PlanInputs& in);

// The reference grammar of github.com/distribution/reference (image_reference.cc): false for an
// invalid name; `tagged`/`digested` say which parts are present.
bool validImageReference(const std::string& image, bool* tagged, bool* digested);

// The pod's DNS servers, searches and options for its dnsPolicy and dnsConfig (pod_dns.cc).
Result<DnsConfig> podDns(const json& spec, const std::string& ns, bool host_network,
                         const PlanInputs& in);

// Configmap/secret payloads read once per plan (container_env.cc), by "c/<name>" or "s/<name>".
struct ObjectCache {
  std::map<std::string, Result<std::map<std::string, std::string>>> entries;
};

// The container's environment in kubelet order (container_env.cc): envFrom, then env; a missing
// configmap/secret or key is CreateContainerConfigError. Sets `needs_pod_ip` when a value needs
// the pod IPs.
Result<std::vector<KeyValue>> buildEnv(const json& pod, const json& c, const std::string& ns,
                                       const std::string& path, const PlanInputs& in,
                                       ObjectCache& cache, bool* needs_pod_ip);

}  // namespace edgecore::edged::plan
