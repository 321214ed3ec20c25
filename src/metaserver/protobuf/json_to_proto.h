#pragma once

// Kubernetes JSON <-> Kubernetes protobuf, driven by the descriptors of descriptor_pool.h.
// Kubernetes' JSON is not the proto3 JSON mapping; the differences handled here:
// - embedded ("inline") structs: Volume.volumeSource, Probe.handler, ... are flattened into
//   their parent object in JSON (kInlineFields in k8s_schema.cc lists every one);
// - resource.Quantity is a JSON string (or number), meta.v1.Time / MicroTime RFC 3339 strings,
//   meta.v1.Duration a Go duration string ("1m30s"), IntOrString a number or a string;
// - runtime.RawExtension and meta.v1.FieldsV1 hold the raw JSON text of their value as bytes;
// - bytes fields (Secret.data, ConfigMap.binaryData) are base64 strings.
// JSON keys the schema does not know are dropped, as Go's decoder does; null means absent.

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>
#include <string>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::protobuf {

// Appends the protobuf encoding of `in` as a `type` message to `out`. InvalidArgument naming the
// field when a value has the wrong JSON type or cannot be parsed (bad timestamp, bad base64), or
// nesting exceeds the bound.
core::Status encodeJson(const nlohmann::json& in, const google::protobuf::Descriptor* type,
                        std::string* out);

// The Kubernetes JSON of `in` (the inverse of encodeJson for everything it produces); in
// proto_to_json.cc.
nlohmann::json messageToJson(const google::protobuf::Message& in);

}  // namespace edgecore::metaserver::protobuf
