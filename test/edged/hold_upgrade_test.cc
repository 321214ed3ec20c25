// Hold upgrade (KubeEdge v1.22): HeldUpgrades* check the rule and the bookkeeping on a real bus;
// HoldUpgradeTest* run edged with the real metamanager on the real containerd (label containerd):
// a held pod keeps its running container across a spec change until unhold-upgrade, after which
// the new spec runs; the rule survives an edgecore restart; other pods are updated at once.

#include "hold_upgrade.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <set>

#include "edged/edged_harness.h"

namespace edgecore::testing {
namespace {

json heldPod(const std::string& ns, const std::string& name, const std::string& node,
             const std::string& script) {
  json pod = makePod(ns, name, node, json::array({busyboxContainer("main", script)}));
  pod["metadata"]["annotations"] = {{"edge.kubeedge.io/hold-upgrade", "true"}};
  return pod;
}

// The cloud's update of `pod`: a new command, a newer resourceVersion, status.phase `phase`.
json changed(json pod, const std::string& script, const std::string& phase,
             const std::string& rv = "2") {
  pod["spec"]["containers"][0]["command"] = json::array({"sh", "-c", script});
  pod["metadata"]["resourceVersion"] = rv;
  pod["status"] = {{"phase", phase}};
  return pod;
}

TEST(HeldUpgrades, OnlyAnnotatedPendingUpdatesAreHeldAndReleasedInOrder) {
  boost::asio::io_context ioc;
  core::Bus bus(ioc);
  std::vector<core::Message> to_meta;
  ASSERT_TRUE(bus.subscribe("metamanager", "meta", boost::asio::make_strand(ioc),
                            [&](core::Message m) { to_meta.push_back(std::move(m)); })
                  .ok());
  auto log = std::make_shared<spdlog::logger>("test");
  edged::HeldUpgrades holds(bus, log);
  json base = heldPod("ns1", "p", "n", "sleep 1");
  EXPECT_FALSE(edged::holdsUpgrade(base));  // no phase
  json v2 = changed(base, "sleep 2", "Pending");
  json v3 = changed(base, "sleep 3", "Pending", "3");
  EXPECT_TRUE(edged::holdsUpgrade(v2));
  EXPECT_FALSE(edged::holdsUpgrade(changed(base, "x", "Running")));
  json deleting = v2;
  deleting["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z";
  EXPECT_FALSE(edged::holdsUpgrade(deleting));
  json other_value = v2;
  other_value["metadata"]["annotations"]["edge.kubeedge.io/hold-upgrade"] = "True";
  EXPECT_FALSE(edged::holdsUpgrade(other_value));

  EXPECT_FALSE(holds.intercept(v2, /*is_update=*/false)) << "inserts are never held";
  EXPECT_TRUE(holds.intercept(v2, true));
  EXPECT_TRUE(holds.intercept(v3, true));
  EXPECT_TRUE(holds.release("ns1", "other").empty());
  auto released = holds.release("ns1", "p");
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0]["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(released[1]["metadata"]["resourceVersion"], "3");
  EXPECT_TRUE(holds.release("ns1", "p").empty()) << "released once";

  // A newer update that is not held supersedes what was held; a delete forgets it.
  EXPECT_TRUE(holds.intercept(v2, true));
  EXPECT_FALSE(holds.intercept(changed(base, "sleep 4", "Running", "4"), true));
  EXPECT_TRUE(holds.release("ns1", "p").empty());
  EXPECT_TRUE(holds.intercept(v2, true));
  holds.forget(v2);
  EXPECT_TRUE(holds.release("ns1", "p").empty());
  EXPECT_EQ(holds.size(), 0u);

  // At most kMaxPerPod updates per pod, the newest kept.
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(holds.intercept(changed(base, "s", "Pending", std::to_string(100 + i)), true));
  }
  auto bounded = holds.release("ns1", "p");
  ASSERT_EQ(bounded.size(), edged::HeldUpgrades::kMaxPerPod);
  EXPECT_EQ(bounded.back()["metadata"]["resourceVersion"], "139");

  // Each held update sent the HeldUpgrade condition to metamanager.
  ioc.run_for(std::chrono::milliseconds(200));
  ASSERT_FALSE(to_meta.empty());
  const core::Message& m = to_meta.front();
  EXPECT_EQ(m.route.source, "edged");
  EXPECT_EQ(m.route.group, "meta");
  EXPECT_EQ(m.route.operation, "patch");
  EXPECT_EQ(m.route.resource, "ns1/podpatch/p");
  ASSERT_TRUE(m.content.is_string());
  std::string text = m.content.get<std::string>();
  EXPECT_EQ(text.rfind(R"({"status":{"conditions":[{"type":"HeldUpgrade","status":"True",)"
                       R"("lastProbeTime":null,"lastTransitionTime":")",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find(R"("reason":"HoldUpgradeEnabled","message":"Upgrade is currently held )"
                      R"(due to edge-hold-upgrade annotation"}]}})"),
            std::string::npos)
      << text;
}

TEST(HeldUpgrades, FullSetFromTheStoreHoldsAnnotatedPendingPods) {
  boost::asio::io_context ioc;
  core::Bus bus(ioc);
  edged::HeldUpgrades holds(bus, std::make_shared<spdlog::logger>("test"));
  json held = changed(heldPod("ns1", "a", "n", "sleep 1"), "sleep 2", "Pending");
  json running = changed(heldPod("ns1", "b", "n", "sleep 1"), "sleep 2", "Running");
  std::set<std::string> wanted;
  auto apply = holds.filterSet({held, running}, wanted);
  ASSERT_EQ(apply.size(), 1u);
  EXPECT_EQ(apply[0]["metadata"]["name"], "b");
  EXPECT_EQ(wanted, std::set<std::string>({"uid-ns1-a"})) << "a held pod is still wanted";
  EXPECT_EQ(holds.notOrphans({"x"}), std::set<std::string>({"uid-ns1-a", "x"}));
  core::Message unhold =
      core::Message::create("metamanager", "", "unhold-upgrade", "ns1/pod/a", json());
  edged::PodMessage m = edged::classifyPodMessage(unhold);
  ASSERT_EQ(m.kind, edged::PodMessage::Kind::Unhold);
  auto released = holds.admit(std::move(m));
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0]["spec"]["containers"][0]["command"][2], "sleep 2");
  EXPECT_TRUE(holds.notOrphans({}).empty());
}

class HoldUpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not a skip: without containerd the check cannot run, and that must show.
    ASSERT_TRUE(containerdAvailable())
        << "containerd socket " << kContainerdSocket << " missing: scripts/test-services.sh start";
    auto c = cri::CriClient::create({});
    ASSERT_TRUE(c.ok());
    cri_ = std::move(c).value();
    removeLeftoversOfDeadTestRuns(*cri_);
    ns_ = "edged-test-" + uniqueSuffix();
    node_ = "node-" + ns_;
  }
  void TearDown() override {
    harness_.reset();
    if (cri_) {
      removeNamespacePods(*cri_, ns_);
    }
  }

  EdgedHarness& start(bool connected = true) {
    harness_ = std::make_unique<EdgedHarness>(dir_.path(), node_, edged::EdgedOptions{}, connected);
    return *harness_;
  }

  std::set<std::string> runningIds(const std::string& name) {
    runtimeapi::ContainerFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
    (*f.mutable_label_selector())["io.kubernetes.pod.name"] = name;
    auto list = cri_->listContainers(f);
    std::set<std::string> ids;
    for (const auto& c : list.ok() ? *list : std::vector<runtimeapi::Container>{}) {
      if (c.state() == runtimeapi::CONTAINER_RUNNING) {
        ids.insert(c.id());
      }
    }
    return ids;
  }

  // The command line of the running container of `name` ("" unless exactly one runs).
  std::string runningCommand(const std::string& name) {
    auto ids = runningIds(name);
    if (ids.size() != 1) {
      return "";
    }
    // PID 1 of the container runs the script: its command line tells which spec runs.
    auto r = cri_->execSync(*ids.begin(), {"cat", "/proc/1/cmdline"}, 10);
    if (!r.ok() || r->exit_code() != 0) {
      return "";
    }
    std::string cmdline = r->stdout();
    while (!cmdline.empty() && cmdline.back() == '\0') {
      cmdline.pop_back();
    }
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    // busybox sh execs the last command: "sleep 3600" (else "sh -c sleep 3600").
    const std::string prefix = "sh -c ";
    return cmdline.rfind(prefix, 0) == 0 ? cmdline.substr(prefix.size()) : cmdline;
  }

  bool heldConditionSent(EdgedHarness& h, const std::string& name) {
    for (const auto& m : h.upstream()) {
      if (m.route.operation == "patch" && m.route.resource == ns_ + "/podpatch/" + name &&
          m.content.is_string() &&
          m.content.get<std::string>().find("\"HeldUpgrade\"") != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  core::Status unhold(EdgedHarness& h, const std::string& name) {
    // What MetaServer sends for keadm ctl unhold-upgrade.
    return h.bus().send("edged", core::Message::create("metamanager", "", "unhold-upgrade",
                                                       ns_ + "/pod/" + name, json()));
  }

  TempDir dir_;
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<EdgedHarness> harness_;
  std::string ns_;
  std::string node_;
};

TEST_F(HoldUpgradeTest, HeldPodKeepsItsContainerUntilUnhold) {
  auto& h = start();
  json pod = heldPod(ns_, "held", node_, "sleep 3600");
  ASSERT_TRUE(h.insert(pod).ok());
  ASSERT_TRUE(waitFor([&] { return runningIds("held").size() == 1; }, 30s));
  const auto before = runningIds("held");
  EXPECT_EQ(runningCommand("held"), "sleep 3600");

  ASSERT_TRUE(h.send("update", changed(pod, "sleep 3601", "Pending")).ok());
  ASSERT_TRUE(waitFor([&] { return heldConditionSent(h, "held"); }, 10s));
  std::this_thread::sleep_for(2s);  // ten relists: nothing may be recreated
  EXPECT_EQ(runningIds("held"), before);
  EXPECT_EQ(runningCommand("held"), "sleep 3600");

  ASSERT_TRUE(unhold(h, "held").ok());
  ASSERT_TRUE(waitFor([&] { return runningCommand("held") == "sleep 3601"; }, 30s))
      << runningCommand("held");
  EXPECT_EQ(runningIds("held").count(*before.begin()), 0u) << "a new container runs";
}

TEST_F(HoldUpgradeTest, PodsWithoutTheAnnotationOrNotPendingAreUpdatedAtOnce) {
  auto& h = start();
  json plain = makePod(ns_, "plain", node_, json::array({busyboxContainer("main", "sleep 3600")}));
  json running = heldPod(ns_, "running", node_, "sleep 3600");
  ASSERT_TRUE(h.insert(plain).ok());
  ASSERT_TRUE(h.insert(running).ok());
  ASSERT_TRUE(waitFor(
      [&] { return runningIds("plain").size() == 1 && runningIds("running").size() == 1; }, 30s));
  ASSERT_TRUE(h.send("update", changed(plain, "sleep 3601", "Pending")).ok());
  // Annotated, but the cloud reports it Running: KubeEdge holds only Pending ones.
  ASSERT_TRUE(h.send("update", changed(running, "sleep 3601", "Running")).ok());
  EXPECT_TRUE(waitFor([&] { return runningCommand("plain") == "sleep 3601"; }, 30s));
  EXPECT_TRUE(waitFor([&] { return runningCommand("running") == "sleep 3601"; }, 30s));
  EXPECT_FALSE(heldConditionSent(h, "plain"));
  EXPECT_FALSE(heldConditionSent(h, "running"));
}

TEST_F(HoldUpgradeTest, HoldIsReappliedFromTheStoreAfterARestart) {
  json pod = heldPod(ns_, "held", node_, "sleep 3600");
  std::set<std::string> before;
  {
    auto& h = start();
    ASSERT_TRUE(h.insert(pod).ok());
    ASSERT_TRUE(waitFor([&] { return runningIds("held").size() == 1; }, 30s));
    before = runningIds("held");
    ASSERT_TRUE(h.send("update", changed(pod, "sleep 3601", "Pending")).ok());
    ASSERT_TRUE(waitFor([&] { return heldConditionSent(h, "held"); }, 10s));
    harness_.reset();  // edgecore stops; the container keeps running
  }
  // The store has the new spec with phase Pending: held again, the old container left running.
  auto& h = start(/*connected=*/false);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(runningIds("held"), before);
  EXPECT_EQ(runningCommand("held"), "sleep 3600");
  ASSERT_TRUE(unhold(h, "held").ok());
  ASSERT_TRUE(waitFor([&] { return runningCommand("held") == "sleep 3601"; }, 30s))
      << runningCommand("held");
}

}  // namespace
}  // namespace edgecore::testing
