// libFuzzer target for the route.resource parser (src/core/resource.cc). Checks: no crash, no
// exception; an accepted string rebuilds exactly (toString() is the input minus a stripped
// "node/<id>/" prefix), the rebuilt string parses to the same key, and a rejected one is
// InvalidArgument. Inputs longer than kMaxResourceBytes must be rejected.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgecore/core/resource.h"

namespace {

using edgecore::core::kMaxResourceBytes;
using edgecore::core::parseResource;
using edgecore::core::ResourceKey;
using edgecore::core::StatusCode;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "resource_parse invariant broken: %s input=\"%.*s\"\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

bool sameKey(const ResourceKey& a, const ResourceKey& b) {
  return a.shape == b.shape && a.ns == b.ns && a.type == b.type && a.name == b.name &&
         a.sub == b.sub && a.group_version == b.group_version;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto key = parseResource(input);
  if (!key.ok()) {
    if (key.status().code() != StatusCode::InvalidArgument) {
      fail("rejection is not InvalidArgument", input);
    }
    return 0;
  }
  if (input.size() > kMaxResourceBytes) {
    fail("accepted a string over kMaxResourceBytes", input);
  }
  if (key->raw != input) {
    fail("raw differs from the input", input);
  }
  const std::string rebuilt = key->toString();
  std::string expected(input);
  if (!key->node_id.empty()) {
    const std::string prefix = "node/" + key->node_id + "/";
    if (input.substr(0, prefix.size()) != prefix) {
      fail("node_id set but the input does not start with node/<id>/", input);
    }
    expected = input.substr(prefix.size());
  }
  if (rebuilt != expected) {
    fail("toString() does not rebuild the input", input);
  }
  if (key->node_id.empty()) {
    auto again = parseResource(rebuilt);
    if (!again.ok() || !sameKey(*key, *again)) {
      fail("the rebuilt string parses differently", input);
    }
  }
  return 0;
}
