#include "event_recorder.h"

#include <cstdio>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <utility>

#include "edgecore/core/resource.h"
#include "edgecore/core/time.h"
#include "pod_logic.h"

namespace edgecore::edged {

using json = nlohmann::json;

namespace {

// What makes two events "the same" (client-go record getEventKey): source, object, field path,
// type, reason and message.
std::string eventKey(const std::string& node, const PodEvent& ev) {
  std::string k;
  for (const std::string* part : {&node, &ev.target.ns, &ev.target.name, &ev.target.field_path,
                                  &ev.target.uid, &ev.reason, &ev.message}) {
    k += *part;
    k += '\x1f';
  }
  k += ev.warning ? "Warning" : "Normal";
  return k;
}

std::string cutMessage(const std::string& m) {
  if (m.size() <= kMaxEventMessageBytes) {
    return m;
  }
  size_t n = kMaxEventMessageBytes;
  while (n > 0 && (static_cast<unsigned char>(m[n]) & 0xC0) == 0x80) {
    --n;  // do not split a UTF-8 sequence
  }
  return m.substr(0, n);
}

}  // namespace

EventRecorder::EventRecorder(std::string node_name, size_t max_tracked)
    : node_name_(std::move(node_name)), max_tracked_(std::max<size_t>(1, max_tracked)) {}

std::pair<std::string, std::string> EventRecorder::aggregate(
    const PodEvent& e, std::chrono::system_clock::time_point now) {
  // EventAggregatorByReasonFunc: everything but the message and the field path.
  std::string agg;
  for (const std::string* part : std::initializer_list<const std::string*>{
           &node_name_, &e.target.ns, &e.target.name, &e.target.uid, &e.reason}) {
    agg += *part;
    agg += '\x1f';
  }
  agg += e.warning ? "Warning" : "Normal";
  auto it = similar_.find(agg);
  if (it == similar_.end()) {
    if (similar_.size() >= max_tracked_) {
      similar_.erase(similar_lru_.back());
      similar_lru_.pop_back();
    }
    it = similar_.emplace(agg, Similar{}).first;
  } else {
    similar_lru_.erase(it->second.lru_pos);
  }
  similar_lru_.push_front(agg);
  Similar& s = it->second;
  s.lru_pos = similar_lru_.begin();
  if (now - s.last > kAggregateInterval) {
    s.messages.clear();
  }
  s.last = now;
  s.messages.insert(e.message);
  if (s.messages.size() < kAggregateMaxEvents) {
    return {e.message, eventKey(node_name_, e)};
  }
  s.messages.erase(s.messages.begin());  // the set stays below the bound (client-go PopAny)
  return {kCombinedPrefix + e.message, "combined\x1f" + agg};
}

core::Message EventRecorder::record(const PodEvent& ev, std::chrono::system_clock::time_point now) {
  PodEvent e = ev;
  e.message = cutMessage(e.message);
  const std::string ns = e.target.ns.empty() ? "default" : e.target.ns;
  const std::string ts = core::formatRfc3339(now);
  auto [message, key] = aggregate(e, now);
  e.message = std::move(message);

  auto it = seen_.find(key);
  const bool repeat = it != seen_.end();
  if (repeat) {
    lru_.erase(it->second.lru_pos);
  } else {
    if (seen_.size() >= max_tracked_) {
      seen_.erase(lru_.back());
      lru_.pop_back();
    }
    Seen s;
    // client-go makeEvent: "<object name>.<UnixNano in hex>".
    char hex[32];
    std::snprintf(
        hex, sizeof(hex), "%llx",
        static_cast<unsigned long long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()));
    s.name = e.target.name + "." + hex;
    s.first_timestamp = ts;
    it = seen_.emplace(key, std::move(s)).first;
  }
  lru_.push_front(key);
  Seen& s = it->second;
  s.lru_pos = lru_.begin();
  ++s.count;

  json involved = json::object();
  involved["kind"] = "Pod";
  involved["namespace"] = e.target.ns;
  involved["name"] = e.target.name;
  if (!e.target.uid.empty()) {
    involved["uid"] = e.target.uid;
  }
  involved["apiVersion"] = "v1";
  if (!e.target.resource_version.empty()) {
    involved["resourceVersion"] = e.target.resource_version;
  }
  if (!e.target.field_path.empty()) {
    involved["fieldPath"] = e.target.field_path;
  }
  // The v1.Event client-go builds (no TypeMeta; eventTime null; the kubelet as source).
  json event = json::object();
  event["metadata"] = {{"name", s.name}, {"namespace", ns}, {"creationTimestamp", nullptr}};
  event["involvedObject"] = std::move(involved);
  event["reason"] = e.reason;
  event["message"] = e.message;
  event["source"] = {{"component", "kubelet"}, {"host", node_name_}};
  event["firstTimestamp"] = s.first_timestamp;
  event["lastTimestamp"] = ts;
  event["count"] = s.count;
  event["type"] = e.warning ? "Warning" : "Normal";
  event["eventTime"] = nullptr;
  event["reportingComponent"] = "kubelet";
  event["reportingInstance"] = node_name_;

  const std::string resource = core::buildResource(ns, core::restype::kEvent, s.name);
  if (!repeat) {
    return core::Message::create(core::names::kEdgedModule, core::names::kMetaGroup,
                                 core::op::kInsert, resource, std::move(event));
  }
  // The two-way merge patch client-go computes between the event with count 0, no
  // lastTimestamp and no message and the updated one: exactly these three fields.
  json patch = {{"count", s.count}, {"lastTimestamp", ts}, {"message", e.message}};
  json content = {{"event", std::move(event)}, {"patchData", patch.dump()}};
  return core::Message::create(core::names::kEdgedModule, core::names::kMetaGroup, core::op::kPatch,
                               resource, std::move(content));
}

}  // namespace edgecore::edged
