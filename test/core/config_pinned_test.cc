// Pins what edgecore prints about its configuration, byte for byte, so that moving the key rows
// between folders (issue #16 item 5: each module declares its own edgecore.yaml keys) cannot change
// a printed byte or a row of the key table.
//
// The files under test/data/config/pinned/ were regenerated from the build BEFORE that refactor
// (commit c13b11e, the single table in src/core/config_schema.cc) by running this test with
// EDGECORE_REGENERATE_PINNED=1, which writes the files instead of comparing. `edgecore
// --defaultconfig` / `--minconfig` print defaultConfigYaml() / minConfigYaml() of the detected
// host (src/cmd/edgecore/main.cc); the byte-for-byte output of the binary itself was also compared
// before and after by hand. Regenerate only for a deliberate change of the printed config, and say
// so in the commit. The IPv4 host's --defaultconfig/--minconfig are pinned by the goldens of
// config_test.cc (test/data/config/{defaultconfig,minconfig}.golden.yaml), which the build before
// the refactor printed byte for byte too.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "core/config_schema.h"
#include "core/config_test_util.h"
#include "edgecore/core/config.h"

namespace edgecore::core {
namespace {

namespace ci = config_internal;

// The goldens of config_test.cc use an IPv4 host; here an IPv6 one (cloud addresses bracket it).
const HostInfo kIpv4Host{"edge-node-1", "192.168.1.10"};
const HostInfo kIpv6Host{"pinned-node.example", "fd00::7"};

std::string pinnedPath(const std::string& name) {
  return testing::configDataPath("pinned/" + name);
}

// Compares `actual` with the pinned file, or rewrites the file when regenerating.
void expectPinned(const std::string& name, const std::string& actual) {
  const std::string path = pinnedPath(name);
  if (std::getenv("EDGECORE_REGENERATE_PINNED") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::string expected = testing::readFile(path);
  ASSERT_FALSE(expected.empty()) << path;
  EXPECT_EQ(actual, expected) << "differs from " << path;
}

// Column names in enum order (ConfigType, ConfigEmit in include/edgecore/core/config_rows.h).
constexpr std::string_view kTypeNames[] = {"Section",  "ValueSection",    "Bool",       "Int32",
                                           "Int64",    "Uint8",           "Float64",    "String",
                                           "Duration", "DurationOrNanos", "StringList", "StringMap",
                                           "BoolMap",  "ObjectList"};
constexpr std::string_view kEmitNames[] = {"Always", "OmitZero", "OmitNil"};

// Every row of the assembled key table, in table order, every column.
std::string keyTableDump() {
  std::string out;
  for (const ci::KeySpec& k : ci::keyTable()) {
    out += std::string(k.path) + " | " + std::string(kTypeNames[static_cast<size_t>(k.type)]) +
           " | " + std::string(k.default_value) + " | " +
           std::string(kEmitNames[static_cast<size_t>(k.emit)]) + " | " + (k.in_min ? "min" : "-") +
           " | " +
           (k.since == ConfigSince::V120   ? "v120"
            : k.since == ConfigSince::V123 ? "v123"
                                           : "ours") +
           " | " + std::string(k.help) + "\n";
  }
  return out;
}

TEST(ConfigPinnedTest, DefaultConfigIpv6) {
  expectPinned("defaultconfig.ipv6.yaml", defaultConfigYaml(kIpv6Host));
}

TEST(ConfigPinnedTest, MinConfigIpv6) {
  expectPinned("minconfig.ipv6.yaml", minConfigYaml(kIpv6Host));
}

// configToYaml of a loaded file (unknown keys dropped, omitempty honoured).
TEST(ConfigPinnedTest, LoadedFilePrintedBack) {
  auto c = loadConfigFile(testing::configDataPath("keadm-join-v1.20.yaml"), kIpv4Host);
  ASSERT_TRUE(c.ok()) << c.status().toString();
  expectPinned("keadm-join-v1.20.printed.yaml", configToYaml(*c));
}

TEST(ConfigPinnedTest, KeyTableRowsInOrder) { expectPinned("key_table.txt", keyTableDump()); }

}  // namespace
}  // namespace edgecore::core
