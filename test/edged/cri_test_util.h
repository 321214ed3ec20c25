#pragma once

// Shared helpers for tests against the real containerd (label "containerd").

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "edgecore/cri/cri_client.h"

namespace edgecore::testing {

inline constexpr const char* kContainerdSocket = "/run/containerd/containerd.sock";
inline constexpr const char* kBusyboxImage = "docker.io/library/busybox:local";

inline bool containerdAvailable() { return ::access(kContainerdSocket, F_OK) == 0; }

#define EC_SKIP_WITHOUT_CONTAINERD()                                                          \
  do {                                                                                        \
    if (!::edgecore::testing::containerdAvailable()) {                                        \
      GTEST_SKIP() << "containerd socket " << ::edgecore::testing::kContainerdSocket          \
                   << " does not exist: start it with scripts/test-services.sh start (root)"; \
    }                                                                                         \
  } while (0)

// Removes every sandbox whose io.kubernetes.pod.namespace label equals `ns` (and with them their
// containers). Best effort: tests call it in TearDown.
inline void removeNamespacePods(cri::CriClient& cri, const std::string& ns) {
  runtimeapi::PodSandboxFilter f;
  (*f.mutable_label_selector())["io.kubernetes.pod.namespace"] = ns;
  auto list = cri.listPodSandbox(f);
  if (!list.ok()) {
    return;
  }
  for (const auto& sb : *list) {
    runtimeapi::ContainerFilter cf;
    cf.set_pod_sandbox_id(sb.id());
    auto cs = cri.listContainers(cf);
    if (cs.ok()) {
      for (const auto& c : *cs) {
        (void)cri.stopContainer(c.id(), 0);
        (void)cri.removeContainer(c.id());
      }
    }
    (void)cri.stopPodSandbox(sb.id());
    (void)cri.removePodSandbox(sb.id());
  }
}

// Removes pods that earlier test processes (now dead) left behind: namespaces
// "<prefix><pid>-<n>" for the prefixes our tests use, whose pid no longer runs.
inline void removeLeftoversOfDeadTestRuns(cri::CriClient& cri) {
  auto list = cri.listPodSandbox();
  if (!list.ok()) {
    return;
  }
  std::set<std::string> namespaces;
  for (const auto& sb : *list) {
    auto it = sb.labels().find("io.kubernetes.pod.namespace");
    if (it == sb.labels().end()) {
      continue;
    }
    for (const char* prefix : {"edged-test-", "cri-test-", "edged-bench-", "edged-rss-"}) {
      const std::string& ns = it->second;
      if (ns.rfind(prefix, 0) != 0) {
        continue;
      }
      int pid = std::atoi(ns.c_str() + std::strlen(prefix));
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
        namespaces.insert(ns);
      }
    }
  }
  for (const auto& ns : namespaces) {
    removeNamespacePods(cri, ns);
  }
}

inline std::string uniqueSuffix() {
  static int counter = 0;
  return std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace edgecore::testing
