// cri::CriClient against the real containerd: version, status, a hostNetwork sandbox with one
// busybox container through its whole life, exec, and error mapping.

#include "edgecore/cri/cri_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "edged/cri_test_util.h"
#include "util/process.h"

namespace edgecore::edged {
namespace {

using testing::kBusyboxImage;
using testing::kContainerdSocket;

class CriClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EC_SKIP_WITHOUT_CONTAINERD();
    cri::CriClientOptions o;
    o.runtime_endpoint = std::string("unix://") + kContainerdSocket;
    auto c = cri::CriClient::create(o);
    ASSERT_TRUE(c.ok()) << c.status().toString();
    cri_ = std::move(c).value();
    ns_ = "cri-test-" + testing::uniqueSuffix();
  }
  void TearDown() override {
    if (cri_) {
      testing::removeNamespacePods(*cri_, ns_);
    }
  }

  runtimeapi::PodSandboxConfig sandboxConfig(const std::string& name, const std::string& uid) {
    runtimeapi::PodSandboxConfig c;
    c.mutable_metadata()->set_name(name);
    c.mutable_metadata()->set_uid(uid);
    c.mutable_metadata()->set_namespace_(ns_);
    c.set_log_directory(logs_.path() + "/" + ns_ + "_" + name + "_" + uid);
    (*c.mutable_labels())["io.kubernetes.pod.name"] = name;
    (*c.mutable_labels())["io.kubernetes.pod.namespace"] = ns_;
    (*c.mutable_labels())["io.kubernetes.pod.uid"] = uid;
    auto* nso = c.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    nso->set_network(runtimeapi::NODE);  // hostNetwork: hostname must stay empty
    nso->set_pid(runtimeapi::CONTAINER);
    nso->set_ipc(runtimeapi::POD);
    return c;
  }

  std::unique_ptr<cri::CriClient> cri_;
  std::string ns_;
  testing::TempDir logs_;
};

TEST_F(CriClientTest, VersionAndStatus) {
  auto v = cri_->version();
  ASSERT_TRUE(v.ok()) << v.status().toString();
  EXPECT_EQ(v->runtime_api_version(), "v1");
  EXPECT_FALSE(v->runtime_name().empty());
  auto s = cri_->status();
  ASSERT_TRUE(s.ok()) << s.status().toString();
  EXPECT_TRUE(s->runtime_ready) << s->runtime_reason;
  // Without a CNI config the network is not ready; either way a reason accompanies false.
  if (!s->network_ready) {
    EXPECT_FALSE(s->network_reason.empty());
  }
}

TEST_F(CriClientTest, ImagesAreLocal) {
  auto img = cri_->imageStatus(kBusyboxImage);
  ASSERT_TRUE(img.ok()) << img.status().toString();
  ASSERT_TRUE(img->has_value()) << "busybox image missing; run scripts/test-services.sh start";
  EXPECT_FALSE((*img)->id().empty());
  auto missing = cri_->imageStatus("example.invalid/none:1");
  ASSERT_TRUE(missing.ok()) << missing.status().toString();
  EXPECT_FALSE(missing->has_value());
  auto all = cri_->listImages();
  ASSERT_TRUE(all.ok());
  EXPECT_GE(all->size(), 1u);
}

TEST_F(CriClientTest, SandboxAndContainerRoundTrip) {
  const std::string uid = "uid-" + testing::uniqueSuffix();
  runtimeapi::PodSandboxConfig sb = sandboxConfig("rt", uid);
  auto sandbox_id = cri_->runPodSandbox(sb);
  ASSERT_TRUE(sandbox_id.ok()) << sandbox_id.status().toString();

  auto sst = cri_->podSandboxStatus(*sandbox_id);
  ASSERT_TRUE(sst.ok()) << sst.status().toString();
  EXPECT_EQ(sst->state(), runtimeapi::SANDBOX_READY);
  EXPECT_EQ(sst->metadata().uid(), uid);

  runtimeapi::ContainerConfig cc;
  cc.mutable_metadata()->set_name("main");
  cc.mutable_image()->set_image(kBusyboxImage);
  cc.add_command("sh");
  cc.add_args("-c");
  cc.add_args("echo hello-cri; sleep 3600");
  cc.set_log_path("main/0.log");
  (*cc.mutable_labels())["io.kubernetes.pod.namespace"] = ns_;
  (*cc.mutable_labels())["io.kubernetes.container.name"] = "main";
  auto* env = cc.add_envs();
  env->set_key("GREETING");
  env->set_value("hi");
  auto cid = cri_->createContainer(*sandbox_id, cc, sb);
  ASSERT_TRUE(cid.ok()) << cid.status().toString();
  ASSERT_TRUE(cri_->startContainer(*cid).ok());

  auto cst = cri_->containerStatus(*cid);
  ASSERT_TRUE(cst.ok()) << cst.status().toString();
  EXPECT_EQ(cst->state(), runtimeapi::CONTAINER_RUNNING);
  EXPECT_GT(cst->started_at(), 0);

  runtimeapi::ContainerFilter f;
  (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns_;
  auto list = cri_->listContainers(f);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().id(), *cid);

  auto ex = cri_->execSync(*cid, {"sh", "-c", "echo $GREETING; echo err >&2; exit 3"}, 10);
  ASSERT_TRUE(ex.ok()) << ex.status().toString();
  EXPECT_EQ(ex->stdout(), "hi\n");
  EXPECT_EQ(ex->stderr(), "err\n");
  EXPECT_EQ(ex->exit_code(), 3);

  runtimeapi::ExecRequest er;
  er.set_container_id(*cid);
  er.add_cmd("true");
  er.set_stdout(true);
  auto url = cri_->exec(er);
  ASSERT_TRUE(url.ok()) << url.status().toString();
  EXPECT_NE(url->find("/exec/"), std::string::npos);

  // busybox sh as PID 1 ignores SIGTERM: a 0 s timeout kills at once.
  ASSERT_TRUE(cri_->stopContainer(*cid, 0).ok());
  cst = cri_->containerStatus(*cid);
  ASSERT_TRUE(cst.ok());
  EXPECT_EQ(cst->state(), runtimeapi::CONTAINER_EXITED);
  EXPECT_EQ(cst->exit_code(), 137);
  std::string log = testing::readFile(cst->log_path());
  EXPECT_NE(log.find(" stdout F hello-cri"), std::string::npos) << log;

  ASSERT_TRUE(cri_->removeContainer(*cid).ok());
  auto gone = cri_->containerStatus(*cid);
  EXPECT_EQ(gone.status().code(), core::StatusCode::NotFound) << gone.status().toString();
  ASSERT_TRUE(cri_->stopPodSandbox(*sandbox_id).ok());
  ASSERT_TRUE(cri_->removePodSandbox(*sandbox_id).ok());
  runtimeapi::PodSandboxFilter pf;
  (*pf.mutable_label_selector())["io.kubernetes.pod.uid"] = uid;
  auto pods = cri_->listPodSandbox(pf);
  ASSERT_TRUE(pods.ok());
  EXPECT_TRUE(pods->empty());
}

TEST_F(CriClientTest, UnreachableEndpointIsUnavailable) {
  testing::TempDir dir;
  cri::CriClientOptions o;
  o.runtime_endpoint = dir.file("nothing.sock");
  o.status_timeout = std::chrono::seconds(2);
  auto c = cri::CriClient::create(o);
  ASSERT_TRUE(c.ok());
  auto v = (*c)->version();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), core::StatusCode::Unavailable);
  EXPECT_NE(v.status().message().find("container runtime unreachable"), std::string::npos)
      << v.status().message();
}

TEST(CriClientCreate, RejectsTcpEndpoint) {
  cri::CriClientOptions o;
  o.runtime_endpoint = "tcp://127.0.0.1:1";
  auto c = cri::CriClient::create(o);
  EXPECT_EQ(c.status().code(), core::StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace edgecore::edged
