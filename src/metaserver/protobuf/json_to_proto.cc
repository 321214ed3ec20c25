#include "json_to_proto.h"

#include <google/protobuf/descriptor.h>

#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>

#include "descriptor_pool.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/message.h"
#include "edgecore/core/time.h"
#include "go_duration.h"

namespace edgecore::metaserver::protobuf {
namespace {

namespace gp = google::protobuf;
using FD = gp::FieldDescriptor;
using nlohmann::json;

// Deeper than any Kubernetes object (a Pod is ~12 levels); bounds the recursion.
constexpr int kMaxDepth = 64;
// Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds: what Go writes for an unset Time.
constexpr int64_t kGoZeroTimeSeconds = -62135596800;

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

// Messages whose JSON form is not an object of their fields.
enum class Special { None, Quantity, Time, MicroTime, Duration, IntOrString, RawBytes };

struct Schema {
  std::unordered_set<const FD*> inline_fields;
  const gp::Descriptor* quantity = nullptr;
  const gp::Descriptor* time = nullptr;
  const gp::Descriptor* micro_time = nullptr;
  const gp::Descriptor* duration = nullptr;
  const gp::Descriptor* int_or_string = nullptr;
  const gp::Descriptor* raw_extension = nullptr;
  const gp::Descriptor* fields_v1 = nullptr;

  Special special(const gp::Descriptor* d) const {
    if (d == quantity) return Special::Quantity;
    if (d == time) return Special::Time;
    if (d == micro_time) return Special::MicroTime;
    if (d == duration) return Special::Duration;
    if (d == int_or_string) return Special::IntOrString;
    if (d == raw_extension || d == fields_v1) return Special::RawBytes;
    return Special::None;
  }
};

const Schema& schema() {
  static const Schema s = [] {
    Schema out;
    for (const auto& [message, field] : kInlineFields) {
      if (const auto* d = findMessage(std::string(kCore) + std::string(message))) {
        if (const auto* f = d->FindFieldByName(std::string(field))) out.inline_fields.insert(f);
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

core::Status typeError(const FD* f, std::string_view want) {
  return core::invalidArgument("field " + f->full_name() + ": expected " + std::string(want));
}

// ---------------------------------------------------------------------------------------------
// JSON -> message

core::Status fill(const json& in, gp::Message* msg, int depth);

// Sets (or appends, for repeated fields) one value of a scalar or message field.
core::Status put(const json& v, gp::Message* msg, const FD* f, int depth) {
  const gp::Reflection* r = msg->GetReflection();
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING: {
      if (!v.is_string()) return typeError(f, "a string");
      std::string s = v.get<std::string>();
      if (f->type() == FD::TYPE_BYTES) {
        auto decoded = core::base64Decode(s);
        if (!decoded) return typeError(f, "base64 text");
        s = std::move(*decoded);
      }
      rep ? r->AddString(msg, f, std::move(s)) : r->SetString(msg, f, std::move(s));
      return {};
    }
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_INT64:
    case FD::CPPTYPE_UINT32:
    case FD::CPPTYPE_UINT64: {
      // Go accepts 1.0 for an int; a fraction is an error there too.
      if (!v.is_number()) return typeError(f, "a number");
      double d = v.get<double>();
      if (v.is_number_float() && std::trunc(d) != d) return typeError(f, "an integer");
      if (f->cpp_type() == FD::CPPTYPE_INT32) {
        int64_t i = v.is_number_float() ? static_cast<int64_t>(d) : v.get<int64_t>();
        if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max()) {
          return typeError(f, "a 32-bit integer");
        }
        rep ? r->AddInt32(msg, f, static_cast<int32_t>(i))
            : r->SetInt32(msg, f, static_cast<int32_t>(i));
      } else if (f->cpp_type() == FD::CPPTYPE_INT64) {
        if (v.is_number_float() && std::fabs(d) >= 9.2e18) return typeError(f, "a 64-bit integer");
        int64_t i = v.is_number_float() ? static_cast<int64_t>(d) : v.get<int64_t>();
        rep ? r->AddInt64(msg, f, i) : r->SetInt64(msg, f, i);
      } else {
        if (d < 0) return typeError(f, "an unsigned integer");
        uint64_t u = v.is_number_float() ? static_cast<uint64_t>(d) : v.get<uint64_t>();
        if (f->cpp_type() == FD::CPPTYPE_UINT32) {
          if (u > std::numeric_limits<uint32_t>::max()) return typeError(f, "a 32-bit integer");
          rep ? r->AddUInt32(msg, f, static_cast<uint32_t>(u))
              : r->SetUInt32(msg, f, static_cast<uint32_t>(u));
        } else {
          rep ? r->AddUInt64(msg, f, u) : r->SetUInt64(msg, f, u);
        }
      }
      return {};
    }
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT: {
      if (!v.is_number()) return typeError(f, "a number");
      double d = v.get<double>();
      if (f->cpp_type() == FD::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(msg, f, d) : r->SetDouble(msg, f, d);
      } else {
        rep ? r->AddFloat(msg, f, static_cast<float>(d))
            : r->SetFloat(msg, f, static_cast<float>(d));
      }
      return {};
    }
    case FD::CPPTYPE_BOOL:
      if (!v.is_boolean()) return typeError(f, "true or false");
      rep ? r->AddBool(msg, f, v.get<bool>()) : r->SetBool(msg, f, v.get<bool>());
      return {};
    case FD::CPPTYPE_MESSAGE: {
      gp::Message* sub = rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
      return fill(v, sub, depth + 1);
    }
    case FD::CPPTYPE_ENUM:  // Kubernetes' schema has no enums (they are strings)
      return typeError(f, "no enum");
  }
  return typeError(f, "a known type");
}

core::Status fillSpecial(Special kind, const json& in, gp::Message* msg) {
  const gp::Descriptor* d = msg->GetDescriptor();
  const gp::Reflection* r = msg->GetReflection();
  auto field = [d](int number) { return d->FindFieldByNumber(number); };
  switch (kind) {
    case Special::Quantity:
      // Go's Quantity reads "100m" or a bare number.
      if (in.is_number()) {
        r->SetString(msg, field(1), in.dump());
      } else if (in.is_string()) {
        r->SetString(msg, field(1), in.get<std::string>());
      } else {
        return typeError(field(1), "a quantity string");
      }
      return {};
    case Special::Time:
    case Special::MicroTime: {
      if (!in.is_string()) return typeError(field(1), "an RFC 3339 time");
      auto nanos = core::parseRfc3339Nanos(in.get<std::string>());
      if (!nanos.ok()) return nanos.status();
      int64_t secs = *nanos / 1'000'000'000;
      int64_t frac = *nanos % 1'000'000'000;
      if (frac < 0) {
        secs -= 1;
        frac += 1'000'000'000;
      }
      r->SetInt64(msg, field(1), secs);
      if (frac != 0) r->SetInt32(msg, field(2), static_cast<int32_t>(frac));
      return {};
    }
    case Special::Duration: {
      if (!in.is_string()) return typeError(field(1), "a duration such as \"1m30s\"");
      auto nanos = parseGoDuration(in.get<std::string>());
      if (!nanos.ok()) return nanos.status();
      r->SetInt64(msg, field(1), *nanos);
      return {};
    }
    case Special::IntOrString:
      // type 0 = Int (intVal), 1 = String (strVal).
      if (in.is_number_integer()) {
        int64_t i = in.get<int64_t>();
        if (i < std::numeric_limits<int32_t>::min() || i > std::numeric_limits<int32_t>::max()) {
          return typeError(field(2), "a 32-bit integer");
        }
        r->SetInt64(msg, field(1), 0);
        r->SetInt32(msg, field(2), static_cast<int32_t>(i));
      } else if (in.is_string()) {
        r->SetInt64(msg, field(1), 1);
        r->SetString(msg, field(3), in.get<std::string>());
      } else {
        return typeError(field(2), "an integer or a string");
      }
      return {};
    case Special::RawBytes:
      // RawExtension.raw / FieldsV1.Raw: the value's own JSON text.
      r->SetString(msg, field(1), core::encodeJsonValue(in));
      return {};
    case Special::None:
      break;
  }
  return core::internalError("not a special type");
}

core::Status fill(const json& in, gp::Message* msg, int depth) {
  if (depth > kMaxDepth) return core::invalidArgument("object nests too deep for protobuf");
  const Schema& s = schema();
  const gp::Descriptor* d = msg->GetDescriptor();
  if (Special kind = s.special(d); kind != Special::None) return fillSpecial(kind, in, msg);
  if (!in.is_object()) return core::invalidArgument(d->full_name() + ": expected an object");
  const gp::Reflection* r = msg->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    if (!s.inline_fields.count(f)) continue;
    // Go always writes an embedded struct, so its message is always present.
    if (auto st = fill(in, r->MutableMessage(msg, f), depth + 1); !st.ok()) return st;
  }
  for (const auto& [key, v] : in.items()) {
    if (v.is_null()) continue;
    const FD* f = d->FindFieldByName(key);
    if (f == nullptr || s.inline_fields.count(f)) continue;  // unknown to the schema: dropped
    if (f->is_map()) {
      if (!v.is_object()) return typeError(f, "an object");
      const FD* key_field = f->message_type()->map_key();
      const FD* value_field = f->message_type()->map_value();
      for (const auto& [k, item] : v.items()) {
        if (item.is_null()) continue;
        gp::Message* entry = r->AddMessage(msg, f);
        entry->GetReflection()->SetString(entry, key_field, k);
        if (auto st = put(item, entry, value_field, depth + 1); !st.ok()) return st;
      }
    } else if (f->is_repeated()) {
      if (!v.is_array()) return typeError(f, "an array");
      for (const auto& item : v) {
        if (auto st = put(item, msg, f, depth + 1); !st.ok()) return st;
      }
    } else if (auto st = put(v, msg, f, depth + 1); !st.ok()) {
      return st;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// message -> JSON

json toJson(const gp::Message& msg, int depth);

json scalarToJson(const gp::Message& msg, const FD* f, int index, int depth) {
  const gp::Reflection* r = msg.GetReflection();
  bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f);
      if (f->type() == FD::TYPE_BYTES) return core::base64Encode(s);
      return s;
    }
    case FD::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f);
    case FD::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f);
    case FD::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f);
    case FD::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f);
    case FD::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f);
    case FD::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(msg, f, index) : r->GetFloat(msg, f);
    case FD::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f);
    case FD::CPPTYPE_MESSAGE:
      return toJson(rep ? r->GetRepeatedMessage(msg, f, index) : r->GetMessage(msg, f), depth + 1);
    case FD::CPPTYPE_ENUM:
      break;
  }
  return nullptr;
}

json specialToJson(Special kind, const gp::Message& msg) {
  const gp::Descriptor* d = msg.GetDescriptor();
  const gp::Reflection* r = msg.GetReflection();
  auto field = [d](int number) { return d->FindFieldByNumber(number); };
  switch (kind) {
    case Special::Quantity:
      return r->GetString(msg, field(1));
    case Special::Time:
    case Special::MicroTime: {
      // Go writes its zero time as an empty message (and JSON null).
      if (!r->HasField(msg, field(1)) && !r->HasField(msg, field(2))) return nullptr;
      int64_t secs = r->GetInt64(msg, field(1));
      int32_t nanos = r->GetInt32(msg, field(2));
      if (secs == kGoZeroTimeSeconds && nanos == 0) return nullptr;
      core::WallTime t{std::chrono::duration_cast<core::WallTime::duration>(
          std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos))};
      return kind == Special::Time ? core::formatRfc3339(t) : core::formatRfc3339Micro(t);
    }
    case Special::Duration:
      return formatGoDuration(r->GetInt64(msg, field(1)));
    case Special::IntOrString:
      if (r->GetInt64(msg, field(1)) == 1) return r->GetString(msg, field(3));
      return r->GetInt32(msg, field(2));
    case Special::RawBytes: {
      json j = core::parseJsonBounded(r->GetString(msg, field(1)));
      return j.is_discarded() ? json(nullptr) : j;
    }
    case Special::None:
      break;
  }
  return nullptr;
}

json toJson(const gp::Message& msg, int depth) {
  if (depth > kMaxDepth) return nullptr;
  const Schema& s = schema();
  if (Special kind = s.special(msg.GetDescriptor()); kind != Special::None) {
    return specialToJson(kind, msg);
  }
  const gp::Reflection* r = msg.GetReflection();
  std::vector<const FD*> fields;
  r->ListFields(msg, &fields);
  json out = json::object();
  for (const FD* f : fields) {
    if (s.inline_fields.count(f)) {
      json inner = toJson(r->GetMessage(msg, f), depth + 1);
      if (inner.is_object()) {
        for (auto& [k, v] : inner.items()) out[k] = std::move(v);
      }
      continue;
    }
    if (f->is_map()) {
      json m = json::object();
      const FD* key_field = f->message_type()->map_key();
      const FD* value_field = f->message_type()->map_value();
      for (int i = 0; i < r->FieldSize(msg, f); ++i) {
        const gp::Message& entry = r->GetRepeatedMessage(msg, f, i);
        m[entry.GetReflection()->GetString(entry, key_field)] =
            scalarToJson(entry, value_field, -1, depth + 1);
      }
      out[f->name()] = std::move(m);
    } else if (f->is_repeated()) {
      json a = json::array();
      for (int i = 0; i < r->FieldSize(msg, f); ++i) a.push_back(scalarToJson(msg, f, i, depth));
      out[f->name()] = std::move(a);
    } else {
      json v = scalarToJson(msg, f, -1, depth);
      if (!v.is_null()) out[f->name()] = std::move(v);
    }
  }
  return out;
}

}  // namespace

core::Status jsonToMessage(const json& in, gp::Message* out) { return fill(in, out, 0); }

json messageToJson(const gp::Message& in) { return toJson(in, 0); }

}  // namespace edgecore::metaserver::protobuf
