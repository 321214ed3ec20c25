#include "descriptor_pool.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <mutex>
#include <string>

namespace edgecore::metaserver::protobuf {
namespace {

namespace gp = google::protobuf;

struct Schema {
  gp::DescriptorPool pool;
  gp::DynamicMessageFactory factory{&pool};
  bool ok = false;
};

// Built on first use: a node that never sees a protobuf client never pays for the ~60 KiB
// parse. Leaked on purpose (used until exit; no destruction-order questions at shutdown).
Schema& schema() {
  static Schema* s = [] {
    auto* out = new Schema;
    gp::FileDescriptorSet set;
    std::string_view bytes = k8sDescriptorSet();
    if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return out;
    // --include_imports lists dependencies first, so each file's imports are already built.
    for (const auto& file : set.file()) {
      if (out->pool.BuildFile(file) == nullptr) return out;
    }
    out->ok = true;
    return out;
  }();
  return *s;
}

}  // namespace

const gp::Descriptor* findMessage(std::string_view full_name) {
  Schema& s = schema();
  if (!s.ok) return nullptr;
  return s.pool.FindMessageTypeByName(std::string(full_name));
}

std::unique_ptr<gp::Message> newMessage(const gp::Descriptor* type) {
  const gp::Message* prototype = schema().factory.GetPrototype(type);
  return std::unique_ptr<gp::Message>(prototype->New());
}

}  // namespace edgecore::metaserver::protobuf
