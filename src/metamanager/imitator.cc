#include "imitator.h"

#include <array>
#include <utility>

#include "edgecore/core/resource.h"

namespace edgecore::metamanager {

namespace restype = core::restype;
using nlohmann::json;

namespace {

struct TypeMeta {
  std::string_view type;
  std::string_view api_version;
  std::string_view kind;
};

constexpr std::array<TypeMeta, 15> kTypeMetas = {{
    {restype::kPod, "v1", "Pod"},
    {restype::kConfigMap, "v1", "ConfigMap"},
    {restype::kSecret, "v1", "Secret"},
    {restype::kNode, "v1", "Node"},
    {restype::kService, "v1", "Service"},
    {restype::kEndpoints, "v1", "Endpoints"},
    {restype::kEvent, "v1", "Event"},
    {restype::kPersistentVolume, "v1", "PersistentVolume"},
    {restype::kPersistentVolumeClaim, "v1", "PersistentVolumeClaim"},
    {restype::kLease, "coordination.k8s.io/v1", "Lease"},
    {restype::kVolumeAttachment, "storage.k8s.io/v1", "VolumeAttachment"},
    {restype::kCsr, "certificates.k8s.io/v1", "CertificateSigningRequest"},
    {restype::kDevice, "devices.kubeedge.io/v1beta1", "Device"},
    {restype::kDeviceModel, "devices.kubeedge.io/v1beta1", "DeviceModel"},
    {"serviceaccountaccess", "policy.kubeedge.io/v1alpha1", "ServiceAccountAccess"},
}};

std::string stringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) {
    return {};
  }
  return it->get<std::string>();
}

Gvr gvrOf(const std::string& api_version, const std::string& kind) {
  Gvr gvr;
  size_t slash = api_version.find('/');
  if (slash == std::string::npos) {
    gvr.version = api_version;
  } else {
    gvr.group = api_version.substr(0, slash);
    gvr.version = api_version.substr(slash + 1);
  }
  gvr.resource = kindToResource(kind);
  return gvr;
}

// Adds one object's op to `out`, filling apiVersion/kind from `fallback_*` when absent.
void addObject(json obj, bool is_delete, std::string_view fallback_api_version,
               std::string_view fallback_kind, ImitatorOps* out) {
  auto skip = [out](std::string reason) {
    ++out->skipped;
    if (out->skip_reason.empty()) {
      out->skip_reason = std::move(reason);
    }
  };
  if (!obj.is_object()) {
    skip("not an object");
    return;
  }
  auto meta = obj.find("metadata");
  std::string name = meta != obj.end() && meta->is_object() ? stringField(*meta, "name") : "";
  if (name.empty()) {
    skip("no metadata.name");
    return;
  }
  std::string api_version = stringField(obj, "apiVersion");
  std::string kind = stringField(obj, "kind");
  if (api_version.empty() && !fallback_api_version.empty()) {
    api_version = std::string(fallback_api_version);
    obj["apiVersion"] = api_version;
  }
  if (kind.empty() && !fallback_kind.empty()) {
    kind = std::string(fallback_kind);
    obj["kind"] = kind;
  }
  if (api_version.empty() || kind.empty()) {
    skip("no apiVersion or kind");
    return;
  }
  WriteOp op;
  if (is_delete) {
    op.kind = WriteOp::Kind::DeleteObject;
    op.object_key.gvr = gvrOf(api_version, kind);
    op.object_key.ns = stringField(*meta, "namespace");
    op.object_key.name = name;
  } else {
    // The store derives the key from apiVersion/kind/metadata itself (empty gvr).
    op.kind = WriteOp::Kind::UpsertObject;
    // Handed over parsed: the store extracts its fields and writes Go's encoding from it, so
    // the object is never serialised and parsed again on the way.
    op.doc = std::make_shared<const json>(std::move(obj));
  }
  out->ops.push_back(std::move(op));
}

}  // namespace

bool typeMetaForResourceType(std::string_view res_type, std::string* api_version,
                             std::string* kind) {
  for (const TypeMeta& tm : kTypeMetas) {
    if (tm.type == res_type) {
      *api_version = std::string(tm.api_version);
      *kind = std::string(tm.kind);
      return true;
    }
  }
  return false;
}

ImitatorOps imitatorOps(const core::Message& msg, std::string_view operation,
                        std::string_view res_type) {
  ImitatorOps out;
  bool is_delete = operation == core::op::kDelete;
  if (operation != core::op::kInsert && operation != core::op::kUpdate && !is_delete) {
    return out;
  }
  if (res_type.find("status") != std::string_view::npos ||
      (res_type.find("lease") != std::string_view::npos &&
       msg.route.source == core::names::kEdgedModule)) {
    return out;
  }
  if (!msg.content.is_object()) {
    if (!msg.content.is_null()) {
      out.skipped = 1;
      out.skip_reason = "content is not an object";
    }
    return out;
  }
  std::string type_api_version;
  std::string type_kind;
  typeMetaForResourceType(res_type, &type_api_version, &type_kind);

  const json& content = msg.content;
  std::string kind = stringField(content, "kind");
  auto items = content.find("items");
  if (kind.size() > 4 && kind.ends_with("List") && items != content.end() && items->is_array()) {
    std::string list_api_version = stringField(content, "apiVersion");
    std::string item_kind = kind.substr(0, kind.size() - 4);
    for (const json& item : *items) {
      addObject(item, is_delete, list_api_version, item_kind, &out);
    }
    return out;
  }
  addObject(content, is_delete, type_api_version, type_kind, &out);
  return out;
}

}  // namespace edgecore::metamanager
