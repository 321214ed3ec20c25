#include <google/protobuf/descriptor.h>

#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "edgecore/core/base64.h"
#include "edgecore/core/message.h"
#include "edgecore/core/time.h"
#include "go_duration.h"
#include "json_to_proto.h"
#include "k8s_schema.h"

// protobuf message -> Kubernetes JSON (request bodies sent as protobuf; tests).
namespace edgecore::metaserver::protobuf {
namespace {

namespace gp = google::protobuf;
using FD = gp::FieldDescriptor;
using nlohmann::json;

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
      // Our clock type counts int64 nanoseconds (years 1678..2261); a body with a time outside
      // that is refused (decodeObject turns this into 415) instead of overflowing.
      constexpr int64_t kMaxSecs = std::numeric_limits<int64_t>::max() / 1000000000LL - 1;
      if (secs > kMaxSecs || secs < -kMaxSecs) {
        throw std::out_of_range("time outside the years 1678..2261");
      }
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
  const K8sSchema& s = k8sSchema();
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

json messageToJson(const gp::Message& in) { return toJson(in, 0); }

}  // namespace edgecore::metaserver::protobuf
