#include "imitator.h"

#include <array>
#include <memory>
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

// Adds one object's op to `out`, filling apiVersion/kind from `fallback_*` when absent. `shared`
// (may be null) owns `obj`: when nothing needs filling in, the store gets that pointer instead of
// a copy, and `encoded` (may be null) as the object's Go encoding.
void addObject(const json& obj, const std::shared_ptr<const json>& shared,
               const std::string* encoded, bool is_delete, std::string_view fallback_api_version,
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
  const bool fill_api_version = api_version.empty() && !fallback_api_version.empty();
  const bool fill_kind = kind.empty() && !fallback_kind.empty();
  if (fill_api_version) {
    api_version = std::string(fallback_api_version);
  }
  if (fill_kind) {
    kind = std::string(fallback_kind);
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
    if (!fill_api_version && !fill_kind && shared) {
      op.doc = shared;  // the message's own content, not a copy
      if (encoded != nullptr) {
        op.value = *encoded;
      }
    } else {
      json copy = obj;
      if (fill_api_version) {
        copy["apiVersion"] = api_version;
      }
      if (fill_kind) {
        copy["kind"] = kind;
      }
      op.doc = std::make_shared<const json>(std::move(copy));
    }
  }
  out->ops.push_back(std::move(op));
}

ImitatorOps opsFor(const core::Message& msg, const std::shared_ptr<const json>& shared_content,
                   const std::string* encoded, std::string_view operation,
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
  // A ServiceAccount token stays in the v1 cache only: in meta_v2 MetaServer would list it.
  if (res_type == core::restype::kServiceAccountToken) {
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
      addObject(item, nullptr, nullptr, is_delete, list_api_version, item_kind, &out);
    }
    return out;
  }
  addObject(content, shared_content, encoded, is_delete, type_api_version, type_kind, &out);
  return out;
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
  return opsFor(msg, nullptr, nullptr, operation, res_type);
}

ImitatorOps imitatorOps(const std::shared_ptr<const core::Message>& msg,
                        const std::string* content_text, std::string_view operation,
                        std::string_view res_type) {
  // Aliasing pointer: shares ownership of the message, points at its content.
  std::shared_ptr<const json> content(msg, &msg->content);
  return opsFor(*msg, content, content_text, operation, res_type);
}

}  // namespace edgecore::metamanager
