// The pure parts of the taskmanager: resources, specs, flows, keadm argument vectors (the
// injection guard), the report body and the pull-secret shapes.

#include "task_spec.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "edgecore/core/base64.h"
#include "host_actions.h"

namespace edgecore::taskmanager {
namespace {

TEST(TaskSpec, ParsesTheV1alpha2ResourceAndRefusesOtherShapes) {
  auto r = parseNodeJobResource("operations.kubeedge.io/v1alpha2/imageprepulljob/j1/node/edge-1");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->type, "imageprepulljob");
  EXPECT_EQ(r->job, "j1");
  EXPECT_EQ(r->node, "edge-1");
  EXPECT_EQ(r->toString(), "operations.kubeedge.io/v1alpha2/imageprepulljob/j1/node/edge-1");
  for (const char* bad : {"operations.kubeedge.io/v1alpha2/imageprepulljob/j1/node",
                          "operations.kubeedge.io/v1alpha2/imageprepulljob/j1/pod/edge-1",
                          "operations.kubeedge.io/v1alpha2/somethingjob/j1/node/edge-1",
                          "operations.kubeedge.io/v1alpha2/imageprepulljob//node/edge-1",
                          "operations.kubeedge.io/v1alpha1/imageprepulljob/j1/node/edge-1",
                          "upgrade/task1/node/edge-1"}) {
    EXPECT_FALSE(parseNodeJobResource(bad).ok()) << bad;
  }
  EXPECT_TRUE(isNodeJobResource("operations.kubeedge.io/v1alpha2/x"));
  EXPECT_FALSE(isNodeJobResource("upgrade/task1/node/edge-1"));
}

TEST(TaskSpec, FlowsFollowTheOriginal) {
  EXPECT_EQ(findAction("nodeupgradejob", "Check")->next_success, "WaitingConfirmation");
  EXPECT_EQ(findAction("nodeupgradejob", "Upgrade")->next_failure, "RollBack");
  EXPECT_EQ(findAction("nodeupgradejob", "Upgrade")->next_success, "");
  EXPECT_EQ(findAction("imageprepulljob", "Check")->next_success, "Pull");
  EXPECT_EQ(findAction("configupdatejob", "BackUp")->next_success, "Update");
  EXPECT_EQ(findAction("configupdatejob", "Update")->next_failure, "RollBack");
  EXPECT_FALSE(findAction("imageprepulljob", "Upgrade").has_value());
}

TEST(TaskSpec, UpgradeArgvRefusesShellMetacharactersWithoutBuildingAnything) {
  NodeUpgradeSpec s;
  s.version = "v1.23.1";
  s.image = "kubeedge/installation-package";
  auto argv = keadmUpgradeArgv("/k", s);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(*argv,
            (std::vector<std::string>{"/k", "upgrade", "edge", "--force", "--toVersion", "v1.23.1",
                                      "--image", "kubeedge/installation-package"}));
  for (const char* bad_version :
       {"v1.0.0; touch /tmp/pwned", "$(id)", "v1.0.0 --image x", "-v1.0.0", "v1.0.0`id`", ""}) {
    s.version = bad_version;
    s.image = "";
    auto refused = keadmUpgradeArgv("/k", s);
    EXPECT_FALSE(refused.ok()) << bad_version;
    EXPECT_NE(refused.status().message().find("invalid version format"), std::string::npos);
  }
  s.version = "v1.23.1";
  for (const char* bad_image :
       {"kubeedge/pkg;id", "$(id)/x", "-rf/x", "kubeedge/pkg x", "kubeedge/pkg|sh", "noslash"}) {
    s.image = bad_image;
    EXPECT_FALSE(keadmUpgradeArgv("/k", s).ok()) << bad_image;
  }
}

TEST(TaskSpec, ConfigUpdateArgvSortsAndJoinsThePairs) {
  auto spec = parseConfigUpdateSpec(
      R"j({"updateFields":{"modules.edgeHub.heartbeat":"20","a.b":"x y; $(id)"}})j");
  ASSERT_TRUE(spec.ok());
  auto argv = keadmConfigUpdateArgv("/k", *spec);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(*argv, (std::vector<std::string>{"/k", "config-update", "--set",
                                             "a.b=x y; $(id),modules.edgeHub.heartbeat=20"}));
  EXPECT_FALSE(keadmConfigUpdateArgv("/k", ConfigUpdateSpec{}).ok());
  EXPECT_FALSE(parseConfigUpdateSpec(R"({"updateFields":{"a":1}})").ok());
}

TEST(TaskSpec, SpecsDecodeLikeGo) {
  auto p = parseImagePrePullSpec(
      R"({"imagePrePullTemplate":{"images":["a/b:1","c/d:2"],"checkItems":["disk"],)"
      R"("imageSecrets":"default/regcred","retryTimes":2,"unknown":true}})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->images.size(), 2u);
  EXPECT_EQ(p->image_secrets, "default/regcred");
  EXPECT_EQ(p->retry_times, 2);
  auto u = parseNodeUpgradeSpec(
      R"({"version":"v1.23.1","image":"kubeedge/installation-package","imageDigestGatter":null,)"
      R"("checkItems":["cpu"],"requireConfirmation":true})");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->require_confirmation);
  EXPECT_FALSE(parseNodeUpgradeSpec(R"({"version":1})").ok());
  EXPECT_FALSE(parseNodeUpgradeSpec("not json").ok());
  EXPECT_FALSE(parseImagePrePullSpec(R"({"imagePrePullTemplate":{"images":"a"}})").ok());
}

TEST(TaskSpec, ReportBodyHasEveryKeyInOrder) {
  EXPECT_EQ(encodeReport({"Check", true, "2026-12-07T10:00:00Z", "", ""}),
            R"({"action":"Check","succ":true,"finishTime":"2026-12-07T10:00:00Z","reason":"",)"
            R"("extend":""})");
  EXPECT_EQ(encodeImageResults({{"a:1", true, ""}, {"b:1", false, "not found"}}),
            R"([{"image":"a:1","status":"True"},{"image":"b:1","status":"False",)"
            R"("reason":"not found"}])");
  auto back = decodeReport(encodeReport({"Pull", false, "t", "r", "e"}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->action, "Pull");
  EXPECT_FALSE(back->succ);
}

TEST(TaskSpec, CheckItemsRefuseUnknownItemsWithTheOriginalMessage) {
  core::Status st = runCheckItems({"gpu"});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "check item gpu not support");
  EXPECT_TRUE(runCheckItems({}).ok());
}

TEST(TaskSpec, PullSecretAcceptsTheAuthConfigAndTheDockerShapes) {
  auto a = authFromDockerConfig(R"({"Username":"u1","password":"p1","server_address":"r:5000"})",
                                "r:5000/a:1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->username, "u1");
  EXPECT_EQ(a->password, "p1");
  EXPECT_EQ(a->server_address, "r:5000");
  std::string docker = R"({"auths":{"other.io":{"username":"x","password":"y"},)"
                       R"("127.0.0.1:5000":{"auth":")" +
                       core::base64Encode("u2:p:2") + R"("}}})";
  auto b = authFromDockerConfig(docker, "127.0.0.1:5000/a:1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->username, "u2");
  EXPECT_EQ(b->password, "p:2");
  auto hub = authFromDockerConfig(R"({"auths":{"https://index.docker.io/v1/":{"username":"d",)"
                                  R"("password":"h"}}})",
                                  "library/busybox:1");
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->username, "d");
  EXPECT_FALSE(authFromDockerConfig("[1]", "a/b").ok());
}

// keadm outlives the edgecore that started it: it must not hold that edgecore's sockets (Asio
// opens them without close-on-exec), or the restarted edgecore cannot bind MetaServer's port.
TEST(TaskSpec, KeadmGetsNoDescriptorOfEdgecoreButItsOutput) {
  char name[] = "/tmp/taskmanager-fd-test-XXXXXX";
  int inherited = ::mkstemp(name);  // without O_CLOEXEC, like an Asio socket
  ASSERT_GE(inherited, 3);
  std::string out;
  auto rc = runProgram(
      {"/bin/sh", "-c", "for f in /proc/$$/fd/*; do readlink \"$f\"; done; exit 0"}, "", &out);
  ::close(inherited);
  ::unlink(name);
  ASSERT_TRUE(rc.ok()) << rc.status().toString();
  EXPECT_EQ(*rc, 0);
  EXPECT_NE(out.find("/dev/null"), std::string::npos) << out;  // stdin: the listing worked
  EXPECT_EQ(out.find(name), std::string::npos) << out;
}

}  // namespace
}  // namespace edgecore::taskmanager
