#pragma once

// What edged knows about one pod's containers in the runtime, and the restart back-off: the
// plain data the pure pod logic (pod_logic.h) decides on. Times are wall-clock nanoseconds since
// the epoch, as CRI reports them.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace edgecore::edged {

// CRI label and annotation keys the kubelet sets (spec/local-apis.md 6.3).
inline constexpr const char* kLabelPodName = "io.kubernetes.pod.name";
inline constexpr const char* kLabelPodNamespace = "io.kubernetes.pod.namespace";
inline constexpr const char* kLabelPodUid = "io.kubernetes.pod.uid";
inline constexpr const char* kLabelContainerName = "io.kubernetes.container.name";
inline constexpr const char* kAnnotationHash = "io.kubernetes.container.hash";
inline constexpr const char* kAnnotationRestartCount = "io.kubernetes.container.restartCount";
// Ours: which edgecore node created a sandbox. Only sandboxes with our node name are removed as
// orphans, so a containerd shared with other agents (or other tests) keeps their pods.
inline constexpr const char* kLabelEdgedNode = "edgecore.kubeedge.io/node";

enum class ContainerRunState { Created, Running, Exited, Unknown };

struct ContainerView {
  std::string id;
  std::string sandbox_id;
  std::string name;  // io.kubernetes.container.name (else CRI metadata name)
  ContainerRunState state = ContainerRunState::Unknown;
  uint32_t attempt = 0;  // restart count this container was created with
  std::string hash;      // io.kubernetes.container.hash
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  std::string reason;   // CRI reason: "Completed", "Error", "OOMKilled"...
  std::string message;  // CRI message
  std::string image;
  std::string image_ref;
  bool detailed = false;  // started/finished/exit code known (ContainerStatus was read)

  friend bool operator==(const ContainerView&, const ContainerView&) = default;
};

struct SandboxView {
  std::string id;
  bool ready = false;
  uint32_t attempt = 0;
  int64_t created_at = 0;
  bool host_network = false;
  std::string ip;          // "" for host network or not known
  std::string edged_node;  // kLabelEdgedNode, "" when made by someone else
  std::string name;
  std::string ns;

  friend bool operator==(const SandboxView&, const SandboxView&) = default;
};

// Everything of one pod uid in the runtime; both lists newest first.
struct PodRuntime {
  std::vector<SandboxView> sandboxes;
  std::vector<ContainerView> containers;

  friend bool operator==(const PodRuntime&, const PodRuntime&) = default;

  const SandboxView* currentSandbox() const { return sandboxes.empty() ? nullptr : &sandboxes[0]; }
  // The newest container with this name (in any sandbox), or null.
  const ContainerView* latest(const std::string& name) const {
    for (const auto& c : containers) {
      if (c.name == name) {
        return &c;
      }
    }
    return nullptr;
  }
  // The newest container with this name in sandbox `sandbox_id`, or null.
  const ContainerView* latestIn(const std::string& name, const std::string& sandbox_id) const {
    for (const auto& c : containers) {
      if (c.name == name && c.sandbox_id == sandbox_id) {
        return &c;
      }
    }
    return nullptr;
  }
  // The container before `latest` with the same name (its terminated state is lastState).
  const ContainerView* previous(const std::string& name) const {
    bool seen = false;
    for (const auto& c : containers) {
      if (c.name == name) {
        if (seen) {
          return &c;
        }
        seen = true;
      }
    }
    return nullptr;
  }
};

// First and longest delay of a RestartBackoff (restartBackoffLimits in cgroup_policy.h).
struct RestartBackoffLimits {
  std::chrono::milliseconds base;
  std::chrono::milliseconds max;
};

// The kubelet's container restart back-off (flowcontrol.Backoff as used by kuberuntime): the first
// restart is immediate, then base, 2*base ... up to max between a crash and the next start; an
// entry untouched for 2*max (10 min with the defaults) starts again from base. Thread-safe.
class RestartBackoff {
 public:
  using Clock = std::chrono::system_clock;
  RestartBackoff(std::chrono::milliseconds base, std::chrono::milliseconds max)
      : base_(base), max_(max) {}
  explicit RestartBackoff(RestartBackoffLimits l) : RestartBackoff(l.base, l.max) {}

  // True while `key` must still wait after the crash at `event_time`; `until` gets the end.
  bool inBackoffSince(const std::string& key, Clock::time_point event_time, Clock::time_point now,
                      Clock::time_point* until = nullptr) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || now - it->second.last_update > 2 * max_) {
      return false;
    }
    if (now - event_time < it->second.backoff) {
      if (until != nullptr) {
        *until = event_time + it->second.backoff;
      }
      return true;
    }
    return false;
  }
  // True while `key` waits after its last next() (image pulls: the failure is the event).
  bool inBackoff(const std::string& key, Clock::time_point now,
                 Clock::time_point* until = nullptr) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || now - it->second.last_update > 2 * max_) {
      return false;
    }
    if (now - it->second.last_update < it->second.backoff) {
      if (until != nullptr) {
        *until = it->second.last_update + it->second.backoff;
      }
      return true;
    }
    return false;
  }
  // Records a restart of `key` now and returns the back-off the next crash will wait.
  std::chrono::milliseconds next(const std::string& key, Clock::time_point now) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = entries_.try_emplace(key, Entry{base_, now});
    if (!fresh) {
      if (now - it->second.last_update > 2 * max_) {
        it->second.backoff = base_;
      } else {
        it->second.backoff = std::min(it->second.backoff * 2, max_);
      }
      it->second.last_update = now;
    }
    return it->second.backoff;
  }
  void forget(const std::string& prefix) {
    std::lock_guard lock(mu_);
    for (auto it = entries_.lower_bound(prefix);
         it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      it = entries_.erase(it);
    }
  }
  std::chrono::milliseconds base() const { return base_; }
  std::chrono::milliseconds max() const { return max_; }

 private:
  struct Entry {
    std::chrono::milliseconds backoff;
    Clock::time_point last_update;
  };
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// Why a container is not running, when the runtime cannot say (kubelet waiting reasons).
struct WaitingReason {
  std::string reason;  // CrashLoopBackOff, ErrImagePull, ImagePullBackOff, ErrImageNeverPull,
                       // CreateContainerConfigError, CreateContainerError, RunContainerError
  std::string message;
  friend bool operator==(const WaitingReason&, const WaitingReason&) = default;
};

// Probe outcomes of one container (by container id), kept by edged's probe workers.
struct ProbeState {
  std::string container_id;
  bool ready = false;    // readiness: last result success (true when there is no readiness probe)
  bool started = false;  // startup probe passed (true when there is none)
  bool liveness_failed = false;
};

}  // namespace edgecore::edged
