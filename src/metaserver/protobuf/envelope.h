#pragma once

// Kubernetes' protobuf wire format (k8s.io/apimachinery runtime/serializer/protobuf): an object is
// the 4 magic bytes "k8s\0" then a runtime.Unknown {typeMeta{apiVersion, kind}, raw: the
// object's own protobuf}; a watch stream is a sequence of 4-byte big-endian lengths, each
// followed by a meta.v1.WatchEvent {type, object: RawExtension{raw: one enveloped object}}.

#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::protobuf {

inline constexpr std::string_view kMediaType = "application/vnd.kubernetes.protobuf";
inline constexpr std::string_view kWatchMediaType =
    "application/vnd.kubernetes.protobuf;stream=watch";
inline constexpr std::string_view kMagic{"k8s\0", 4};

// Whether kube-apiserver serves this API group as protobuf (built-in groups do, CRDs do not).
bool groupHasProtobuf(std::string_view group);

// The message type of a Kubernetes kind, e.g. ("v1", "PodList"); nullptr when we have none.
const google::protobuf::Descriptor* messageForKind(std::string_view api_version,
                                                   std::string_view kind);

// `object` (Kubernetes JSON with apiVersion and kind) as an envelope. NotFound when the kind has
// no protobuf type here, InvalidArgument when the JSON does not fit the schema.
core::Result<std::string> encodeObject(const nlohmann::json& object);
// An envelope back to Kubernetes JSON (apiVersion and kind set from its typeMeta).
core::Result<nlohmann::json> decodeObject(std::string_view bytes);

// One watch stream frame: length prefix + WatchEvent{type, object.raw = envelope}.
std::string watchFrame(std::string_view type, std::string_view envelope);

}  // namespace edgecore::metaserver::protobuf
