#include "json_to_proto.h"

#include <google/protobuf/descriptor.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "edgecore/core/base64.h"
#include "edgecore/core/message.h"
#include "edgecore/core/time.h"
#include "go_duration.h"
#include "k8s_schema.h"

namespace edgecore::metaserver::protobuf {
namespace {

namespace gp = google::protobuf;
using FD = gp::FieldDescriptor;
using nlohmann::json;

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
  explicit WireWriter(const K8sSchema& s) : s_(s) {}

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
        const std::string& text = in.get_ref<const std::string&>();
        // Nanoseconds since 1970 fit an int64 only for years 1678..2261 (core's parser does
        // not check; Kubernetes never writes times outside that range).
        if (int year = text.size() >= 4 ? std::atoi(text.substr(0, 4).c_str()) : 0;
            year < 1678 || year > 2261) {
          return typeError(first, "an RFC 3339 time between the years 1678 and 2261");
        }
        auto nanos = core::parseRfc3339Nanos(text);
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

  const K8sSchema& s_;
};

}  // namespace

core::Status encodeJson(const json& in, const gp::Descriptor* type, std::string* out) {
  return WireWriter(k8sSchema()).message(in, type, *out, 0);
}

}  // namespace edgecore::metaserver::protobuf
