#include "json_to_proto.h"

#include <google/protobuf/descriptor.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

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
  std::unordered_map<const gp::Descriptor*, std::vector<const FD*>> inline_by_message;
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

core::Status typeError(const FD* f, std::string_view want) {
  return core::invalidArgument("field " + f->full_name() + ": expected " + std::string(want));
}

// ---------------------------------------------------------------------------------------------
// JSON -> protobuf wire bytes, written directly (no Message objects: a LIST of 1000 pods is
// several times faster this way than through DynamicMessage reflection).

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void tag(std::string& out, int number, WireType type) {
  varint(out, (static_cast<uint64_t>(number) << 3) | type);
}
void lengthDelimited(std::string& out, int number, std::string_view bytes) {
  tag(out, number, kLengthDelimited);
  varint(out, bytes.size());
  out += bytes;
}
void fixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(v >> (8 * i));
}

// A JSON number as the integer field `f` holds it (Go accepts 1.0 for an int, not 1.5).
core::Result<int64_t> integer(const json& v, const FD* f) {
  if (!v.is_number()) return typeError(f, "a number");
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::trunc(d) != d || std::fabs(d) >= 9.2e18) return typeError(f, "an integer");
    return static_cast<int64_t>(d);
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return typeError(f, "a 64-bit integer");
  }
  return v.get<int64_t>();
}

class WireWriter {
 public:
  explicit WireWriter(const Schema& s) : s_(s) {}

  core::Status message(const json& in, const gp::Descriptor* d, std::string& out, int depth) {
    if (depth > kMaxDepth) return core::invalidArgument("object nests too deep for protobuf");
    if (Special kind = s_.special(d); kind != Special::None) return special(kind, in, d, out);
    if (!in.is_object()) return core::invalidArgument(d->full_name() + ": expected an object");
    if (auto it = s_.inline_by_message.find(d); it != s_.inline_by_message.end()) {
      for (const FD* f : it->second) {
        // Go always writes an embedded struct.
        std::string sub;
        if (auto st = message(in, f->message_type(), sub, depth + 1); !st.ok()) return st;
        lengthDelimited(out, f->number(), sub);
      }
    }
    for (const auto& [key, v] : in.items()) {
      if (v.is_null()) continue;
      const FD* f = d->FindFieldByName(key);
      if (f == nullptr || s_.inline_fields.count(f)) continue;  // unknown to the schema: dropped
      if (f->is_map()) {
        if (!v.is_object()) return typeError(f, "an object");
        const FD* value_field = f->message_type()->map_value();
        for (const auto& [k, item] : v.items()) {
          if (item.is_null()) continue;
          std::string entry;
          lengthDelimited(entry, 1, k);  // map keys are strings in Kubernetes' schema
          if (auto st = value(item, value_field, entry, depth + 1); !st.ok()) return st;
          lengthDelimited(out, f->number(), entry);
        }
      } else if (f->is_repeated()) {
        if (!v.is_array()) return typeError(f, "an array");
        if (f->is_packed()) {
          std::string packed;
          for (const auto& item : v) {
            if (auto st = scalar(item, f, packed); !st.ok()) return st;
          }
          lengthDelimited(out, f->number(), packed);
          continue;
        }
        for (const auto& item : v) {
          if (auto st = value(item, f, out, depth + 1); !st.ok()) return st;
        }
      } else if (auto st = value(v, f, out, depth + 1); !st.ok()) {
        return st;
      }
    }
    return {};
  }

 private:
  // Tag and value of one (singular or one repeated) element of `f`.
  core::Status value(const json& v, const FD* f, std::string& out, int depth) {
    switch (f->type()) {
      case FD::TYPE_STRING:
        if (!v.is_string()) return typeError(f, "a string");
        lengthDelimited(out, f->number(), v.get_ref<const std::string&>());
        return {};
      case FD::TYPE_BYTES: {
        if (!v.is_string()) return typeError(f, "a string");
        auto decoded = core::base64Decode(v.get_ref<const std::string&>());
        if (!decoded) return typeError(f, "base64 text");
        lengthDelimited(out, f->number(), *decoded);
        return {};
      }
      case FD::TYPE_MESSAGE:
      case FD::TYPE_GROUP: {
        std::string sub;
        if (auto st = message(v, f->message_type(), sub, depth); !st.ok()) return st;
        lengthDelimited(out, f->number(), sub);
        return {};
      }
      default:
        break;
    }
    WireType wire = kVarint;
    if (f->type() == FD::TYPE_DOUBLE || f->type() == FD::TYPE_FIXED64 ||
        f->type() == FD::TYPE_SFIXED64) {
      wire = kFixed64;
    } else if (f->type() == FD::TYPE_FLOAT || f->type() == FD::TYPE_FIXED32 ||
               f->type() == FD::TYPE_SFIXED32) {
      wire = kFixed32;
    }
    tag(out, f->number(), wire);
    return scalar(v, f, out);
  }

  // The value of a number or bool field, without its tag.
  core::Status scalar(const json& v, const FD* f, std::string& out) {
    switch (f->type()) {
      case FD::TYPE_BOOL:
        if (!v.is_boolean()) return typeError(f, "true or false");
        out += static_cast<char>(v.get<bool>() ? 1 : 0);
        return {};
      case FD::TYPE_DOUBLE:
      case FD::TYPE_FLOAT: {
        if (!v.is_number()) return typeError(f, "a number");
        if (f->type() == FD::TYPE_DOUBLE) {
          double d = v.get<double>();
          uint64_t bits;
          std::memcpy(&bits, &d, sizeof bits);
          fixed(out, bits, 8);
        } else {
          float x = v.get<float>();
          uint32_t bits;
          std::memcpy(&bits, &x, sizeof bits);
          fixed(out, bits, 4);
        }
        return {};
      }
      case FD::TYPE_ENUM:  // Kubernetes' schema has no enums (they are strings)
        return typeError(f, "no enum");
      default:
        break;
    }
    auto i = integer(v, f);
    if (!i.ok()) return i.status();
    int64_t n = *i;
    switch (f->type()) {
      case FD::TYPE_INT32:
        if (n < INT32_MIN || n > INT32_MAX) return typeError(f, "a 32-bit integer");
        varint(out, static_cast<uint64_t>(n));  // negative int32: sign-extended, as protobuf does
        return {};
      case FD::TYPE_INT64:
        varint(out, static_cast<uint64_t>(n));
        return {};
      case FD::TYPE_UINT32:
      case FD::TYPE_UINT64:
        if (n < 0 || (f->type() == FD::TYPE_UINT32 && n > UINT32_MAX)) {
          return typeError(f, "an unsigned integer in range");
        }
        varint(out, static_cast<uint64_t>(n));
        return {};
      case FD::TYPE_SINT32:
      case FD::TYPE_SINT64:
        if (f->type() == FD::TYPE_SINT32 && (n < INT32_MIN || n > INT32_MAX)) {
          return typeError(f, "a 32-bit integer");
        }
        varint(out, (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63));
        return {};
      case FD::TYPE_FIXED32:
      case FD::TYPE_SFIXED32:
        fixed(out, static_cast<uint64_t>(n), 4);
        return {};
      case FD::TYPE_FIXED64:
      case FD::TYPE_SFIXED64:
        fixed(out, static_cast<uint64_t>(n), 8);
        return {};
      default:
        return typeError(f, "a known type");
    }
  }

  core::Status special(Special kind, const json& in, const gp::Descriptor* d, std::string& out) {
    const FD* first = d->FindFieldByNumber(1);
    switch (kind) {
      case Special::Quantity:
        // Go's Quantity reads "100m" or a bare number.
        if (in.is_number()) {
          lengthDelimited(out, 1, in.dump());
        } else if (in.is_string()) {
          lengthDelimited(out, 1, in.get_ref<const std::string&>());
        } else {
          return typeError(first, "a quantity string");
        }
        return {};
      case Special::Time:
      case Special::MicroTime: {
        if (!in.is_string()) return typeError(first, "an RFC 3339 time");
        auto nanos = core::parseRfc3339Nanos(in.get_ref<const std::string&>());
        if (!nanos.ok()) return nanos.status();
        int64_t secs = *nanos / 1'000'000'000;
        int64_t frac = *nanos % 1'000'000'000;
        if (frac < 0) {
          secs -= 1;
          frac += 1'000'000'000;
        }
        tag(out, 1, kVarint);
        varint(out, static_cast<uint64_t>(secs));
        if (frac != 0) {
          tag(out, 2, kVarint);
          varint(out, static_cast<uint64_t>(frac));
        }
        return {};
      }
      case Special::Duration: {
        if (!in.is_string()) return typeError(first, "a duration such as \"1m30s\"");
        auto nanos = parseGoDuration(in.get_ref<const std::string&>());
        if (!nanos.ok()) return nanos.status();
        tag(out, 1, kVarint);
        varint(out, static_cast<uint64_t>(*nanos));
        return {};
      }
      case Special::IntOrString:
        // type 0 = Int (intVal, field 2), 1 = String (strVal, field 3).
        if (in.is_number_integer()) {
          int64_t i = in.get<int64_t>();
          if (in.is_number_unsigned() && in.get<uint64_t>() > INT32_MAX) i = INT64_MAX;
          if (i < INT32_MIN || i > INT32_MAX) return typeError(first, "a 32-bit integer");
          tag(out, 1, kVarint);
          varint(out, 0);
          tag(out, 2, kVarint);
          varint(out, static_cast<uint64_t>(i));
        } else if (in.is_string()) {
          tag(out, 1, kVarint);
          varint(out, 1);
          lengthDelimited(out, 3, in.get_ref<const std::string&>());
        } else {
          return typeError(first, "an integer or a string");
        }
        return {};
      case Special::RawBytes:
        // RawExtension.raw / FieldsV1.Raw: the value's own JSON text.
        lengthDelimited(out, 1, core::encodeJsonValue(in));
        return {};
      case Special::None:
        break;
    }
    return core::internalError("not a special type");
  }

  const Schema& s_;
};

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

core::Status encodeJson(const json& in, const gp::Descriptor* type, std::string* out) {
  return WireWriter(schema()).message(in, type, *out, 0);
}

json messageToJson(const gp::Message& in) { return toJson(in, 0); }

}  // namespace edgecore::metaserver::protobuf
