#include "ack_rules.h"

#include <array>

#include "edgecore/core/resource.h"

namespace edgecore::metamanager {

namespace restype = core::restype;

namespace {

constexpr std::string_view kCaCert = "k8s/ca.crt";

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

MetaResource splitMetaResource(std::string_view resource) {
  MetaResource out;
  out.key = std::string(resource);
  if (resource == kCaCert) {
    out.type = std::string(kCaCert);
    return out;
  }
  size_t first = resource.find('/');
  if (first == std::string_view::npos) {
    return out;
  }
  size_t second = resource.find('/', first + 1);
  if (second == std::string_view::npos) {
    out.type = std::string(resource.substr(first + 1));
    return out;
  }
  if (resource.find('/', second + 1) != std::string_view::npos) {
    return out;  // four or more tokens
  }
  out.type = std::string(resource.substr(first + 1, second - first - 1));
  out.id = std::string(resource.substr(second + 1));
  return out;
}

bool isVolumeOperation(std::string_view operation) {
  return operation == "createvolume" || operation == "deletevolume" ||
         operation == "controllerpublishvolume" || operation == "controllerunpublishvolume";
}

bool isErrorStatusContent(const nlohmann::json& content) {
  return content.is_object() && content.contains("ErrStatus");
}

bool requiresRemoteQuery(std::string_view type) {
  static constexpr std::array<std::string_view, 10> kRemote = {
      restype::kConfigMap,
      restype::kSecret,
      restype::kPersistentVolume,
      restype::kPersistentVolumeClaim,
      restype::kVolumeAttachment,
      restype::kNode,
      restype::kServiceAccountToken,
      restype::kLease,
      restype::kCsr,
      kCaCert,
  };
  for (std::string_view t : kRemote) {
    if (t == type) {
      return true;
    }
  }
  return false;
}

bool noAckRequired(const core::Message& msg) {
  const std::string& resource = msg.route.resource;
  const std::string& operation = msg.route.operation;
  if (contains(resource, restype::kPodList) || contains(resource, "membership") ||
      contains(resource, "twin/cloud_updated") ||
      contains(resource, restype::kServiceAccountToken) || contains(resource, kCaCert)) {
    return true;
  }
  if (isVolumeOperation(operation) || operation == "applicationResponse") {
    return true;
  }
  if (msg.route.group == core::names::kUserGroup) {
    return true;
  }
  if (msg.route.source == "taskmanager" || msg.route.source == "nodeupgradejobcontroller") {
    return true;
  }
  if (operation == core::op::kResponse) {
    if ((msg.content.is_string() && msg.content.get_ref<const std::string&>() == "OK") ||
        isErrorStatusContent(msg.content)) {
      return true;
    }
  }
  if (msg.route.source == "edgecontroller") {
    // The cloud reads the type at index 3 of "node/<id>/<ns>/<type>/..."; trimmed, that is
    // index 1 of "<ns>/<type>/...".
    // Rules are never node-prefixed, so the cloud finds no type in them.
    std::string_view type;
    size_t first = resource.find('/');
    bool rule = resource.starts_with("rule/") || resource.starts_with("ruleendpoint/");
    if (first != std::string::npos && !rule) {
      size_t second = resource.find('/', first + 1);
      type = std::string_view(resource).substr(
          first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    }
    if (type == restype::kNode || type == restype::kLease || type == restype::kNodePatch ||
        type == restype::kPodPatch || type == restype::kPodStatus || type == restype::kCsr ||
        (type == restype::kPod && operation == core::op::kResponse)) {
      return true;
    }
  }
  return false;
}

}  // namespace edgecore::metamanager
