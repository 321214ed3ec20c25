// A minimal PodPlan translation, compiled only while src/edged/podplan/ has no implementation
// (the full one, with volumes, env sources, resources and security contexts, lives there).
// Covers: names, labels/annotations, hostNetwork, restartPolicy, grace period, init containers,
// image + pull policy, command/args/workingDir, env values, probes and hooks (exec, httpGet,
// tcpSocket), the container hash.

#include <filesystem>
#include <string>

#include "podplan/pod_plan.h"

namespace edgecore::edged {

using json = nlohmann::json;

namespace {

std::string str(const json& j, const char* key, std::string fallback = "") {
  if (j.is_object() && j.contains(key) && j[key].is_string()) {
    return j[key].get<std::string>();
  }
  return fallback;
}

const json& sub(const json& j, const char* key) {
  static const json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

std::vector<std::string> strings(const json& j) {
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

std::string fnv32(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%x", h);
  return buf;
}

std::string normaliseImage(std::string image) {
  std::string name = image;
  auto slash = name.find('/');
  if (slash == std::string::npos ||
      (name.find('.') > slash && name.find(':') > slash && name.substr(0, slash) != "localhost")) {
    name = (slash == std::string::npos ? "docker.io/library/" : "docker.io/") + name;
  }
  auto last_slash = name.rfind('/');
  if (name.find(':', last_slash) == std::string::npos && name.find('@') == std::string::npos) {
    name += ":latest";
  }
  return name;
}

std::optional<Action> action(const json& a) {
  if (!a.is_object()) {
    return std::nullopt;
  }
  Action out;
  if (a.contains("exec")) {
    out.kind = Action::Kind::Exec;
    out.command = strings(sub(a["exec"], "command"));
  } else if (a.contains("httpGet")) {
    out.kind = Action::Kind::HttpGet;
    const json& h = a["httpGet"];
    out.host = str(h, "host");
    out.path = str(h, "path", "/");
    if (sub(h, "port").is_number_integer()) {
      out.port = h["port"].get<int32_t>();
    }
  } else if (a.contains("tcpSocket")) {
    out.kind = Action::Kind::TcpSocket;
    const json& t = a["tcpSocket"];
    out.host = str(t, "host");
    if (sub(t, "port").is_number_integer()) {
      out.port = t["port"].get<int32_t>();
    }
  } else {
    return std::nullopt;
  }
  return out;
}

std::optional<ProbeSpec> probe(const json& p) {
  auto a = action(p);
  if (!a) {
    return std::nullopt;
  }
  ProbeSpec s;
  s.action = *a;
  auto num = [&](const char* k, int32_t def) {
    return sub(p, k).is_number_integer() ? p[k].get<int32_t>() : def;
  };
  s.initial_delay_seconds = num("initialDelaySeconds", 0);
  s.timeout_seconds = num("timeoutSeconds", 1);
  s.period_seconds = num("periodSeconds", 10);
  s.success_threshold = num("successThreshold", 1);
  s.failure_threshold = num("failureThreshold", 3);
  return s;
}

Result<ContainerPlan> container(const json& c, bool init, const PodPlan& pod,
                                const PlanInputs& in) {
  ContainerPlan p;
  p.name = str(c, "name");
  if (p.name.empty()) {
    return core::invalidArgument("InvalidPodSpec: container without a name");
  }
  p.is_init = init;
  std::string image = str(c, "image");
  if (image.empty()) {
    p.error = PlanError{std::string(kReasonInvalidImageName), "container has no image"};
  }
  p.image = image.empty() ? "" : normaliseImage(image);
  std::string policy = str(c, "imagePullPolicy");
  bool latest = p.image.size() >= 7 && p.image.compare(p.image.size() - 7, 7, ":latest") == 0;
  p.pull_policy = policy == "Always"         ? PullPolicy::Always
                  : policy == "Never"        ? PullPolicy::Never
                  : policy == "IfNotPresent" ? PullPolicy::IfNotPresent
                  : latest                   ? PullPolicy::Always
                                             : PullPolicy::IfNotPresent;
  p.command = strings(sub(c, "command"));
  p.args = strings(sub(c, "args"));
  p.working_dir = str(c, "workingDir");
  if (sub(c, "env").is_array()) {
    for (const auto& e : c["env"]) {
      if (e.is_object() && e.contains("name") && e["name"].is_string()) {
        p.envs.push_back({e["name"].get<std::string>(), str(e, "value")});
      }
    }
  }
  p.security.network_mode = pod.sandbox.network_mode;
  p.liveness = probe(sub(c, "livenessProbe"));
  p.readiness = probe(sub(c, "readinessProbe"));
  p.startup = probe(sub(c, "startupProbe"));
  p.post_start = action(sub(sub(c, "lifecycle"), "postStart"));
  p.pre_stop = action(sub(sub(c, "lifecycle"), "preStop"));
  p.hash = fnv32(c.dump());
  p.labels = {{"io.kubernetes.pod.name", pod.sandbox.name},
              {"io.kubernetes.pod.namespace", pod.sandbox.ns},
              {"io.kubernetes.pod.uid", pod.sandbox.uid},
              {"io.kubernetes.container.name", p.name}};
  p.annotations = {
      {"io.kubernetes.container.hash", p.hash},
      {"io.kubernetes.container.terminationMessagePath", p.termination_message_path},
      {"io.kubernetes.container.terminationMessagePolicy", p.termination_message_policy},
      {"io.kubernetes.pod.terminationGracePeriod",
       std::to_string(pod.termination_grace_period_seconds)}};
  (void)in;
  setContainerAttempt(p, 0);
  return p;
}

}  // namespace

PlanError planErrorFromStatus(const Status& status) {
  const std::string& m = status.message();
  auto colon = m.find(": ");
  if (colon != std::string::npos && colon < 40 && m.find(' ') >= colon) {
    return {m.substr(0, colon), m.substr(colon + 2)};
  }
  return {std::string(kReasonInvalidPodSpec), m};
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

std::unique_ptr<ObjectSource> makeMetaStoreObjectSource(metamanager::MetaStore&) { return nullptr; }

Result<PodPlan> buildPodPlan(const json& pod, const PlanInputs& in) {
  if (!pod.is_object()) {
    return core::invalidArgument("InvalidPodSpec: pod is not an object");
  }
  const json& md = sub(pod, "metadata");
  const json& spec = sub(pod, "spec");
  PodPlan plan;
  SandboxPlan& s = plan.sandbox;
  s.name = str(md, "name");
  s.ns = str(md, "namespace", "default");
  s.uid = str(md, "uid");
  if (s.name.empty() || s.uid.empty() || !spec.is_object()) {
    return core::invalidArgument("InvalidPodSpec: pod needs metadata.name, metadata.uid, spec");
  }
  if (s.name.size() > 253 || s.name.find('/') != std::string::npos ||
      s.ns.find('/') != std::string::npos) {
    return core::invalidArgument("InvalidPodSpec: invalid pod name \"" + s.name + "\"");
  }
  s.host_network = sub(spec, "hostNetwork").is_boolean() && spec["hostNetwork"].get<bool>();
  s.network_mode = s.host_network ? NamespaceMode::Node : NamespaceMode::Pod;
  s.hostname = s.host_network ? "" : s.name;
  s.log_directory = in.pod_logs_dir + "/" + s.ns + "_" + s.name + "_" + s.uid;
  if (sub(md, "labels").is_object()) {
    for (const auto& [k, v] : md["labels"].items()) {
      if (v.is_string()) {
        s.labels[k] = v.get<std::string>();
      }
    }
  }
  if (sub(md, "annotations").is_object()) {
    for (const auto& [k, v] : md["annotations"].items()) {
      if (v.is_string()) {
        s.annotations[k] = v.get<std::string>();
      }
    }
  }
  s.labels["io.kubernetes.pod.name"] = s.name;
  s.labels["io.kubernetes.pod.namespace"] = s.ns;
  s.labels["io.kubernetes.pod.uid"] = s.uid;
  std::string rp = str(spec, "restartPolicy", "Always");
  plan.restart_policy = rp == "Never"       ? RestartPolicy::Never
                        : rp == "OnFailure" ? RestartPolicy::OnFailure
                                            : RestartPolicy::Always;
  if (sub(spec, "terminationGracePeriodSeconds").is_number_integer()) {
    plan.termination_grace_period_seconds = spec["terminationGracePeriodSeconds"].get<int64_t>();
  }
  plan.pod_dir = in.root_directory + "/pods/" + s.uid;
  if (!sub(spec, "containers").is_array() || spec["containers"].empty()) {
    return core::invalidArgument("InvalidPodSpec: spec.containers is empty");
  }
  for (const auto& c : sub(spec, "initContainers")) {
    EC_ASSIGN_OR_RETURN(auto p, container(c, true, plan, in));
    plan.init_containers.push_back(std::move(p));
  }
  for (const auto& c : spec["containers"]) {
    EC_ASSIGN_OR_RETURN(auto p, container(c, false, plan, in));
    plan.containers.push_back(std::move(p));
  }
  return plan;
}

Status prepareVolumes(const json&, const PodPlan& plan, const PlanInputs&) {
  std::error_code ec;
  std::filesystem::create_directories(plan.pod_dir, ec);
  return {};
}

Status removePodDir(const std::string& root_directory, const std::string& uid) {
  if (uid.empty() || uid.find('/') != std::string::npos || uid == "..") {
    return core::invalidArgument("bad uid");
  }
  std::error_code ec;
  std::filesystem::remove_all(root_directory + "/pods/" + uid, ec);
  return {};
}

}  // namespace edgecore::edged
