#pragma once

// Pod events as the kubelet records them (client-go tools/record: makeEvent, EventCorrelator's
// EventLogger, recordToSink; edge/pkg/metamanager/client/event.go CreateWithEventNamespace /
// PatchWithEventNamespace @ v1.20.0): the first occurrence of an event goes upstream as
// `insert <ns>/event/<name>` with the v1.Event; an identical one (same object, field path, type,
// reason and message) seen again is folded into the first: count + 1, new lastTimestamp, sent as
// `patch <ns>/event/<name>` with {"event": <the updated event>, "patchData": <merge patch>}.
// Like client-go's EventCorrelator, events that differ only in their message are combined once
// there are many of them (see kAggregateMaxEvents). No spam filter (client-go's token bucket).
// Pure: builds messages, no I/O; one instance per edged, used on edged's strand only.

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "edgecore/core/message.h"

namespace edgecore::edged {

// The object an event is about: a pod, optionally one of its containers.
struct EventTarget {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string field_path;  // "spec.containers{main}", "spec.initContainers{init}" or ""
};

// kubelet event reasons (pkg/kubelet/events/event.go @ v1.30).
namespace event_reason {
inline constexpr const char* kPulling = "Pulling";
inline constexpr const char* kPulled = "Pulled";
inline constexpr const char* kFailed = "Failed";
inline constexpr const char* kBackOff = "BackOff";
inline constexpr const char* kErrImageNeverPull = "ErrImageNeverPull";
inline constexpr const char* kCreated = "Created";
inline constexpr const char* kStarted = "Started";
inline constexpr const char* kKilling = "Killing";
inline constexpr const char* kUnhealthy = "Unhealthy";
inline constexpr const char* kFailedPostStartHook = "FailedPostStartHook";
inline constexpr const char* kSandboxChanged = "SandboxChanged";
inline constexpr const char* kFailedCreatePodSandBox = "FailedCreatePodSandBox";
inline constexpr const char* kFailedMount = "FailedMount";
}  // namespace event_reason

// One event as the runtime side reports it (no identity yet).
struct PodEvent {
  EventTarget target;
  bool warning = false;  // type Warning, else Normal
  std::string reason;
  std::string message;
};

class EventRecorder {
 public:
  // At most `max_tracked` distinct events are remembered for counting (client-go's LRU holds
  // 4096); the least recently seen is forgotten first, and counts again from 1.
  EventRecorder(std::string node_name, size_t max_tracked = 4096);

  // The bus message (source edged, group meta) carrying `ev` at time `now`.
  core::Message record(const PodEvent& ev, std::chrono::system_clock::time_point now);

  size_t trackedForTest() const { return lru_.size(); }

 private:
  // client-go EventAggregator: distinct messages per (object, type, reason) in the last 10 min.
  struct Similar {
    std::set<std::string> messages;
    std::chrono::system_clock::time_point last{};
    std::list<std::string>::iterator lru_pos;
  };
  // The message to record and the key to count it under (aggregation applied).
  std::pair<std::string, std::string> aggregate(const PodEvent& ev,
                                                std::chrono::system_clock::time_point now);

  struct Seen {
    std::string name;
    std::string first_timestamp;
    int64_t count = 0;
    std::list<std::string>::iterator lru_pos;
  };
  std::string node_name_;
  size_t max_tracked_;
  std::list<std::string> lru_;  // keys, most recent first
  std::map<std::string, Seen> seen_;
  std::list<std::string> similar_lru_;
  std::map<std::string, Similar> similar_;
};

// client-go's aggregation: the 10th distinct message for the same object, type and reason within
// 10 minutes is recorded as one event "(combined from similar events): <message>", counted from
// then on under that single key.
inline constexpr size_t kAggregateMaxEvents = 10;
inline constexpr std::chrono::seconds kAggregateInterval{600};
inline constexpr const char* kCombinedPrefix = "(combined from similar events): ";

// Our bound on an event message (a probe's output can be long); longer ones are cut there.
inline constexpr size_t kMaxEventMessageBytes = 1024;

}  // namespace edgecore::edged
