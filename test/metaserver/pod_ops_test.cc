// Unit tests of the pure parts of the keadm ctl endpoints: dispatch (spec 4.2) and the checks
// that keep stored upgrade fields from becoming anything but plain arguments.

#include <gtest/gtest.h>

#include "pod_ops_handler.h"

namespace edgecore::metaserver {
namespace {

TEST(MatchLocalOp, DispatchTableOfV120) {
  auto m = matchLocalOp("GET", "/api/v1/namespaces/default/pods/web/log?follow=true");
  EXPECT_EQ(m.kind, LocalOpKind::Logs);
  EXPECT_EQ(m.ns, "default");
  EXPECT_EQ(m.name, "web");
  EXPECT_EQ(matchLocalOp("POST", "/api/v1/namespaces/d/pods/web/exec?command=ls").kind,
            LocalOpKind::Exec);
  EXPECT_EQ(matchLocalOp("GET", "/api/v1/namespaces/d/pods/web/exec?command=ls").kind,
            LocalOpKind::Exec);  // websocket upgrades are GETs
  EXPECT_EQ(matchLocalOp("POST", "/api/v1/namespaces/d/pods/restart").kind, LocalOpKind::Restart);
  EXPECT_EQ(matchLocalOp("POST", "/api/v1/taskupgrade/confirm-upgrade").kind,
            LocalOpKind::ConfirmUpgrade);
  EXPECT_EQ(matchLocalOp("PUT", "/apis/devices.kubeedge.io/v1beta1/namespaces/d/devices/t").kind,
            LocalOpKind::DeviceUpdate);
  // Ordinary requests stay with the REST handler.
  EXPECT_EQ(matchLocalOp("GET", "/api/v1/namespaces/d/pods/web").kind, LocalOpKind::None);
  EXPECT_EQ(matchLocalOp("GET", "/api/v1/namespaces/d/pods/restart").kind, LocalOpKind::None);
  EXPECT_EQ(matchLocalOp("PUT", "/api/v1/namespaces/d/pods/web").kind, LocalOpKind::None);
  EXPECT_EQ(matchLocalOp("GET", "/apis/devices.kubeedge.io/v1beta1/namespaces/d/devices/t").kind,
            LocalOpKind::None);
  EXPECT_EQ(matchLocalOp("GET", "/api/v1/namespaces/%2e%2e/pods/x/log").kind, LocalOpKind::None);
}

TEST(ValidateUpgradeField, OnlyPlainValues) {
  EXPECT_TRUE(validateUpgradeField("UpgradeID", "3f2a-11ef_9.1").ok());
  EXPECT_TRUE(validateUpgradeField("Version", "v1.20.1").ok());
  EXPECT_TRUE(validateUpgradeField("Image", "registry:5000/kubeedge/pkg@sha256:abc").ok());
  EXPECT_FALSE(validateUpgradeField("Version", "").ok());
  EXPECT_FALSE(validateUpgradeField("Version", "v1; rm -rf /").ok());
  EXPECT_FALSE(validateUpgradeField("UpgradeID", "$(id)").ok());
  EXPECT_FALSE(validateUpgradeField("HistoryID", "--config=/etc/x").ok());
  EXPECT_FALSE(validateUpgradeField("Image", "a b").ok());
  EXPECT_FALSE(validateUpgradeField("Image", "x`id`").ok());
  EXPECT_FALSE(validateUpgradeField("UpgradeID", std::string(300, 'a')).ok());
  auto st = validateUpgradeField("Image", "x|y");
  EXPECT_NE(st.message().find("field Image"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace edgecore::metaserver
