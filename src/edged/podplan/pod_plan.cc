// buildPodPlan: the kubelet's kuberuntime config generation for the features edged supports.
// Mirrors (facts, not code) vendor/k8s.io/kubernetes/pkg/kubelet @ v1.20.0:
//   kuberuntime/kuberuntime_sandbox.go generatePodSandboxConfig, kuberuntime/labels.go,
//   kuberuntime/kuberuntime_container.go generateContainerConfig,
//   kuberuntime/kuberuntime_container_linux.go calculateLinuxResources, qos/policy.go,
//   kubelet_pods.go makeEnvironmentVariables / makeMounts / GeneratePodHostNameAndDomain,
//   network/dns/dns.go GetPodDNS, container/helpers.go ExpandContainerCommandAndArgs.

#include "podplan/pod_plan.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "podplan/plan_util.h"

namespace edgecore::edged {

using nlohmann::json;
using plan::buildEnv;
using plan::child;
using plan::getArray;
using plan::getBool;
using plan::getInt;
using plan::getOptInt;
using plan::getString;
using plan::getStringList;
using plan::getStringMap;
using plan::ObjectCache;
using plan::planStatus;
using plan::podDns;
using plan::validImageReference;

PlanError planErrorFromStatus(const Status& status) {
  const std::string& m = status.message();
  for (std::string_view r : {kReasonCreateContainerConfigError, kReasonInvalidImageName,
                             kReasonFailedMount, kReasonInvalidPodSpec}) {
    if (m.size() > r.size() + 1 && m.compare(0, r.size(), r) == 0 && m[r.size()] == ':') {
      PlanError e;
      e.reason = std::string(r);
      e.message = m.substr(r.size() + (m.size() > r.size() + 2 && m[r.size() + 1] == ' ' ? 2 : 1));
      return e;
    }
  }
  PlanError e;
  e.reason = std::string(kReasonInvalidPodSpec);
  e.message = m;
  return e;
}

std::string_view qosClassName(QosClass q) {
  switch (q) {
    case QosClass::Guaranteed:
      return "Guaranteed";
    case QosClass::Burstable:
      return "Burstable";
    case QosClass::BestEffort:
      return "BestEffort";
  }
  return "BestEffort";
}

void setContainerAttempt(ContainerPlan& c, uint32_t attempt) {
  c.attempt = attempt;
  c.log_path = c.name + "/" + std::to_string(attempt) + ".log";
  c.annotations["io.kubernetes.container.restartCount"] = std::to_string(attempt);
}

// ---------------------------------------------------------------------------------------------
namespace plan {

std::string expandVars(std::string_view input,
                       const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  std::string out;
  size_t i = 0;
  while (i < input.size()) {
    if (input[i] != '$' || i + 1 >= input.size()) {
      out += input[i++];
      continue;
    }
    const char next = input[i + 1];
    if (next == '$') {  // "$$" -> "$"
      out += '$';
      i += 2;
    } else if (next == '(') {
      size_t close = input.find(')', i + 2);
      if (close == std::string_view::npos) {
        out += "$(";
        i += 2;
        continue;
      }
      std::string_view name = input.substr(i + 2, close - i - 2);
      auto v = lookup(name);
      if (v) {
        out += *v;
      } else {
        out += "$(";
        out += name;
        out += ')';
      }
      i = close + 1;
    } else {
      out += '$';
      out += next;
      i += 2;
    }
  }
  return out;
}

}  // namespace plan

namespace {

using plan::expandVars;

constexpr int64_t kQuotaPeriod = 100000;
constexpr int64_t kMinQuotaPeriod = 1000;
constexpr int64_t kMinShares = 2;
constexpr int64_t kMaxShares = 262144;
constexpr int64_t kGuaranteedOomScoreAdj = -997;
constexpr int64_t kBestEffortOomScoreAdj = 1000;

int64_t milliCpuToShares(int64_t milli) {
  if (milli == 0) {
    return kMinShares;
  }
  int64_t shares = milli * 1024 / 1000;
  return std::clamp(shares, kMinShares, kMaxShares);
}

int64_t milliCpuToQuota(int64_t milli, int64_t period) {
  if (milli == 0) {
    return 0;
  }
  int64_t quota = milli * period / 1000;
  return std::max(quota, kMinQuotaPeriod);
}

std::string randomHex(size_t n) {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kHex[rd() & 0xf];
  }
  return s;
}

std::string fnv1a32Hex(std::string_view data) {
  uint32_t h = 2166136261u;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%x", h);
  return buf;
}

// Container resources as parsed quantities; presence matters (kubelet: "exists" checks).
struct Res {
  std::optional<int64_t> req_cpu_milli, lim_cpu_milli, req_mem, lim_mem;
};

Result<std::optional<int64_t>> quantity(const json& list, std::string_view name, bool milli,
                                        std::string_view path) {
  const json* q = child(list, name);
  if (q == nullptr) {
    return std::optional<int64_t>();
  }
  std::string s;
  if (q->is_string()) {
    s = q->get<std::string>();
  } else if (q->is_number()) {
    s = q->dump();
  } else {
    return planStatus(kReasonInvalidPodSpec,
                      std::string(path) + "." + std::string(name) + ": expected a quantity");
  }
  auto v = milli ? parseQuantityMilli(s) : parseQuantityValue(s);
  if (!v.ok()) {
    return planStatus(kReasonInvalidPodSpec, std::string(path) + "." + std::string(name) + " " + s +
                                                 ": " + v.status().message());
  }
  if (*v < 0) {
    return planStatus(kReasonInvalidPodSpec,
                      std::string(path) + "." + std::string(name) + ": must be non-negative");
  }
  return std::optional<int64_t>(*v);
}

Result<Res> containerRes(const json& c, const std::string& path) {
  Res r;
  const json* res = child(c, "resources");
  if (res == nullptr) {
    return r;
  }
  if (!res->is_object()) {
    return planStatus(kReasonInvalidPodSpec, path + ".resources: expected an object");
  }
  for (const char* kind : {"requests", "limits"}) {
    const json* list = child(*res, kind);
    if (list == nullptr) {
      continue;
    }
    if (!list->is_object()) {
      return planStatus(kReasonInvalidPodSpec,
                        path + ".resources." + kind + ": expected an object");
    }
    const std::string p = path + ".resources." + kind;
    EC_ASSIGN_OR_RETURN(auto cpu, quantity(*list, "cpu", true, p));
    EC_ASSIGN_OR_RETURN(auto mem, quantity(*list, "memory", false, p));
    if (std::string_view(kind) == "requests") {
      r.req_cpu_milli = cpu;
      r.req_mem = mem;
    } else {
      r.lim_cpu_milli = cpu;
      r.lim_mem = mem;
    }
  }
  // The API server defaults requests to limits; pods from manifests may not have that done.
  if (!r.req_cpu_milli && r.lim_cpu_milli) r.req_cpu_milli = r.lim_cpu_milli;
  if (!r.req_mem && r.lim_mem) r.req_mem = r.lim_mem;
  return r;
}

// v1qos.GetPodQOS, restricted to cpu and memory.
QosClass computeQos(const std::vector<Res>& all) {
  bool any = false;
  bool guaranteed = true;
  for (const auto& r : all) {
    const bool has_req = (r.req_cpu_milli && *r.req_cpu_milli > 0) || (r.req_mem && *r.req_mem > 0);
    const bool has_lim = (r.lim_cpu_milli && *r.lim_cpu_milli > 0) || (r.lim_mem && *r.lim_mem > 0);
    if (has_req || has_lim) {
      any = true;
    }
    if (!r.lim_cpu_milli || !r.lim_mem || *r.lim_cpu_milli == 0 || *r.lim_mem == 0) {
      guaranteed = false;
    }
    if (r.req_cpu_milli != r.lim_cpu_milli || r.req_mem != r.lim_mem) {
      guaranteed = false;
    }
  }
  if (!any) {
    return QosClass::BestEffort;
  }
  return guaranteed ? QosClass::Guaranteed : QosClass::Burstable;
}

std::string cgroupParent(QosClass qos, const std::string& uid, const PlanInputs& in) {
  if (!in.cgroups_per_qos) {
    return "";
  }
  const std::string tier = qos == QosClass::Burstable    ? "burstable"
                           : qos == QosClass::BestEffort ? "besteffort"
                                                         : "";
  if (in.cgroup_driver == "systemd") {
    std::string u = uid;
    std::replace(u.begin(), u.end(), '-', '_');
    std::string out = "/kubepods.slice";
    std::string prefix = "kubepods";
    if (!tier.empty()) {
      prefix += "-" + tier;
      out += "/" + prefix + ".slice";
    }
    return out + "/" + prefix + "-pod" + u + ".slice";
  }
  return "/kubepods" + (tier.empty() ? std::string() : "/" + tier) + "/pod" + uid;
}

Protocol toProtocol(const std::string& p) {
  if (p == "UDP") return Protocol::Udp;
  if (p == "SCTP") return Protocol::Sctp;
  return Protocol::Tcp;
}

Result<std::vector<ContainerPort>> containerPorts(const json& c, const std::string& path) {
  std::vector<ContainerPort> out;
  EC_ASSIGN_OR_RETURN(auto ports, getArray(c, "ports", path));
  for (const json* p : ports) {
    ContainerPort cp;
    const std::string pp = path + ".ports";
    EC_ASSIGN_OR_RETURN(cp.name, getString(*p, "name", pp));
    EC_ASSIGN_OR_RETURN(auto port, getInt(*p, "containerPort", pp, 0));
    EC_ASSIGN_OR_RETURN(auto host_port, getInt(*p, "hostPort", pp, 0));
    if (port <= 0 || port > 65535 || host_port < 0 || host_port > 65535) {
      return planStatus(kReasonInvalidPodSpec, pp + ": port out of range");
    }
    cp.container_port = static_cast<int32_t>(port);
    cp.host_port = static_cast<int32_t>(host_port);
    EC_ASSIGN_OR_RETURN(auto proto, getString(*p, "protocol", pp, "TCP"));
    cp.protocol = toProtocol(proto);
    EC_ASSIGN_OR_RETURN(cp.host_ip, getString(*p, "hostIP", pp));
    out.push_back(std::move(cp));
  }
  return out;
}

// An IntOrString port: number, numeric string, or a named container port.
int32_t resolvePort(const json* port, const std::vector<ContainerPort>& ports) {
  if (port == nullptr) {
    return 0;
  }
  if (port->is_number_integer()) {
    int64_t v = port->get<int64_t>();
    return v > 0 && v <= 65535 ? static_cast<int32_t>(v) : 0;
  }
  if (port->is_string()) {
    const std::string s = port->get<std::string>();
    for (const auto& p : ports) {
      if (p.name == s) return p.container_port;
    }
    if (!s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), ::isdigit)) {
      int v = std::stoi(s);
      return v > 0 && v <= 65535 ? v : 0;
    }
  }
  return 0;
}

Result<Action> parseAction(const json& h, const std::vector<ContainerPort>& ports,
                           const std::string& path) {
  Action a;
  if (const json* e = child(h, "exec")) {
    a.kind = Action::Kind::Exec;
    EC_ASSIGN_OR_RETURN(a.command, getStringList(*e, "command", path + ".exec"));
  } else if (const json* g = child(h, "httpGet")) {
    a.kind = Action::Kind::HttpGet;
    EC_ASSIGN_OR_RETURN(a.path, getString(*g, "path", path + ".httpGet", "/"));
    if (a.path.empty() || a.path[0] != '/') a.path = "/" + a.path;
    EC_ASSIGN_OR_RETURN(a.host, getString(*g, "host", path + ".httpGet"));
    EC_ASSIGN_OR_RETURN(a.scheme, getString(*g, "scheme", path + ".httpGet", "HTTP"));
    a.port = resolvePort(child(*g, "port"), ports);
    EC_ASSIGN_OR_RETURN(auto headers, getArray(*g, "httpHeaders", path + ".httpGet"));
    for (const json* hh : headers) {
      KeyValue kv;
      EC_ASSIGN_OR_RETURN(kv.key, getString(*hh, "name", path + ".httpGet.httpHeaders"));
      EC_ASSIGN_OR_RETURN(kv.value, getString(*hh, "value", path + ".httpGet.httpHeaders"));
      a.http_headers.push_back(std::move(kv));
    }
  } else if (const json* t = child(h, "tcpSocket")) {
    a.kind = Action::Kind::TcpSocket;
    EC_ASSIGN_OR_RETURN(a.host, getString(*t, "host", path + ".tcpSocket"));
    a.port = resolvePort(child(*t, "port"), ports);
  } else if (const json* s = child(h, "sleep")) {
    a.kind = Action::Kind::Sleep;
    EC_ASSIGN_OR_RETURN(a.sleep_seconds, getInt(*s, "seconds", path + ".sleep", 0));
  }
  return a;
}

Result<std::optional<ProbeSpec>> parseProbe(const json& c, const char* key,
                                            const std::vector<ContainerPort>& ports,
                                            const std::string& path) {
  const json* p = child(c, key);
  if (p == nullptr) {
    return std::optional<ProbeSpec>();
  }
  const std::string pp = path + "." + key;
  if (!p->is_object()) {
    return planStatus(kReasonInvalidPodSpec, pp + ": expected an object");
  }
  ProbeSpec s;
  EC_ASSIGN_OR_RETURN(s.action, parseAction(*p, ports, pp));
  auto int32 = [&](const char* k, int32_t fallback, int32_t min) -> Result<int32_t> {
    EC_ASSIGN_OR_RETURN(auto v, getInt(*p, k, pp, fallback));
    if (v < min) v = min;
    if (v > 86400 * 365) v = 86400 * 365;
    return static_cast<int32_t>(v);
  };
  EC_ASSIGN_OR_RETURN(s.initial_delay_seconds, int32("initialDelaySeconds", 0, 0));
  EC_ASSIGN_OR_RETURN(s.timeout_seconds, int32("timeoutSeconds", 1, 1));
  EC_ASSIGN_OR_RETURN(s.period_seconds, int32("periodSeconds", 10, 1));
  EC_ASSIGN_OR_RETURN(s.success_threshold, int32("successThreshold", 1, 1));
  EC_ASSIGN_OR_RETURN(s.failure_threshold, int32("failureThreshold", 3, 1));
  EC_ASSIGN_OR_RETURN(s.termination_grace_period_seconds,
                      getOptInt(*p, "terminationGracePeriodSeconds", pp));
  return std::optional<ProbeSpec>(std::move(s));
}

}  // namespace

namespace {

struct PodContext {
  const json& pod;
  const json& spec;
  std::string ns, name, uid;
  const PlanInputs& in;
  std::vector<plan::VolumeInfo> volumes;
  QosClass qos;
  bool host_network, host_pid, host_ipc;
  std::optional<int64_t> pod_run_as_user, pod_run_as_group;
  std::vector<int64_t> supplemental_groups;
  std::optional<int64_t> grace;
  ObjectCache cache;
  bool needs_pod_ip = false;
};

// Name, hash, labels, ports, probes, lifecycle hooks and the io.kubernetes.* annotations.
Status readContainerBasics(const PodContext& pc, const json& c, const std::string& path,
                           ContainerPlan& cp) {
  if (!c.is_object()) {
    return planStatus(kReasonInvalidPodSpec, path + ": expected an object");
  }
  EC_ASSIGN_OR_RETURN(cp.name, getString(c, "name", path));
  if (!plan::isDns1123Label(cp.name)) {
    return planStatus(kReasonInvalidPodSpec,
                      path + ".name: invalid container name \"" + cp.name + "\"");
  }
  // Hash of the spec as received (keys sorted by nlohmann::json): changes => recreate.
  cp.hash = fnv1a32Hex(c.dump());
  cp.labels = {{"io.kubernetes.pod.name", pc.name},
               {"io.kubernetes.pod.namespace", pc.ns},
               {"io.kubernetes.pod.uid", pc.uid},
               {"io.kubernetes.container.name", cp.name}};
  EC_ASSIGN_OR_RETURN(cp.ports, containerPorts(c, path));
  EC_ASSIGN_OR_RETURN(cp.working_dir, getString(c, "workingDir", path));
  EC_ASSIGN_OR_RETURN(cp.stdin_open, getBool(c, "stdin", path));
  EC_ASSIGN_OR_RETURN(cp.stdin_once, getBool(c, "stdinOnce", path));
  EC_ASSIGN_OR_RETURN(cp.tty, getBool(c, "tty", path));
  EC_ASSIGN_OR_RETURN(cp.termination_message_path,
                      getString(c, "terminationMessagePath", path, "/dev/termination-log"));
  EC_ASSIGN_OR_RETURN(cp.termination_message_policy,
                      getString(c, "terminationMessagePolicy", path, "File"));
  EC_ASSIGN_OR_RETURN(cp.liveness, parseProbe(c, "livenessProbe", cp.ports, path));
  EC_ASSIGN_OR_RETURN(cp.readiness, parseProbe(c, "readinessProbe", cp.ports, path));
  EC_ASSIGN_OR_RETURN(cp.startup, parseProbe(c, "startupProbe", cp.ports, path));
  if (const json* lc = child(c, "lifecycle")) {
    if (const json* h = child(*lc, "postStart")) {
      EC_ASSIGN_OR_RETURN(auto a, parseAction(*h, cp.ports, path + ".lifecycle.postStart"));
      cp.post_start = a;
    }
    if (const json* h = child(*lc, "preStop")) {
      EC_ASSIGN_OR_RETURN(auto a, parseAction(*h, cp.ports, path + ".lifecycle.preStop"));
      cp.pre_stop = a;
      cp.annotations["io.kubernetes.container.preStopHandler"] = h->dump();
    }
  }
  cp.annotations["io.kubernetes.container.hash"] = cp.hash;
  cp.annotations["io.kubernetes.container.terminationMessagePath"] = cp.termination_message_path;
  cp.annotations["io.kubernetes.container.terminationMessagePolicy"] =
      cp.termination_message_policy;
  if (pc.grace) {
    cp.annotations["io.kubernetes.pod.terminationGracePeriod"] = std::to_string(*pc.grace);
  }
  if (const json* ports = child(c, "ports"); ports != nullptr && !ports->empty()) {
    cp.annotations["io.kubernetes.container.ports"] = ports->dump();
  }
  setContainerAttempt(cp, 0);
  return {};
}

// Resources (calculateLinuxResources) and OOM score (qos.GetContainerOOMScoreAdjust).
void setContainerResources(const PodContext& pc, const Res& res, ContainerPlan& cp) {
  cp.resources.cpu_shares =
      milliCpuToShares(res.req_cpu_milli ? *res.req_cpu_milli : res.lim_cpu_milli.value_or(0));
  cp.resources.memory_limit_in_bytes = res.lim_mem.value_or(0);
  if (pc.in.cpu_cfs_quota) {
    const int64_t period =
        pc.in.cpu_cfs_quota_period_us > 0 ? pc.in.cpu_cfs_quota_period_us : kQuotaPeriod;
    cp.resources.cpu_period = period;
    cp.resources.cpu_quota = milliCpuToQuota(res.lim_cpu_milli.value_or(0), period);
  }
  if (pc.qos == QosClass::Guaranteed) {
    cp.resources.oom_score_adj = kGuaranteedOomScoreAdj;
  } else if (pc.qos == QosClass::BestEffort) {
    cp.resources.oom_score_adj = kBestEffortOomScoreAdj;
  } else {
    const int64_t cap = pc.in.node_memory_capacity_bytes;
    int64_t adj = cap > 0 ? 1000 - static_cast<int64_t>(static_cast<__int128>(1000) *
                                                        res.req_mem.value_or(0) / cap)
                          : 1000;
    if (adj < 1000 + kGuaranteedOomScoreAdj) adj = 1000 + kGuaranteedOomScoreAdj;
    if (adj == kBestEffortOomScoreAdj) adj = kBestEffortOomScoreAdj - 1;
    cp.resources.oom_score_adj = adj;
  }
}

// Security context: pod-level values are the defaults of the container's.
Status setSecurityContext(const PodContext& pc, const json& c, const std::string& path,
                          ContainerPlan& cp) {
  cp.security.run_as_user = pc.pod_run_as_user;
  cp.security.run_as_group = pc.pod_run_as_group;
  cp.security.supplemental_groups = pc.supplemental_groups;
  cp.security.network_mode = pc.host_network ? NamespaceMode::Node : NamespaceMode::Pod;
  cp.security.pid_mode = pc.host_pid ? NamespaceMode::Node : NamespaceMode::Container;
  cp.security.ipc_mode = pc.host_ipc ? NamespaceMode::Node : NamespaceMode::Pod;
  if (const json* sc = child(c, "securityContext")) {
    const std::string sp = path + ".securityContext";
    EC_ASSIGN_OR_RETURN(auto u, getOptInt(*sc, "runAsUser", sp));
    EC_ASSIGN_OR_RETURN(auto g, getOptInt(*sc, "runAsGroup", sp));
    if (u) cp.security.run_as_user = u;
    if (g) cp.security.run_as_group = g;
    EC_ASSIGN_OR_RETURN(cp.security.privileged, getBool(*sc, "privileged", sp));
    EC_ASSIGN_OR_RETURN(cp.security.readonly_rootfs, getBool(*sc, "readOnlyRootFilesystem", sp));
    if (child(*sc, "allowPrivilegeEscalation")) {
      EC_ASSIGN_OR_RETURN(auto ape, getBool(*sc, "allowPrivilegeEscalation", sp));
      cp.security.no_new_privs = !ape;
    }
    if (const json* caps = child(*sc, "capabilities")) {
      EC_ASSIGN_OR_RETURN(cp.security.capabilities_add, getStringList(*caps, "add", sp));
      EC_ASSIGN_OR_RETURN(cp.security.capabilities_drop, getStringList(*caps, "drop", sp));
    }
  }
  return {};
}

// The kubelet's text checks of a subPath (kubelet_pods.go makeMounts); the on-disk check comes
// at container start (subpath.cc).
std::optional<std::string> subPathTextError(const std::string& sub) {
  if (sub.empty()) {
    return std::nullopt;
  }
  if (sub[0] == '/') {
    return "error SubPath `" + sub + "` must not be an absolute path";
  }
  size_t start = 0;
  while (start <= sub.size()) {
    size_t slash = sub.find('/', start);
    if (sub.substr(start, slash == std::string::npos ? sub.npos : slash - start) == "..") {
      return "unable to provision SubPath `" + sub + "`: must not contain '..'";
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (sub.find('\0') != std::string::npos || sub.size() > 4096) {
    return "unable to provision SubPath `" + sub + "`: invalid path";
  }
  return std::nullopt;
}

// Mounts: volumes, then /etc/hosts, then the termination log. A mount of a missing volume is the
// container's CreateContainerConfigError (returned, the other mounts still set).
Result<std::optional<PlanError>> addMounts(const PodContext& pc, const json& c,
                                           const std::string& path, ContainerPlan& cp) {
  EC_ASSIGN_OR_RETURN(auto vms, getArray(c, "volumeMounts", path));
  bool mounts_etc_hosts = false;
  std::optional<PlanError> mount_error;
  for (size_t index = 0; index < vms.size(); ++index) {
    const json* vm = vms[index];
    const std::string mp = path + ".volumeMounts";
    Mount m;
    EC_ASSIGN_OR_RETURN(auto vname, getString(*vm, "name", mp));
    EC_ASSIGN_OR_RETURN(m.container_path, getString(*vm, "mountPath", mp));
    EC_ASSIGN_OR_RETURN(m.readonly, getBool(*vm, "readOnly", mp));
    EC_ASSIGN_OR_RETURN(auto sub, getString(*vm, "subPath", mp));
    EC_ASSIGN_OR_RETURN(auto prop, getString(*vm, "mountPropagation", mp));
    if (m.container_path.empty() || m.container_path[0] != '/') {
      return planStatus(kReasonInvalidPodSpec, mp + ".mountPath: must be an absolute path");
    }
    auto vit = std::find_if(pc.volumes.begin(), pc.volumes.end(),
                            [&](const plan::VolumeInfo& v) { return v.name == vname; });
    if (vit == pc.volumes.end()) {
      mount_error = PlanError{
          std::string(kReasonCreateContainerConfigError),
          "cannot find volume \"" + vname + "\" to mount into container \"" + cp.name + "\""};
      continue;
    }
    if (auto bad = subPathTextError(sub)) {
      // Per container, with the kubelet's words (kubelet_pods.go makeMounts).
      mount_error = PlanError{std::string(kReasonCreateContainerConfigError), *bad};
      continue;
    }
    m.host_path = vit->host_path + (sub.empty() ? "" : "/" + sub);
    if (!sub.empty()) {
      m.sub_path = SubPathMount{vname, vit->host_path, sub, static_cast<int>(index)};
    }
    // The kubelet's configMap/secret/downwardAPI/projected mounters report ReadOnly, so these
    // are always read-only (kubelet_pods.go makeMounts: mount.ReadOnly || mustMountRO): a
    // container must not rewrite what edged writes there for the others.
    m.readonly = m.readonly || vit->type == "configMap" || vit->type == "secret" ||
                 vit->type == "downwardAPI" || vit->type == "projected";
    m.propagation = prop == "HostToContainer" ? 1 : prop == "Bidirectional" ? 2 : 0;
    if (m.container_path == "/etc/hosts") {
      mounts_etc_hosts = true;
    }
    cp.mounts.push_back(std::move(m));
  }
  if (!mounts_etc_hosts) {
    Mount m;
    m.container_path = "/etc/hosts";
    m.host_path = plan::podDir(pc.in, pc.uid) + "/etc-hosts";
    cp.mounts.push_back(std::move(m));
  }
  if (!cp.termination_message_path.empty()) {
    cp.termination_log_host_path =
        plan::podDir(pc.in, pc.uid) + "/containers/" + cp.name + "/" + randomHex(8);
    Mount m;
    m.container_path = cp.termination_message_path;
    m.host_path = cp.termination_log_host_path;
    cp.mounts.push_back(std::move(m));
  }
  return mount_error;
}

// The image with the kubelet's default tag and the pull policy; false (cp.error set) for an
// invalid reference.
Result<bool> setImage(const json& c, const std::string& path, ContainerPlan& cp) {
  EC_ASSIGN_OR_RETURN(auto image, getString(c, "image", path));
  EC_ASSIGN_OR_RETURN(auto policy, getString(c, "imagePullPolicy", path));
  bool tagged = false;
  bool digested = false;
  if (!validImageReference(image, &tagged, &digested)) {
    cp.image = image;
    cp.error = PlanError{std::string(kReasonInvalidImageName),
                         "Failed to apply default image tag \"" + image +
                             "\": couldn't parse image reference \"" + image +
                             "\": invalid reference format"};
    return false;
  }
  cp.image = (tagged || digested) ? image : image + ":latest";
  const bool latest = !digested && (!tagged || cp.image.ends_with(":latest"));
  if (policy.empty()) {
    cp.pull_policy = latest ? PullPolicy::Always : PullPolicy::IfNotPresent;
  } else if (policy == "Always") {
    cp.pull_policy = PullPolicy::Always;
  } else if (policy == "IfNotPresent") {
    cp.pull_policy = PullPolicy::IfNotPresent;
  } else if (policy == "Never") {
    cp.pull_policy = PullPolicy::Never;
  } else {
    return planStatus(kReasonInvalidPodSpec,
                      path + ".imagePullPolicy: unsupported value \"" + policy + "\"");
  }
  return true;
}

// Env, then command and args with $(VAR) expanded. A missing configmap/secret or key is the
// container's error (cp.error), an invalid spec the pod's (returned).
Status setEnvAndCommand(PodContext& pc, const json& c, const std::string& path, ContainerPlan& cp) {
  auto env = buildEnv(pc.pod, c, pc.ns, path, pc.in, pc.cache, &pc.needs_pod_ip);
  if (!env.ok()) {
    PlanError e = planErrorFromStatus(env.status());
    if (e.reason == kReasonInvalidPodSpec) {
      return env.status();
    }
    cp.error = std::move(e);
    return {};
  }
  cp.envs = std::move(*env);
  std::map<std::string, std::string> env_map;
  for (const auto& kv : cp.envs) {
    env_map[kv.key] = kv.value;
  }
  auto lookup = [&](std::string_view k) -> std::optional<std::string> {
    auto it = env_map.find(std::string(k));
    if (it == env_map.end()) return std::nullopt;
    return it->second;
  };
  EC_ASSIGN_OR_RETURN(auto command, getStringList(c, "command", path));
  EC_ASSIGN_OR_RETURN(auto args, getStringList(c, "args", path));
  for (auto& s : command) cp.command.push_back(expandVars(s, lookup));
  for (auto& s : args) cp.args.push_back(expandVars(s, lookup));
  return {};
}

Result<ContainerPlan> buildContainer(PodContext& pc, const json& c, const std::string& path,
                                     bool is_init, const Res& res) {
  ContainerPlan cp;
  cp.is_init = is_init;
  EC_RETURN_IF_ERROR(readContainerBasics(pc, c, path, cp));
  setContainerResources(pc, res, cp);
  EC_RETURN_IF_ERROR(setSecurityContext(pc, c, path, cp));
  EC_ASSIGN_OR_RETURN(std::optional<PlanError> mount_error, addMounts(pc, c, path, cp));
  // Image, then env and command expansion: these can fail per container.
  EC_ASSIGN_OR_RETURN(bool image_ok, setImage(c, path, cp));
  if (!image_ok) {
    return cp;
  }
  if (mount_error) {
    cp.error = mount_error;
    return cp;
  }
  EC_RETURN_IF_ERROR(setEnvAndCommand(pc, c, path, cp));
  return cp;
}

}  // namespace

// Over 80 lines: one try block (JSON type errors become InvalidPodSpec) reading the pod spec
// field by field in the order of generatePodSandboxConfig; the containers are buildContainer.
Result<PodPlan> buildPodPlan(const json& pod, const PlanInputs& in) {
  try {
    if (!pod.is_object()) {
      return planStatus(kReasonInvalidPodSpec, "pod: expected an object");
    }
    const json* meta = child(pod, "metadata");
    const json* spec = child(pod, "spec");
    if (meta == nullptr || !meta->is_object() || spec == nullptr || !spec->is_object()) {
      return planStatus(kReasonInvalidPodSpec, "pod: metadata and spec are required objects");
    }
    EC_ASSIGN_OR_RETURN(auto name, getString(*meta, "name", "metadata"));
    EC_ASSIGN_OR_RETURN(auto ns, getString(*meta, "namespace", "metadata", "default"));
    EC_ASSIGN_OR_RETURN(auto uid, getString(*meta, "uid", "metadata"));
    if (!plan::isDns1123Subdomain(name)) {
      return planStatus(kReasonInvalidPodSpec, "metadata.name: invalid pod name \"" + name + "\"");
    }
    if (!plan::isDns1123Label(ns)) {
      return planStatus(kReasonInvalidPodSpec,
                        "metadata.namespace: invalid namespace \"" + ns + "\"");
    }
    if (uid.empty() || uid.size() > 128 || !std::all_of(uid.begin(), uid.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-';
        })) {
      return planStatus(kReasonInvalidPodSpec, "metadata.uid: invalid uid \"" + uid + "\"");
    }

    PodPlan p;
    PodContext pc{pod,   *spec, ns, name, uid, in, {},   QosClass::BestEffort, false, false,
                  false, {},    {}, {},   {},  {}, false};
    EC_ASSIGN_OR_RETURN(pc.host_network, getBool(*spec, "hostNetwork", "spec"));
    EC_ASSIGN_OR_RETURN(pc.host_pid, getBool(*spec, "hostPID", "spec"));
    EC_ASSIGN_OR_RETURN(pc.host_ipc, getBool(*spec, "hostIPC", "spec"));
    EC_ASSIGN_OR_RETURN(pc.grace, getOptInt(*spec, "terminationGracePeriodSeconds", "spec"));
    EC_ASSIGN_OR_RETURN(pc.volumes, plan::podVolumes(pod, in));

    std::map<std::string, std::string> sysctls;
    if (const json* psc = child(*spec, "securityContext")) {
      EC_ASSIGN_OR_RETURN(pc.pod_run_as_user, getOptInt(*psc, "runAsUser", "spec.securityContext"));
      EC_ASSIGN_OR_RETURN(pc.pod_run_as_group,
                          getOptInt(*psc, "runAsGroup", "spec.securityContext"));
      EC_ASSIGN_OR_RETURN(auto groups,
                          getArray(*psc, "supplementalGroups", "spec.securityContext"));
      for (const json* g : groups) {
        if (!g->is_number_integer()) {
          return planStatus(kReasonInvalidPodSpec,
                            "spec.securityContext.supplementalGroups: expected integers");
        }
        pc.supplemental_groups.push_back(g->get<int64_t>());
      }
      EC_ASSIGN_OR_RETURN(auto fs_group, getOptInt(*psc, "fsGroup", "spec.securityContext"));
      if (fs_group) pc.supplemental_groups.push_back(*fs_group);
      EC_ASSIGN_OR_RETURN(auto sys, getArray(*psc, "sysctls", "spec.securityContext"));
      for (const json* s : sys) {
        EC_ASSIGN_OR_RETURN(auto sn, getString(*s, "name", "spec.securityContext.sysctls"));
        EC_ASSIGN_OR_RETURN(auto sv, getString(*s, "value", "spec.securityContext.sysctls"));
        sysctls[sn] = sv;
      }
    }

    EC_ASSIGN_OR_RETURN(auto inits, getArray(*spec, "initContainers", "spec"));
    EC_ASSIGN_OR_RETURN(auto mains, getArray(*spec, "containers", "spec"));
    if (mains.empty()) {
      return planStatus(kReasonInvalidPodSpec, "spec.containers: at least one container required");
    }
    std::vector<Res> init_res;
    std::vector<Res> main_res;
    std::vector<Res> all;
    for (size_t i = 0; i < inits.size(); ++i) {
      EC_ASSIGN_OR_RETURN(
          auto r, containerRes(*inits[i], "spec.initContainers[" + std::to_string(i) + "]"));
      init_res.push_back(r);
      all.push_back(r);
    }
    for (size_t i = 0; i < mains.size(); ++i) {
      EC_ASSIGN_OR_RETURN(auto r,
                          containerRes(*mains[i], "spec.containers[" + std::to_string(i) + "]"));
      main_res.push_back(r);
      all.push_back(r);
    }
    pc.qos = computeQos(all);
    p.qos = pc.qos;

    std::set<std::string> names;
    for (size_t i = 0; i < inits.size(); ++i) {
      EC_ASSIGN_OR_RETURN(
          auto c, buildContainer(pc, *inits[i], "spec.initContainers[" + std::to_string(i) + "]",
                                 true, init_res[i]));
      if (!names.insert(c.name).second) {
        return planStatus(kReasonInvalidPodSpec, "duplicate container name \"" + c.name + "\"");
      }
      p.init_containers.push_back(std::move(c));
    }
    for (size_t i = 0; i < mains.size(); ++i) {
      EC_ASSIGN_OR_RETURN(
          auto c, buildContainer(pc, *mains[i], "spec.containers[" + std::to_string(i) + "]", false,
                                 main_res[i]));
      if (!names.insert(c.name).second) {
        return planStatus(kReasonInvalidPodSpec, "duplicate container name \"" + c.name + "\"");
      }
      p.containers.push_back(std::move(c));
    }

    EC_ASSIGN_OR_RETURN(auto restart, getString(*spec, "restartPolicy", "spec", "Always"));
    if (restart == "Always") {
      p.restart_policy = RestartPolicy::Always;
    } else if (restart == "OnFailure") {
      p.restart_policy = RestartPolicy::OnFailure;
    } else if (restart == "Never") {
      p.restart_policy = RestartPolicy::Never;
    } else {
      return planStatus(kReasonInvalidPodSpec,
                        "spec.restartPolicy: unsupported value \"" + restart + "\"");
    }
    p.termination_grace_period_seconds = std::max<int64_t>(0, pc.grace.value_or(30));
    p.pod_dir = plan::podDir(in, uid);
    p.etc_hosts = p.pod_dir + "/etc-hosts";

    // Sandbox.
    SandboxPlan& s = p.sandbox;
    s.name = name;
    s.ns = ns;
    s.uid = uid;
    s.log_directory = in.pod_logs_dir + "/" + ns + "_" + name + "_" + uid;
    s.host_network = pc.host_network;
    s.host_pid = pc.host_pid;
    s.host_ipc = pc.host_ipc;
    s.network_mode = pc.host_network ? NamespaceMode::Node : NamespaceMode::Pod;
    s.pid_mode = pc.host_pid ? NamespaceMode::Node : NamespaceMode::Container;
    s.ipc_mode = pc.host_ipc ? NamespaceMode::Node : NamespaceMode::Pod;
    if (!pc.host_network) {
      EC_ASSIGN_OR_RETURN(auto hn, getString(*spec, "hostname", "spec"));
      if (!hn.empty() && !plan::isDns1123Label(hn)) {
        return planStatus(kReasonInvalidPodSpec, "spec.hostname: not a valid DNS label");
      }
      std::string host = hn.empty() ? name : hn;
      if (host.size() > 63) {
        host.resize(63);
        while (!host.empty() && (host.back() == '-' || host.back() == '.')) host.pop_back();
      }
      s.hostname = host;
    }
    EC_ASSIGN_OR_RETURN(s.dns, podDns(*spec, ns, pc.host_network, in));
    for (const auto& c : p.containers) {
      for (const auto& port : c.ports) {
        PortMapping pm;
        pm.protocol = port.protocol;
        pm.container_port = port.container_port;
        pm.host_port = port.host_port;
        pm.host_ip = port.host_ip;
        s.port_mappings.push_back(pm);
      }
    }
    EC_ASSIGN_OR_RETURN(s.labels, getStringMap(*meta, "labels", "metadata"));
    EC_ASSIGN_OR_RETURN(s.annotations, getStringMap(*meta, "annotations", "metadata"));
    s.labels["io.kubernetes.pod.name"] = name;
    s.labels["io.kubernetes.pod.namespace"] = ns;
    s.labels["io.kubernetes.pod.uid"] = uid;
    s.cgroup_parent = cgroupParent(p.qos, uid, in);
    s.sysctls = std::move(sysctls);
    s.run_as_user = pc.pod_run_as_user;
    s.run_as_group = pc.pod_run_as_group;
    s.supplemental_groups = pc.supplemental_groups;
    for (const auto* list : {&p.init_containers, &p.containers}) {
      for (const auto& c : *list) {
        s.privileged = s.privileged || c.security.privileged;
      }
    }
    p.needs_pod_ips = pc.needs_pod_ip || (!pc.host_network && in.pod_ips.empty());
    return p;
  } catch (const std::exception& e) {
    // nlohmann throws only on type confusion we did not foresee: still a bad spec, not a crash.
    return planStatus(kReasonInvalidPodSpec, std::string("malformed pod: ") + e.what());
  }
}

}  // namespace edgecore::edged
