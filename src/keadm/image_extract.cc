#include "image_extract.h"

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "edgecore/cri/cri_client.h"

namespace edgecore::keadm {
namespace {

constexpr const char* kMountPoint = "/tmp/keadm-upgrade";

// Removes the container and the sandbox whatever happened; failures only printed.
struct CriCleanup {
  cri::CriClient* client = nullptr;
  std::string sandbox, container;
  ~CriCleanup() {
    if (!container.empty()) {
      (void)client->stopContainer(container, 0);
      core::Status st = client->removeContainer(container);
      if (!st.ok()) std::cerr << "warning: " << st.message() << "\n";
    }
    if (!sandbox.empty()) {
      (void)client->stopPodSandbox(sandbox);
      core::Status st = client->removePodSandbox(sandbox);
      if (!st.ok()) std::cerr << "warning: " << st.message() << "\n";
    }
  }
};

}  // namespace

core::Result<std::string> edgecoreFromImage(const core::EdgeCoreConfig& config,
                                            const std::string& image, const std::string& dest_dir) {
  const auto& edged = config.modules.edged;
  cri::CriClientOptions o;
  if (!edged.container_runtime_endpoint.empty()) {
    o.runtime_endpoint = edged.container_runtime_endpoint;
  }
  o.image_endpoint = edged.image_service_endpoint;
  if (edged.runtime_request_timeout.count() > 0) {
    o.request_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(edged.runtime_request_timeout);
  }
  auto client = cri::CriClient::create(o);
  if (!client.ok()) return client.status();
  cri::CriClient& cri = **client;

  runtimeapi::PodSandboxConfig sandbox;
  auto* meta = sandbox.mutable_metadata();
  meta->set_name("edgecore");
  meta->set_namespace_("kubeedge");
  meta->set_uid("keadm-upgrade-" + std::to_string(::getpid()));
  auto* linux = sandbox.mutable_linux();
  linux->mutable_security_context()->mutable_namespace_options()->set_network(runtimeapi::NODE);
  linux->mutable_security_context()->set_privileged(true);
  if (edged.cgroup_driver == "systemd") {
    linux->set_cgroup_parent("kubeedge-setup-podcopyresource.slice");
  }

  // Like the kubelet's IfNotPresent: a node without a registry can be given the image by
  // `ctr images import`.
  auto present = cri.imageStatus(image);
  if (!present.ok()) return present.status();
  core::Result<std::string> pulled = std::string();
  if (*present) {
    pulled = (*present)->id();
  } else {
    std::cout << "[upgrade] pulling " << image << "\n";
    pulled = cri.pullImage(image, nullptr, &sandbox);
    if (!pulled.ok()) return pulled.status();
  }

  CriCleanup cleanup{&cri, "", ""};
  auto sandbox_id = cri.runPodSandbox(sandbox);
  if (!sandbox_id.ok()) return sandbox_id.status();
  cleanup.sandbox = *sandbox_id;

  runtimeapi::ContainerConfig c;
  c.mutable_metadata()->set_name("copy-edgecore");
  c.mutable_image()->set_image(*pulled);
  c.add_command("/bin/sh");
  c.add_args("-c");
  c.add_args("sleep 3600");
  auto* mount = c.add_mounts();
  mount->set_host_path(dest_dir);
  mount->set_container_path(kMountPoint);
  c.mutable_linux()->mutable_security_context()->set_privileged(true);
  auto container = cri.createContainer(*sandbox_id, c, sandbox);
  if (!container.ok()) return container.status();
  cleanup.container = *container;
  core::Status st = cri.startContainer(*container);
  if (!st.ok()) return st;

  // Fixed script, no input from the caller in it.
  const std::string script = std::string(
                                 "for p in /usr/local/bin/edgecore /usr/bin/edgecore; do "
                                 "if [ -f \"$p\" ]; then exec cp \"$p\" ") +
                             kMountPoint + "/edgecore; fi; done; exit 3";
  auto copied = cri.execSync(*container, {"/bin/sh", "-c", script}, 30);
  if (!copied.ok()) return copied.status();
  if (copied->exit_code() == 3) {
    return core::notFound("image " + image +
                          " has no /usr/local/bin/edgecore or /usr/bin/edgecore");
  }
  if (copied->exit_code() != 0) {
    return core::unavailable("copying edgecore out of " + image + " failed (exit " +
                             std::to_string(copied->exit_code()) +
                             "): " + copied->stderr().substr(0, 300));
  }
  return dest_dir + "/edgecore";
}

}  // namespace edgecore::keadm
