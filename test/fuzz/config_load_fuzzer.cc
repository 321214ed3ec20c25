// libFuzzer target for edgecore.yaml loading (src/core/config_loader.cc): parse, merge over the
// defaults, validate. Checks, beyond "no crash, no sanitizer report, no exception": a failure is
// InvalidArgument with a message; an accepted file prints (configToYaml) to YAML that loads again,
// and after one such round printing and loading are a fixed point.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgecore/core/config.h"

namespace {

using edgecore::core::configToYaml;
using edgecore::core::HostInfo;
using edgecore::core::parseConfig;
using edgecore::core::StatusCode;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_load invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HostInfo kHost{"edge-node-1", "192.168.1.10"};
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto cfg = parseConfig(input, "fuzz.yaml", kHost);
  if (!cfg.ok()) {
    if (cfg.status().code() != StatusCode::InvalidArgument) {
      fail("unexpected error code", cfg.status().toString());
    }
    if (cfg.status().message().empty()) {
      fail("error without a message", "");
    }
    return 0;
  }
  // The first print may change values: like Go's yaml.Marshal it omits zero values of omitempty
  // keys whose default is not zero (maxContainerCount: 0 prints as nothing and reloads as -1).
  // From the second print on, printing and loading must agree.
  const std::string printed = configToYaml(*cfg);
  auto again = parseConfig(printed, "printed.yaml", kHost);
  if (!again.ok()) {
    fail("the printed config does not load", again.status().toString() + "\n" + printed);
  }
  const std::string reprinted = configToYaml(*again);
  auto third = parseConfig(reprinted, "reprinted.yaml", kHost);
  if (!third.ok()) {
    fail("the reprinted config does not load", third.status().toString() + "\n" + reprinted);
  }
  if (configToYaml(*third) != reprinted) {
    fail("print/load is not a fixed point after one round", reprinted);
  }
  return 0;
}
