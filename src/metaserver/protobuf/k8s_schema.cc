#include "k8s_schema.h"

#include <string>
#include <utility>

#include "descriptor_pool.h"

namespace edgecore::metaserver::protobuf {
namespace {

constexpr std::string_view kCore = "k8s.io.api.core.v1.";
constexpr std::string_view kMeta = "k8s.io.apimachinery.pkg.apis.meta.v1.";

// Fields whose struct Go embeds with `json:",inline"`: in JSON their members sit in the parent.
// From k8s.io/api core/v1 and coordination/v1 and apimachinery meta/v1 types.go at v0.32.9
// (coordination and meta have none besides TypeMeta, which has no proto field here).
constexpr std::pair<std::string_view, std::string_view> kInlineFields[] = {
    {"Volume", "volumeSource"},
    {"PersistentVolumeSpec", "persistentVolumeSource"},
    {"Probe", "handler"},
    {"EphemeralContainer", "ephemeralContainerCommon"},
    {"ConfigMapEnvSource", "localObjectReference"},
    {"ConfigMapKeySelector", "localObjectReference"},
    {"ConfigMapProjection", "localObjectReference"},
    {"ConfigMapVolumeSource", "localObjectReference"},
    {"SecretEnvSource", "localObjectReference"},
    {"SecretKeySelector", "localObjectReference"},
    {"SecretProjection", "localObjectReference"},
};

}  // namespace

const K8sSchema& k8sSchema() {
  static const K8sSchema s = [] {
    K8sSchema out;
    for (const auto& [message, field] : kInlineFields) {
      if (const auto* d = findMessage(std::string(kCore) + std::string(message))) {
        if (const auto* f = d->FindFieldByName(std::string(field))) {
          out.inline_fields.insert(f);
          out.inline_by_message[d].push_back(f);
        }
      }
    }
    out.quantity = findMessage("k8s.io.apimachinery.pkg.api.resource.Quantity");
    out.time = findMessage(std::string(kMeta) + "Time");
    out.micro_time = findMessage(std::string(kMeta) + "MicroTime");
    out.duration = findMessage(std::string(kMeta) + "Duration");
    out.int_or_string = findMessage("k8s.io.apimachinery.pkg.util.intstr.IntOrString");
    out.raw_extension = findMessage("k8s.io.apimachinery.pkg.runtime.RawExtension");
    out.fields_v1 = findMessage(std::string(kMeta) + "FieldsV1");
    return out;
  }();
  return s;
}

core::Status typeError(const google::protobuf::FieldDescriptor* f, std::string_view want) {
  return core::invalidArgument("field " + f->full_name() + ": expected " + std::string(want));
}

}  // namespace edgecore::metaserver::protobuf
