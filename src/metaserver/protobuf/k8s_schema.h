#pragma once

// What json_to_proto.cc and proto_to_json.cc share: the places where Kubernetes' JSON is not a
// plain object of the message's fields, looked up once from the embedded schema.

#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::protobuf {

// Deeper than any Kubernetes object (a Pod is ~12 levels); bounds the recursion.
inline constexpr int kMaxDepth = 64;
// Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds: what Go writes for an unset Time.
inline constexpr int64_t kGoZeroTimeSeconds = -62135596800;

// Messages whose JSON form is not an object of their fields.
enum class Special { None, Quantity, Time, MicroTime, Duration, IntOrString, RawBytes };

struct K8sSchema {
  using FD = google::protobuf::FieldDescriptor;
  using Descriptor = google::protobuf::Descriptor;
  // Fields Go embeds with `json:",inline"` (their members sit in the parent's JSON object).
  std::unordered_set<const FD*> inline_fields;
  std::unordered_map<const Descriptor*, std::vector<const FD*>> inline_by_message;
  const Descriptor* quantity = nullptr;
  const Descriptor* time = nullptr;
  const Descriptor* micro_time = nullptr;
  const Descriptor* duration = nullptr;
  const Descriptor* int_or_string = nullptr;
  const Descriptor* raw_extension = nullptr;
  const Descriptor* fields_v1 = nullptr;

  Special special(const Descriptor* d) const {
    if (d == quantity) return Special::Quantity;
    if (d == time) return Special::Time;
    if (d == micro_time) return Special::MicroTime;
    if (d == duration) return Special::Duration;
    if (d == int_or_string) return Special::IntOrString;
    if (d == raw_extension || d == fields_v1) return Special::RawBytes;
    return Special::None;
  }
};

// Built on first use (after the descriptor pool), any thread.
const K8sSchema& k8sSchema();

// InvalidArgument "field <full name>: expected <want>".
core::Status typeError(const google::protobuf::FieldDescriptor* f, std::string_view want);

}  // namespace edgecore::metaserver::protobuf
