// A container's environment (kubelet kubelet_pods.go makeEnvironmentVariables): envFrom, then
// env with value, configMapKeyRef, secretKeyRef, fieldRef and resourceFieldRef, $(VAR)
// expansion, and the configmap/secret payloads it reads (cached per plan in ObjectCache).
// Called by buildContainer (pod_plan.cc).

#include <cstdlib>

#include "podplan/plan_util.h"

namespace edgecore::edged::plan {

namespace {

// Ordered env with replace-in-place semantics.
class EnvBuilder {
 public:
  void set(const std::string& k, std::string v) {
    auto it = index_.find(k);
    bytes_ += k.size() + v.size();
    if (it != index_.end()) {
      envs_[it->second].value = std::move(v);
    } else {
      index_.emplace(k, envs_.size());
      envs_.push_back({k, std::move(v)});
    }
  }
  std::optional<std::string> get(std::string_view k) const {
    auto it = index_.find(std::string(k));
    if (it == index_.end()) return std::nullopt;
    return envs_[it->second].value;
  }
  size_t bytes() const { return bytes_; }
  std::vector<KeyValue> take() { return std::move(envs_); }

 private:
  std::vector<KeyValue> envs_;
  std::map<std::string, size_t> index_;
  size_t bytes_ = 0;
};

// Loads a configmap or secret payload; NotFound stays NotFound (message "configmap \"x\" not
// found" like the kubelet's); other errors become CreateContainerConfigError messages.
Result<std::map<std::string, std::string>> loadPayload(const PlanInputs& in, ObjectCache& cache,
                                                       bool secret, const std::string& ns,
                                                       const std::string& name) {
  const std::string key = (secret ? "s/" : "c/") + name;
  auto it = cache.entries.find(key);
  if (it != cache.entries.end()) {
    return it->second;
  }
  const char* kind = secret ? "secret" : "configmap";
  auto put = [&](Result<std::map<std::string, std::string>> r) {
    cache.entries.emplace(key, r);
    return r;
  };
  if (in.objects == nullptr) {
    return put(
        Status(core::StatusCode::NotFound, std::string(kind) + " \"" + name + "\" not found"));
  }
  auto obj = secret ? in.objects->getSecret(ns, name) : in.objects->getConfigMap(ns, name);
  if (!obj.ok()) {
    if (obj.status().code() == core::StatusCode::NotFound) {
      return put(
          Status(core::StatusCode::NotFound, std::string(kind) + " \"" + name + "\" not found"));
    }
    return put(Status(obj.status().code(), std::string("couldn't get ") + kind + " " + ns + "/" +
                                               name + ": " + obj.status().message()));
  }
  auto payload = secret ? plan::secretPayload(*obj) : plan::configMapPayload(*obj);
  if (!payload.ok()) {
    return put(Status(core::StatusCode::InvalidArgument, std::string(kind) + " " + ns + "/" + name +
                                                             ": " + payload.status().message()));
  }
  return put(std::move(payload));
}

// With requireAuthorization MetaServer listens on the dummy interface and publishes its address
// in the process environment (set once while modules are created, before any pod is planned);
// pods then find "the API server" there (KubeEdge's kubelet_pods.go makeEnvironmentVariables
// appends KUBERNETES_SERVICE_HOST/PORT from METASERVER_DUMMY_IP/PORT after the pod's own env).
// v1.20 appends them even when unset, giving pods an empty KUBERNETES_SERVICE_HOST; we add them
// only when MetaServer set them.
void addMetaServerService(EnvBuilder& env) {
  const char* ip = std::getenv("METASERVER_DUMMY_IP");
  const char* port = std::getenv("METASERVER_DUMMY_PORT");
  if (ip == nullptr || *ip == '\0' || port == nullptr || *port == '\0') return;
  env.set("KUBERNETES_SERVICE_HOST", ip);
  env.set("KUBERNETES_SERVICE_PORT", port);
}

Status containerConfigError(std::string msg) {
  return planStatus(kReasonCreateContainerConfigError, msg);
}

}  // namespace

Result<std::vector<KeyValue>> buildEnv(const json& pod, const json& c, const std::string& ns,
                                       const std::string& path, const PlanInputs& in,
                                       ObjectCache& cache, bool* needs_pod_ip) {
  EnvBuilder env;
  EC_ASSIGN_OR_RETURN(auto from, getArray(c, "envFrom", path));
  for (const json* f : from) {
    EC_ASSIGN_OR_RETURN(auto prefix, getString(*f, "prefix", path + ".envFrom"));
    const json* cm = child(*f, "configMapRef");
    const json* sec = child(*f, "secretRef");
    const json* ref = cm ? cm : sec;
    if (ref == nullptr) {
      continue;
    }
    EC_ASSIGN_OR_RETURN(auto name, getString(*ref, "name", path + ".envFrom"));
    EC_ASSIGN_OR_RETURN(auto optional, getBool(*ref, "optional", path + ".envFrom"));
    auto payload = loadPayload(in, cache, cm == nullptr, ns, name);
    if (!payload.ok()) {
      if (optional && payload.status().code() == core::StatusCode::NotFound) {
        continue;
      }
      return containerConfigError(payload.status().message());
    }
    for (const auto& [k, v] : *payload) {
      const std::string key = prefix + k;
      if (!plan::isEnvVarName(key)) {
        continue;  // the kubelet skips invalid keys (and records an event)
      }
      env.set(key, v);
      if (env.bytes() > in.max_env_bytes) {
        return containerConfigError("environment of container exceeds " +
                                    std::to_string(in.max_env_bytes) + " bytes");
      }
    }
  }
  EC_ASSIGN_OR_RETURN(auto vars, getArray(c, "env", path));
  for (const json* e : vars) {
    const std::string ep = path + ".env";
    EC_ASSIGN_OR_RETURN(auto name, getString(*e, "name", ep));
    if (name.empty()) {
      return planStatus(kReasonInvalidPodSpec, ep + ": name is required");
    }
    const json* vf = child(*e, "valueFrom");
    if (vf == nullptr) {
      EC_ASSIGN_OR_RETURN(auto value, getString(*e, "value", ep));
      env.set(name, expandVars(value, [&](std::string_view k) { return env.get(k); }));
    } else if (const json* ref = child(*vf, "configMapKeyRef") ? child(*vf, "configMapKeyRef")
                                                               : child(*vf, "secretKeyRef")) {
      const bool secret = child(*vf, "configMapKeyRef") == nullptr;
      EC_ASSIGN_OR_RETURN(auto obj_name, getString(*ref, "name", ep));
      EC_ASSIGN_OR_RETURN(auto key, getString(*ref, "key", ep));
      EC_ASSIGN_OR_RETURN(auto optional, getBool(*ref, "optional", ep));
      auto payload = loadPayload(in, cache, secret, ns, obj_name);
      if (!payload.ok()) {
        if (optional && payload.status().code() == core::StatusCode::NotFound) {
          continue;
        }
        return containerConfigError(payload.status().message());
      }
      auto it = payload->find(key);
      if (it == payload->end()) {
        if (optional) {
          continue;
        }
        return containerConfigError("couldn't find key " + key + " in " +
                                    (secret ? "Secret " : "ConfigMap ") + ns + "/" + obj_name);
      }
      env.set(name, it->second);
    } else if (const json* fr = child(*vf, "fieldRef")) {
      EC_ASSIGN_OR_RETURN(auto fp, getString(*fr, "fieldPath", ep));
      EC_ASSIGN_OR_RETURN(auto v, plan::fieldRefValue(pod, fp, in, needs_pod_ip));
      env.set(name, std::move(v));
    } else if (const json* rr = child(*vf, "resourceFieldRef")) {
      EC_ASSIGN_OR_RETURN(auto resource, getString(*rr, "resource", ep));
      std::string divisor = "1";
      if (const json* d = child(*rr, "divisor")) {
        divisor = d->is_string() ? d->get<std::string>() : d->dump();
      }
      EC_ASSIGN_OR_RETURN(auto v, plan::resourceFieldValue(c, resource, divisor, in));
      env.set(name, std::move(v));
    }
    if (env.bytes() > in.max_env_bytes) {
      return containerConfigError("environment of container exceeds " +
                                  std::to_string(in.max_env_bytes) + " bytes");
    }
  }
  addMetaServerService(env);
  return env.take();
}

}  // namespace edgecore::edged::plan
