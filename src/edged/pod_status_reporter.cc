// Pod status patches and mirror pods (see pod_status_reporter.h). Called by EdgedModule on its
// strand after syncs, relists and probe results, on its periodic re-check, and from pod intake
// for mirror pods the cloud sends or deletes.

#include "pod_status_reporter.h"

#include "edgecore/core/message.h"
#include "edgecore/core/resource.h"
#include "edgecore/core/time.h"

namespace edgecore::edged {

namespace asio = boost::asio;
using core::Message;
using core::Result;
using json_read::str;
using json_read::sub;

namespace {

std::string answerText(const Result<Message>& resp) {
  return resp.ok() ? resp->contentData().substr(0, 200) : resp.status().message();
}

}  // namespace

bool isMirrorPod(const json& pod) {
  const json& ann = sub(sub(pod, "metadata"), "annotations");
  return ann.is_object() && ann.contains(kMirrorAnnotation);
}

json mirrorPodOf(const json& static_pod, const std::string& node_name,
                 const std::string& node_uid) {
  json m = static_pod;
  json& md = m["metadata"];
  md["annotations"][kMirrorAnnotation] = str(sub(md, "annotations"), kConfigHashAnnotation);
  if (!node_uid.empty()) {
    md["ownerReferences"] = json::array({{{"apiVersion", "v1"},
                                          {"kind", "Node"},
                                          {"name", node_name},
                                          {"uid", node_uid},
                                          {"controller", true}}});
  }
  m.erase("status");
  return m;
}

bool statusAccepted(const Result<Message>& resp) {
  bool ok = resp.ok() && resp->route.operation != core::op::kError;
  if (ok && resp->content.is_object() && resp->content.contains("Err") &&
      !resp->content["Err"].is_null()) {
    ok = false;
  }
  return ok;
}

PodStatusReporter::PodStatusReporter(Deps deps) : d_(std::move(deps)) {}

asio::awaitable<Result<Message>> PodStatusReporter::request(Message m) {
  // Not a coroutine: the bus's awaitable is handed on as is.
  return d_.bus.request(core::names::kMetaManagerModule, std::move(m), d_.bus_timeout);
}

void PodStatusReporter::update(PodEntry& e) {
  if (!e.runtime_known && !e.plan_error) {
    return;
  }
  StatusInputs in;
  in.pod = &e.pod;
  in.plan = e.plan.get();  // with a volume problem too: the plan exists but nothing can start
  in.pod_error = e.plan_error;
  in.runtime = &e.runtime;
  in.probes = &e.probes;
  in.waiting = &e.waiting;
  in.host_ip = d_.host_ip;
  in.now = std::chrono::system_clock::now();
  WallTime start = e.start_time;
  for (const auto& s : e.runtime.sandboxes) {
    WallTime created = fromUnixNanos(s.created_at);
    if (s.created_at > 0 && created < start) {
      start = created;
    }
  }
  e.start_time = start;
  in.start_time = start;
  in.previous = e.status.is_null() ? nullptr : &e.status;
  in.terminal = e.terminal;
  json status = computePodStatus(in);
  if (e.plan_error && e.plan) {
    status["reason"] = e.plan_error->reason;
    status["message"] = e.plan_error->message;
  }
  if (status != e.status) {
    e.status = std::move(status);
    touch(e);
  }
  send(e);
}

void PodStatusReporter::send(PodEntry& e) {
  if (e.is_static && e.mirror_uid.empty()) {
    createMirrorSoon(e);
    if (!e.mirror_local_only) {
      return;
    }
  }
  if (e.send_in_flight) {
    return;
  }
  if (alreadySent(e) || std::chrono::steady_clock::now() < e.next_send) {
    return;
  }
  e.send_in_flight = true;
  d_.spawn(sendStatus(e.uid), "pod status patch");
}

const std::string& PodStatusReporter::patchTarget(const PodEntry& e) {
  return e.is_static && !e.mirror_uid.empty() ? e.mirror_uid : e.uid;
}

bool PodStatusReporter::alreadySent(const PodEntry& e) {
  // The target counts too: the same status sent to the pod's own uid while the mirror was
  // unknown must be sent again to the mirror once it is.
  return !e.last_sent.target.empty() && e.last_sent.target == patchTarget(e) &&
         e.last_sent.status == e.status;
}

asio::awaitable<void> PodStatusReporter::sendStatus(std::string uid) {
  PodEntry* p = d_.find(uid);
  if (p == nullptr) {
    co_return;
  }
  PodEntry::SentStatus key{patchTarget(*p), p->status};
  json patch = podStatusPatch(key.target, p->status);
  auto patch_op = request(Message::create(
      core::names::kEdgedModule, core::names::kMetaGroup, core::op::kPatch,
      core::buildResource(p->ns, core::restype::kPodPatch, p->name), json(patch.dump())));
  Result<Message> resp = co_await std::move(patch_op);
  p = d_.find(uid);
  if (p == nullptr) {
    co_return;
  }
  PodEntry& e = *p;
  e.send_in_flight = false;
  if (statusAccepted(resp)) {
    e.last_sent = std::move(key);
    sent_++;
    d_.log->debug("pod status sent pod={}/{} phase={}", e.ns, e.name, str(e.status, "phase"));
  } else {
    // Stored by metamanager all the same; the cloud gets it on a later re-check.
    e.next_send = std::chrono::steady_clock::now() + d_.status_period;
    d_.log->debug("pod status not accepted pod={}/{} err=\"{}\"", e.ns, e.name, answerText(resp));
  }
  if (!alreadySent(e)) {
    send(e);  // the status or its target (the mirror) changed while in flight
  }
}

void PodStatusReporter::noteMirror(PodEntry* e, const std::string& ns, const std::string& name,
                                   const std::string& uid, const std::string& hash) {
  if (uid.empty() || e == nullptr) {
    return;  // a mirror of no static pod we run (yet): nothing to attach it to
  }
  if (hash != str(sub(sub(e->pod, "metadata"), "annotations"), kConfigHashAnnotation)) {
    // The mirror of an older version of the manifest: replaced, as the kubelet does.
    deleteMirror(ns, name, uid);
    return;
  }
  if (e->mirror_uid != uid) {
    d_.log->info("mirror pod known pod={}/{} mirror_uid={}", ns, name, uid);
    e->mirror_local_only = false;
    e->mirror_uid = uid;
    e->last_sent.clear();
    send(*e);
  }
}

void PodStatusReporter::forgetMirror(std::map<std::string, PodEntry>& pods,
                                     const std::string& uid) {
  for (auto& [_, e] : pods) {
    if (e.is_static && e.mirror_uid == uid) {
      e.mirror_uid.clear();  // deleted in the cloud: created again
      e.next_mirror_try = {};
    }
  }
}

void PodStatusReporter::createMirrorSoon(PodEntry& e) {
  if (e.mirror_in_flight || e.deleting || std::chrono::steady_clock::now() < e.next_mirror_try) {
    return;
  }
  e.mirror_in_flight = true;
  e.next_mirror_try = std::chrono::steady_clock::now() + d_.status_period;
  d_.spawn(createMirror(e.uid), "mirror pod creation");
}

asio::awaitable<void> PodStatusReporter::createMirror(std::string uid) {
  PodEntry* p = d_.find(uid);
  if (p == nullptr) {
    co_return;
  }
  json mirror = mirrorPodOf(p->pod, d_.node_name, d_.node_uid());
  if (!mirror["metadata"].contains("creationTimestamp")) {
    // The API server sets its own; the copy metamanager keeps offline needs one for its age.
    mirror["metadata"]["creationTimestamp"] =
        core::formatRfc3339(core::WallTime(std::chrono::system_clock::now()));
  }
  auto insert_op = request(
      Message::create(core::names::kEdgedModule, core::names::kMetaGroup, core::op::kInsert,
                      core::buildResource(p->ns, core::restype::kPod, p->name), std::move(mirror)));
  Result<Message> resp = co_await std::move(insert_op);
  p = d_.find(uid);
  if (p == nullptr) {
    co_return;
  }
  PodEntry& e = *p;
  e.mirror_in_flight = false;
  std::string mirror_uid;
  if (resp.ok() && resp->route.operation != core::op::kError && resp->content.is_object() &&
      (!resp->content.contains("Err") || resp->content["Err"].is_null())) {
    mirror_uid = str(sub(sub(resp->content, "Object"), "metadata"), "uid");
  }
  if (mirror_uid.empty()) {
    // Offline ("connection lost"), or AlreadyExists: the cloud then sends us the mirror pod.
    std::string why = answerText(resp);
    d_.log->debug("mirror pod not created pod={}/{} err=\"{}\"", e.ns, e.name, why);
    if (!e.mirror_local_only && (why.find("not connected") != std::string::npos ||
                                 why.find("connection lost") != std::string::npos)) {
      e.mirror_local_only = true;
      e.last_sent.clear();
      send(e);
    }
    co_return;
  }
  e.mirror_local_only = false;
  d_.log->info("mirror pod created pod={}/{} mirror_uid={}", e.ns, e.name, mirror_uid);
  e.mirror_uid = mirror_uid;
  e.last_sent.clear();
  send(e);
}

void PodStatusReporter::deleteMirror(const std::string& ns, const std::string& name,
                                     const std::string& uid) {
  Message m =
      Message::create(core::names::kEdgedModule, core::names::kMetaGroup, core::op::kDelete,
                      core::buildResource(ns, core::restype::kPod, name), deleteOptionsForUid(uid));
  d_.log->info("mirror pod delete pod={}/{} mirror_uid={}", ns, name, uid);
  d_.spawn(sendOnce(std::move(m)), "mirror pod delete");
}

asio::awaitable<void> PodStatusReporter::sendOnce(Message m) {
  auto op = request(std::move(m));
  Result<Message> resp = co_await std::move(op);
  if (!resp.ok() || resp->route.operation == core::op::kError) {
    d_.log->debug("request not accepted err=\"{}\"", answerText(resp));
  }
}

}  // namespace edgecore::edged
