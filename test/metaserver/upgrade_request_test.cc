// confirm-upgrade's reading of the stored NodeUpgradeJobRequest / NodeTaskRequest rows: every
// field is checked before any of them becomes an argument of the upgrade program.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pod_ops_handler.h"

namespace edgecore::metaserver {
namespace {

using nlohmann::json;

json goodJob() {
  // As v1.20's initUpgrade stores it (json.Marshal of types.NodeUpgradeJobRequest).
  return {{"UpgradeID", "9f1c2d3e-1111-2222-3333-444455556666"},
          {"HistoryID", "h-7"},
          {"Version", "v1.20.1"},
          {"UpgradeTool", "keadm"},
          {"Image", "kubeedge/installation-package:v1.20.1"},
          {"ImageDigest", ""},
          {"RequireConfirmation", true}};
}

TEST(ParseUpgradeRequest, ReadsTheStoredRows) {
  json task = {{"TaskID", "upgrade"},
               {"Type", "Confirm"},
               {"State", "Upgrading"},
               {"Item", "Wait for a confirm for upgrade request on the edge site."}};
  auto job = parseUpgradeRequest(goodJob().dump(), task.dump());
  ASSERT_TRUE(job.ok()) << job.status().toString();
  EXPECT_EQ(job->upgrade_id, "9f1c2d3e-1111-2222-3333-444455556666");
  EXPECT_EQ(job->history_id, "h-7");
  EXPECT_EQ(job->version, "v1.20.1");
  EXPECT_EQ(job->image, "kubeedge/installation-package:v1.20.1");
  EXPECT_EQ(job->task_id, "upgrade");
  EXPECT_EQ(job->task_state, "Upgrading");
  // No task row, unknown keys, a real digest, null fields: fine.
  json j = goodJob();
  j["Extra"] = json::object();
  j["ImageDigest"] = "sha256:" + std::string(64, 'a');
  j["UpgradeTool"] = nullptr;
  EXPECT_TRUE(parseUpgradeRequest(j.dump(), "").ok());
}

TEST(ParseUpgradeRequest, RefusesEveryBadField) {
  struct Case {
    const char* key;
    json value;
    const char* names;  // what the error must mention
  };
  const std::vector<Case> cases = {
      {"UpgradeID", "", "UpgradeID"},
      {"UpgradeID", "a;reboot", "UpgradeID"},
      {"UpgradeID", 5, "UpgradeID"},
      {"HistoryID", "--help", "HistoryID"},
      {"Version", "latest", "Version"},
      {"Version", "v1.20", "Version"},
      {"Version", json::array({"v1.20.1"}), "Version"},
      {"Image", "x && id", "Image"},
      {"Image", "-x", "Image"},
      {"UpgradeTool", "bash", "UpgradeTool"},
      {"ImageDigest", "sha256:xyz", "ImageDigest"},
      {"ImageDigest", "md5:" + std::string(64, 'a'), "ImageDigest"},
      {"RequireConfirmation", "yes", "RequireConfirmation"},
  };
  for (const auto& c : cases) {
    json j = goodJob();
    j[c.key] = c.value;
    auto r = parseUpgradeRequest(j.dump(), "");
    ASSERT_FALSE(r.ok()) << c.key << "=" << c.value.dump();
    EXPECT_EQ(r.status().code(), core::StatusCode::InvalidArgument);
    EXPECT_NE(r.status().message().find(c.names), std::string::npos) << r.status().message();
  }
  json missing = goodJob();
  missing.erase("Image");
  EXPECT_FALSE(parseUpgradeRequest(missing.dump(), "").ok());
  EXPECT_FALSE(parseUpgradeRequest("not json", "").ok());
  EXPECT_FALSE(parseUpgradeRequest("[1,2]", "").ok());
  EXPECT_FALSE(parseUpgradeRequest(goodJob().dump(), "{\"State\":\"$(id)\"}").ok());
  EXPECT_FALSE(parseUpgradeRequest(goodJob().dump(), "{\"TaskID\":7}").ok());
  EXPECT_FALSE(parseUpgradeRequest(goodJob().dump(), "\"x\"").ok());
}

}  // namespace
}  // namespace edgecore::metaserver
