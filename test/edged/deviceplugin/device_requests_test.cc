// Device requests read from a pod spec (src/edged/deviceplugin/device_requests.h).

#include "deviceplugin/device_requests.h"

#include <gtest/gtest.h>

#include "deviceplugin/device_manager.h"

namespace edgecore::edged::deviceplugin {
namespace {

TEST(DeviceRequestsTest, LimitsWinAndOnlyDeviceResourcesCount) {
  nlohmann::json spec = {
      {"initContainers",
       {{{"name", "init"}, {"resources", {{"limits", {{"example.com/gpu", "1"}}}}}}}},
      {"containers",
       {{{"name", "app"},
         {"resources",
          {{"requests", {{"example.com/gpu", 1}, {"cpu", "1"}}},
           {"limits", {{"example.com/gpu", 2}, {"example.com/fpga", "x"}}}}}},
        {{"name", "plain"}, {"resources", {{"limits", {{"memory", "1Gi"}}}}}}}}};
  auto wants =
      deviceRequests(spec, [](const std::string& n) { return n.rfind("example.com/", 0) == 0; });
  ASSERT_EQ(wants.size(), 2u);
  EXPECT_EQ(wants[0].name, "init");
  EXPECT_TRUE(wants[0].init);
  EXPECT_EQ(wants[1].name, "app");
  EXPECT_EQ(wants[1].need, (std::map<std::string, int64_t>{{"example.com/gpu", 2}}));
}

TEST(DeviceRequestsTest, ExtendedResourceNames) {
  EXPECT_TRUE(isExtendedResourceName("example.com/widget"));
  EXPECT_FALSE(isExtendedResourceName("kubernetes.io/widget"));
  EXPECT_FALSE(isExtendedResourceName("widget"));
  EXPECT_FALSE(isExtendedResourceName("Example.com/widget"));
}

}  // namespace
}  // namespace edgecore::edged::deviceplugin
