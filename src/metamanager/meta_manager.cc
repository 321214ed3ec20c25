#include "meta_manager.h"

// g++ 12 reports asio's awaitable frame operator delete as mismatched when a coroutine frame is
// inlined into its caller (a false positive, GCC bug 109224); only this file's coroutines hit it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <ctime>
#include <exception>
#include <optional>

#include "edgecore/core/async/spawn.h"
#include "edgecore/core/config.h"
#include "edgecore/core/resource.h"
#include "edgecore/core/time.h"
#include "imitator.h"
#include "node_patch.h"
#include "service_account_token.h"

namespace edgecore::metamanager {

namespace asio = boost::asio;
namespace names = core::names;
namespace op = core::op;
namespace restype = core::restype;
using core::Message;
using core::Status;
using nlohmann::json;

namespace {

constexpr std::string_view kOk = "OK";
// edge/pkg/metamanager/process.go errNotConnected and cloudconnection.ErrConnectionLost @ v1.20.0.
constexpr std::string_view kNotConnected = "failed to process remote: not connected";
constexpr std::string_view kConnectionLost = "connection lost between EdgeCore and CloudCore";
constexpr std::string_view kNodeConnection = "node/connection";
constexpr std::string_view kCloudConnected = "cloud_connected";
constexpr std::string_view kCloudDisconnected = "cloud_disconnected";
// Cloud module names (spec cloud-protocol 1.4).
constexpr std::string_view kEdgeController = "edgecontroller";
constexpr std::string_view kDeviceController = "devicecontroller";
constexpr std::string_view kDynamicController = "dynamiccontroller";
constexpr std::string_view kPolicyController = "policycontroller";

bool isString(const json& j, std::string_view s) {
  return j.is_string() && j.get_ref<const std::string&>() == s;
}

// A pod delete's UID: the cloud sends the Pod (metadata.uid); a string content is parsed as the
// JSON text it holds (Go's GetContentData + Unmarshal). nullopt when the content cannot be a
// Pod; "" for null content or a Pod without uid (then every row of that key matches, as in Go).
std::optional<std::string> podUid(const json& content) {
  if (content.is_null()) {
    return std::string();
  }
  json doc = content;
  if (content.is_string()) {
    doc = core::parseJsonBounded(content.get_ref<const std::string&>());
    if (doc.is_discarded()) {
      return std::nullopt;
    }
    if (doc.is_null()) {
      return std::string();
    }
  }
  if (!doc.is_object()) {
    return std::nullopt;
  }
  auto meta = doc.find("metadata");
  if (meta == doc.end() || meta->is_null()) {
    return std::string();
  }
  if (!meta->is_object()) {
    return std::nullopt;
  }
  auto uid = meta->find("uid");
  if (uid == meta->end() || uid->is_null()) {
    return std::string();
  }
  if (!uid->is_string()) {
    return std::nullopt;
  }
  return uid->get<std::string>();
}

}  // namespace

WriteOp upsertMeta(const MetaResource& res, std::string value) {
  WriteOp w;
  w.kind = WriteOp::Kind::UpsertMeta;
  w.key = res.key;
  w.type = res.type;
  w.value = std::move(value);
  return w;
}

Processor::Processor(core::Strand strand, core::Bus& bus, std::shared_ptr<spdlog::logger> log,
                     core::Clock& clock, asio::thread_pool& blocking, MetaStore& store,
                     MetaManagerSettings settings)
    : strand_(std::move(strand)),
      bus_(bus),
      log_(std::move(log)),
      clock_(clock),
      blocking_(blocking),
      store_(store),
      settings_(std::move(settings)),
      write_fail_log_(settings_.failure_log_interval),
      malformed_log_(settings_.failure_log_interval),
      v2_skip_log_(settings_.failure_log_interval),
      token_refusal_log_(settings_.failure_log_interval) {}

Status Processor::start() {
  std::weak_ptr<Processor> weak = weak_from_this();
  // The bus owns the handler until unsubscribe; a weak pointer keeps it from owning us.
  return bus_.subscribe(names::kMetaManagerModule, names::kMetaGroup, strand_, [weak](Message msg) {
    if (auto self = weak.lock()) {
      self->handle(std::move(msg));
    }
  });
}

void Processor::stop() {
  {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = false;
  }
  bus_.unsubscribe(names::kMetaManagerModule);
}

MetaManagerCounters Processor::counters() const {
  auto get = [this](Counter c) { return counters_[static_cast<size_t>(c)].load(); };
  MetaManagerCounters out;
  out.inserts = get(Counter::Inserts);
  out.updates = get(Counter::Updates);
  out.patches = get(Counter::Patches);
  out.deletes = get(Counter::Deletes);
  out.queries = get(Counter::Queries);
  out.responses = get(Counter::Responses);
  out.connects = get(Counter::Connects);
  out.volume_ops = get(Counter::VolumeOps);
  out.acks_sent = get(Counter::AcksSent);
  out.acks_unsent = get(Counter::AcksUnsent);
  out.cloud_unsent = get(Counter::CloudUnsent);
  out.write_failures = get(Counter::WriteFailures);
  out.remote_ok = get(Counter::RemoteOk);
  out.remote_timeout = get(Counter::RemoteTimeout);
  out.remote_error = get(Counter::RemoteError);
  out.local_queries = get(Counter::LocalQueries);
  out.edged_absent = get(Counter::EdgedAbsent);
  out.twin_absent = get(Counter::TwinAbsent);
  out.late_replies = get(Counter::LateReplies);
  out.malformed = get(Counter::Malformed);
  out.v2_skipped = get(Counter::V2Skipped);
  out.dropped = get(Counter::Dropped);
  return out;
}

void Processor::postToStrand(std::function<void()> fn) {
  // Holding the gate while posting: stop() cannot complete (and the io_context go away) between
  // the check and the post.
  std::lock_guard<std::mutex> lock(gate_->mu);
  if (gate_->open) {
    asio::post(strand_, std::move(fn));
  }
}

void Processor::warnLimited(core::LogLimiter& limiter, std::string_view what, const Message& msg,
                            std::string_view err) {
  uint64_t suppressed = 0;
  if (limiter.allow(clock_.steadyNow(), &suppressed)) {
    log_->warn("{} msg_id={} op={} resource={} err=\"{}\" suppressed={}", what, msg.header.id,
               msg.route.operation, msg.route.resource, err, suppressed);
  } else {
    log_->debug("{} msg_id={} op={} resource={} err=\"{}\"", what, msg.header.id,
                msg.route.operation, msg.route.resource, err);
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatch

void Processor::handle(Message msg) {
  const std::string& operation = msg.route.operation;
  if (operation == op::kConnect && msg.route.resource == kNodeConnection) {
    processConnect(msg);
    return;
  }
  if (msg.route.resource.empty() || msg.route.resource.size() > core::kMaxResourceBytes) {
    count(Counter::Dropped);
    warnLimited(malformed_log_, "message dropped: unusable resource", msg,
                msg.route.resource.empty() ? "empty" : "too long");
    return;
  }
  MetaResource res = splitMetaResource(msg.route.resource);
  log_->debug("message msg_id={} op={} resource={} source={}", msg.header.id, operation,
              msg.route.resource, msg.route.source);
  if (operation == op::kInsert) {
    count(Counter::Inserts);
    processInsert(std::move(msg), res);
  } else if (operation == op::kUpdate) {
    count(Counter::Updates);
    processUpdate(std::move(msg), res);
  } else if (operation == op::kPatch) {
    count(Counter::Patches);
    processPatch(std::move(msg), res);
  } else if (operation == op::kDelete) {
    count(Counter::Deletes);
    processDelete(std::move(msg), res);
  } else if (operation == op::kQuery) {
    count(Counter::Queries);
    processQuery(std::move(msg), res);
  } else if (operation == op::kResponse) {
    count(Counter::Responses);
    processResponse(std::move(msg), res);
  } else if (isVolumeOperation(operation)) {
    count(Counter::VolumeOps);
    auto coro = volumeCall(shared_from_this(), std::move(msg));
    core::spawnLogged(strand_, std::move(coro), log_, "metamanager volume call");
  } else {
    count(Counter::Dropped);
    log_->debug("message dropped: unsupported operation msg_id={} op={} resource={}", msg.header.id,
                operation, msg.route.resource);
  }
}

void Processor::processConnect(const Message& msg) {
  count(Counter::Connects);
  if (isString(msg.content, kCloudConnected)) {
    if (!connected_) {
      log_->info("cloud connected: remote queries resume");
    }
    connected_ = true;
    if (settings_.link_status != nullptr) {
      settings_.link_status->setConnected(true);
    }
  } else if (isString(msg.content, kCloudDisconnected)) {
    if (connected_) {
      log_->warn("cloud disconnected: answering queries from the local cache");
    }
    connected_ = false;
    if (settings_.link_status != nullptr) {
      settings_.link_status->setConnected(false);
    }
  } else {
    count(Counter::Malformed);
    warnLimited(malformed_log_, "connection event with unknown content", msg, msg.contentData());
  }
}

// ---------------------------------------------------------------------------------------------
// Writes

Message Processor::take(const MessagePtr& msg) {
  if (msg.use_count() == 1) {
    return std::move(*msg);
  }
  return *msg;
}

void Processor::write(std::vector<WriteOp> ops, const MessagePtr& msg_ptr, Continuation then) {
  const Message& msg = *msg_ptr;
  // The meta row holds Go's encoding of an object content; meta_v2 stores the same bytes.
  const std::string* content_text =
      !ops.empty() && ops[0].kind == WriteOp::Kind::UpsertMeta && msg.content.is_object()
          ? &ops[0].value
          : nullptr;
  ImitatorOps v2 = imitatorOps(msg_ptr, content_text, msg.route.operation,
                               splitMetaResource(msg.route.resource).type);
  if (v2.skipped > 0) {
    counters_[static_cast<size_t>(Counter::V2Skipped)].fetch_add(v2.skipped);
    warnLimited(v2_skip_log_, "object kept in meta only", msg, v2.skip_reason);
  }
  const bool had_v2 = !v2.ops.empty();
  std::vector<WriteOp> meta_only;
  if (had_v2) {
    meta_only = ops;
    for (WriteOp& w : v2.ops) {
      ops.push_back(std::move(w));
    }
  }
  auto self = shared_from_this();
  auto shared_then = std::make_shared<Continuation>(std::move(then));
  // A store rejection of the meta_v2 part (an object the store cannot index) must not block
  // the meta row and the ACK, or the cloud would resend the message forever: retry once without
  // the meta_v2 ops, as Go's imitator failure is independent of the meta write.
  auto on_done = [self, shared_then, msg_header = msg.header, msg_route = msg.route, had_v2,
                  meta_only = std::move(meta_only)](Status st) mutable {
    self->postToStrand([self, shared_then, st = std::move(st), msg_header, msg_route, had_v2,
                        meta_only = std::move(meta_only)]() mutable {
      if (!st.ok() && had_v2 && st.code() == core::StatusCode::InvalidArgument) {
        self->count(Counter::V2Skipped);
        self->log_->warn("object not storable in meta_v2 msg_id={} resource={} err=\"{}\"",
                         msg_header.id, msg_route.resource, st.message());
        Status sub = self->store_.submit(std::move(meta_only), [self, shared_then](Status st2) {
          self->postToStrand([self, shared_then, st2]() {
            if (!st2.ok()) {
              self->count(Counter::WriteFailures);
            }
            (*shared_then)(st2);
          });
        });
        if (!sub.ok()) {
          self->count(Counter::WriteFailures);
          (*shared_then)(sub);
        }
        return;
      }
      if (!st.ok()) {
        self->count(Counter::WriteFailures);
        Message m;
        m.header = msg_header;
        m.route = msg_route;
        self->warnLimited(self->write_fail_log_, "store write failed, no ack", m, st.message());
      }
      (*shared_then)(st);
    });
  };
  Status st = store_.submit(std::move(ops), std::move(on_done));
  if (!st.ok()) {
    count(Counter::WriteFailures);
    warnLimited(write_fail_log_, "store write refused, no ack", msg, st.message());
    (*shared_then)(st);
  }
}

// ---------------------------------------------------------------------------------------------
// Outbound

void Processor::sendToCloud(Message msg) {
  Status st = bus_.send(settings_.send_module, std::move(msg));
  if (!st.ok()) {
    count(Counter::CloudUnsent);
    log_->debug("message for the cloud not taken module={} err=\"{}\"", settings_.send_module,
                st.message());
  }
}

void Processor::ackCloud(const Message& msg) {
  sendAck(msg.makeResponse(std::string(kOk)), msg.route.resource);
}

void Processor::sendAck(Message ack, std::string_view resource) {
  std::string ack_id = ack.header.id;
  std::string parent_id = ack.header.parent_id;
  Status st = bus_.send(settings_.send_module, std::move(ack));
  if (st.ok()) {
    count(Counter::AcksSent);
    log_->debug("ack sent msg_id={} parent={} resource={}", ack_id, parent_id, resource);
  } else {
    // The cloud resends an unACKed message every 5 s; nothing to keep here.
    count(Counter::AcksUnsent);
    log_->debug("ack not taken parent={} err=\"{}\"", parent_id, st.message());
  }
}

void Processor::sendToEdged(Message msg) {
  Status st = bus_.send(names::kEdgedModule, std::move(msg));
  if (!st.ok()) {
    count(Counter::EdgedAbsent);
    log_->debug("hand-off to edged not taken err=\"{}\"", st.message());
  }
}

void Processor::sendToTwin(Message msg) {
  Status st = bus_.send(names::kTwinModule, std::move(msg));
  if (!st.ok()) {
    count(Counter::TwinAbsent);
    log_->debug("hand-off to twin not taken err=\"{}\"", st.message());
  }
}

void Processor::replyTo(const Message& original, Message resp) {
  if (original.header.sync) {
    Status st = bus_.reply(original, std::move(resp));
    if (!st.ok()) {
      count(Counter::LateReplies);
      log_->debug("reply found no waiter parent={} err=\"{}\"", original.header.id, st.message());
    }
    return;
  }
  resp.header.parent_id = original.header.id;
  sendToEdged(std::move(resp));
}

void Processor::feedbackError(const Message& original, std::string_view text) {
  Message err = original.makeError(text);
  err.route.source = std::string(names::kMetaManagerModule);
  err.route.group = original.route.group;
  if (original.header.sync || original.route.source == names::kEdgedModule) {
    replyTo(original, std::move(err));
  } else {
    sendToCloud(std::move(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Events kept for MetaServer (our addition)

namespace {
constexpr size_t kMaxLocalEvents = 1000;
constexpr std::chrono::hours kLocalEventTtl{1};
constexpr uint64_t kPruneEvery = 32;  // events between two prune passes
}  // namespace

void Processor::keepEventLocally(const Message& msg) {
  if (msg.route.source != names::kEdgedModule) {
    return;
  }
  // insert/update carry the v1.Event; patch carries {"event": ..., "patchData": ...} whose
  // event already has the new count and lastTimestamp.
  const json* ev = &msg.content;
  if (msg.route.operation == op::kPatch && ev->is_object()) {
    auto it = ev->find("event");
    ev = it != ev->end() ? &*it : nullptr;
  }
  if (ev == nullptr || !ev->is_object() || !ev->contains("metadata")) {
    return;
  }
  json obj = *ev;
  obj["apiVersion"] = "v1";
  obj["kind"] = "Event";
  WriteOp op;
  op.kind = WriteOp::Kind::UpsertObject;
  op.doc = std::make_shared<const json>(std::move(obj));
  std::vector<WriteOp> ops;
  ops.push_back(std::move(op));
  auto log = log_;
  Status st = store_.submit(std::move(ops), [log](Status s) {
    if (!s.ok()) {
      log->debug("local event write failed err=\"{}\"", s.message());
    }
  });
  if (!st.ok()) {
    count(Counter::WriteFailures);
    return;
  }
  if (++events_kept_ % kPruneEvery == 0) {
    pruneLocalEvents();
  }
}

void Processor::pruneLocalEvents() {
  Gvr gvr;
  gvr.version = "v1";
  gvr.resource = "events";
  std::vector<StoredObjectPtr> all = store_.listObjects(gvr, "");
  const std::string cutoff = core::formatRfc3339(clock_.wallNow() - kLocalEventTtl);
  std::vector<std::pair<std::string, const StoredObject*>> by_time;
  by_time.reserve(all.size());
  for (const auto& o : all) {
    json j = json::parse(o->json, nullptr, false);
    std::string last;
    if (j.is_object() && j.contains("lastTimestamp") && j["lastTimestamp"].is_string()) {
      last = j["lastTimestamp"].get<std::string>();
    }
    by_time.emplace_back(std::move(last), o.get());
  }
  std::sort(by_time.begin(), by_time.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<WriteOp> ops;
  for (size_t i = 0; i < by_time.size(); ++i) {
    const bool over = by_time.size() - i > kMaxLocalEvents;
    // RFC 3339 UTC with the same layout compares as text.
    const bool expired = !by_time[i].first.empty() && by_time[i].first < cutoff;
    if (!over && !expired) {
      break;
    }
    WriteOp op;
    op.kind = WriteOp::Kind::DeleteObject;
    op.object_key = by_time[i].second->key;
    ops.push_back(std::move(op));
  }
  if (ops.empty()) {
    return;
  }
  log_->debug("local events pruned n={}", ops.size());
  auto log = log_;
  (void)store_.submit(std::move(ops), [log](Status s) {
    if (!s.ok()) {
      log->debug("local event prune failed err=\"{}\"", s.message());
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Operations (process.go processInsert ... @ v1.20.0)

void Processor::processInsert(Message msg, const MetaResource& res) {
  if (res.type == restype::kEvent) {
    keepEventLocally(msg);
    sendToCloud(std::move(msg));
    return;
  }
  if (msg.route.source == names::kEdgedModule) {
    // The meta_v2 view gets what edged reports (e.g. its Node) whatever the link state.
    ImitatorOps v2 = imitatorOps(msg, msg.route.operation, res.type);
    if (!v2.ops.empty()) {
      auto log = log_;
      Status st = store_.submit(std::move(v2.ops), [log](Status s) {
        if (!s.ok()) {
          log->debug("meta_v2 write for an edged insert failed err=\"{}\"", s.message());
        }
      });
      if (!st.ok()) {
        count(Counter::WriteFailures);
      }
    }
    if (!connected_) {
      log_->debug("remote insert refused: not connected msg_id={} resource={}", msg.header.id,
                  msg.route.resource);
      feedbackError(msg, kNotConnected);
      return;
    }
    startRemote(std::move(msg), res, /*is_query=*/false);
    return;
  }
  std::vector<WriteOp> ops{upsertMeta(res, msg.contentData())};
  auto self = shared_from_this();
  auto shared = std::make_shared<Message>(std::move(msg));
  write(std::move(ops), shared, [self, shared](Status st) {
    if (!st.ok()) {
      self->feedbackError(*shared, "insert or update meta failed, " + st.message());
      return;
    }
    std::optional<Message> ack;
    if (!noAckRequired(*shared)) {
      ack = shared->makeResponse(std::string(kOk));
    }
    std::string resource = shared->route.resource;
    const std::string source = shared->route.source;
    if (source == kDeviceController) {
      Message to_twin = take(shared);
      to_twin.route.source = std::string(names::kMetaGroup);
      to_twin.route.group = std::string(names::kTwinGroup);
      self->sendToTwin(std::move(to_twin));
    } else if (source != kPolicyController) {
      self->sendToEdged(take(shared));
    }
    if (ack) {
      self->sendAck(std::move(*ack), resource);
    }
  });
}

void Processor::processUpdate(Message msg, const MetaResource& res) {
  if (res.type == restype::kEvent) {
    keepEventLocally(msg);
    sendToCloud(std::move(msg));
    return;
  }
  const std::string source = msg.route.source;
  if (source == names::kEdgedModule && res.type == restype::kLease) {
    if (!connected_) {
      feedbackError(msg, kNotConnected);
      return;
    }
    startRemote(std::move(msg), res, /*is_query=*/false);
    return;
  }
  if (source != names::kEdgedModule && source != kEdgeController && source != kDynamicController &&
      source != kDeviceController && source != kPolicyController &&
      source != names::kMetaManagerModule) {
    // Go stores the row, then logs "unsupport message source"; we do not store what nobody
    // would read back.
    count(Counter::Dropped);
    warnLimited(malformed_log_, "update dropped: unsupported source", msg, source);
    return;
  }
  std::vector<WriteOp> ops{upsertMeta(res, msg.contentData())};
  auto self = shared_from_this();
  auto shared = std::make_shared<Message>(std::move(msg));
  write(std::move(ops), shared, [self, shared](Status st) {
    const Message& msg = *shared;
    if (!st.ok()) {
      self->feedbackError(msg, "insert or update meta failed, " + st.message());
      return;
    }
    const std::string source = msg.route.source;
    if (source == names::kEdgedModule) {
      // Edged's own updates (e.g. pod status) go on to the cloud; edged gets its OK now.
      self->sendToCloud(msg);
      self->replyTo(msg, msg.makeResponse(std::string(kOk)));
    } else if (source == kEdgeController || source == kDynamicController) {
      std::optional<Message> ack;
      if (!noAckRequired(msg)) {
        ack = msg.makeResponse(std::string(kOk));
      }
      std::string resource = msg.route.resource;
      self->sendToEdged(take(shared));
      if (ack) {
        self->sendAck(std::move(*ack), resource);
      }
    } else if (source == kDeviceController) {
      if (!noAckRequired(msg)) {
        self->ackCloud(msg);
      }
      Message to_twin = take(shared);
      to_twin.route.source = std::string(names::kMetaGroup);
      to_twin.route.group = std::string(names::kTwinGroup);
      self->sendToTwin(std::move(to_twin));
    } else if (source == kPolicyController) {
      if (!noAckRequired(msg)) {
        self->ackCloud(msg);
      }
    } else {  // metamanager: a device edited through MetaServer
      self->sendToTwin(msg);
      self->replyTo(msg, msg.makeResponse(std::string(kOk)));
    }
  });
}

void Processor::processPatch(Message msg, const MetaResource& res) {
  if (res.type == restype::kEvent) {
    keepEventLocally(msg);
    sendToCloud(std::move(msg));
    return;
  }
  // The patch document is stored as sent (a JSON string's text, spec local-apis 2.3).
  std::vector<WriteOp> ops{upsertMeta(res, msg.contentData())};
  if (res.type == restype::kNodePatch) {
    // Also onto the Node MetaServer serves (node_patch.h), in the same transaction.
    if (std::optional<WriteOp> node = patchedNode(res, msg.contentData())) {
      ops.push_back(std::move(*node));
    }
  }
  if (res.type == restype::kPodPatch && !connected_) {
    // Offline nothing echoes the status back from the cloud: put it on the pod MetaServer serves
    // so that keadm ctl / kubectl on the node see the pod as it runs. Online the cloud's pod
    // update carries it, as in KubeEdge.
    if (std::optional<WriteOp> pod = patchedPod(res, msg.contentData())) {
      ops.push_back(std::move(*pod));
    }
  }
  auto self = shared_from_this();
  auto shared = std::make_shared<Message>(std::move(msg));
  write(std::move(ops), shared, [self, shared](Status st) {
    if (!st.ok()) {
      self->feedbackError(*shared, "insert or update meta failed, " + st.message());
      return;
    }
    if (self->connected_) {
      // Same msg_id: the cloud's answer goes straight back to edged's waiting request.
      self->sendToCloud(take(shared));
    } else {
      self->feedbackError(*shared, kConnectionLost);
    }
  });
}

std::optional<WriteOp> Processor::patchedNode(const MetaResource& res, const std::string& patch) {
  ObjectKey key;
  key.gvr = Gvr{"", "v1", "nodes"};
  key.name = res.id;
  StoredObjectPtr current = store_.getObject(key);
  if (!current) {
    log_->debug("node patch not applied locally: no node {} in meta_v2", res.id);
    return std::nullopt;
  }
  json node = json::parse(current->json, nullptr, false);
  std::optional<json> merged = applyNodePatch(node, patch);
  if (!merged) {
    count(Counter::Malformed);
    log_->debug("node patch not applied locally: not a JSON object node={}", res.id);
    return std::nullopt;
  }
  WriteOp w;
  w.kind = WriteOp::Kind::UpsertObject;
  w.doc = std::make_shared<const json>(std::move(*merged));
  return w;
}

std::optional<WriteOp> Processor::patchedPod(const MetaResource& res, const std::string& patch) {
  const size_t at = res.key.find("/podpatch/");
  if (at == std::string::npos) return std::nullopt;
  ObjectKey key;
  key.gvr = Gvr{"", "v1", "pods"};
  key.ns = res.key.substr(0, at);
  key.name = res.id;
  StoredObjectPtr current = store_.getObject(key);
  if (!current) return std::nullopt;
  std::optional<json> merged =
      applyPodStatusPatch(json::parse(current->json, nullptr, false), patch);
  if (!merged) {
    log_->debug("pod status not applied locally pod={}/{}: other uid or not JSON", key.ns,
                key.name);
    return std::nullopt;
  }
  WriteOp w;
  w.kind = WriteOp::Kind::UpsertObject;
  w.doc = std::make_shared<const json>(std::move(*merged));
  return w;
}

void Processor::processDelete(Message msg, const MetaResource& res) {
  if (res.type == restype::kPod && msg.route.source == names::kEdgedModule) {
    // Edged asks the cloud to delete; the cloud's own delete comes back later.
    sendToCloud(std::move(msg));
    return;
  }
  std::vector<WriteOp> ops;
  if (res.type == restype::kPod) {
    std::optional<std::string> uid = podUid(msg.content);
    if (!uid) {
      count(Counter::Malformed);
      warnLimited(malformed_log_, "pod delete content is not a pod, no ack", msg,
                  "unparsable content");
      feedbackError(msg, "failed to delete pod meta to DB: content is not a pod");
      return;
    }
    WriteOp w;
    w.kind = WriteOp::Kind::DeletePodGuarded;
    w.key = res.key;
    w.uid = *uid;
    ops.push_back(std::move(w));
    // The store also removes <ns>/podpatch/<name> when the pod row went (processDeletePodDB).
  } else {
    WriteOp w;
    w.kind = WriteOp::Kind::DeleteMeta;
    w.key = res.key;
    ops.push_back(std::move(w));
  }
  auto self = shared_from_this();
  auto shared = std::make_shared<Message>(std::move(msg));
  write(std::move(ops), shared, [self, shared](Status st) {
    const Message& msg = *shared;
    if (!st.ok()) {
      self->feedbackError(msg, "delete meta failed, " + st.message());
      return;
    }
    std::optional<Message> ack;
    if (!noAckRequired(msg)) {
      ack = msg.makeResponse(std::string(kOk));
    }
    std::string resource = msg.route.resource;
    const std::string source = msg.route.source;
    if (source == kDeviceController) {
      Message to_twin = msg;
      to_twin.route.source = std::string(names::kMetaGroup);
      to_twin.route.group = std::string(names::kTwinGroup);
      self->sendToTwin(std::move(to_twin));
    }
    if (source != kPolicyController) {
      self->sendToEdged(take(shared));
    }
    if (ack) {
      self->sendAck(std::move(*ack), resource);
    }
  });
}

void Processor::processResponse(Message msg, const MetaResource& res) {
  std::vector<WriteOp> ops{upsertMeta(res, msg.contentData())};
  auto self = shared_from_this();
  auto shared = std::make_shared<Message>(std::move(msg));
  write(std::move(ops), shared, [self, shared](Status st) {
    if (!st.ok()) {
      self->feedbackError(*shared, "insert or update meta failed, " + st.message());
      return;
    }
    if (shared->route.source == kEdgeController) {
      self->sendToEdged(take(shared));
    } else {
      self->sendToCloud(take(shared));
    }
  });
}

void Processor::processQuery(Message msg, const MetaResource& res) {
  if (res.type == restype::kServiceAccountToken) {
    processTokenQuery(std::move(msg), res);
    return;
  }
  if (requiresRemoteQuery(res.type) && connected_) {
    startRemote(std::move(msg), res, /*is_query=*/true);
    return;
  }
  localQuery(std::move(msg), res);
}

void Processor::localQuery(Message msg, const MetaResource& res) {
  count(Counter::LocalQueries);
  auto self = shared_from_this();
  // Read after every write submitted before this query has committed (the empty batch waits
  // for them), so a query never misses what the same sender stored just before.
  const bool token = res.type == restype::kServiceAccountToken;
  auto read = [self, msg, res, token]() {
    asio::post(self->blocking_, [self, msg, res, token]() {
      Result<std::vector<std::string>> rows = std::vector<std::string>{};
      if (res.id.empty() && !token) {
        rows = self->store_.listMetaByType(res.type);
      } else {
        auto one = self->store_.getMeta(res.key);
        if (!one.ok()) {
          rows = one.status();
        } else if (one->has_value()) {
          rows = std::vector<std::string>{**one};
        }
      }
      self->postToStrand([self, msg, token, rows = std::move(rows)]() {
        if (!rows.ok()) {
          self->log_->warn("local query failed msg_id={} resource={} err=\"{}\"", msg.header.id,
                           msg.route.resource, rows.status().message());
          self->feedbackError(msg, "failed to query meta in DB: " + rows.status().message());
          return;
        }
        if (token) {
          self->answerTokenFromCache(msg, *rows);
          return;
        }
        Message resp = msg.makeResponse(json(*rows));
        resp.route.source = std::string(names::kMetaManagerModule);
        self->replyTo(msg, std::move(resp));
      });
    });
  };
  Status st = store_.submit({}, [self, read](Status) { self->postToStrand(read); });
  if (!st.ok()) {
    read();  // queue full or closed: read what is there
  }
}

// ---------------------------------------------------------------------------------------------
// The module

namespace {

class MetaManagerModule final : public MetaManager {
 public:
  explicit MetaManagerModule(std::shared_ptr<Processor> processor)
      : processor_(std::move(processor)) {}
  ~MetaManagerModule() override { stop(); }

  // core::Module
  std::string_view name() const override { return names::kMetaManagerModule; }
  std::string_view group() const override { return names::kMetaGroup; }
  Status start() override { return processor_->start(); }
  void stop() override { processor_->stop(); }

  // MetaManager
  MetaManagerCounters counters() const override { return processor_->counters(); }

 private:
  std::shared_ptr<Processor> processor_;
};

}  // namespace

Result<std::unique_ptr<MetaManager>> createMetaManager(core::ModuleContext ctx, MetaStore& store,
                                                       MetaManagerOptions options) {
  const core::MetaManagerConfig& cfg = ctx.config.modules.meta_manager;
  MetaManagerSettings settings;
  settings.send_module = cfg.context_send_module.empty() ? std::string(names::kEdgeHubModule)
                                                         : cfg.context_send_module;
  if (options.remote_query_timeout.count() > 0) {
    settings.remote_timeout = options.remote_query_timeout;
  } else if (cfg.remote_query_timeout.count() > 0) {
    settings.remote_timeout = cfg.remote_query_timeout;
  }
  settings.failure_log_interval = options.failure_log_interval;
  settings.link_status = options.link_status;
  auto processor = std::make_shared<Processor>(ctx.strand, ctx.bus, ctx.log, ctx.clock,
                                               ctx.blocking, store, std::move(settings));
  return std::unique_ptr<MetaManager>(std::make_unique<MetaManagerModule>(std::move(processor)));
}

Result<core::ModulePtr> create(core::ModuleContext ctx, MetaStore& store,
                               core::CloudLinkStatus* link_status) {
  MetaManagerOptions options;
  options.link_status = link_status;
  auto mm = createMetaManager(std::move(ctx), store, options);
  if (!mm.ok()) {
    return mm.status();
  }
  return core::ModulePtr(std::move(*mm));
}

}  // namespace edgecore::metamanager
