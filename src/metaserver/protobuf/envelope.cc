#include "envelope.h"

#include <stdexcept>

#include "descriptor_pool.h"
#include "json_to_proto.h"

namespace edgecore::metaserver::protobuf {
namespace {

namespace gp = google::protobuf;
using nlohmann::json;

// Objects and the watch frames are bounded by what the store holds (objects come from the cloud
// or our own writes); a request body is bounded by the HTTP body limit before it gets here.
constexpr std::string_view kUnknown = "k8s.io.apimachinery.pkg.runtime.Unknown";
constexpr std::string_view kWatchEvent = "k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent";

// A length-delimited field (wire type 2) `number` holding `bytes`.
void appendField(std::string& out, int number, std::string_view bytes) {
  out += static_cast<char>((number << 3) | 2);  // numbers here are < 16: one byte
  uint64_t n = bytes.size();
  while (n >= 0x80) {
    out += static_cast<char>(n | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
  out += bytes;
}

std::string serialize(const gp::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

}  // namespace

bool groupHasProtobuf(std::string_view group) {
  return group.empty() || group == "coordination.k8s.io";
}

const gp::Descriptor* messageForKind(std::string_view api_version, std::string_view kind) {
  std::string package;
  if (api_version == "v1" && kind == "Status")
    return findMessage("k8s.io.apimachinery.pkg.apis.meta.v1.Status");
  if (api_version == "v1") package = "k8s.io.api.core.v1.";
  if (api_version == "coordination.k8s.io/v1") package = "k8s.io.api.coordination.v1.";
  if (package.empty() || kind.empty()) return nullptr;
  return findMessage(package + std::string(kind));
}

core::Result<std::string> encodeObject(const json& object) {
  if (!object.is_object()) return core::invalidArgument("object is not a JSON object");
  auto text = [&object](const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string api_version = text("apiVersion");
  std::string kind = text("kind");
  const gp::Descriptor* type = messageForKind(api_version, kind);
  if (type == nullptr) {
    return core::notFound("no protobuf type for " + api_version + " " + kind);
  }
  std::string raw;
  if (auto st = encodeJson(object, type, &raw); !st.ok()) return st;
  // runtime.Unknown, written directly: typeMeta (1) {apiVersion (1), kind (2)}, raw (2), and
  // the empty contentEncoding (3) and contentType (4) Go always writes.
  std::string type_meta;
  appendField(type_meta, 1, api_version);
  appendField(type_meta, 2, kind);
  std::string out(kMagic);
  out.reserve(kMagic.size() + type_meta.size() + raw.size() + 32);
  appendField(out, 1, type_meta);
  appendField(out, 2, raw);
  appendField(out, 3, "");
  appendField(out, 4, "");
  return out;
}

core::Result<json> decodeObject(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return core::invalidArgument("body does not start with the Kubernetes protobuf magic");
  }
  bytes.remove_prefix(kMagic.size());
  // libprotobuf logs every string with invalid UTF-8 it parses; a client must not be able to
  // fill our log that way (the strings are replaced when the JSON is written).
  google::protobuf::LogSilencer quiet;
  auto unknown = newMessage(findMessage(kUnknown));
  if (!unknown->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return core::invalidArgument("body is not a valid runtime.Unknown");
  }
  const gp::Descriptor* ud = unknown->GetDescriptor();
  const gp::Reflection* ur = unknown->GetReflection();
  const gp::Message& type_meta = ur->GetMessage(*unknown, ud->FindFieldByName("typeMeta"));
  const gp::Descriptor* td = type_meta.GetDescriptor();
  std::string api_version =
      type_meta.GetReflection()->GetString(type_meta, td->FindFieldByName("apiVersion"));
  std::string kind = type_meta.GetReflection()->GetString(type_meta, td->FindFieldByName("kind"));
  const gp::Descriptor* type = messageForKind(api_version, kind);
  if (type == nullptr) {
    return core::invalidArgument("no protobuf type for " + api_version + " " + kind);
  }
  auto message = newMessage(type);
  std::string raw = ur->GetString(*unknown, ud->FindFieldByName("raw"));
  if (!message->ParseFromString(raw)) {
    return core::invalidArgument("body is not a valid " + type->full_name());
  }
  json out;
  try {
    out = messageToJson(*message);
  } catch (const std::out_of_range& e) {
    return core::invalidArgument("body is not a valid " + type->full_name() + ": " + e.what());
  }
  out["apiVersion"] = api_version;
  out["kind"] = kind;
  return out;
}

std::string watchFrame(std::string_view type, std::string_view envelope) {
  auto event = newMessage(findMessage(kWatchEvent));
  const gp::Descriptor* d = event->GetDescriptor();
  const gp::Reflection* r = event->GetReflection();
  r->SetString(event.get(), d->FindFieldByName("type"), std::string(type));
  gp::Message* object = r->MutableMessage(event.get(), d->FindFieldByName("object"));
  object->GetReflection()->SetString(object, object->GetDescriptor()->FindFieldByName("raw"),
                                     std::string(envelope));
  std::string body = serialize(*event);
  auto n = static_cast<uint32_t>(body.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  out += body;
  return out;
}

}  // namespace edgecore::metaserver::protobuf
