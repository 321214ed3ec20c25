#pragma once

// Pod status to the cloud, and the mirror pods of static pods (spec/local-apis.md 6.5; kubelet
// status manager and pod/mirror_client.go). After each sync, relist or probe result EdgedModule
// calls update(); the reporter computes the kubelet-style status and sends `patch
// <ns>/podpatch/<name>` to metamanager when it changed (again on the module's re-check while the
// cloud refuses it). A static pod's status goes to its mirror pod, which the reporter creates
// (`insert <ns>/pod/<name>`), adopts when the cloud sends it, and deletes when it is stale.
// Everything runs on the module strand.

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "edgecore/core/bus.h"
#include "pod_entry.h"

namespace edgecore::edged {

inline constexpr const char* kMirrorAnnotation = "kubernetes.io/config.mirror";
inline constexpr const char* kConfigHashAnnotation = "kubernetes.io/config.hash";

// True for the API server's copy of a static pod (it carries the mirror annotation).
bool isMirrorPod(const json& pod);
// The mirror pod object for `static_pod`: the mirror annotation (= its config hash), the Node
// as controller owner when `node_uid` is known, no status.
json mirrorPodOf(const json& static_pod, const std::string& node_name, const std::string& node_uid);
// True when metamanager's answer to a status patch means the cloud has it.
bool statusAccepted(const core::Result<core::Message>& resp);

class PodStatusReporter {
 public:
  struct Deps {
    core::Bus& bus;
    std::shared_ptr<spdlog::logger> log;
    std::chrono::milliseconds bus_timeout;
    std::chrono::milliseconds status_period;  // retry delay after a refused patch
    std::string host_ip;
    std::string node_name;
    std::function<std::string()> node_uid;              // "" until the node is registered
    std::function<PodEntry*(const std::string&)> find;  // the pod by uid, null once gone
    // Runs a coroutine on the module strand, cancelled when the module stops.
    std::function<void(boost::asio::awaitable<void>, const char*)> spawn;
  };

  explicit PodStatusReporter(Deps deps);

  // Computes the status of `e` and sends it when it changed.
  void update(PodEntry& e);
  // Sends the last computed status if it was not accepted yet (or creates the mirror pod first).
  void send(PodEntry& e);
  // The cloud sent the mirror pod `uid` of `static_pod` (null: none of ours) with `hash`.
  void noteMirror(PodEntry* static_pod, const std::string& ns, const std::string& name,
                  const std::string& uid, const std::string& hash);
  // The mirror pod `uid` is gone in the cloud: it is created again.
  static void forgetMirror(std::map<std::string, PodEntry>& pods, const std::string& uid);
  // kubelet DeleteMirrorPod: grace period 0, precondition on the mirror's uid. Once: a failure
  // leaves the mirror to the cloud (no orphan sweep yet).
  void deleteMirror(const std::string& ns, const std::string& name, const std::string& uid);

  uint64_t sentForTest() const { return sent_; }

 private:
  void createMirrorSoon(PodEntry& e);
  boost::asio::awaitable<void> createMirror(std::string uid);
  boost::asio::awaitable<void> sendStatus(std::string uid);
  // The uid the status goes to: a static pod's mirror once known (kubelet status manager
  // translates the uid), else the pod's own.
  static const std::string& patchTarget(const PodEntry& e);
  // Whether the current status (and its target) is what the cloud accepted last.
  static bool alreadySent(const PodEntry& e);
  boost::asio::awaitable<void> sendOnce(core::Message m);
  boost::asio::awaitable<core::Result<core::Message>> request(core::Message m);

  Deps d_;
  uint64_t sent_ = 0;
};

}  // namespace edgecore::edged
