// libFuzzer target for MetaServer's Kubernetes protobuf (src/metaserver/protobuf). The first
// byte picks the surface:
//   even: the rest is Kubernetes JSON (what the store or the cloud hands MetaServer); the kind is
//         forced to one with a protobuf type so the converter runs. Checks: no crash, no
//         exception; an accepted object starts with the magic and decodes back.
//   odd:  the rest is a request body sent with Content-Type application/vnd.kubernetes.protobuf
//         (any bytes from the network). Checks: no crash; a decoded object re-encodes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgecore/core/message.h"
#include "protobuf/envelope.h"

namespace {

namespace pb = edgecore::metaserver::protobuf;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "k8s_protobuf invariant broken: %s\n", what);
  std::abort();
}

constexpr const char* kKinds[] = {"Pod",     "PodList",   "Node",  "ConfigMap", "Secret",
                                  "Service", "Endpoints", "Event", "Status"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    nlohmann::json j = edgecore::core::parseJsonBounded(input);
    if (!j.is_object()) return 0;
    j["apiVersion"] = "v1";
    j["kind"] = kKinds[(data[0] / 2) % (sizeof kKinds / sizeof kKinds[0])];
    auto encoded = pb::encodeObject(j);
    if (!encoded.ok()) return 0;
    if (encoded->substr(0, 4) != pb::kMagic) fail("no magic");
    if (!pb::decodeObject(*encoded).ok()) fail("our own envelope does not decode");
    return 0;
  }
  auto decoded = pb::decodeObject(input);
  if (!decoded.ok()) return 0;
  (void)pb::encodeObject(*decoded);  // may refuse (e.g. bad UTF-8 in a string) but not crash
  return 0;
}
