// Tests of the key-table catalogue (include/edgecore/core/config_rows.h): the rows each folder
// declares fit together into one table the loader and printer can walk in order.

#include "edgecore/core/config_rows.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/config_schema.h"

namespace edgecore::core {
namespace {

namespace ci = config_internal;

std::string parentOf(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? "" : std::string(path.substr(0, dot));
}

bool isSection(ConfigType t) { return t == ConfigType::Section || t == ConfigType::ValueSection; }

TEST(ConfigRowsTest, EveryPathOnceAndSectionsBeforeChildren) {
  std::set<std::string> seen_sections;
  std::set<std::string> seen;
  for (const ConfigKey& k : ci::keyTable()) {
    EXPECT_TRUE(seen.insert(std::string(k.path)).second) << "twice: " << k.path;
    std::string parent = parentOf(k.path);
    EXPECT_TRUE(parent.empty() || seen_sections.count(parent) != 0)
        << k.path << " comes before its section " << parent;
    if (isSection(k.type)) {
      seen_sections.insert(std::string(k.path));
    }
    EXPECT_EQ(ci::findKey(k.path), &k);
  }
}

// A module's set is one subtree: its section first, then keys under it, so that a key is added in
// the folder that owns the section.
TEST(ConfigRowsTest, ModuleSetsAreOneSubtreeEach) {
  std::span<const ConfigRows> sets = ci::catalogue();
  ASSERT_FALSE(sets.empty());
  for (size_t i = 1; i < sets.size(); ++i) {  // sets[0]: the document root, several subtrees
    const ConfigRows& set = sets[i];
    ASSERT_FALSE(set.keys.empty()) << "set " << i;
    EXPECT_NE(set.read, nullptr) << set.keys[0].path;
    EXPECT_TRUE(isSection(set.keys[0].type)) << set.keys[0].path;
    const std::string prefix = std::string(set.keys[0].path) + ".";
    for (const ConfigKey& k : set.keys.subspan(1)) {
      EXPECT_TRUE(k.path.starts_with(prefix)) << k.path << " outside " << set.keys[0].path;
    }
  }
  EXPECT_NE(sets[0].read, nullptr);
}

// The rows reach the typed config through their owner's read function.
TEST(ConfigRowsTest, OwnersReadTheirKeys) {
  auto c = parseConfig(
      "modules:\n  edged:\n    tailoredKubeletConfig:\n      maxPods: 7\n"
      "  metaManager:\n    remoteQueryTimeout: 9\n    metaServer:\n      server: 1.2.3.4:5\n"
      "  deviceTwin:\n    offlineAfter: 2m\n  serviceBus:\n    port: 99\n",
      "edgecore.yaml", HostInfo{"node-a", "10.0.0.1"});
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->modules.edged.max_pods, 7);
  EXPECT_EQ(c->modules.meta_manager.remote_query_timeout, std::chrono::seconds(9));
  EXPECT_EQ(c->modules.meta_manager.meta_server.server, "1.2.3.4:5");
  EXPECT_EQ(c->modules.device_twin.offline_after, std::chrono::minutes(2));
  EXPECT_EQ(c->modules.service_bus.port, 99);
}

}  // namespace
}  // namespace edgecore::core
