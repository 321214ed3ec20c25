// Which configmaps and secrets a pod needs, and an ObjectSource over what edged fetched for one
// pod sync (through metamanager, so from the cloud while connected) in front of the store.

#include <map>
#include <optional>
#include <set>
#include <utility>

#include "podplan/pod_plan.h"

namespace edgecore::edged {
namespace {

using nlohmann::json;

const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) {
    return kNull;
  }
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string stringField(const json& j, const char* key) {
  const json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

class RefCollector {
 public:
  void add(ObjectRef::Kind kind, std::string name) {
    if (!name.empty() && seen_.insert({kind, name}).second) {
      refs_.push_back({kind, std::move(name)});
    }
  }
  std::vector<ObjectRef> take() { return std::move(refs_); }

 private:
  std::set<std::pair<ObjectRef::Kind, std::string>> seen_;
  std::vector<ObjectRef> refs_;
};

void collectVolumes(const json& spec, RefCollector& out) {
  const json& volumes = field(spec, "volumes");
  if (!volumes.is_array()) {
    return;
  }
  for (const auto& v : volumes) {
    out.add(ObjectRef::Kind::ConfigMap, stringField(field(v, "configMap"), "name"));
    out.add(ObjectRef::Kind::Secret, stringField(field(v, "secret"), "secretName"));
    const json& sources = field(field(v, "projected"), "sources");
    if (sources.is_array()) {
      for (const auto& s : sources) {
        out.add(ObjectRef::Kind::ConfigMap, stringField(field(s, "configMap"), "name"));
        out.add(ObjectRef::Kind::Secret, stringField(field(s, "secret"), "name"));
      }
    }
  }
}

void collectContainers(const json& containers, RefCollector& out) {
  if (!containers.is_array()) {
    return;
  }
  for (const auto& c : containers) {
    const json& from = field(c, "envFrom");
    if (from.is_array()) {
      for (const auto& f : from) {
        out.add(ObjectRef::Kind::ConfigMap, stringField(field(f, "configMapRef"), "name"));
        out.add(ObjectRef::Kind::Secret, stringField(field(f, "secretRef"), "name"));
      }
    }
    const json& env = field(c, "env");
    if (env.is_array()) {
      for (const auto& e : env) {
        const json& value_from = field(e, "valueFrom");
        out.add(ObjectRef::Kind::ConfigMap,
                stringField(field(value_from, "configMapKeyRef"), "name"));
        out.add(ObjectRef::Kind::Secret, stringField(field(value_from, "secretKeyRef"), "name"));
      }
    }
  }
}

std::string refKey(ObjectRef::Kind kind, std::string_view name) {
  std::string key(kind == ObjectRef::Kind::Secret ? "secret/" : "configmap/");
  key += name;
  return key;
}

class FetchedObjectSource : public ObjectSource {
 public:
  FetchedObjectSource(std::map<std::string, Result<nlohmann::json>> fetched, ObjectSource* fallback)
      : fetched_(std::move(fetched)), fallback_(fallback) {}

  Result<nlohmann::json> getConfigMap(std::string_view ns, std::string_view name) override {
    return get(ObjectRef::Kind::ConfigMap, ns, name);
  }
  Result<nlohmann::json> getSecret(std::string_view ns, std::string_view name) override {
    return get(ObjectRef::Kind::Secret, ns, name);
  }

 private:
  Result<nlohmann::json> get(ObjectRef::Kind kind, std::string_view ns, std::string_view name) {
    if (auto it = fetched_.find(refKey(kind, name)); it != fetched_.end()) {
      return it->second;
    }
    const bool secret = kind == ObjectRef::Kind::Secret;
    if (fallback_ == nullptr) {
      return notFound(std::string(secret ? "secret" : "configmap") + " \"" + std::string(name) +
                      "\" not found");
    }
    return secret ? fallback_->getSecret(ns, name) : fallback_->getConfigMap(ns, name);
  }

  std::map<std::string, Result<nlohmann::json>> fetched_;
  ObjectSource* fallback_;
};

}  // namespace

std::vector<ObjectRef> referencedObjects(const nlohmann::json& pod) {
  RefCollector out;
  const json& spec = field(pod, "spec");
  collectVolumes(spec, out);
  collectContainers(field(spec, "initContainers"), out);
  collectContainers(field(spec, "containers"), out);
  const json& pull = field(spec, "imagePullSecrets");
  if (pull.is_array()) {
    for (const auto& s : pull) {
      out.add(ObjectRef::Kind::Secret, stringField(s, "name"));
    }
  }
  return out.take();
}

std::optional<Result<nlohmann::json>> objectFromQueryAnswer(const nlohmann::json& content,
                                                            const ObjectRef& ref) {
  const char* kind = ref.kind == ObjectRef::Kind::Secret ? "secret" : "configmap";
  auto missing = [&] {
    return Result<json>(notFound(std::string(kind) + " \"" + ref.name + "\" not found"));
  };
  if (content.is_array()) {  // metamanager's answer from the store: the rows' JSON texts
    if (content.empty()) {
      return missing();
    }
    if (!content[0].is_string()) {
      return std::nullopt;
    }
    json obj = json::parse(content[0].get<std::string>(), nullptr, false);
    if (!obj.is_object()) {
      return std::nullopt;
    }
    return Result<json>(std::move(obj));
  }
  if (!content.is_object()) {
    return std::nullopt;  // an error text ("failed to process remote: ...")
  }
  if (auto err = content.find("ErrStatus"); err != content.end()) {
    // The cloud's kube-apiserver error, as CloudCore marshals a StatusError.
    if (err->is_object() && err->value("reason", "") == "NotFound") {
      return missing();
    }
    return std::nullopt;  // another failure up there: what the store holds is still true
  }
  if (content.contains("metadata")) {
    return Result<json>(content);
  }
  return std::nullopt;
}

std::unique_ptr<ObjectSource> makeFetchedObjectSource(FetchedObjects fetched,
                                                      ObjectSource* fallback) {
  std::map<std::string, Result<nlohmann::json>> by_key;
  for (auto& [ref, value] : fetched) {
    by_key.emplace(refKey(ref.kind, ref.name), std::move(value));
  }
  return std::make_unique<FetchedObjectSource>(std::move(by_key), fallback);
}

}  // namespace edgecore::edged
