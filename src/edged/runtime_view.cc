// CRI replies -> runtime views (see runtime_view.h).

#include "runtime_view.h"

#include <algorithm>

namespace edgecore::edged {

std::string criLabel(const google::protobuf::Map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

ContainerRunState runStateFromCri(runtimeapi::ContainerState s) {
  switch (s) {
    case runtimeapi::CONTAINER_CREATED:
      return ContainerRunState::Created;
    case runtimeapi::CONTAINER_RUNNING:
      return ContainerRunState::Running;
    case runtimeapi::CONTAINER_EXITED:
      return ContainerRunState::Exited;
    default:
      return ContainerRunState::Unknown;
  }
}

SandboxView sandboxViewFromCri(const runtimeapi::PodSandbox& s) {
  SandboxView v;
  v.id = s.id();
  v.ready = s.state() == runtimeapi::SANDBOX_READY;
  v.attempt = s.metadata().attempt();
  v.created_at = s.created_at();
  v.name = s.metadata().name();
  v.ns = s.metadata().namespace_();
  v.edged_node = criLabel(s.labels(), kLabelEdgedNode);
  return v;
}

SandboxNetwork sandboxNetworkFromCri(const runtimeapi::PodSandboxStatus& st) {
  SandboxNetwork n;
  n.host_network = st.linux().namespaces().options().network() == runtimeapi::NODE;
  n.ip = st.network().ip();
  return n;
}

ContainerView containerViewFromCri(const runtimeapi::Container& c) {
  ContainerView v;
  v.id = c.id();
  v.sandbox_id = c.pod_sandbox_id();
  v.name = criLabel(c.labels(), kLabelContainerName);
  if (v.name.empty()) {
    v.name = c.metadata().name();
  }
  v.state = runStateFromCri(c.state());
  v.attempt = c.metadata().attempt();
  v.hash = criLabel(c.annotations(), kAnnotationHash);
  v.created_at = c.created_at();
  v.image = c.image().image();
  v.image_ref = c.image_ref();
  return v;
}

void applyContainerStatus(const runtimeapi::ContainerStatus& st, ContainerView& v) {
  v.state = runStateFromCri(st.state());
  v.started_at = st.started_at();
  v.finished_at = st.finished_at();
  v.exit_code = st.exit_code();
  v.reason = st.reason();
  v.message = st.message();
  if (!st.image_ref().empty()) {
    v.image_ref = st.image_ref();
  }
  v.detailed = true;
}

void sortNewestFirst(PodRuntime& pod) {
  std::sort(pod.sandboxes.begin(), pod.sandboxes.end(),
            [](const SandboxView& a, const SandboxView& b) { return a.created_at > b.created_at; });
  std::sort(
      pod.containers.begin(), pod.containers.end(),
      [](const ContainerView& a, const ContainerView& b) { return a.created_at > b.created_at; });
}

}  // namespace edgecore::edged
