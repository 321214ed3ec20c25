#pragma once

// The pods edged runs as other threads see them: summaries (Edged::pods(), /pods, the
// PodResources API) and, per pod, where each container instance logs (/containerLogs, exec).
// EdgedModule publishes a new snapshot from its strand after each sync or relist; the HTTP
// server's threads read it. Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "deviceplugin/pod_resources.h"
#include "edgecore/core/status.h"
#include "edgecore/edged/module.h"
#include "server/edged_server.h"

namespace edgecore::edged {

// The log directory and container instances of one pod.
struct PodLogIndex {
  std::string log_dir;  // <podLogsDir>/<ns>_<name>_<uid>
  struct Instance {
    uint32_t attempt = 0;
    std::string id;
    bool running = false;
  };
  std::map<std::string, std::vector<Instance>> containers;  // by name, newest first
};

class PodSnapshot : public std::enable_shared_from_this<PodSnapshot> {
 public:
  // Replaces everything: summaries by uid, log indexes by "<ns>/<pod>".
  // `revisions`: the PodEntry::revision each summary was made at (0 = not reusable).
  void publish(std::map<std::string, PodSummary> pods, std::map<std::string, PodLogIndex> logs,
               std::map<std::string, uint64_t> revisions = {});

  std::vector<PodSummary> pods() const;
  // The summary published for `uid` at `revision` (PodEntry::revision), if that is the one
  // published last: publishPods reuses it instead of encoding the pod again.
  std::optional<PodSummary> summaryAt(const std::string& uid, uint64_t revision) const;
  // The PodList JSON of every pod with its current status (the server's /pods).
  std::string podListJson() const;
  // The CRI log file of the container's newest instance (`previous`: the one before); NotFound
  // with the kubelet's messages. LogLocation::running follows later snapshots.
  core::Result<LogLocation> logLocation(const std::string& ns, const std::string& pod,
                                        const std::string& container, bool previous) const;
  // The id of the container's newest instance if it runs, else "".
  std::string runningContainerId(const std::string& ns, const std::string& pod,
                                 const std::string& container) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, PodSummary> pods_;
  std::map<std::string, PodLogIndex> logs_;
  std::map<std::string, uint64_t> revisions_;
};

struct PodEntry;

// Publishes the pod table: each pod with its current status, and the log index of pods with a
// plan. Strand (the table's owner).
void publishPods(PodSnapshot& snapshot, const std::map<std::string, PodEntry>& pods);

// The pods as the PodResources API lists them (name, namespace, uid, app containers).
std::vector<deviceplugin::PodRef> podResourceRefs(const std::vector<PodSummary>& pods);

}  // namespace edgecore::edged
